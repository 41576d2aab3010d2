"""The limits of engine.yamlsafe at their edges: nesting of any depth, what aliases add as
against what the file spells out, refusing pipes, devices and links that lead nowhere, tabs,
and both parsers (libyaml and PyYAML's own) giving the same values, marks and messages.

Big inputs are generated here; each test stays well under two seconds.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine import yamlsafe
from engine.errors import ValidationFailed

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus"

LOADERS = [
    pytest.param(getattr(yaml, "CSafeLoader", None), id="libyaml",
                 marks=pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")),
    pytest.param(yaml.SafeLoader, id="python"),
]


@pytest.fixture(params=LOADERS)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> type[yaml.SafeLoader]:
    """Each test that takes this runs once with each parser."""
    monkeypatch.setattr(yamlsafe, "Loader", request.param, raising=False)
    return request.param


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "UET_DB"}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "validate", str(path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], where: str, *words: str) -> None:
    """Exit 2 and one error line that starts ``uet: <where>`` and holds ``words``."""
    err = result.stderr
    assert result.returncode == 2, (result.returncode, err)
    assert "Traceback" not in err, err
    assert err.startswith(f"uet: {where}"), err
    for word in words:
        assert word in err, (word, err)


def refusal(text: str) -> tuple[str, int | None, int | None, str | None]:
    with pytest.raises(ValidationFailed) as caught:
        yamlsafe.parse(text, "ws.yaml")
    (problem,) = caught.value.problems
    return problem.message, problem.line, problem.column, problem.field


def steps(count: int) -> str:
    return "name: x\nsteps:\n" + "".join(f"  - id: s{i}\n    run: [echo]\n" for i in range(count))


# -- 1. nesting of any depth ----------------------------------------------------------------------


def _flow(depth: int) -> str:
    return "params: " + "[" * depth + "]" * depth + "\n"


def _block(depth: int) -> str:
    return "".join(" " * i + "k:\n" for i in range(depth)) + " " * depth + "v\n"


@pytest.mark.parametrize("depth", [65, 500])
def test_deep_flow_nesting_is_refused_where_it_passes_the_limit(loader: type, depth: int) -> None:
    message, line, column, field = refusal(_flow(depth))
    assert message == f"nesting deeper than {yamlsafe.MAX_DEPTH} levels"
    assert (line, column) == (1, len("params: ") + yamlsafe.MAX_DEPTH + 1)
    assert field == "params" + "[0]" * yamlsafe.MAX_DEPTH


def test_flow_nesting_deeper_than_libyaml_looks_ahead_is_refused_as_too_deep(loader: type) -> None:
    """libyaml reads a run of brackets ahead of the values and stops at its own limit of 1000
    levels, before the 65th level reaches the check: the message is the same, the position is where
    libyaml stopped."""
    message, line, column, field = refusal(_flow(5000))
    assert message == f"nesting deeper than {yamlsafe.MAX_DEPTH} levels"
    assert line == 1 and column is not None and column >= len("params: ") + yamlsafe.MAX_DEPTH + 1
    assert field is not None and field.startswith("params")


@pytest.mark.parametrize("depth", [65, 500, 3000])
def test_deep_block_nesting_is_refused_where_it_passes_the_limit(loader: type, depth: int) -> None:
    message, line, column, field = refusal(_block(depth))
    assert message == f"nesting deeper than {yamlsafe.MAX_DEPTH} levels"
    assert (line, column) == (yamlsafe.MAX_DEPTH + 1, yamlsafe.MAX_DEPTH + 1)
    assert field == ".".join(["k"] * (yamlsafe.MAX_DEPTH + 1))


def test_nesting_at_the_limit_is_accepted(loader: type) -> None:
    assert yamlsafe.parse(_flow(yamlsafe.MAX_DEPTH - 1), "ws.yaml").data["params"]


def test_nesting_made_deep_by_an_alias_is_refused(loader: type) -> None:
    text = "a: &a " + "[" * 60 + "]" * 60 + "\nb: [[[[[[*a]]]]]]\n"
    message, line, column, field = refusal(text)
    assert "nesting deeper than" in message
    assert (line, column) == (1, 65)
    assert field is not None and field.startswith("b[0][0][0][0][0][0]")


@pytest.mark.parametrize("text", [_flow(500), _block(500)], ids=["flow", "block"])
def test_cli_refuses_deep_nesting_cleanly(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    where = "1:73" if text.startswith("params") else "65:65"
    assert_refused(validate(path), f"{path}:{where}: ", "nesting deeper than 64 levels")


# -- 2. what aliases add, not what the file spells out --------------------------------------------

LIMIT = 1000  # MAX_NODES, lowered so that the inputs stay small and fast to read


@pytest.fixture
def low_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(yamlsafe, "MAX_NODES", LIMIT)
    return LIMIT


def test_values_written_out_are_not_counted_as_alias_expansion(loader: type, low_limit: int) -> None:
    data = yamlsafe.parse("name: x\nvalues: [" + "0, " * (5 * low_limit) + "]\n", "ws.yaml").data
    assert len(data["values"]) == 5 * low_limit


def test_a_long_plain_workstream_loads(loader: type, low_limit: int) -> None:
    data = yamlsafe.parse(steps(low_limit), "ws.yaml").data
    assert len(data["steps"]) == low_limit and data["steps"][-1] == {"id": f"s{low_limit - 1}", "run": ["echo"]}


def _aliased(copies: int, size: int = 9) -> str:
    """A list of ``size`` values (``size + 1`` with the list), aliased ``copies`` times."""
    return "base: &b [" + ", ".join(["x"] * size) + "]\nuses:\n" + "".join("  - *b\n" for _ in range(copies))


def test_aliases_adding_up_to_the_limit_are_accepted(loader: type, low_limit: int) -> None:
    copies = low_limit // 10
    data = yamlsafe.parse(_aliased(copies), "ws.yaml").data
    assert len(data["uses"]) == copies and data["uses"][-1] == data["base"]


def test_aliases_adding_more_than_the_limit_are_refused_where_they_add_up(loader: type, low_limit: int) -> None:
    message, line, column, field = refusal(_aliased(low_limit // 10 + 1))
    assert message == f"aliases add more than {low_limit} values to this value once expanded (an alias bomb?)"
    assert (line, column, field) == (3, 3, "uses")


def test_a_billion_laughs_is_refused_at_the_first_value_that_adds_too_much(loader: type) -> None:
    lines = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    for previous, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    message, line, column, field = refusal("\n".join(lines) + "\n")
    assert "alias bomb" in message and str(yamlsafe.MAX_NODES) in message
    assert (line, column, field) == (6, 4, "f")


# -- 3. speed: libyaml when there is one, and no cycle collections while reading -----------------


def test_libyaml_is_used_when_pyyaml_has_it() -> None:
    if yaml.__with_libyaml__:
        assert yamlsafe.Loader is yaml.CSafeLoader
    else:
        assert yamlsafe.Loader is yaml.SafeLoader


def test_the_cycle_collector_does_not_run_while_a_big_file_is_read() -> None:
    """A big document's objects all live until it is read: collections while reading only walk
    them again and again."""
    text = steps(5_000)
    collections: list[str] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(phase)

    gc.collect()
    gc.callbacks.append(count)
    try:
        located = yamlsafe.parse(text, "ws.yaml")
    finally:
        gc.callbacks.remove(count)
    assert len(located.data["steps"]) == 5_000
    assert len(collections) <= 1  # the one that runs when the collector is resumed
    assert gc.isenabled()


def _documents() -> Iterator[Path]:
    for folder in ("good", "bad"):
        yield from sorted((CORPUS / folder).glob("*.yaml"))


def _outcome(text: str) -> object:
    try:
        located = yamlsafe.parse(text, "ws.yaml")
    except ValidationFailed as exc:
        return [(p.message, p.line, p.column, p.field) for p in exc.problems]
    return located.data, located.marks


# the parsers word a few syntax errors differently; where they say it is the same
_WORDED_DIFFERENTLY = {"malformed_indent.yaml"}


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_both_parsers_give_the_same_values_marks_and_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = "base: &b {x: 1, y: [2, 3]}\nuse:\n  <<: *b\n  y: 4\nwhen: 2024-01-02\nq: !!str 12\nn: ~\n"
    texts = [path.read_text(encoding="utf-8") for path in _documents()] + [extra]
    names = [path.name for path in _documents()] + ["merge"]
    outcomes = {}
    for parser in (yaml.CSafeLoader, yaml.SafeLoader):
        monkeypatch.setattr(yamlsafe, "Loader", parser)
        outcomes[parser] = [_outcome(text) for text in texts]
    for name, fast, slow in zip(names, outcomes[yaml.CSafeLoader], outcomes[yaml.SafeLoader], strict=True):
        if name in _WORDED_DIFFERENTLY:
            assert [p[1:] for p in fast] == [p[1:] for p in slow], name  # type: ignore[index]
        else:
            assert fast == slow, name



# -- 3b. the quick reading (values straight from the parser's events) against the careful one ----

_UNUSUAL = {
    "merge": "base: &b {x: 1, y: [2, 3]}\nuse:\n  <<: *b\n  y: 4\n",
    "tag": "q: !!str 12\n",
    "non-text key": "1: a\n",
    "true key": "true: a\n",
    "duplicate key": "a: 1\na: 2\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\n",
    "recursive alias": "a: &x [*x]\n",
    "undefined alias": "a: *x\n",
    "bad date": "a: 2024-13-01\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "syntax": "a: [1, 2\n",
}
_USUAL = {
    "aliases": "a: &a [x, {k: &s v, m: [1, 2.5, null, true, 2024-01-02]}]\nb: *a\nc: [*a, *s, *a]\nd: *s\n",
    "words as keys": "on: yes\n'on2': 1\nYes: off\n",
    "list root": "- &x {a: 1}\n- *x\n- [*x, '']\n",
    "scalar root": "hello\n",
    "flow": "{a: [1, {b: c}], d: '', e: [], f: {}}\n",
    "block text": "a: |\n  line one\n  line two\nb: >-\n  folded\n",
    "workstream": yaml.safe_dump({"name": "w", "steps": [{"id": f"s{i}", "run": ["true"], "needs": [f"s{i - 1}"]}
                                                          for i in range(1, 4)]}, sort_keys=False),
}


def _quick(text: str) -> object:
    loader = yamlsafe.Loader(text)
    try:
        return yamlsafe._Quick(loader).read()
    finally:
        loader.dispose()


@pytest.mark.parametrize("text", list(_USUAL.values()), ids=list(_USUAL))
def test_the_quick_reading_reads_plain_values_and_aliases(loader: type, text: str) -> None:
    assert _quick(text) is not None


@pytest.mark.parametrize("text", list(_UNUSUAL.values()), ids=list(_UNUSUAL))
def test_the_quick_reading_leaves_the_unusual_to_the_careful_one(loader: type, text: str) -> None:
    assert _quick(text) is None


def test_the_quick_reading_gives_the_values_marks_and_problems_of_the_careful_one(
        loader: type, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [path.read_text(encoding="utf-8") for path in _documents()] + [*_USUAL.values(), *_UNUSUAL.values()]
    quick = [_outcome(text) for text in texts]
    monkeypatch.setattr(yamlsafe._Quick, "read", lambda self: None)
    careful = [_outcome(text) for text in texts]
    for text, fast, slow in zip(texts, quick, careful, strict=True):
        assert fast == slow, text


def _values(text: str) -> object:
    loader = yamlsafe.Loader(text)
    try:
        read = yamlsafe._Quick(loader, marking=False).read()
    finally:
        loader.dispose()
    return None if read is None else read[0]


@pytest.mark.parametrize("text", [*_USUAL.values(), *_UNUSUAL.values()], ids=[*_USUAL, *_UNUSUAL])
def test_reading_without_marks_takes_the_same_documents_and_gives_the_same_values(loader: type, text: str) -> None:
    marked = _quick(text)
    assert _values(text) == (None if marked is None else marked[0])  # type: ignore[index]


def test_marks_are_read_when_a_position_is_first_asked_for(loader: type) -> None:
    text = "name: x\nsteps:\n  - id: a\n    run: &r [echo]\n  - id: b\n    run: *r\n"
    located = yamlsafe.parse(text, "ws.yaml")
    assert located.known_marks is None
    problem = located.problem("wrong", ("steps", 1, "run", 0))
    assert (problem.line, problem.column, problem.field) == (4, 14, "steps[1].run[0]")  # the anchored `echo`
    assert located.known_marks == yamlsafe._read_carefully(text, "ws.yaml").marks


def test_each_alias_gives_a_value_of_its_own(loader: type) -> None:
    data = yamlsafe.parse("a: &a {k: [1]}\nb: *a\n", "ws.yaml").data
    data["b"]["k"].append(2)
    assert data["a"] == {"k": [1]}


def test_the_quick_reading_stops_where_aliases_would_add_too_much(loader: type, low_limit: int) -> None:
    assert _quick(_aliased(low_limit // 10)) is not None
    assert _quick(_aliased(low_limit // 10 + 1)) is None
    lines = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]"
              for previous, name in zip("abc", "bcd", strict=True)]
    assert _quick("\n".join(lines[:3]) + "\n") is not None  # b adds 9 * 10 values, c 9 * 91: 909
    assert _quick("\n".join(lines) + "\n") is None  # and d 9 * 820 more


# -- 4. regular files only: no pipe, device, directory or loop of links ----------------------------


def _feed(fifo: Path, data: bytes) -> threading.Thread:
    """A writer that waits for a reader; it never gets one when the pipe is refused, and the
    test opens the pipe itself afterwards to let it finish."""

    def write() -> None:
        try:
            with fifo.open("wb") as out:
                out.write(data)
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _release(fifo: Path, writer: threading.Thread) -> None:
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer.join(timeout=10)
    os.close(fd)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_refused_even_with_a_writer_waiting(tmp_path: Path) -> None:
    """A pipe could hold anything, for ever: only a regular file is read."""
    fifo = tmp_path / "ws.yaml"
    os.mkfifo(fifo)
    writer = _feed(fifo, b"name: piped\n")
    with pytest.raises(ValidationFailed) as caught:
        yamlsafe.load(fifo)
    _release(fifo, writer)
    (problem,) = caught.value.problems
    assert (problem.file, problem.message) == (str(fifo), "a named pipe, not a regular file: only a file's own text "
                                                          "is read")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_file_swapped_for_a_pipe_after_the_check_does_not_block(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The kind is checked again on the descriptor, opened without waiting for a writer."""
    fifo = tmp_path / "ws.yaml"
    os.mkfifo(fifo)
    checks: list[int] = []
    check = yamlsafe._refuse_unless_regular

    def pass_the_first(file: str, mode: int) -> None:  # as if the pipe were made after the first look
        checks.append(mode)
        if len(checks) > 1:
            check(file, mode)

    monkeypatch.setattr(yamlsafe, "_refuse_unless_regular", pass_the_first)
    with pytest.raises(ValidationFailed) as caught:
        yamlsafe.read_text(fifo)
    assert caught.value.problems[0].message.startswith("a named pipe, not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_cli_refuses_a_pipe_nobody_writes_to_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "ws.yaml"
    os.mkfifo(fifo)
    assert_refused(validate(fifo), f"{fifo}: ", "a named pipe, not a regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_cli_refuses_dev_zero() -> None:
    assert_refused(validate(Path("/dev/zero")), "/dev/zero: ", "a character device, not a regular file")


def test_a_dangling_link_and_a_loop_of_links_are_named(tmp_path: Path) -> None:
    dangling, loop = tmp_path / "dangling.yaml", tmp_path / "loop.yaml"
    dangling.symlink_to(tmp_path / "gone.yaml")
    loop.symlink_to(tmp_path / "back.yaml")
    (tmp_path / "back.yaml").symlink_to(loop)
    for path, words in ((dangling, ("a symbolic link to", "gone.yaml", "does not exist")),
                        (loop, ("symbolic links that lead round in a loop",))):
        with pytest.raises(ValidationFailed) as caught:
            yamlsafe.read_text(path)
        message = caught.value.problems[0].message
        assert all(word in message for word in words), message


# -- 5. tabs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "column"), [("name: x\t# c\n", 8), ("run:\t[echo]\n", 5)])
def test_a_tab_between_values_is_not_blamed_on_yaml(monkeypatch: pytest.MonkeyPatch, text: str, column: int) -> None:
    monkeypatch.setattr(yamlsafe, "Loader", yaml.SafeLoader)  # libyaml accepts these tabs, as YAML does
    message, line, found_column, _ = refusal(text)
    assert (line, found_column) == (1, column)
    assert "tab" in message and "use spaces" in message
    assert "YAML indents and separates" not in message


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_libyaml_reads_a_tab_between_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsafe, "Loader", yaml.CSafeLoader)
    assert yamlsafe.parse("name: x\t# c\nrun:\t[echo]\n", "ws.yaml").data == {"name": "x", "run": ["echo"]}


def test_a_tab_in_the_indentation_is_still_called_that(loader: type) -> None:
    message, line, column, _ = refusal("name: x\nsteps:\n  - id: a\n\trun: [echo]\n")
    assert (line, column) == (4, 1)
    assert message == "a tab in the indentation: YAML indents with spaces only"
