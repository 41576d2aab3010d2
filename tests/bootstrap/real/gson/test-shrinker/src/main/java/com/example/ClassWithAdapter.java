package com.example;

import com.google.gson.TypeAdapter;
