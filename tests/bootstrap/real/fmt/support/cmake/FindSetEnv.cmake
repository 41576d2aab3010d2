# A CMake script to find SetEnv.cmd.

find_program(
  WINSDK_SETENV
