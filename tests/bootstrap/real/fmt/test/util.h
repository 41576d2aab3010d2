// Formatting library for C++ - test utilities
//
