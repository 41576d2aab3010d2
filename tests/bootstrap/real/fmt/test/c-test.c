// Formatting library for C++ - the C API tests
//
