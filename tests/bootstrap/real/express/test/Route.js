'use strict'

var after = require('after');
var assert = require('node:assert')
