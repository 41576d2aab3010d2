// Formatting library for C++ - core tests
//
