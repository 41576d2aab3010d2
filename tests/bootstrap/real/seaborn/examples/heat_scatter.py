"""
Scatterplot heatmap
-------------------

_thumb: .5, .5

"""
