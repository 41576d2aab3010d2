import socket
import threading
import time

import pytest

import requests
