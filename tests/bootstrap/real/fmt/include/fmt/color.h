// Formatting library for C++ - color support
//
