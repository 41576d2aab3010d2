// Formatting library for C++ - experimental format string compilation
//
