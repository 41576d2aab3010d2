"""Stdout and stderr through two pipes into one merged log, with the stream index beside it:
real children writing in a known order, a child filling stderr's pipe before it writes stdout,
the index's bounds, and a log with no index."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import pytest

from engine import logindex
from engine.adapters.subprocess import run_subprocess
from engine.agents.stream import LineStream
from engine.logindex import IndexWriter, read_index
from schemas.execution import ExecutionRequest, ExecutionResult

PY = sys.executable

# Writes its lines one at a time, each to the stream its name says, and waits before the next
# until the test has seen the last one arrive (a file named go<N> appears): the order in which
# the engine reads them is then the order written, however loaded the machine is.
STEPPED = textwrap.dedent(
    """
    import os, sys, time
    here = sys.argv[1]
    for n, word in enumerate(sys.argv[2:]):
        out = sys.stderr if word.startswith("err") else sys.stdout
        out.write(word + "\\n")
        out.flush()
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(here, f"go{n}")) and time.monotonic() < deadline:
            time.sleep(0.005)
    """
)


def _request(tmp_path: Path, argv: list[str], **kw: object) -> ExecutionRequest:
    fields: dict[str, object] = {
        "run_id": "run1", "step_id": "step1", "attempt": 1, "tool": "probe", "adapter": "subprocess",
        "argv": argv, "cwd": str(tmp_path), "log_path": str(tmp_path / "logs" / "step1.log"),
    }
    fields.update(kw)
    return ExecutionRequest(**fields)  # type: ignore[arg-type]


def _run(request: ExecutionRequest, words: list[str] | None = None, here: Path | None = None) -> ExecutionResult:
    """Run the adapter; with ``words``, let the stepped child go on once each word arrived."""
    seen: list[str] = []

    def arrived(text: str) -> None:
        seen.append(text)
        if words is not None and here is not None:
            got = "".join(seen)
            for n, word in enumerate(words):
                if word + "\n" in got:
                    (here / f"go{n}").touch()

    async def main() -> ExecutionResult:
        return await run_subprocess(request, asyncio.Event(), arrived)

    return asyncio.run(main())


def _marked(log: Path) -> list[tuple[str, str]]:
    """Each line of the log with its stream, as the index says."""
    data = log.read_bytes()
    index = read_index(str(log))
    assert index is not None
    return list(zip(index.line_streams(0, data), data.decode().splitlines(), strict=True))


@pytest.mark.parametrize(("words", "here"), [(["out1", "err1", "out2", "err2"], False),
                                             (["err1", "err2", "out1", "err3", "out2"], True)],
                         ids=["stdout-first-popen", "stderr-first-posix-spawn"])
def test_lines_keep_their_stream_in_the_order_written(tmp_path: Path, words: list[str], here: bool) -> None:
    """Both ways a child starts: Popen (another directory) and posix_spawn (our own)."""
    cwd = os.getcwd() if here else str(tmp_path)
    result = _run(_request(tmp_path, [PY, "-c", STEPPED, str(tmp_path), *words], cwd=cwd), words, tmp_path)
    assert result.outcome == "succeeded"
    log = tmp_path / "logs" / "step1.log"
    assert log.read_text() == "".join(w + "\n" for w in words)  # the plain merged text, in order
    assert _marked(log) == [("e" if w.startswith("err") else "o", w) for w in words]
    index = read_index(str(log))
    assert index is not None and index.times == sorted(index.times)
    assert index.stream_at(log.stat().st_size) == "-"  # what the engine appends later is nobody's


def test_a_child_filling_stderr_before_stdout_does_not_hang(tmp_path: Path) -> None:
    """Far more than a pipe's buffer (64 KiB) on stderr while stdout is still unwritten: the
    engine reads both pipes as they fill, so the child never blocks for good."""
    code = "import sys\nfor _ in range(5000): sys.stderr.write('e' * 99 + '\\n')\nsys.stderr.flush(); print('done')"
    result = _run(_request(tmp_path, [PY, "-c", code], timeout=20))
    assert result.outcome == "succeeded", result.error
    log = tmp_path / "logs" / "step1.log"
    marked = _marked(log)
    assert len(marked) == 5001
    assert marked[-1] == ("o", "done")
    assert {stream for stream, _ in marked[:-1]} == {"e"}


def test_stderr_is_masked_but_not_parsed(tmp_path: Path) -> None:
    """An agent's stream (secrets masked) masks stderr too; the stream's raw copy is stdout's."""
    secret = "sk-abcdef123456"
    code = f"import sys; print('key {secret}', file=sys.stderr); print('fine')"
    stream = LineStream(secrets=(secret,))
    result = _run(_request(tmp_path, [PY, "-c", code], env={"KEY": secret}, stream=stream))
    assert result.outcome == "succeeded"
    log = tmp_path / "logs" / "step1.log"
    assert secret not in log.read_text()
    assert sorted(_marked(log)) == [("e", "key ***"), ("o", "fine")]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_failing_log_leaves_no_index(tmp_path: Path) -> None:
    code = "import sys; print('x' * 1000, file=sys.stderr); print('done')"
    result = _run(_request(tmp_path, [PY, "-c", code], log_path="/dev/full"))
    assert result.outcome == "succeeded" and "done" in result.output_tail
    assert not os.path.exists("/dev/full" + logindex.SUFFIX)


def test_runs_of_one_stream_share_a_record_and_the_index_stops_at_its_cap(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    log = str(tmp_path / "a.log")
    writer = IndexWriter(log)
    for n in range(100_000):  # a million short lines in a few reads each: one stream, one tick
        writer.mark(n * 10, "o", now=1000.0)
    writer.close(1_000_000)
    index = read_index(log)
    assert index is not None
    assert index.offsets == [0, 1_000_000] and index.streams == "o-"

    monkeypatch.setattr(logindex, "MAX_RECORDS", 100)
    log = str(tmp_path / "b.log")
    writer = IndexWriter(log)
    for n in range(10_000):  # every line on the other stream: a record each, up to the cap
        writer.mark(n * 10, "e" if n % 2 else "o", now=1000.0 + n)
    writer.close(100_000)
    assert os.path.getsize(log + logindex.SUFFIX) < 100 * 40
    index = read_index(log)
    assert index is not None
    assert len(index.offsets) == 100 and index.capped == 1000
    assert index.stream_at(990) == "e" and index.stream_at(5000) == "-"  # past the cap: unmarked


def test_a_log_without_an_index_reads_unmarked(tmp_path: Path) -> None:
    log = tmp_path / "old.log"
    log.write_text("one\ntwo\n")
    assert read_index(str(log)) is None
    (tmp_path / "old.log.idx").write_text("not an index\n")
    assert read_index(str(log)) is None
