import os

import nbformat
from nbformat.v4.nbbase import new_markdown_cell

