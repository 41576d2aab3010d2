import threading

import pytest

import requests
