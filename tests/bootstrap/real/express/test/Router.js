'use strict'

var after = require('after');
var express = require('../')
