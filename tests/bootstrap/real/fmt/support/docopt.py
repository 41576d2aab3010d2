"""Pythonic command-line interface parser that will make you smile.

