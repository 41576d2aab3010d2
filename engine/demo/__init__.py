"""The bundled demo: a small project with real subprocess steps (compile, unit tests) and
simulated code-editing tools, one flaky enough to open its breaker and be routed around."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SOURCES = {
    "calc/__init__.py": '"""A tiny package for the demo to lint and test."""\n',
    "calc/ops.py": (
        "def add(a, b):\n    return a + b\n\n\n"
        "def mul(a, b):\n    return a * b\n\n\n"
        "def mean(values):\n    return sum(values) / len(values)\n"
    ),
    "tests/test_ops.py": (
        "import unittest\n\nfrom calc.ops import add, mean, mul\n\n\n"
        "class OpsTest(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n"
        "    def test_mul(self):\n        self.assertEqual(mul(4, 5), 20)\n\n"
        "    def test_mean(self):\n        self.assertEqual(mean([1, 2, 3]), 2)\n\n\n"
        "if __name__ == '__main__':\n    unittest.main()\n"
    ),
    "tests/__init__.py": "",
}


def prepare(root: Path) -> Path:
    """Lay out the demo project under ``root``; return its workstream file."""
    (root / ".uet" / "workstreams").mkdir(parents=True, exist_ok=True)
    for name, text in SOURCES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    shutil.copyfile(HERE / "router.yaml", root / ".uet" / "router.yaml")
    workstream = (HERE / "workstream.yaml").read_text(encoding="utf-8").replace("@PYTHON@", sys.executable)
    target = root / ".uet" / "workstreams" / "demo.yaml"
    target.write_text(workstream, encoding="utf-8")
    return target
