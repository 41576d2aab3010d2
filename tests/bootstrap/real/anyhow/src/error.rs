use crate::backtrace::Backtrace;
use crate::chain::Chain;
