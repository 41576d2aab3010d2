// This code exercises the surface area that we expect of the Error generic
