#[cfg(feature = "std")]
pub(crate) use std::backtrace::Backtrace;

