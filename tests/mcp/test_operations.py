"""What the MCP server's answers are cut to and read from, in-process: a log's last lines and a
diff's first lines with the count left out, a log larger than the bytes read, the manifest's
``mcp:`` setting (a bad one names file:line:field; a hand-added one keeps the manifest verified),
and the call event in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bootstrap.generate import manifest_text, verified_manifest
from engine.errors import ValidationFailed
from engine.operations import head, mcp_settings, tail, tail_file
from schemas.bootstrap import ProjectManifest
from tui.format import describe

TEXT = "".join(f"line {n}\n" for n in range(1, 11))


def test_a_diff_keeps_its_first_lines_and_says_how_many_more() -> None:
    assert head(TEXT, 3, 10_000).text == "line 1\nline 2\nline 3\n… 7 more lines\n"
    assert head(TEXT, 100, 14).text == "line 1\nline 2\n… 8 more lines\n", "the byte limit cuts first"
    assert head(TEXT, 100, 10_000).text == TEXT and head(TEXT, 100, 10_000).omitted == 0
    assert head("one\ntwo", 1, 100).text == "one\n… 1 more line\n"


def test_a_log_keeps_its_last_lines_and_says_how_many_above() -> None:
    assert tail(TEXT, 2, 10_000).text == "… 8 more lines above\nline 9\nline 10\n"
    assert tail(TEXT, 100, 8).text == "… 9 more lines above\nline 10\n"
    assert tail(TEXT, 100, 10_000).text == TEXT


def test_a_long_log_is_read_from_its_end_only(tmp_path: Path) -> None:
    log = tmp_path / "step.1.log"
    log.write_text("".join(f"line {n}\n" for n in range(1, 100_001)))
    cut = tail_file(log, 2, 1000)
    lines = cut.text.splitlines()
    assert lines[1:] == ["line 99999", "line 100000"]
    assert lines[0].startswith("… ") and "bytes before them, above" in lines[0]
    assert tail_file(log, 2, 10**7).text == "… 99998 more lines above\nline 99999\nline 100000\n"


def test_the_mcp_setting_is_read_from_the_manifest(tmp_path: Path) -> None:
    assert mcp_settings(tmp_path).allow_approve is False, "no manifest: a person approves"
    manifest = tmp_path / ".uet" / "project.yaml"
    manifest.parent.mkdir()
    manifest.write_text("name: p\n")
    assert mcp_settings(tmp_path).allow_approve is False
    manifest.write_text("name: p\nmcp: {allow_approve: true}\n")
    assert mcp_settings(tmp_path).allow_approve is True
    manifest.write_text("name: p\nmcp: {allow_approve: maybe, share: all}\n")
    with pytest.raises(ValidationFailed) as failed:
        mcp_settings(tmp_path)
    rendered = [p.render() for p in failed.value.problems]
    assert rendered[0].startswith(f"{manifest}:2:") and "mcp.allow_approve:" in rendered[0]
    assert any("mcp.share:" in line for line in rendered)


def test_a_hand_added_mcp_line_keeps_the_manifest_verified() -> None:
    text = manifest_text(ProjectManifest(name="p", profile="generic", profile_source="builtin", confidence=0.5,
                                         generated_at="2026-01-01T00:00:00+00:00"))
    assert "mcp" not in text, "the default is said by saying nothing"
    edited = text.replace("profile: generic\n", "profile: generic\nmcp: {allow_approve: true}\n")
    found = verified_manifest(edited)
    assert found is not None and found.mcp is not None and found.mcp.allow_approve is True
    assert "allow_approve: true" in manifest_text(found)


def test_a_call_reads_as_words() -> None:
    assert describe("mcp.call", None, {"who": "mcp:claude-code", "tool": "run_start", "outcome": "done"}) == (
        "mcp:claude-code called run_start")
    assert describe("mcp.call", None, {"who": "mcp:x", "tool": "patch_approve", "outcome": "refused",
                                       "error": "not offered"}) == "mcp:x called patch_approve: refused (not offered)"
