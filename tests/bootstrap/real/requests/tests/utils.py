import contextlib
import os


@contextlib.contextmanager
