"""Store errors.

    StoreError        the database cannot be used as asked (too new, corrupt, locked)
    └── NoSuchRecord  a run, step or command id that is not in the store
"""

from __future__ import annotations


class StoreError(Exception):
    pass


class NoSuchRecord(StoreError):
    pass
