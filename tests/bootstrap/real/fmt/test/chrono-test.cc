// Formatting library for C++ - time formatting tests
//
