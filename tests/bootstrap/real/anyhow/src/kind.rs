// Tagged dispatch mechanism for resolving the behavior of `anyhow!($expr)`.
//
