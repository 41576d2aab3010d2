import {setTimeout as delay} from 'node:timers/promises';
