#!/usr/bin/env python3

# This script is based on
