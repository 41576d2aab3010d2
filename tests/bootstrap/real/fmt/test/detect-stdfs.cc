// Formatting library for C++ - tests of formatters for standard library types
