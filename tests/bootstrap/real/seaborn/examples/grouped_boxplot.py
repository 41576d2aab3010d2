"""
Grouped boxplots
================

_thumb: .66, .45

"""
