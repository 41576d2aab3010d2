#!/bin/sh
#
# Creates fuzzer builds of various kinds
