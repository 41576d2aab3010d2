package com.example;

import com.google.gson.Gson;
