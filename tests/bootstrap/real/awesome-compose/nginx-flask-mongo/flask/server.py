#!/usr/bin/env python
import os

from flask import Flask
