// Formatting library for C++ - mocks of POSIX functions
//
