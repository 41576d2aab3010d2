# Configuration file for the Sphinx documentation builder.
#
