"""
Grouped violinplots with split violins
