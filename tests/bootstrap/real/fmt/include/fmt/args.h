// Formatting library for C++ - dynamic argument lists
//
