// Formatting library for C++ - test version of FMT_ASSERT
//
