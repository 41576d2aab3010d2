'use strict'

var assert = require('node:assert')
var express = require('../')
