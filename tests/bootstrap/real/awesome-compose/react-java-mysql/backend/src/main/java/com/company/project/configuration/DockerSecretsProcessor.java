package com.company.project.configuration;

import java.io.IOException;
