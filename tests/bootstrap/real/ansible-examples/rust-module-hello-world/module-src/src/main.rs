extern crate serde;
extern crate serde_json;

use std::env;
use std::fs::File;
