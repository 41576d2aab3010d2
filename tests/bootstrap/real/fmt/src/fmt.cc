// Formatting library for C++ - C++20 module
//
