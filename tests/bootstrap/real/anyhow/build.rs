#![allow(clippy::uninlined_format_args)]

use std::env;
use std::ffi::OsString;
