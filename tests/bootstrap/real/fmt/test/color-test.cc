// Formatting library for C++ - color tests
//
