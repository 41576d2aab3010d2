import os
import itertools

from ipykernel import kernelspec as ks
