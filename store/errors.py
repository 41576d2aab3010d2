"""Store errors.

    StoreError          the database cannot be used as asked (too new, corrupt, locked)
    ├── NoSuchRecord    a run, step or command id that is not in the store
    ├── OwnershipLost   this engine was declared lost and another took its run over
    ├── StoreInUse      an older schema with a live engine writing to it: not updated under it
    └── StoreFailed     the database stopped taking writes (deleted, replaced, disk full,
                        read-only): nothing more is recorded; the cause is kept
"""

from __future__ import annotations


class StoreError(Exception):
    pass


class NoSuchRecord(StoreError):
    pass


class OwnershipLost(StoreError):
    pass


class StoreInUse(StoreError):
    """The store needs a newer schema, and an engine of the older uet still writes to it."""


class StoreFailed(StoreError):
    """The store cannot record any more: its message says what happened and to which file."""
