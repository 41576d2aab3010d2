"""
Timeseries plot with error bands
================================

