use crate::Error;
use alloc::string::String;
