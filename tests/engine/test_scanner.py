"""The Project Scanner against realistic repositories built in the test: real files, real
``git init``, real symlinks and permissions. Each test builds only the tree it needs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from engine.bootstrap import GlobError, ScanRootError, compile_glob, scan
from engine.bootstrap import index as index_module
from engine.bootstrap import scanner as scanner_module
from engine.bootstrap import walker as walker_module
from engine.bootstrap.gitinfo import strip_credentials
from engine.bootstrap.rules_other import make_targets
from engine.errors import InputError, NotFound
from schemas.scan import ScanProgress, ScanReport
from tests.engine.repos import build, git

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def reasons(report: ScanReport) -> dict[str, str]:
    return {s.path: s.reason for s in report.skipped}


def names(items: list) -> list[str]:
    return [item.name for item in items]


# ---------------------------------------------------------------------------- realistic repositories

PYTHON_PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "inventory"
        version = "0.1.0"
        dependencies = ["requests>=2"]

        [project.optional-dependencies]
        dev = ["pytest>=8", "ruff"]

        [tool.pytest.ini_options]
        testpaths = ["tests"]

        [tool.ruff]
        line-length = 100
    """,
    "src/inventory/__init__.py": "__version__ = '0.1.0'\n",
    "src/inventory/stock.py": "def count(items):\n    return len(items)\n",
    "tests/test_stock.py": "import pytest\nfrom inventory.stock import count\n\ndef test_count():\n    assert count([1]) == 1\n",
    "README.md": "# inventory\n",
}


def test_python_package_with_pytest_and_ruff(tmp_path: Path) -> None:
    report = scan(build(tmp_path, PYTHON_PACKAGE)).report
    assert report.languages["Python"] == 3
    assert report.languages["Markdown"] == 1
    assert names(report.package_managers) == ["pip"]
    assert report.package_managers[0].manifests == ["pyproject.toml"]
    assert "pytest" in names(report.test_frameworks)
    pytest_evidence = report.test_frameworks[0].evidence
    assert "pyproject.toml [tool.pytest.ini_options]" in pytest_evidence
    assert names(report.linters) == ["ruff"]
    assert report.commands["test"].argv == ["python", "-m", "pytest", "-q"]
    assert report.commands["test"].source == "pyproject.toml [tool.pytest.ini_options]"
    assert report.commands["lint"].argv == ["ruff", "check", "."]
    assert report.commands["build"].argv == ["python", "-m", "build"]
    assert "format" not in report.commands, "ruff lint alone does not mean the project uses ruff format"
    assert report.source_dirs == ["src"]
    assert report.test_dirs == ["tests"]
    assert report.files["pyproject.toml"].paths == ["pyproject.toml"]
    assert report.skipped == []


def test_typescript_library_with_npm_vitest_and_eslint(tmp_path: Path) -> None:
    package = {
        "name": "@acme/dates", "version": "1.0.0",
        "scripts": {"test": "vitest run", "lint": "eslint .", "build": "tsc -p .", "typecheck": "tsc --noEmit"},
        "devDependencies": {"vitest": "^1.6.0", "eslint": "^9.0.0", "typescript": "^5.4.0"},
    }
    build(tmp_path, {
        "package.json": json.dumps(package, indent=2),
        "package-lock.json": "{}",
        "tsconfig.json": '{"compilerOptions": {"strict": true}}',
        "eslint.config.js": "export default [];\n",
        "src/index.ts": "export const add = (a: number, b: number) => a + b;\n",
        "src/index.test.ts": "import { test } from 'vitest';\n",
    })
    report = scan(tmp_path).report
    assert report.languages["TypeScript"] == 2
    npm = report.package_managers[0]
    assert (npm.name, npm.manifests, npm.lockfiles) == ("npm", ["package.json"], ["package-lock.json"])
    assert "vitest" in names(report.test_frameworks)
    assert "eslint" in names(report.linters)
    assert report.commands["test"].argv == ["npm", "test"]
    assert report.commands["test"].source == "package.json scripts.test"
    assert report.commands["lint"].argv == ["npm", "run", "lint"]
    assert report.commands["build"].argv == ["npm", "run", "build"]
    assert report.commands["typecheck"].argv == ["npm", "run", "typecheck"]
    assert ["npx", "vitest", "run"] in [c.argv for c in report.command_candidates if c.kind == "test"]


def test_package_manager_from_lockfile_and_npm_placeholder_test_script(tmp_path: Path) -> None:
    build(tmp_path, {
        "package.json": json.dumps({"scripts": {"test": 'echo "Error: no test specified" && exit 1'},
                                    "devDependencies": {"jest": "29"}}),
        "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
    })
    report = scan(tmp_path).report
    assert names(report.package_managers) == ["pnpm"]
    assert report.commands["test"].argv == ["npx", "jest"], "npm init's failing placeholder is not a test command"


def test_dbt_project(tmp_path: Path) -> None:
    build(tmp_path, {
        "dbt_project.yml": "name: shop\nversion: '1.0'\nprofile: shop\nmodel-paths: ['models']\n",
        "models/staging/stg_orders.sql": "select * from {{ source('shop', 'orders') }}\n",
        "models/marts/orders.sql": "select * from {{ ref('stg_orders') }}\n",
        "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        data_tests: [unique]\n",
        "tests/assert_positive.sql": "select * from {{ ref('orders') }} where total < 0\n",
        ".sqlfluff": "[sqlfluff]\ndialect = postgres\ntemplater = dbt\n",
        "requirements.txt": "dbt-postgres==1.8.0\nsqlfluff\n",
    })
    report = scan(tmp_path).report
    assert report.languages["SQL"] == 3
    assert "dbt" in names(report.data)
    assert "dbt test" in names(report.test_frameworks)
    assert "sqlfluff" in names(report.linters)
    assert report.commands["build"].argv == ["dbt", "build"]
    assert report.commands["test"].argv == ["dbt", "test"]
    assert report.commands["lint"].argv == ["sqlfluff", "lint", "."]
    assert "models" in report.source_dirs


def test_mkdocs_site(tmp_path: Path) -> None:
    build(tmp_path, {
        "mkdocs.yml": "site_name: Handbook\nnav:\n  - Home: index.md\n",
        "docs/index.md": "# Handbook\n",
        "docs/guide/setup.md": "# Setup\n",
        ".markdownlint.yaml": "default: true\n",
        "requirements.txt": "mkdocs-material\n",
    })
    report = scan(tmp_path).report
    assert names(report.docs) == ["mkdocs"]
    assert report.commands["docs"].argv == ["mkdocs", "build", "--strict"]
    assert report.commands["lint"].argv == ["markdownlint", "."]
    assert report.languages["Markdown"] == 2


def test_sphinx_and_mdbook(tmp_path: Path) -> None:
    build(tmp_path, {
        "docs/conf.py": "project = 'x'\nextensions = ['sphinx.ext.autodoc']\n",
        "docs/index.rst": "x\n=\n",
        "book/book.toml": "[book]\ntitle = 'x'\n",
        "tools/conf.py": "DEBUG = True\n",
    })
    report = scan(tmp_path).report
    sphinx = next(d for d in report.docs if d.name == "sphinx")
    assert sphinx.evidence == ["docs/conf.py"]
    assert "mdbook" in names(report.docs)
    argvs = [c.argv for c in report.command_candidates if c.kind == "docs"]
    assert ["sphinx-build", "-W", "-b", "html", "docs", "docs/_build/html"] in argvs
    assert ["mdbook", "build"] in argvs


def test_terraform_module(tmp_path: Path) -> None:
    build(tmp_path, {
        "main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = var.name\n}\n',
        "variables.tf": 'variable "name" {}\n',
        "outputs.tf": 'output "arn" { value = aws_s3_bucket.b.arn }\n',
        ".tflint.hcl": 'plugin "aws" { enabled = true }\n',
        ".terraform.lock.hcl": "# lock\n",
        ".terraform/providers/registry/aws.zip": b"PK\x00\x00",
        "examples/basic/main.tf": 'module "m" { source = "../.." }\n',
    })
    report = scan(tmp_path).report
    assert names(report.iac) == ["terraform"]
    assert report.languages["HCL/Terraform"] == 6  # four .tf, the tflint config and the lockfile
    assert report.files["*.tf"].count == 4
    assert report.files["*.tf"].paths[:3] == ["main.tf", "outputs.tf", "variables.tf"]
    assert report.commands["validate"].argv == ["terraform", "validate"]
    assert report.commands["validate"].cwd == "."
    assert report.commands["lint"].argv == ["tflint", "--recursive"]
    assert report.commands["format"].argv == ["terraform", "fmt", "-recursive"]
    assert report.vendored == 1  # .terraform
    assert [m.lockfiles for m in report.package_managers if m.name == "terraform"] == [[".terraform.lock.hcl"]]


def test_mixed_monorepo(tmp_path: Path) -> None:
    build(tmp_path, {
        "Makefile": "VERSION := 1\n\ntest: test-api test-web\n\ntest-api:\n\tcd services/api && pytest\n\nlint fmt:\n\ttrue\n",
        ".github/workflows/ci.yml": "on: push\njobs: {}\n",
        ".pre-commit-config.yaml": "repos:\n  - repo: https://github.com/astral-sh/ruff-pre-commit\n    hooks:\n      - id: ruff\n      - id: ruff-format\n",
        "services/api/pyproject.toml": "[project]\nname='api'\n[tool.pytest.ini_options]\n",
        "services/api/uv.lock": "version = 1\n",
        "services/api/app/main.py": "app = None\n",
        "services/api/tests/test_main.py": "def test_app():\n    pass\n",
        "services/api/Dockerfile": "FROM python:3.11-slim\n",
        "web/package.json": json.dumps({"scripts": {"test": "vitest"}, "devDependencies": {"vitest": "1"}}),
        "web/pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
        "web/src/app.tsx": "export {}\n",
        "infra/main.tf": "terraform {}\n",
        "k8s/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n",
        "docs/index.md": "# Docs\n",
        "mkdocs.yml": "site_name: Mono\n",
        "notebooks/explore.ipynb": '{"cells": []}',
    })
    report = scan(tmp_path).report
    assert {"Python", "TypeScript", "HCL/Terraform", "YAML", "Markdown", "Jupyter", "Dockerfile"} <= set(report.languages)
    assert {"uv", "pnpm"} <= set(names(report.package_managers))
    assert {"pytest", "vitest"} <= set(names(report.test_frameworks))
    assert names(report.ci) == ["github-actions"]
    assert {"terraform", "docker", "kubernetes"} <= set(names(report.iac))
    assert names(report.docs) == ["mkdocs"]
    assert "ruff" in names(report.formatters)
    assert report.notebooks == 1
    # The root Makefile's test target runs everything: it beats the sub-projects' own runners.
    assert report.commands["test"].argv == ["make", "test"]
    tests = [(c.argv, c.cwd) for c in report.command_candidates if c.kind == "test"]
    assert (["python", "-m", "pytest", "-q"], "services/api") in tests
    assert (["pnpm", "test"], "web") in tests
    assert report.commands["lint"].argv == ["ruff", "check", "."], "the pre-commit hook configures ruff at the root"
    assert report.commands["format"].argv == ["ruff", "format", "."]
    assert report.commands["validate"].cwd == "infra"
    assert report.files[".github/workflows/"].paths == [".github/workflows/ci.yml"]
    assert set(report.source_dirs) >= {"services", "web", "infra"}
    assert report.test_dirs == ["services/api/tests"]


def test_empty_directory(tmp_path: Path) -> None:
    report = scan(tmp_path).report
    assert (report.files_seen, report.dirs_seen) == (0, 0)
    assert report.languages == {} and report.commands == {} and report.package_managers == []
    assert report.git.is_repo is False
    assert report.skipped == [] and report.skipped_count == 0


def test_non_git_directory(tmp_path: Path) -> None:
    build(tmp_path, {"notes.md": "# notes\n", "script.sh": "echo hi\n"})
    report = scan(tmp_path).report
    assert report.git.is_repo is False
    assert report.git.error is None and report.git.branch is None
    assert report.languages == {"Markdown": 1, "Shell": 1}


# ---------------------------------------------------------------------------- git state

def test_git_repo_dirty_with_credentials_stripped_from_remote(tmp_path: Path) -> None:
    build(tmp_path, {"app.py": "print('v1')\n"})
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "first")
    git(tmp_path, "remote", "add", "origin", "https://deploy:s3cr3t-t0ken@git.example.com/acme/app.git")
    clean = scan(tmp_path).report.git
    assert clean.is_repo and clean.branch == "main" and clean.dirty is False
    assert clean.head is not None and len(clean.head) == 40
    (tmp_path / "app.py").write_text("print('v2')\n", encoding="utf-8")
    report = scan(tmp_path).report
    assert report.git.dirty is True
    assert report.git.remote == "https://git.example.com/acme/app.git"
    assert report.git.remote_name == "origin"
    assert "s3cr3t" not in report.model_dump_json()
    assert report.git.error is None


def test_git_repo_before_first_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    build(tmp_path, {"a.py": "x = 1\n"})
    info = scan(tmp_path).report.git
    assert info.is_repo and info.branch == "main" and info.head is None and info.dirty is True


@pytest.mark.parametrize(("url", "shown"), [
    ("https://user:pass@github.com/o/r.git", "https://github.com/o/r.git"),
    ("https://ghp_TOKEN@github.com/o/r.git", "https://github.com/o/r.git"),
    ("https://gitlab.com/o/r.git?private_token=abc", "https://gitlab.com/o/r.git"),
    ("ssh://git@host.example/o/r.git", "ssh://git@host.example/o/r.git"),
    ("ssh://git:pw@host.example/o/r.git", "ssh://git@host.example/o/r.git"),
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),
    ("me:secret@host:o/r.git", "host:o/r.git"),
    ("/srv/git/r.git", "/srv/git/r.git"),
], ids=["user-password", "token", "query-token", "ssh-user", "ssh-password", "scp", "scp-password", "local"])
def test_strip_credentials(url: str, shown: str) -> None:
    assert strip_credentials(url) == shown


# ---------------------------------------------------------------------------- ignore rules

def test_gitignore_respected_with_negation(tmp_path: Path) -> None:
    build(tmp_path, {
        ".gitignore": "# build output\nout_dir/\nsecret.env\n*.log\n!keep.log\n",
        "out_dir/a.py": "x\n", "out_dir/deep/b.py": "x\n",
        "secret.env": "TOKEN=1\n", "debug.log": "x\n", "keep.log": "x\n", "app.py": "x\n",
    })
    scanned = scan(tmp_path)
    assert scanned.index.files == (".gitignore", "app.py", "keep.log")
    assert scanned.report.files_seen == 3
    assert scanned.report.ignored == 3  # out_dir/ (not entered), secret.env, debug.log
    assert scanned.report.languages == {"Python": 1}


def test_nested_gitignore_overrides_parent(tmp_path: Path) -> None:
    build(tmp_path, {
        ".gitignore": "*.log\n",
        "sub/.gitignore": "*.tmp\n!debug.log\n/local/\n",
        "a.tmp": "x\n", "a.log": "x\n",
        "sub/b.tmp": "x\n", "sub/debug.log": "x\n", "sub/other.log": "x\n",
        "sub/local/x.py": "x\n", "local/y.py": "x\n",
    })
    files = set(scan(tmp_path).index.files)
    assert {"a.tmp", "sub/debug.log", "local/y.py"} <= files
    assert not {"a.log", "sub/b.tmp", "sub/other.log", "sub/local/x.py"} & files


def test_info_exclude_and_parent_gitignore_when_scanning_a_subfolder(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    build(tmp_path, {
        ".git/info/exclude": "*.scratch\n",
        ".gitignore": "pkg/generated/\n*.bak\n",
        "pkg/mod.py": "x\n", "pkg/mod.py.bak": "x\n", "pkg/notes.scratch": "x\n", "pkg/generated/g.py": "x\n",
    })
    whole = scan(tmp_path)
    assert "pkg/notes.scratch" not in whole.index.files
    sub = scan(tmp_path / "pkg")
    assert sub.index.files == ("mod.py",)
    assert sub.report.git.is_repo and sub.report.git.toplevel == str(tmp_path.resolve())


def test_tracked_files_count_even_when_an_ignore_rule_matches_them(tmp_path: Path) -> None:
    build(tmp_path, {
        ".gitignore": "release/\n*.lock\n",
        "release/Dockerfile": "FROM scratch\n", "release/junk.txt": "x\n",
        "poetry.lock": "# lock\n", "other.lock": "x\n", "app.py": "x\n",
    })
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-f", "release/Dockerfile", "poetry.lock")
    scanned = scan(tmp_path)
    assert scanned.index.files == (".gitignore", "app.py", "poetry.lock", "release/Dockerfile")
    assert "release" in scanned.index.dirs
    assert names(scanned.report.iac) == ["docker"]
    assert scanned.report.package_managers[0].lockfiles == ["poetry.lock"]


def test_vendored_folders_skipped_even_without_gitignore(tmp_path: Path) -> None:
    build(tmp_path, {
        "index.js": "x\n",
        "node_modules/left-pad/index.js": "x\n",
        "node_modules/left-pad/package.json": "{}",
        ".venv/lib/site.py": "x\n",
        "pkg/__pycache__/m.cpython-311.pyc": b"\x00",
    })
    report = scan(tmp_path).report
    assert report.files_seen == 1 and report.languages == {"JavaScript": 1}
    assert report.vendored == 3
    assert "package.json" not in report.files


# ---------------------------------------------------------------------------- bad trees

def test_symlink_loops_and_broken_links_are_skipped_with_reasons(tmp_path: Path) -> None:
    build(tmp_path, {"real.py": "x\n", "pkg/mod.py": "x\n"})
    os.symlink("loop_b", tmp_path / "loop_a")
    os.symlink("loop_a", tmp_path / "loop_b")
    os.symlink("does-not-exist.py", tmp_path / "broken.py")
    os.symlink("..", tmp_path / "pkg" / "up")  # a folder loop: never followed
    os.symlink("real.py", tmp_path / "alias.py")
    report = scan(tmp_path).report
    why = reasons(report)
    assert why["loop_a"] == why["loop_b"] == "symlink loop"
    assert why["broken.py"].startswith("broken symlink")
    assert why["pkg/up"] == "symlink to a folder, not followed"
    assert report.files_seen == 3  # real.py, pkg/mod.py and alias.py (a link to a file inside the tree)


def test_symlinked_config_outside_the_root_is_not_read(tmp_path: Path) -> None:
    outside = build(tmp_path / "outside", {"pyproject.toml": "[tool.ruff]\n"})
    root = build(tmp_path / "root", {"a.py": "x\n"})
    os.symlink(outside / "pyproject.toml", root / "pyproject.toml")
    report = scan(root).report
    assert reasons(report)["pyproject.toml"] == "symlink to outside the scanned root, not followed"
    assert report.linters == []


@pytest.mark.skipif(AS_ROOT, reason="root reads files whatever their mode")
def test_unreadable_file_and_folder_really_chmodded(tmp_path: Path) -> None:
    build(tmp_path, {"pyproject.toml": "[tool.ruff]\n", "locked/a.py": "x\n", "ok.py": "x\n"})
    (tmp_path / "pyproject.toml").chmod(0)
    (tmp_path / "locked").chmod(0)
    try:
        report = scan(tmp_path).report
    finally:
        (tmp_path / "pyproject.toml").chmod(0o644)
        (tmp_path / "locked").chmod(0o755)
    why = reasons(report)
    assert why["pyproject.toml"] == "permission denied"
    assert why["locked"] == "permission denied"


def test_unreadable_file_and_folder_as_the_os_reports_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same as above for any user: the OS answers EACCES, as it does for chmod 000."""
    build(tmp_path, {"pyproject.toml": "[tool.ruff]\n", "locked/a.py": "x\n", "ok.py": "x\n"})
    real_scandir, real_open = os.scandir, os.open

    def scandir(path: str):  # type: ignore[no-untyped-def]
        if str(path).rstrip("/").endswith("/locked"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    def open_(path: str, flags: int, *args: int) -> int:
        if str(path).endswith("pyproject.toml"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(walker_module.os, "scandir", scandir)
    monkeypatch.setattr(index_module.os, "open", open_)
    report = scan(tmp_path).report
    why = reasons(report)
    assert why == {"locked": "permission denied", "pyproject.toml": "permission denied"}
    assert report.files_seen == 2 and report.linters == []


def test_huge_file_is_never_read_whole(tmp_path: Path) -> None:
    big = 30 * 1024 * 1024
    with open(tmp_path / "package.json", "wb") as handle:
        handle.write(b'{"scripts": {"test": "x"}, "pad": "' + b"a" * big + b'"}')
    build(tmp_path, {"data.csv": "a,b\n"})
    started = time.perf_counter()
    scanned = scan(tmp_path)
    assert time.perf_counter() - started < 1.0
    assert reasons(scanned.report)["package.json"] == "larger than 256 KiB; not parsed as JSON"
    head = scanned.index.read_head("package.json")
    assert head is not None and len(head) == 256 * 1024


def test_binary_files_are_not_content_matched(tmp_path: Path) -> None:
    build(tmp_path, {
        "Makefile": b"test:\n\x00\x01\x02binary",
        "image.png": b"\x89PNG\r\n\x1a\n\x00\x00",
        "tests/test_a.py": b"import pytest\x00",
    })
    scanned = scan(tmp_path)
    assert reasons(scanned.report)["Makefile"] == "binary file"
    assert scanned.report.commands == {}
    assert scanned.index.read_head("image.png") is None
    assert scanned.index.read("image.png").reason == "binary file"


def test_invalid_package_json_and_pyproject_are_skipped_with_reasons(tmp_path: Path) -> None:
    build(tmp_path, {
        "package.json": '{"name": "x", "scripts": {"test": "jest",}}',
        "sub/package.json": "[1, 2]",
        "pyproject.toml": "[tool.ruff\nline-length = 1\n",
        "ok/package.json": '{"scripts": {"lint": "eslint ."}}',
    })
    report = scan(tmp_path).report
    why = reasons(report)
    assert why["package.json"].startswith("invalid JSON: ")
    assert "line 1" in why["package.json"]
    assert why["sub/package.json"] == "invalid JSON: expected an object at the top"
    assert why["pyproject.toml"].startswith("invalid TOML: ")
    assert report.commands["lint"].argv == ["npm", "run", "lint"] and report.commands["lint"].cwd == "ok"


def test_fifo_is_skipped_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "package.json")
    report = scan(tmp_path).report
    assert reasons(report)["package.json"] == "not a regular file (a FIFO, socket or device)"
    assert report.files_seen == 0


def test_bad_gitignore_pattern_is_left_out_and_the_rest_applies(tmp_path: Path) -> None:
    build(tmp_path, {".gitignore": b"*.log\n\xff\xfe\ntrailing\\\n*.tmp\n", "a.log": "x\n", "b.tmp": "x\n", "c.py": "x\n"})
    scanned = scan(tmp_path)
    assert scanned.index.files == (".gitignore", "c.py")
    assert reasons(scanned.report) == {".gitignore": "ignore pattern 'trailing\\\\' is not valid and was left out"}


def test_git_lfs_patterns_and_pointer_files(tmp_path: Path) -> None:
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 12345\n"
    build(tmp_path, {
        ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n*.md text\n",
        "models/weights.bin": pointer,
        "models/fetched.bin": b"\x00" * 4096,
        "assets/.gitattributes": "*.psd filter=lfs diff=lfs merge=lfs -text\n",
        "assets/art/cover.psd": pointer,
        "notes.md": pointer,  # looks like a pointer but is not tracked by LFS
    })
    lfs = scan(tmp_path).report.lfs
    assert lfs.tracked_patterns == ["*.bin", "assets/**/*.psd"]
    assert lfs.pointer_files == ["assets/art/cover.psd", "models/weights.bin"]
    assert lfs.count == 2


# ---------------------------------------------------------------------------- the index

@pytest.fixture
def indexed(tmp_path: Path):  # type: ignore[no-untyped-def]
    build(tmp_path, {
        "pyproject.toml": "[project]\nname='x'\n",
        "pkg/pyproject.toml": "[project]\nname='y'\n",
        "infra/main.tf": "x\n", "infra/modules/net/vpc.tf": "x\n",
        "tests/test_a.py": "x\n", "pkg/tests/test_b.py": "x\n", "pkg/tests/unit/test_c.py": "x\n",
        "docs/index.md": "x\n", "docs/guide/a.md": "x\n", "README.md": "x\n",
        "big.txt": "0123456789" * 100,
    })
    return scan(tmp_path).index


def test_glob_follows_gitignore_semantics(indexed) -> None:  # type: ignore[no-untyped-def]
    assert indexed.glob("pyproject.toml") == ["pkg/pyproject.toml", "pyproject.toml"]
    assert indexed.glob("/pyproject.toml") == ["pyproject.toml"]
    assert indexed.glob("**/*.tf") == ["infra/main.tf", "infra/modules/net/vpc.tf"]
    assert indexed.glob("*.tf") == indexed.glob("**/*.tf")
    assert indexed.glob("infra/*.tf") == ["infra/main.tf"]
    assert indexed.glob("tests/") == ["pkg/tests/", "tests/"]
    assert indexed.glob("/tests/") == ["tests/"]
    assert indexed.glob("docs") == ["docs/guide/a.md", "docs/index.md"]
    assert indexed.glob("*.rs") == []
    first = indexed.glob("*.md")
    first.clear()
    assert indexed.glob("*.md") == ["README.md", "docs/guide/a.md", "docs/index.md"], "results are copies"


@pytest.mark.parametrize("pattern", ["!keep.log", "", "# comment"])
def test_glob_refuses_patterns_that_look_nothing_up(pattern: str) -> None:
    with pytest.raises(GlobError) as caught:
        compile_glob(pattern)
    assert repr(pattern) in str(caught.value)
    assert isinstance(caught.value, InputError)


def test_read_head_limit_and_boundaries(indexed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert indexed.read_head("big.txt", limit=10) == "0123456789"
    assert len(indexed.read_head("big.txt") or "") == 1000
    assert indexed.read("big.txt", limit=10).truncated is True
    assert indexed.read_head("../outside.txt") is None
    assert indexed.read_head("/etc/hostname") is None
    assert indexed.read_head("missing.txt") is None
    assert indexed.read_head("docs") is None
    assert len(indexed) == len(indexed.files) == 11


# ---------------------------------------------------------------------------- input, progress, limits

def test_missing_path_is_a_clear_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(NotFound) as caught:
        scan(missing)
    assert str(missing) in str(caught.value) and caught.value.exit_code == 2


def test_file_instead_of_directory_is_a_clear_input_error(tmp_path: Path) -> None:
    target = build(tmp_path, {"pyproject.toml": "x"}) / "pyproject.toml"
    with pytest.raises(ScanRootError) as caught:
        scan(target)
    assert str(target) in str(caught.value) and "not a directory" in str(caught.value)
    assert isinstance(caught.value, InputError) and caught.value.exit_code == 2


def test_progress_is_throttled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(tmp_path, {f"d{i}/f.py": "x\n" for i in range(60)})
    clock = iter(i * 0.03 for i in range(10_000))
    monkeypatch.setattr(scanner_module.time, "perf_counter", lambda: next(clock))
    ticks: list[ScanProgress] = []
    scan(tmp_path, on_progress=ticks.append)
    assert len(ticks) >= 5
    gaps = [b.elapsed_s - a.elapsed_s for a, b in zip(ticks, ticks[1:], strict=False)]
    assert min(gaps) >= 0.1 - 1e-9
    assert [t.files for t in ticks] == sorted(t.files for t in ticks)


def test_file_limit_truncates(tmp_path: Path) -> None:
    build(tmp_path, {f"f{i}.py": "x\n" for i in range(20)})
    report = scan(tmp_path, max_files=5).report
    assert report.truncated and report.files_seen == 5
    assert report.skipped_count == 1 and "file limit of 5" in report.skipped[0].reason


def test_skipped_list_is_capped(tmp_path: Path) -> None:
    for i in range(250):
        os.symlink(f"missing{i}", tmp_path / f"link{i}")
    report = scan(tmp_path).report
    assert len(report.skipped) == 200 and report.skipped_count == 250


def test_report_round_trips_through_json_and_is_frozen(tmp_path: Path) -> None:
    report = scan(build(tmp_path, PYTHON_PACKAGE)).report
    again = ScanReport.model_validate_json(report.model_dump_json())
    assert again == report
    with pytest.raises(ValueError):
        report.files_seen = 0  # type: ignore[misc]


def test_make_targets() -> None:
    text = "CC := gcc\nX = 1\nY ::= 2\n.PHONY: test\ntest lint: deps\n\tpytest\nbuild::\n\tx\ndocs:\n"
    assert make_targets(text) == ["test", "lint", "build", "docs"]


def test_five_thousand_files_scan_quickly(tmp_path: Path) -> None:
    for d in range(50):
        folder = tmp_path / f"pkg{d}"
        folder.mkdir()
        for f in range(100):
            (folder / f"m{f}.py").write_bytes(b"")
    started = time.perf_counter()
    report = scan(tmp_path).report
    assert report.files_seen == 5000
    assert time.perf_counter() - started < 1.0
