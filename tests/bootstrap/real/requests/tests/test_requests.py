"""Tests for Requests."""

import collections
import contextlib
import io
