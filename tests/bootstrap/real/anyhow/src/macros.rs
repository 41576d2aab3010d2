/// Return early with an error.
///
/// This macro is equivalent to
