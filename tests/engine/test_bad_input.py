"""Bad workstream files through the real CLI: each one must give one clear error that names the
file, line, column and field, exit with code 2, print no traceback and write nothing.

The corpus is ``tests/corpus/bad/`` (one fault per file) and ``tests/corpus/good/``. Files that
should not be committed (50 MiB, an alias bomb, binary, non-UTF-8, a control character) are
generated at run time. The expected location of every error is in ``CASES`` below.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus"
BIG_BYTES = 50 * 1024 * 1024

Generator = Callable[[Path], None]  # writes the case's file (or directory) at the given path


@dataclass(frozen=True)
class Case:
    """One bad input and where its error must point. ``line`` None: a whole-file problem."""

    name: str
    line: int | None
    column: int | None
    field: str | None
    keywords: tuple[str, ...]
    generate: Generator | None = field(default=None, compare=False)
    named: str | None = None  # the file the error names, inside the project, when not the workstream

    @property
    def file(self) -> str:
        return f"{self.name}.yaml"

    def location(self, project: Path) -> str:
        """The start of the one error line: ``uet: FILE:LINE:COLUMN: FIELD: ``."""
        where = str(project.resolve() / self.named) if self.named else self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"uet: {where}: " + (f"{self.field}: " if self.field else "")


# -- generated inputs -------------------------------------------------------------------------


def _alias_bomb(path: Path) -> None:
    lines = [
        "name: alias-bomb",
        "steps:",
        "  - id: boom",
        "    run: [echo, ok]",
        "    params:",
        "      a: &a [" + ", ".join(['"lol"'] * 9) + "]",
    ]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"      {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _binary(path: Path) -> None:
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 16)


def _non_utf8(path: Path) -> None:
    path.write_bytes("name: café\nsteps:\n  - id: a\n    run: [echo, déjà]\n".encode("latin-1"))


def _utf16(path: Path) -> None:
    path.write_bytes("name: x\nsteps:\n  - id: a\n    run: [echo, ok]\n".encode("utf-16"))


def _control_char(path: Path) -> None:
    path.write_text('name: bell\nsteps:\n  - id: a\n    run: [echo, "ding\x07"]\n', encoding="utf-8")


def _directory(path: Path) -> None:
    path.mkdir()


def _nonexistent(path: Path) -> None:
    pass


def _big(path: Path) -> None:
    raise AssertionError("the 50 MiB file comes from the big_file fixture")  # pragma: no cover


def _fifo(path: Path) -> None:
    os.mkfifo(path)  # nobody writes to it: opening it to read would wait for ever


def _symlink_loop(path: Path) -> None:
    other = path.with_name("other.yaml")
    path.symlink_to(other.name)
    other.symlink_to(path.name)


def _dangling_link(path: Path) -> None:
    path.symlink_to("gone.yaml")


def _cwd_link(path: Path) -> None:
    """A link inside the project that leads out of it (``link -> /etc``) as the step's cwd."""
    (path.parent / "link").symlink_to("/etc")
    path.write_text("name: cwd-link\nsteps:\n  - id: a\n    run: [pwd]\n    cwd: link\n", encoding="utf-8")


def _with_router(make: Callable[[Path], None]) -> Generator:
    """A good workstream whose project has ``.uet/router.yaml`` made by ``make``."""

    def generate(path: Path) -> None:
        path.write_text("name: router-path\nsteps:\n  - id: a\n    run: [echo, ok]\n", encoding="utf-8")
        make(path.parent / ".uet" / "router.yaml")

    return generate


def _router_says(text: str) -> Generator:
    """A good workstream whose project's ``.uet/router.yaml`` holds ``text``."""
    return _with_router(lambda path: path.write_text(text, encoding="utf-8"))


# -- the table: expected line, column, field path and words, per case -------------------------

CASES = [
    # YAML and file level
    Case("malformed_yaml", 7, 1, None, ("YAML syntax", "quoted scalar", "line 4, column 17")),
    Case("malformed_indent", 5, 4, None, ("YAML syntax", "indentation", "line 3, column 3")),
    Case("tabs", 4, 1, None, ("tab", "indentation")),
    Case("empty", 1, 1, None, ("empty",)),
    Case("comments_only", 1, 1, None, ("no document",)),
    Case("top_level_list", 1, 1, None, ("mapping", "found a list")),
    Case("top_level_null", 2, 1, None, ("mapping", "found null")),
    Case("multiple_documents", 5, 1, None, ("second YAML document",)),
    Case("duplicate_keys", 6, 5, "steps[0].timeout", ("duplicate key 'timeout'",)),
    Case("recursive_alias", 2, 8, "steps[0].run", ("recursive alias",)),
    Case("unsupported_tag", 4, 10, "steps[0].run", ("tag !!python/object/apply:os.system", "not supported")),
    Case("bad_date", 4, 17, "steps[0].run[1]", ("2024-13-01", "month", "quotes")),
    Case("merge_not_mapping", 4, 9, "steps[0]", ("merge key", "mapping")),
    Case("alias_bomb", 11, 10, "steps[0].params.f", ("alias bomb", "200000"), _alias_bomb),
    Case("binary", 1, 8, None, ("binary", "NUL"), _binary),
    Case("non_utf8", 1, 10, None, ("UTF-8", "0xe9"), _non_utf8),
    Case("utf16", 1, 1, None, ("UTF-16", "UTF-8"), _utf16),
    Case("control_char", 4, 22, None, ("U+0007", "not allowed"), _control_char),
    Case("big", None, None, None, ("50.0 MiB", "limit is 5 MiB"), _big),
    Case("directory", None, None, None, ("directory",), _directory),
    Case("nonexistent", None, None, None, ("no such file",), _nonexistent),
    Case("fifo", None, None, None, ("a named pipe, not a regular file",), _fifo),
    Case("symlink_loop", None, None, None, ("symbolic links", "loop"), _symlink_loop),
    Case("dangling_link", None, None, None, ("a symbolic link to 'gone.yaml'", "does not exist"), _dangling_link),
    Case("binary_tag", 3, 9, "steps[0].id", ("tag !!binary", "not supported")),
    # the router file beside the workstream: there or not, never silently replaced by the built-in one
    Case("router_directory", None, None, None, ("is a directory",), _with_router(Path.mkdir),
         named=".uet/router.yaml"),
    Case("router_dangling", None, None, None, ("a symbolic link to", "does not exist"),
         _with_router(lambda p: p.symlink_to("nowhere.yaml")), named=".uet/router.yaml"),
    Case("router_dev_zero", None, None, None, ("a character device, not a regular file",),
         _with_router(lambda p: p.symlink_to("/dev/zero")), named=".uet/router.yaml"),
    Case("router_fifo", None, None, None, ("a named pipe, not a regular file",), _with_router(os.mkfifo),
         named=".uet/router.yaml"),
    # values in the router that no tool can have, and cost patterns that could hold the engine
    Case("router_sim_exit_code", 6, 7, "tools.odd.sim.exit_code",
         ("100000000000000000000000 is no exit code", "between -64"),
         _router_says("tools:\n  odd:\n    adapter: sim\n    sim:\n      outcome: {dist: constant, value: failed}\n"
                      "      exit_code: 100000000000000000000000\n"), named=".uet/router.yaml"),
    Case("router_success_code", 4, 21, "tools.t.success_codes[0]", ("an exit code is 0 to 255", "found -1"),
         _router_says("tools:\n  t:\n    command: [echo]\n    success_codes: [-1]\n"), named=".uet/router.yaml"),
    Case("router_cost_backreference", 6, 7, "tools.t.cost.pattern",
         ("RE2, which matches in linear time, refuses it", "backreferences"),
         _router_says("tools:\n  t:\n    command: [echo]\n    cost:\n      format: regex\n"
                      "      pattern: '(?P<tokens_in>\\d+) \\1'\n"), named=".uet/router.yaml"),
    Case("router_cost_unknown_group", 4, 27, "tools.t.cost.pattern", ("named groups among", "tokens is not one"),
         _router_says("tools:\n  t:\n    command: [echo]\n    cost: {format: regex, pattern: '(?P<tokens>\\d+)'}\n"),
         named=".uet/router.yaml"),
    # schema
    Case("wrong_type", 2, 1, "max_parallel", ("an integer is expected", "'many'")),
    Case("wrong_type_needs", 7, 5, "steps[1].needs", ("a list is expected", "found a mapping")),
    Case("unquoted_bool", 4, 11, "steps[0].run[0]", ("a string is expected", "boolean true", "quotes")),
    Case("non_string_key", 5, 11, "steps[0].env.1", ("key must be a string", "number 1")),
    Case("null_key", 2, 1, "None", ("key must be a string", "found null")),
    Case("unknown_key", 7, 5, "steps[1].nedds", ("unknown key 'nedds'", "did you mean 'needs'")),
    Case("missing_name", 1, 1, "name", ("required field is missing",)),
    Case("negative_duration", 5, 5, "steps[0].timeout", ("cannot be negative",)),
    Case("negative_duration_string", 5, 30, "steps[0].retry.backoff", ("cannot be negative",)),
    Case("absurd_duration", 6, 5, "steps[0].timeout", ("'30d'", "7-day limit")),
    Case("bad_retry_bounds", 5, 5, "steps[0].retry", ("max_backoff (2s) must not be shorter than backoff (10s)",)),
    Case("run_and_call", 5, 5, "steps[1]", ("either `run` or `call`",)),
    Case("matrix_missing_placeholder", 5, 5, "steps[1]", ("must use every matrix key", "{pkg}")),
    Case("matrix_path_value", 4, 22, "steps[0].matrix.k[1]", ("matrix value goes into step ids", "'/../../ESCAPED'")),
    Case("matrix_bool_value", 5, 14, "steps[0].matrix.flag[0]", ("boolean true", "quotes")),
    Case("matrix_reserved_key", 4, 5, "steps[0].matrix", ("'root'", "built-in {root}")),
    Case("matrix_id_twice", 3, 5, "steps[0].id", ("'p111' twice", "a=1, b=11 and a=11, b=1")),
    Case("matrix_too_big", 5, 5, "steps[0].matrix", ("makes 10,000,000,000 steps", "at most 250,000")),
    Case("matrix_square_too_big", 5, 5, "steps[0].matrix", ("makes 1,000,000 (1000 × 1000) steps", "at most 250,000")),
    Case("matrix_total_too_big", 12, 5, "steps[2].matrix", ("more than 250,000 steps", "160,001 before this step",
                                                            "makes 160,000 (400 × 400)")),
    Case("success_code_negative", 5, 24, "steps[0].success_codes[1]", ("0 to 255", "found -1")),
    Case("success_code_huge", 5, 21, "steps[0].success_codes[0]", ("0 to 255", "100000000000000000000000")),
    Case("retry_exit_code_range", 5, 60, "steps[0].retry.non_retryable_exit_codes[1]",
         ("256 is no exit code", "between -64", "and 255")),
    Case("nan_duration", 5, 5, "steps[0].timeout", ("not NaN",)),
    Case("zero_timeout", 5, 5, "steps[0].timeout", ("longer than 0s",)),
    Case("negative_delay", 7, 5, "steps[1].delay", ("cannot be negative",)),
    Case("bad_not_before", 5, 5, "steps[0].not_before", ("'25:30' is no time of day", "00-23")),
    Case("unknown_time_zone", 5, 5, "steps[0].not_before", ("unknown time zone 'Europe/Atlantis'", "IANA")),
    Case("trigger_bad_cron", 4, 16, "on[0].schedule.cron", ("'0 25 * * *' is not a cron expression", "hour")),
    Case("trigger_unknown_event", 3, 13, "on[0].event.run_finished", ("unknown key", "'run_failed'")),
    Case("trigger_glob_escape", 4, 7, "on[0].files.paths", ("'../secrets/*' climbs out", "inside the project")),
    Case("trigger_negative_every", 4, 5, "on[0].every", ("cannot be negative",)),
    Case("nan_budget", 3, 3, "budget.usd", ("finite number", "nan")),
    Case("cwd_escape", 5, 5, "steps[0].cwd", ("'../..'", "inside the project")),
    Case("cwd_absolute", 5, 5, "steps[0].cwd", ("'/etc' is absolute",)),
    Case("cwd_link", 5, 5, "steps[0].cwd", ("'link' leads to /etc", "inside the project"), _cwd_link),
    Case("env_bad_name", 5, 5, "steps[0].env", ("'A=B'", "environment variable name")),
    Case("nul_in_argument", 4, 5, "steps[0].run", ("argument 1", "NUL")),
    Case("bad_step_id", 3, 5, "steps[0].id", ("only letters, digits", "'lint all'")),
    # DAG, tools and executables
    Case("cycle", 5, 13, "steps[0].needs[0]", ("dependency cycle", "a → b → c → a")),
    Case("unknown_dep", 7, 13, "steps[1].needs[0]", ("unknown step 'biuld'", "did you mean 'build'")),
    Case("duplicate_step_ids", 7, 5, "steps[2].id", ("duplicate step id 'a'", "steps[0]")),
    Case("unknown_tool", 7, 5, "steps[1].tool", ("unknown tool 'ruf'", "did you mean 'ruff'")),
    Case("missing_executable", 6, 11, "steps[1].run[0]", ("uet-no-such-program-xyz", "not found on PATH")),
]
BY_NAME = {case.name: case for case in CASES}

# `uet run` too, for one case of each kind of failure (reading, parsing, schema, DAG, tools)
RUN_CASES = [
    "nonexistent", "directory", "big", "binary", "alias_bomb", "malformed_yaml", "duplicate_keys",
    "unknown_key", "bad_retry_bounds", "cycle", "unknown_dep", "missing_executable", "nan_duration",
    "matrix_path_value", "matrix_too_big", "matrix_total_too_big", "fifo", "symlink_loop", "binary_tag",
    "success_code_negative", "cwd_link", "router_directory", "router_dev_zero", "router_sim_exit_code",
    "router_cost_backreference",
]

GOOD = sorted(p.name for p in (CORPUS / "good").glob("*.yaml"))


def test_the_table_covers_the_corpus() -> None:
    committed = {p.stem for p in (CORPUS / "bad").glob("*.yaml")}
    in_table = {c.name for c in CASES if c.generate is None}
    assert committed == in_table
    assert set(RUN_CASES) <= set(BY_NAME)
    assert len(GOOD) >= 2


# -- running the CLI ----------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "UET_DB"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["NO_COLOR"] = "1"
    return env


def uet(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=project, env=_env(), capture_output=True, text=True, timeout=60, check=False,
    )


def _tree(project: Path) -> set[str]:
    return {str(p.relative_to(project)) for p in project.rglob("*")}


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """50 MiB of plausible YAML, written once for the module (and removed after it, since pytest
    keeps the temporary folders of recent sessions)."""
    path = tmp_path_factory.mktemp("big") / "big.yaml"
    chunk = "".join(f"  - id: step{i}\n    run: [echo, {i}]\n" for i in range(2000)).encode()
    with path.open("wb") as out:
        out.write(b"name: big\nsteps:\n")
        while out.tell() + len(chunk) <= BIG_BYTES:
            out.write(chunk)
        out.write(b"#" * (BIG_BYTES - out.tell()))
    assert path.stat().st_size == BIG_BYTES
    yield path
    path.unlink()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".uet").mkdir(parents=True)
    return root


def place(case: Case, project: Path, big_file: Path) -> None:
    """Put the case's input into the project as ``<name>.yaml``."""
    target = project / case.file
    if case.name == "big":
        try:
            os.link(big_file, target)  # no need to copy 50 MiB per test
        except OSError:
            target.symlink_to(big_file)
    elif case.generate is not None:
        case.generate(target)
    else:
        shutil.copyfile(CORPUS / "bad" / case.file, target)


def assert_clear_error(case: Case, result: subprocess.CompletedProcess[str], project: Path) -> None:
    err = result.stderr
    assert result.returncode == 2, (result.returncode, err)
    assert "Traceback" not in err, err
    assert result.stdout == "", result.stdout
    assert err.count("\n") == 1, f"expected exactly one error line:\n{err}"  # one fault, one error
    location = case.location(project)
    assert err.startswith(location), f"expected {location!r}...\ngot {err!r}"
    for word in case.keywords:
        assert word.lower() in err.lower(), f"{word!r} not in {err!r}"


# -- the tests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    result: subprocess.CompletedProcess[str]
    project: Path
    before: set[str]
    after: set[str]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, big_file: Path) -> Iterator[dict[tuple[str, str], Outcome]]:
    """Every (command, case) run once, concurrently: each is its own process and project."""
    jobs: list[tuple[str, Case, Path, set[str]]] = []
    for command, cases in (("validate", CASES), ("run", [BY_NAME[n] for n in RUN_CASES])):
        for case in cases:
            project = tmp_path_factory.mktemp(f"{command}-{case.name}") / "proj"
            (project / ".uet").mkdir(parents=True)
            place(case, project, big_file)
            jobs.append((command, case, project, _tree(project)))

    def one(job: tuple[str, Case, Path, set[str]]) -> Outcome:
        command, case, project, before = job
        args = ("run", "--plain", case.file) if command == "run" else ("validate", case.file)
        result = uet(project, *args)
        return Outcome(result, project, before, _tree(project))

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        done = list(pool.map(one, jobs))
    yield {(command, case.name): outcome for (command, case, _, _), outcome in zip(jobs, done, strict=True)}
    for _, case, project, _ in jobs:
        if case.name == "big":
            (project / case.file).unlink()  # a hard link keeps the 50 MiB alive


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_validate_rejects_bad_input(case: Case, outcomes: dict[tuple[str, str], Outcome]) -> None:
    outcome = outcomes["validate", case.name]
    assert_clear_error(case, outcome.result, outcome.project)
    assert outcome.after == outcome.before


@pytest.mark.parametrize("case", [BY_NAME[n] for n in RUN_CASES], ids=lambda c: c.name)
def test_run_rejects_bad_input_and_writes_nothing(case: Case, outcomes: dict[tuple[str, str], Outcome]) -> None:
    outcome = outcomes["run", case.name]
    assert_clear_error(case, outcome.result, outcome.project)
    assert outcome.after == outcome.before
    assert not list(outcome.project.rglob("uet.db*"))


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("runs", "steps", "attempts", "events")}


def test_bad_run_leaves_an_existing_store_unchanged(project: Path, big_file: Path) -> None:
    shutil.copyfile(CORPUS / "good" / "minimal.yaml", project / "minimal.yaml")
    first = uet(project, "run", "--plain", "minimal.yaml")
    assert first.returncode == 0, first.stderr
    db = project / ".uet" / "uet.db"
    counts = _counts(db)
    assert counts["runs"] == 1 and counts["steps"] == 1 and counts["events"] > 0
    for name in ("malformed_yaml", "unknown_key", "cycle", "missing_executable"):
        case = BY_NAME[name]
        place(case, project, big_file)
        assert_clear_error(case, uet(project, "run", "--plain", case.file), project)
    assert _counts(db) == counts


def test_validate_json_lists_located_problems(project: Path) -> None:
    (project / "two.yaml").write_text(
        "name: two-problems\n"
        "steps:\n"
        "  - id: a\n"
        "    run: [echo, ok]\n"
        "    needs: [nope]\n"
        "  - id: b\n"
        "    tool: ruf\n",
        encoding="utf-8",
    )
    result = uet(project, "validate", "--json", "two.yaml")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert document["problems"] == [
        {"message": "needs unknown step 'nope'", "file": "two.yaml", "line": 5, "column": 13,
         "field": "steps[0].needs[0]"},
        {"message": "unknown tool 'ruf'; did you mean 'ruff'?", "file": "two.yaml", "line": 7, "column": 5,
         "field": "steps[1].tool"},
    ]


def test_validate_json_of_unreadable_yaml(project: Path) -> None:
    shutil.copyfile(CORPUS / "bad" / "tabs.yaml", project / "tabs.yaml")
    result = uet(project, "validate", "--json", "tabs.yaml")
    assert result.returncode == 2
    (problem,) = json.loads(result.stdout)["problems"]
    assert (problem["file"], problem["line"], problem["column"]) == ("tabs.yaml", 4, 1)
    assert "tab" in problem["message"]


@pytest.mark.parametrize("name", GOOD)
def test_good_files_validate(name: str, project: Path) -> None:
    shutil.copyfile(CORPUS / "good" / name, project / name)
    result = uet(project, "validate", "--json", name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["valid"] is True
    assert document["root"] == str(project.resolve())
    assert not (project / ".uet" / "uet.db").exists()


def test_a_misspelt_placeholder_is_a_warning_and_other_braces_pass(project: Path) -> None:
    """``{pgk}`` beside a matrix key ``pkg`` is almost surely a typo; ``{print $1}`` or ``{}`` are
    the command's own text. Neither stops the run: the typo is warned about, with its place."""
    (project / "typo.yaml").write_text(
        "name: typo\n"
        "steps:\n"
        '  - id: "t-{pkg}"\n'
        "    matrix: {pkg: [api]}\n"
        '    run: [echo, "{pgk}", "{print}", "{}"]\n'
        '    env: {WHERE: "{rooot}"}\n',
        encoding="utf-8",
    )
    result = uet(project, "validate", "--json", "typo.yaml")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert [(w["line"], w["column"], w["field"]) for w in warnings] == [
        (5, 17, "steps[0].run[1]"), (6, 11, "steps[0].env.WHERE")]
    assert "did you mean {pkg}?" in warnings[0]["message"] and "did you mean {root}?" in warnings[1]["message"]
    assert "uet: warning: typo.yaml:5:17: steps[0].run[1]: {pgk} is no placeholder" in result.stderr
    ran = uet(project, "run", "--plain", "typo.yaml")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stderr.count("uet: warning:") == 2


def test_a_cwd_link_made_after_validation_fails_its_attempt(project: Path, tmp_path: Path) -> None:
    """A link may be made after the file was validated (here by the step before): the attempt
    that would run outside the project fails with the reason instead. A link that stays inside
    the project is a working directory like any other."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / "sub").mkdir()
    (project / "inside").symlink_to("sub")
    (project / "later.yaml").write_text(
        "name: later\n"
        "steps:\n"
        "  - id: make\n"
        f"    run: [ln, -s, {outside}, link]\n"
        "  - id: out\n"
        "    needs: [make]\n"
        "    run: [touch, marker]\n"
        "    cwd: link\n"
        "  - id: in\n"
        "    run: [touch, marker]\n"
        "    cwd: inside\n",
        encoding="utf-8",
    )
    assert uet(project, "validate", "later.yaml").returncode == 0
    result = uet(project, "run", "--plain", "later.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    with sqlite3.connect(project / ".uet" / "uet.db") as conn:
        attempts = dict(conn.execute("SELECT step_id, state || ': ' || coalesce(error, '') FROM attempts"))
    assert attempts["make"] == attempts["in"] == "succeeded: "
    assert attempts["out"].startswith(f"failed: the working directory 'link' leads to {outside}, outside the project")
    assert not (outside / "marker").exists()
    assert (project / "sub" / "marker").exists()


def test_the_step_limit_counts_every_expanded_step_and_no_more() -> None:
    """Exactly MAX_STEPS passes, one more does not: a template alone (the schema) and in total
    with the steps around it (the planner, before it expands anything)."""
    from engine.errors import ValidationFailed
    from engine.planner import build_plan
    from schemas.workstream import MAX_STEPS, Step, Workstream

    assert MAX_STEPS == 250_000  # the README gives the number
    values = {"x": [f"v{i}" for i in range(500)], "y": [f"v{i}" for i in range(500)]}
    Step.model_validate({"id": "m-{x}-{y}", "run": ["echo"], "matrix": values})
    with pytest.raises(ValueError, match=r"makes 250,500 \(500 × 501\) steps"):
        Step.model_validate({"id": "m-{x}-{y}", "run": ["echo"], "matrix": {**values, "y": [*values["y"], "w"]}})

    template = {"id": "m-{x}-{y}", "run": ["echo"], "matrix": {**values, "y": values["y"][:-1]}}  # 249,500
    plain = [{"id": f"p{i}", "run": ["echo"]} for i in range(500)]
    Workstream.model_validate({"name": "n", "steps": [template, *plain]})  # 250,000: what the planner expands
    too_many = Workstream.model_validate({"name": "n", "steps": [template, *plain, {"id": "one-more", "run": ["echo"]}]})
    with pytest.raises(ValidationFailed) as caught:
        build_plan(too_many, None, None, Path("/nonexistent-root"))
    (problem,) = caught.value.problems
    assert problem.field == "steps[501]"
    assert "more than 250,000 steps" in problem.message and "250,000 before this step" in problem.message
