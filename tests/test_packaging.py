"""A plain (non-editable) ``pip install .`` into a fresh virtual environment gives a working
``uet`` with its schemas, built-in router and demo data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_plain_install_into_a_fresh_venv_works(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "__pycache__",
                                                                ".uet", ".hypothesis"))
    env_dir = tmp_path / "venv"
    # A venv without pip of its own, installed into by this interpreter's pip (--python): the
    # install is the same, without bootstrapping pip into it (7 s here), and without compiling
    # every dependency's bytecode (4 s), which the commands below do as they import.
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                              "--no-compile", "--disable-pip-version-check", str(source)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    uet = env_dir / "bin" / "uet"
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    help_text = subprocess.run([str(uet), "--help"], cwd=outside, capture_output=True, text=True, check=True)
    assert "validate" in help_text.stdout and "resume" in help_text.stdout

    located = subprocess.run([str(python), "-c", "import schemas, engine; print(schemas.__file__, engine.__file__)"],
                             cwd=outside, capture_output=True, text=True, check=True).stdout
    assert str(source) not in located and "site-packages" in located

    check = subprocess.run([str(python), "-c",
                            "from schemas.export import JSON_DIR, stale_files; import sys; "
                            "print(len(list(JSON_DIR.glob('*.v1.json')))); sys.exit(bool(stale_files()))"],
                           cwd=outside, capture_output=True, text=True)
    assert check.returncode == 0 and int(check.stdout) >= 10, check.stdout + check.stderr

    demo = subprocess.run([str(uet), "demo", "--plain", "--dir", str(tmp_path / "demo")], cwd=outside,
                          capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "breaker sim-flaky closed → open" in demo.stdout
    assert "✔ succeeded" in demo.stdout

    validate = subprocess.run([str(uet), "validate", str(tmp_path / "demo" / ".uet" / "workstreams" / "demo.yaml")],
                              cwd=outside, capture_output=True, text=True)
    assert validate.returncode == 0, validate.stderr

    profiles = subprocess.run([str(uet), "profiles", "list", "--json"], cwd=outside, capture_output=True, text=True)
    assert profiles.returncode == 0, profiles.stderr
    assert sorted(entry["name"] for entry in json.loads(profiles.stdout) if entry["source"] == "builtin") == [
        "data-pipeline", "documentation", "generic", "infrastructure", "software-dev-python", "software-dev-typescript"]
