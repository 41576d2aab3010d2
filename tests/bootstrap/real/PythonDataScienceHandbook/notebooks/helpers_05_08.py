
import numpy as np
