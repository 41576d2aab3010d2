#!/bin/sh
#
# JBoss standalone control script
#
# chkconfig: - 80 20
