"""
Scatterplot with multiple semantics
===================================

