// Formatting library for C++ - scanning API proof of concept
//
