"""
Facetting histograms by subsets of data
