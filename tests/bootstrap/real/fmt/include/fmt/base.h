// Formatting library for C++ - the base API for char/UTF-8
//
