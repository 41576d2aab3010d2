"""Triggers: runs that start themselves when files change, on a schedule or interval, or when
the store records an event; hosted by ``uet serve`` (``server``), listed and steered by
``uet triggers`` (``control``)."""

from __future__ import annotations

from engine.triggers.catalog import Catalog, TriggerSpec, load_catalog, workstream_files
from engine.triggers.schedule import Clock, next_after, slots_between
from engine.triggers.server import ServeBusy, TriggerServer, create_fire_run

__all__ = [
    "Catalog",
    "Clock",
    "ServeBusy",
    "TriggerServer",
    "TriggerSpec",
    "create_fire_run",
    "load_catalog",
    "next_after",
    "slots_between",
    "workstream_files",
]
