// Formatting library for C++ - formatting library tests
//
