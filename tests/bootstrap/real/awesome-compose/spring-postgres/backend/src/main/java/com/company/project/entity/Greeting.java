package com.company.project.entity;

import javax.persistence.Entity;
