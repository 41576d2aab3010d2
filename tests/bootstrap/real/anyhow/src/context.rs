use crate::error::ContextError;
use crate::{Context, Error, StdError};
