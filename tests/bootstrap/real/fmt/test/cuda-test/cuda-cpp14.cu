//  Direct NVCC command line example:
//
