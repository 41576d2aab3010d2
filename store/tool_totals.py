"""What each tool has achieved, kept as its attempts finish: the totals behind ``uet tools``,
the dashboard's Tools screen and ``auto`` routing (migration 13, and the reads of them).

Reading those figures from the attempts themselves read every attempt ever made, joined with
its step: about 0.6 s at 100,000 attempts, paid by every run whose first ``auto`` step needed
them and by every look at the tools. Now SQLite keeps one row per (tool, kind of step, whether
the step proposes a patch), changed by triggers on the attempts table whenever an attempt
becomes, stops being or is rewritten as a finished one, so every way an attempt is written
(the engine's rows, a crash marked by a later engine, a test's own) keeps them right.

Attempts are written with ``INSERT OR REPLACE``, whose delete of the old row fires no delete
trigger (SQLite's ``recursive_triggers`` is off), so the old row's part is taken off by a trigger
*before* the insert. There is no trigger on delete: UPDATE and REPLACE are the only ways UET
changes an attempt, and a deleted attempt would keep what it taught.

What these totals cannot hold is read where it is small: the accepted patches (each one a
person's decision) for the accepted attempts and their rounds, and each tool's newest 1,000
finished attempts, by an index, for the median of its durations.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from peewee import SqliteDatabase

from store.tables import database

if TYPE_CHECKING:
    from schemas.memory import KindStats
    from schemas.tools import ToolUsage

#: Attempt outcomes that judge a tool; running and canceled attempts say nothing about it.
JUDGED = "('succeeded', 'failed', 'timed_out', 'crashed')"
#: Patch states that count an attempt as accepted.
ACCEPTED = "('approved', 'applied')"
#: The durations a tool's median is taken over: its newest finished attempts.
MEDIAN_OVER = 1_000

#: Whether the step ``s`` proposes a patch: 1 or 0. A spec that is not JSON proposes none, rather
#: than failing the write of an attempt (CASE, since SQLite's AND may evaluate both sides).
_PATCH = "CASE WHEN json_valid(s.spec) THEN COALESCE(json_extract(s.spec, '$.produces') = 'patch', 0) ELSE 0 END"


def _change(row: str, sign: str, where: str, source: str = "steps AS s") -> str:
    """Add (``sign`` "+") or take off ("-") attempt ``row``'s part of its tool's totals, for
    the rows of ``source`` that ``where`` selects (the attempt's step must exist: an attempt
    without one was never counted)."""
    return f"""INSERT INTO tool_totals (tool, kind, patch, attempts, succeeded, priced, usd, tokens, tokenized)
        SELECT {row}.tool, s.kind, {_PATCH}, {sign}1, {sign}({row}.state = 'succeeded'), {sign}({row}.usd IS NOT NULL),
               {sign}COALESCE({row}.usd, 0.0), {sign}(COALESCE({row}.tokens_in, 0) + COALESCE({row}.tokens_out, 0)),
               {sign}({row}.tokens_in IS NOT NULL OR {row}.tokens_out IS NOT NULL)
        FROM {source} WHERE {where}
        ON CONFLICT (tool, kind, patch) DO UPDATE SET
            attempts = attempts + excluded.attempts, succeeded = succeeded + excluded.succeeded,
            priced = priced + excluded.priced, usd = usd + excluded.usd, tokens = tokens + excluded.tokens,
            tokenized = tokenized + excluded.tokenized;"""


def _step_of(row: str) -> str:
    return f"s.run_id = {row}.run_id AND s.id = {row}.step_id"


def migrate_tool_totals(db: SqliteDatabase) -> None:
    """Migration 13, frozen: the totals, their triggers, the index of each tool's newest
    attempts, and the totals of the attempts already made (one pass, once)."""
    replaced = "o.run_id = new.run_id AND o.step_id = new.step_id AND o.number = new.number"
    for statement in (
        """CREATE TABLE tool_totals (
            tool TEXT NOT NULL,
            kind TEXT NOT NULL,
            patch INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            succeeded INTEGER NOT NULL DEFAULT 0,
            priced INTEGER NOT NULL DEFAULT 0,
            usd REAL NOT NULL DEFAULT 0.0,
            tokens INTEGER NOT NULL DEFAULT 0,
            tokenized INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (tool, kind, patch)
        ) WITHOUT ROWID""",
        "CREATE INDEX attempts_tool ON attempts (tool, ended_at)",
        # The row an INSERT OR REPLACE is about to replace: its part comes off first.
        f"""CREATE TRIGGER tool_totals_replaced BEFORE INSERT ON attempts BEGIN
            {_change("o", "-", f"{replaced} AND o.state IN {JUDGED} AND {_step_of('o')}", "attempts AS o, steps AS s")}
        END""",
        f"""CREATE TRIGGER tool_totals_inserted AFTER INSERT ON attempts WHEN new.state IN {JUDGED} BEGIN
            {_change("new", "+", _step_of("new"))}
        END""",
        f"""CREATE TRIGGER tool_totals_left AFTER UPDATE OF state, tool, usd, tokens_in, tokens_out, ended_at
            ON attempts WHEN old.state IN {JUDGED} BEGIN
            {_change("old", "-", _step_of("old"))}
        END""",
        f"""CREATE TRIGGER tool_totals_came AFTER UPDATE OF state, tool, usd, tokens_in, tokens_out, ended_at
            ON attempts WHEN new.state IN {JUDGED} BEGIN
            {_change("new", "+", _step_of("new"))}
        END""",
        f"""INSERT INTO tool_totals (tool, kind, patch, attempts, succeeded, priced, usd, tokens, tokenized)
            SELECT a.tool, s.kind, {_PATCH}, COUNT(*), SUM(a.state = 'succeeded'), SUM(a.usd IS NOT NULL),
                   COALESCE(SUM(a.usd), 0.0), SUM(COALESCE(a.tokens_in, 0) + COALESCE(a.tokens_out, 0)),
                   SUM(a.tokens_in IS NOT NULL OR a.tokens_out IS NOT NULL)
            FROM attempts AS a JOIN steps AS s ON s.run_id = a.run_id AND s.id = a.step_id
            WHERE a.state IN {JUDGED}
            GROUP BY a.tool, s.kind, {_PATCH}""",
    ):
        db.execute_sql(statement)


# -- reads -------------------------------------------------------------------------------------

_TOTALS_SQL = ("SELECT tool, kind, SUM(attempts), SUM(succeeded), SUM(CASE WHEN patch THEN 0 ELSE succeeded END), "
               "SUM(priced), SUM(usd) FROM tool_totals WHERE attempts > 0 GROUP BY tool, kind ORDER BY tool, kind")

#: Per (tool, kind): the finished attempts of patch steps with an accepted patch, and the mean
#: round of the accepted patches; read through the accepted patches alone.
_ACCEPTED_SQL = f"""
SELECT a.tool, s.kind,
       COUNT(DISTINCT CASE WHEN a.state IN {JUDGED} AND {_PATCH}
                           THEN p.run_id || char(0) || p.step_id || char(0) || p.attempt END),
       AVG(p.round)
FROM patches AS p
JOIN attempts AS a ON a.run_id = p.run_id AND a.step_id = p.step_id AND a.number = p.attempt
JOIN steps AS s ON s.run_id = p.run_id AND s.id = p.step_id
WHERE p.state IN {ACCEPTED}
GROUP BY a.tool, s.kind
"""


def kind_stats() -> list[KindStats]:
    """Every (tool, step kind) the store has finished attempts of, with what they achieved and
    cost: made once per run start by the router (and by ``uet tools``), in time that does not
    grow with the attempts."""
    from schemas.memory import KindStats

    accepted = {(tool, kind): (int(n or 0), rounds)
                for tool, kind, n, rounds in database.execute_sql(_ACCEPTED_SQL).fetchall()}
    out = []
    for tool, kind, attempts, succeeded, plain_ok, priced, usd in database.execute_sql(_TOTALS_SQL).fetchall():
        patches_ok, rounds = accepted.get((tool, kind), (0, None))
        took = int(plain_ok) + patches_ok
        usd = round(float(usd), 6)
        out.append(KindStats(
            tool=tool, kind=kind, attempts=int(attempts), succeeded=int(succeeded), accepted=took,
            success_rate=int(succeeded) / int(attempts),
            mean_rounds=float(rounds) if rounds is not None else None,
            usd=usd, priced=int(priced),
            usd_per_accepted=usd / took if took and priced else None,
            accepted_per_usd=took / usd if priced and usd > 0 else None,
        ))
    return out


def tool_usage() -> dict[str, ToolUsage]:
    """Each tool's finished attempts: counts, dollars and tokens from the totals; when it was
    last used, and the median of the durations of its newest ``MEDIAN_OVER`` finished attempts
    (what it takes now, not two years ago), read backwards through the tool's index."""
    from schemas.tools import ToolUsage  # its models load for `uet tools`, not for every run

    totals = database.execute_sql(
        "SELECT tool, SUM(attempts), SUM(succeeded), SUM(usd), SUM(priced), SUM(tokens), SUM(tokenized) "
        "FROM tool_totals GROUP BY tool HAVING SUM(attempts) > 0").fetchall()
    out = {}
    for tool, n, ok, usd, priced, tokens, tokenized in totals:
        newest = database.execute_sql(
            f"SELECT ended_at, COALESCE(duration, ended_at - started_at) FROM attempts WHERE tool = ? "
            f"AND state IN {JUDGED} ORDER BY ended_at DESC LIMIT ?", (tool, MEDIAN_OVER)).fetchall()
        last = newest[0][0] if newest else None
        seconds = [took for _, took in newest if took is not None]
        out[tool] = ToolUsage(tool=tool, attempts=int(n), succeeded=int(ok),
                              median_seconds=statistics.median(seconds) if seconds else None,
                              usd=round(float(usd), 6), priced=int(priced), tokens=int(tokens),
                              tokenized=int(tokenized), last_used_at=last)
    return out
