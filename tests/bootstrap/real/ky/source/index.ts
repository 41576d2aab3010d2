/*! MIT License © Sindre Sorhus */

import {Ky} from './core/Ky.js';
