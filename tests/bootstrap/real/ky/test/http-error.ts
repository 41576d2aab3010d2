import test from 'ava';
import {expectTypeOf} from 'expect-type';
