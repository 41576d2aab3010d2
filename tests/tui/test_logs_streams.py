"""``uet logs RUN STEP`` and the stream index: ``--json`` says each line's stream, text marks
stderr with ``2| `` when asked (a pipe gets the log as it is), and a log without an index reads
as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.logindex import IndexWriter
from tests.tui.test_log_viewer import RUN, three_steps
from tui.cli import main


@pytest.fixture
def db(tmp_path: Path) -> Path:
    (tmp_path / ".uet").mkdir()
    db = three_steps(tmp_path / ".uet" / "uet.db", tmp_path / ".uet" / "logs" / RUN)
    log = tmp_path / ".uet" / "logs" / RUN / "test.1.log"
    log.write_text("test says hello\ntest is done\nuet: a line of the engine's\n")
    writer = IndexWriter(str(log))
    writer.mark(0, "o", now=1000.0)
    writer.mark(16, "e", now=1000.5)  # "test is done" came through stderr
    writer.close(29)
    return db


def logs(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> str:
    assert main(["--db", str(db), "logs", RUN, *args]) == 0
    return capsys.readouterr().out


def test_json_carries_each_line_s_stream(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    lines = [json.loads(line) for line in logs(capsys, db, "test", "--json").splitlines()]
    assert [(line["stream"], line["text"]) for line in lines] == [
        ("stdout", "test says hello"), ("stderr", "test is done"), (None, "uet: a line of the engine's")]
    old = [json.loads(line) for line in logs(capsys, db, "docs", "--json").splitlines()]
    assert [line["stream"] for line in old] == [None, None]  # no index: nothing is known


def test_text_marks_stderr_only_when_asked_or_on_a_terminal(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    raw = (db.parent / "logs" / RUN / "test.1.log").read_text()
    assert logs(capsys, db, "test") == raw  # not a terminal: the log as it is
    assert logs(capsys, db, "test", "--marks", "never") == raw
    assert logs(capsys, db, "test", "--marks", "always") == \
        "test says hello\n2| test is done\nuet: a line of the engine's\n"
    assert logs(capsys, db, "docs", "--marks", "always") == "docs says hello\ndocs is done\n"
