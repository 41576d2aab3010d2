import copy
import filecmp
import os
import tarfile
import zipfile
