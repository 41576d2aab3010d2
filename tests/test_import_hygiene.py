"""The headless packages never pull in the terminal UI, and only ``store`` touches the ORM.

Checked twice: by importing in a fresh interpreter (what actually loads) and by the
import-linter contracts in ``pyproject.toml`` (what the code says it imports).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
for name in sys.argv[1].split(","):
    __import__(name)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after_importing(*modules: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def offenders(loaded: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(
        m for m in loaded if m in packages or m.startswith(tuple(p + "." for p in packages))
    )


def test_headless_packages_do_not_import_the_ui() -> None:
    loaded = loaded_after_importing(
        "schemas", "store", "engine.runner", "engine.session", "engine.planner"
    )
    assert {"schemas", "store", "engine.runner", "engine.session", "engine.planner"} <= loaded
    assert offenders(loaded, ("textual", "rich")) == []


def test_schemas_do_not_import_the_orm() -> None:
    loaded = loaded_after_importing("schemas", "schemas.export")
    assert (
        offenders(loaded, ("peewee", "playhouse", "textual", "rich", "store", "engine", "tui"))
        == []
    )


def lint_imports() -> Path:
    for name in ("lint-imports", "lint-imports.exe"):
        candidate = Path(sys.executable).parent / name
        if candidate.is_file():
            return candidate
    pytest.fail(f"lint-imports is not installed next to {sys.executable}: pip install -e '.[dev]'")


def test_import_linter_contracts_are_kept() -> None:
    done = subprocess.run(
        [str(lint_imports()), "--no-cache", "--no-logo", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
