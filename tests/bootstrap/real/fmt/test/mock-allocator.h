// Formatting library for C++ - mock allocator
//
