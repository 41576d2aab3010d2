from fabric.api import *
import fabric.contrib.project as project
import os
