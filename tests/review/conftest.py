"""A real SQLite store in a temporary directory for the review tests that need no run: the
store tests' own fixtures."""

from tests.store.conftest import db_path, store  # noqa: F401
