import test from 'ava';
import {getBodySize} from '../source/utils/body.js';

