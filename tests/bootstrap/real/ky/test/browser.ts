import test, {type ExecutionContext} from 'ava';
import busboy from 'busboy';
