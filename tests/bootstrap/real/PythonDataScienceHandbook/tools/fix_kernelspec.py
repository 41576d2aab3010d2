import os

import nbformat

