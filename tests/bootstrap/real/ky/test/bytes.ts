import {Buffer} from 'node:buffer';
import test from 'ava';
