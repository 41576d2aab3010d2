package com.company.project.controllers;

