#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
