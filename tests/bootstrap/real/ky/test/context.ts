import test from 'ava';
import ky, {isHTTPError} from '../source/index.js';
