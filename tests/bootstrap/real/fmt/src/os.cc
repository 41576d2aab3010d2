// Formatting library for C++ - optional OS-specific functionality
//
