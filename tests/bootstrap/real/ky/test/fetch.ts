import test from 'ava';
import ky from '../source/index.js';
