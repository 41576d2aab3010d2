use crate::chain::Chain;
use crate::error::ErrorImpl;
use crate::ptr::Ref;
