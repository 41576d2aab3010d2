"""
Line plots on multiple facets
=============================

