// Formatting library for C++ - core API
//
