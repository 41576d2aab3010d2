// Formatting library for C++ - chrono support
//
