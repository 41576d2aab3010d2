"""Bootstrap: from a repository UET has never seen to a profile and workstreams that run.

This package holds the Project Scanner (``scan``); the selector, generator and orchestrator
build on its ``Scan`` result.
"""

from __future__ import annotations

from engine.bootstrap.catalog import SKIP_DIRS
from engine.bootstrap.index import HEAD_LIMIT, GlobError, Head, ScanIndex, compile_glob
from engine.bootstrap.scanner import Scan, ScanRootError, scan

__all__ = [
    "GlobError",
    "HEAD_LIMIT",
    "Head",
    "SKIP_DIRS",
    "Scan",
    "ScanIndex",
    "ScanRootError",
    "compile_glob",
    "scan",
]
