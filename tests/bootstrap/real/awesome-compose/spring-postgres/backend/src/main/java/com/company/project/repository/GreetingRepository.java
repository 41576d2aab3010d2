package com.company.project.repository;

