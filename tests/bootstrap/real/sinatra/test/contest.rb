# Copyright (c) 2009 Damian Janowski and Michel Martens for Citrusbyte
#
