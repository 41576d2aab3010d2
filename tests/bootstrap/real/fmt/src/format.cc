// Formatting library for C++
//
