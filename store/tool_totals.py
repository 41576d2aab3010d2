"""What each tool has achieved, kept as its attempts finish: the totals behind ``uet tools``,
the dashboard's Tools screen and ``auto`` routing (migration 13, and the reads of them).

Reading those figures from the attempts themselves read every attempt ever made, joined with
its step: about 0.6 s at 100,000 attempts, paid by every run whose first ``auto`` step needed
them and by every look at the tools. Now SQLite keeps one row per (tool, kind of step, whether
the step proposes a patch), changed by triggers on the attempts table whenever an attempt
becomes, stops being or is rewritten as a finished one, so every way an attempt is written
(the engine's rows, a crash marked by a later engine, a test's own) keeps them right.

The engine writes an attempt's whole row as an insert that updates the row already there
(``store.ops.ATTEMPT_ROW_SQL``), so the update triggers see the row it was. ``INSERT OR REPLACE``
would delete that row without a trigger seeing it (SQLite's ``recursive_triggers`` is off) and
count the attempt twice; nothing in UET writes attempts so, and a test holds it. There is no
trigger on delete either: a deleted attempt would keep what it taught.

Triggers on the patches keep what the decisions taught: the attempts with an accepted patch,
and the rounds the accepted patches took. An attempt's tool and a step's kind are taken as
written once (the engine never changes them). What totals cannot hold, the median of a tool's
durations, is read from its newest 1,000 finished attempts through an index.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from peewee import SqliteDatabase

from store.tables import database

if TYPE_CHECKING:
    from schemas.memory import KindStats
    from schemas.tools import ToolUsage

# The constants and SQL builders down to migrate_tool_totals are part of migration 13: the
# triggers a store holds were made from them. Changing one needs a new migration that makes the
# triggers again (and counts the totals again), not an edit here alone.

#: Attempt outcomes that judge a tool; running and canceled attempts say nothing about it. The
#: list of ``store.views.JUDGED_STATES``, written here again because the migration is frozen.
JUDGED = "('succeeded', 'failed', 'timed_out', 'crashed')"
#: Patch states that count an attempt as accepted.
ACCEPTED = "('approved', 'applied')"
#: The durations a tool's median is taken over: its newest finished attempts.
MEDIAN_OVER = 1_000

#: Whether the step ``s`` proposes a patch: 1 or 0. A spec that is not JSON proposes none, rather
#: than failing the write of an attempt (CASE, since SQLite's AND may evaluate both sides); a spec
#: that never says "produces" is not parsed at all (most steps: the triggers run on every write).
_PATCH = ("CASE WHEN instr(s.spec, '\"produces\"') > 0 AND json_valid(s.spec) "
          "THEN COALESCE(json_extract(s.spec, '$.produces') = 'patch', 0) ELSE 0 END")

#: The kept figures, each a sum: finished attempts, those that succeeded, the finished attempts of
#: patch steps with an accepted patch, those that reported dollars, the dollars, the tokens and
#: the attempts that reported tokens; and the accepted patches (of any attempt) with the sum of
#: their rounds.
FIGURES = ("attempts", "succeeded", "accepted", "priced", "usd", "tokens", "tokenized", "decided", "rounds")


def _accepted_patch(run: str, step: str, number: str, but: str | None = None) -> str:
    """Whether the attempt has an accepted patch (other than patch ``but``)."""
    other = f" AND p.id != {but}" if but else ""
    return (f"EXISTS (SELECT 1 FROM patches AS p WHERE p.run_id = {run} AND p.step_id = {step} "
            f"AND p.attempt = {number} AND p.state IN {ACCEPTED}{other})")


def _add(tool: str, values: dict[str, str], source: str, where: str) -> str:
    """Add ``values`` (SQL per figure; the others add 0) to the totals of the (``tool``, kind of
    step ``s``, patch) of each row of ``source`` that ``where`` selects."""
    figures = [values.get(name, "0") for name in FIGURES]
    sums = ", ".join(f"{name} = {name} + excluded.{name}" for name in FIGURES)
    return f"""INSERT INTO tool_totals (tool, kind, patch, {", ".join(FIGURES)})
        SELECT {tool}, s.kind, {_PATCH}, {", ".join(figures)}
        FROM {source} WHERE {where}
        ON CONFLICT (tool, kind, patch) DO UPDATE SET {sums};"""


def _attempt(row: str, sign: str, source: str, where: str) -> str:
    """Add (``sign`` "+") or take off ("-") finished attempt ``row``'s part."""
    return _add(f"{row}.tool", {
        "attempts": f"{sign}1", "succeeded": f"{sign}({row}.state = 'succeeded')",
        "accepted": f"{sign}(CASE WHEN {_PATCH} THEN "
                    f"{_accepted_patch(f'{row}.run_id', f'{row}.step_id', f'{row}.number')} ELSE 0 END)",
        "priced": f"{sign}({row}.usd IS NOT NULL)", "usd": f"{sign}COALESCE({row}.usd, 0.0)",
        "tokens": f"{sign}(COALESCE({row}.tokens_in, 0) + COALESCE({row}.tokens_out, 0))",
        "tokenized": f"{sign}({row}.tokens_in IS NOT NULL OR {row}.tokens_out IS NOT NULL)",
    }, source, where)


def _patch(row: str, sign: str) -> str:
    """Add or take off accepted patch ``row``'s part: itself and its round, and its attempt as an
    accepted one if the attempt is finished and has no other accepted patch."""
    return _add("a.tool", {
        "decided": f"{sign}1", "rounds": f"{sign}{row}.round",
        "accepted": f"{sign}(a.state IN {JUDGED} AND {_PATCH} AND NOT "
                    f"{_accepted_patch('a.run_id', 'a.step_id', 'a.number', f'{row}.id')})",
    }, "attempts AS a, steps AS s",
        f"a.run_id = {row}.run_id AND a.step_id = {row}.step_id AND a.number = {row}.attempt "
        f"AND s.run_id = {row}.run_id AND s.id = {row}.step_id")


def _step_of(row: str) -> str:
    return f"s.run_id = {row}.run_id AND s.id = {row}.step_id"


def migrate_tool_totals(db: SqliteDatabase) -> None:
    """Migration 13, frozen: the totals, their triggers, the index of each tool's newest
    attempts, and the totals of the attempts and patches already there (one pass each, once)."""
    attempt_columns = "state, tool, usd, tokens_in, tokens_out"
    patch_columns = "state, round, run_id, step_id, attempt"
    for statement in (
        """CREATE TABLE tool_totals (
            tool TEXT NOT NULL,
            kind TEXT NOT NULL,
            patch INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            succeeded INTEGER NOT NULL DEFAULT 0,
            accepted INTEGER NOT NULL DEFAULT 0,
            priced INTEGER NOT NULL DEFAULT 0,
            usd REAL NOT NULL DEFAULT 0.0,
            tokens INTEGER NOT NULL DEFAULT 0,
            tokenized INTEGER NOT NULL DEFAULT 0,
            decided INTEGER NOT NULL DEFAULT 0,
            rounds INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (tool, kind, patch)
        ) WITHOUT ROWID""",
        # Partial on the end alone: an attempt's first write (running) does not touch it, and its
        # state (in the WHERE of a partial index) can change without the index being asked again.
        "CREATE INDEX attempts_tool ON attempts (tool, ended_at) WHERE ended_at IS NOT NULL",
        f"""CREATE TRIGGER tool_totals_inserted AFTER INSERT ON attempts WHEN new.state IN {JUDGED} BEGIN
            {_attempt("new", "+", "steps AS s", _step_of("new"))}
        END""",
        # Two triggers, each with its WHEN: in one, the statement for the old row looked up its
        # step even when that row was not finished (about a third more CPU per attempt written).
        f"""CREATE TRIGGER tool_totals_left AFTER UPDATE OF {attempt_columns} ON attempts
            WHEN old.state IN {JUDGED} BEGIN
            {_attempt("old", "-", "steps AS s", _step_of("old"))}
        END""",
        f"""CREATE TRIGGER tool_totals_came AFTER UPDATE OF {attempt_columns} ON attempts
            WHEN new.state IN {JUDGED} BEGIN
            {_attempt("new", "+", "steps AS s", _step_of("new"))}
        END""",
        f"""CREATE TRIGGER tool_totals_patch_inserted AFTER INSERT ON patches WHEN new.state IN {ACCEPTED} BEGIN
            {_patch("new", "+")}
        END""",
        f"""CREATE TRIGGER tool_totals_patch_left AFTER UPDATE OF {patch_columns} ON patches
            WHEN old.state IN {ACCEPTED} BEGIN
            {_patch("old", "-")}
        END""",
        f"""CREATE TRIGGER tool_totals_patch_came AFTER UPDATE OF {patch_columns} ON patches
            WHEN new.state IN {ACCEPTED} BEGIN
            {_patch("new", "+")}
        END""",
        _add("a.tool", {"attempts": "COUNT(*)", "succeeded": "SUM(a.state = 'succeeded')",
              "accepted": f"SUM(CASE WHEN {_PATCH} THEN {_accepted_patch('a.run_id', 'a.step_id', 'a.number')} "
                          "ELSE 0 END)",
              "priced": "SUM(a.usd IS NOT NULL)", "usd": "COALESCE(SUM(a.usd), 0.0)",
              "tokens": "SUM(COALESCE(a.tokens_in, 0) + COALESCE(a.tokens_out, 0))",
              "tokenized": "SUM(a.tokens_in IS NOT NULL OR a.tokens_out IS NOT NULL)"},
             "attempts AS a JOIN steps AS s ON s.run_id = a.run_id AND s.id = a.step_id",
             f"a.state IN {JUDGED} GROUP BY a.tool, s.kind, {_PATCH}"),
        _add("a.tool", {"decided": "COUNT(*)", "rounds": "SUM(p.round)"},
             "patches AS p JOIN attempts AS a ON a.run_id = p.run_id AND a.step_id = p.step_id "
             "AND a.number = p.attempt JOIN steps AS s ON s.run_id = p.run_id AND s.id = p.step_id",
             f"p.state IN {ACCEPTED} GROUP BY a.tool, s.kind, {_PATCH}"),
    ):
        db.execute_sql(statement)


# -- reads -------------------------------------------------------------------------------------

_KINDS_SQL = ("SELECT tool, kind, SUM(attempts), SUM(succeeded), "
              "SUM(CASE WHEN patch THEN accepted ELSE succeeded END), "
              "SUM(priced), SUM(usd), SUM(decided), SUM(rounds) FROM tool_totals GROUP BY tool, kind "
              "HAVING SUM(attempts) > 0 ORDER BY tool, kind")


def kind_stats() -> list[KindStats]:
    """Every (tool, step kind) the store has finished attempts of, with what they achieved and
    cost: made once per run start by the router (and by ``uet tools``), in time that does not
    grow with the attempts or the patches."""
    from schemas.memory import KindStats

    out = []
    for tool, kind, attempts, succeeded, took, priced, usd, decided, rounds in database.execute_sql(
            _KINDS_SQL).fetchall():
        usd = round(float(usd), 6)
        out.append(KindStats(
            tool=tool, kind=kind, attempts=attempts, succeeded=succeeded, accepted=took,
            success_rate=succeeded / attempts,
            mean_rounds=rounds / decided if decided else None,
            usd=usd, priced=priced,
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
            "SELECT ended_at, COALESCE(duration, ended_at - started_at) FROM attempts WHERE tool = ? "
            f"AND ended_at IS NOT NULL AND state IN {JUDGED} ORDER BY ended_at DESC LIMIT ?",
            (tool, MEDIAN_OVER)).fetchall()
        last = newest[0][0] if newest else None
        seconds = [took for _, took in newest if took is not None]
        out[tool] = ToolUsage(tool=tool, attempts=int(n), succeeded=int(ok),
                              median_seconds=statistics.median(seconds) if seconds else None,
                              usd=round(float(usd), 6), priced=int(priced), tokens=int(tokens),
                              tokenized=int(tokenized), last_used_at=last)
    return out
