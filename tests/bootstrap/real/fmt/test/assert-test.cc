// Formatting library for C++ - FMT_ASSERT test
//
