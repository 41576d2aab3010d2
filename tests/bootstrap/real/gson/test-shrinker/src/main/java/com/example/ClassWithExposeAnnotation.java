package com.example;

import com.google.gson.annotations.Expose;

