"""Store errors.

    StoreError          the database cannot be used as asked (too new, corrupt, locked)
    ├── NoSuchRecord    a run, step or command id that is not in the store
    └── OwnershipLost   this engine was declared lost and another took its run over
"""

from __future__ import annotations


class StoreError(Exception):
    pass


class NoSuchRecord(StoreError):
    pass


class OwnershipLost(StoreError):
    pass
