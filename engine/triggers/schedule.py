"""When schedules fire: cron expressions (read by cronsim) in their time zone, and fixed
intervals. A clock is passed in, so tests move time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
import zoneinfo

from cronsim import CronSim

from schemas.triggers import Trigger

#: The most slots counted when a schedule missed many (every second for a week is not listed).
MAX_SLOTS = 10_000


class Clock:
    """The wall clock; sleeps end early when ``wake`` is set."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, when: float | None, wake: asyncio.Event) -> None:
        timeout = None if when is None else max(0.0, when - self.now())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)


def _zone(trigger: Trigger) -> datetime.tzinfo | None:
    assert trigger.schedule is not None
    return zoneinfo.ZoneInfo(trigger.schedule.timezone) if trigger.schedule.timezone else None


def next_after(trigger: Trigger, after: float) -> float:
    """The first slot of a schedule or interval strictly after ``after`` (epoch seconds);
    an interval counts from ``after`` itself."""
    if trigger.every is not None:
        return after + trigger.every
    assert trigger.schedule is not None
    zone = _zone(trigger)
    start = datetime.datetime.fromtimestamp(after, zone) if zone else datetime.datetime.fromtimestamp(after).astimezone()
    return next(iter(CronSim(trigger.schedule.cron, start))).timestamp()


def slots_between(trigger: Trigger, after: float, until: float) -> list[float]:
    """The slots in (after, until]; of very many, the first ``MAX_SLOTS`` and the latest."""
    if trigger.every is not None:
        count = int((until - after) // trigger.every)
        shown = list(range(1, min(count, MAX_SLOTS) + 1)) + ([count] if count > MAX_SLOTS else [])
        return [after + n * trigger.every for n in shown]
    out: list[float] = []
    slot = next_after(trigger, after)
    while slot <= until:
        if len(out) == MAX_SLOTS:
            assert trigger.schedule is not None
            zone = _zone(trigger)
            end = datetime.datetime.fromtimestamp(until, zone) if zone else \
                datetime.datetime.fromtimestamp(until).astimezone()
            last = next(iter(CronSim(trigger.schedule.cron, end + datetime.timedelta(seconds=1), reverse=True)))
            out.append(last.timestamp())
            break
        out.append(slot)
        slot = next_after(trigger, slot)
    return out
