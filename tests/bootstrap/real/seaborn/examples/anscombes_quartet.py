"""
Anscombe's quartet
==================

_thumb: .4, .4
"""
