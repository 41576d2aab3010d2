package com.company.project;

