const os = require('os');
const express = require('express');
