import os
import re
import itertools
import nbformat

