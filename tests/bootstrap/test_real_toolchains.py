"""One generated ``quality`` workstream per ecosystem, run for real with the toolchain this
machine has (skipped, naming the tool, where it has not). The projects are tiny and have no
dependencies, so nothing is downloaded. Maven and Gradle builds would fetch their plugins (the
machine's local Maven repository lacks the versions a bare pom.xml asks for), so their commands
are only checked (tests/bootstrap/test_real_repos.py), as are .NET and Ruby, not installed here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.engine import repos
from tests.tui.test_bootstrap_cli import uet

PROJECTS: dict[str, tuple[tuple[str, ...], dict[str, str], list[str]]] = {
    "rust": (("cargo",), {
        "Cargo.toml": '[package]\nname = "adder"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n',
        "src/lib.rs": "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\n#[cfg(test)]\nmod tests {\n"
                      "    #[test]\n    fn adds() {\n        assert_eq!(super::add(2, 2), 4);\n    }\n}\n",
    }, ["lint", "test"]),
    "go": (("go",), {
        "go.mod": "module example.com/adder\n\ngo 1.19\n",
        "adder.go": "package adder\n\nfunc Add(a, b int) int { return a + b }\n",
        "adder_test.go": 'package adder\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n'
                         '\tif Add(2, 2) != 4 {\n\t\tt.Fatal("2+2")\n\t}\n}\n',
    }, ["lint", "test"]),
    "shell": (("shellcheck", "make"), {
        "greet.sh": '#!/bin/sh\nname="${1:-world}"\necho "hello, $name"\n',
        "Makefile": "test:\n\tsh greet.sh tests | grep -q 'hello, tests'\n",
    }, ["lint", "test"]),
    "cmake": (("cmake", "ctest", "c++"), {
        "CMakeLists.txt": "cmake_minimum_required(VERSION 3.16)\nproject(adder CXX)\nenable_testing()\n"
                          "add_executable(adder_test adder_test.cc)\nadd_test(NAME adder COMMAND adder_test)\n",
        "adder_test.cc": "int add(int a, int b) { return a + b; }\nint main() { return add(2, 2) == 4 ? 0 : 1; }\n",
    }, ["test"]),
    "node": (("node", "npm"), {
        "package.json": json.dumps({"name": "adder", "version": "1.0.0", "private": True,
                                    "scripts": {"lint": "node --check index.js", "test": "node --test"}}),
        "index.js": "exports.add = (a, b) => a + b;\n",
        "test/add.test.js": "const test = require('node:test');\nconst assert = require('node:assert');\n"
                            "const { add } = require('../index.js');\ntest('adds', () => assert.strictEqual(add(2, 2), 4));\n",
    }, ["install", "lint", "test"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("ecosystem", sorted(PROJECTS))
def test_generated_quality_workstream_runs_green(tmp_path: Path, ecosystem: str) -> None:
    tools, files, steps = PROJECTS[ecosystem]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")
    root = repos.build(tmp_path / ecosystem, files)
    done = uet(root, "bootstrap")
    assert done.returncode == 0, done.stdout + done.stderr
    valid = uet(root, "validate", ".uet/workstreams/quality.yaml")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    ran = uet(root, "run", "--plain", ".uet/workstreams/quality.yaml", timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for step in steps:
        assert f"step {step} running → succeeded" in ran.stdout, ran.stdout
