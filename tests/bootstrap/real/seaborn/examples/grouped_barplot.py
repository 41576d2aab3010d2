"""
Grouped barplots
================

_thumb: .36, .5
"""
