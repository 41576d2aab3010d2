'use strict'

var express = require('../');
var request = require('supertest');
