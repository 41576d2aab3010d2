// Formatting library for C++ - dynamic argument store tests
//
