use self::ChainState::*;
use crate::StdError;

