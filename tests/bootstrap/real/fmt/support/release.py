#!/usr/bin/env python3

"""Make a release.

Usage:
  release.py [<branch>]

