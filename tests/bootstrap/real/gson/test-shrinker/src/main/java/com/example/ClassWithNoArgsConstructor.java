package com.example;

import com.google.gson.annotations.SerializedName;

