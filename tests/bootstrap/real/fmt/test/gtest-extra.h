// Formatting library for C++ - custom Google Test assertions
//
