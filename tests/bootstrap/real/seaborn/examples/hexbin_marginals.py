"""
Hexbin plot with marginal distributions
