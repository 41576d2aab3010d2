"""Requests test package initialisation."""

import warnings

try:
