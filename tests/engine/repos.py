"""Realistic repositories for the bootstrap tests, built file by file in a temporary folder:
the kinds of project a new user points ``uet bootstrap`` at."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path

from engine.agents.catalog import EXECUTABLES

GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def without_agents(path: str) -> str:
    """``path`` (a PATH) without the folders that hold an AI coding agent's CLI: bootstrap routes
    plan, code_edit and review to the agents it finds, so tests that expect the profile's simulated
    editor must not depend on what this machine has installed."""
    folders = [d for d in path.split(os.pathsep)
               if d and not any(os.path.exists(os.path.join(d, name)) for name in EXECUTABLES.values())]
    return os.pathsep.join(folders)


def build(root: Path, files: Mapping[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip(), encoding="utf-8")
    return root


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", *args],
        cwd=root, env=GIT_ENV, capture_output=True, text=True, timeout=30, check=True,
    )
    return done.stdout


def committed(root: Path) -> Path:
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


PYTHON_PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "inventory"
        version = "0.1.0"
        requires-python = ">=3.11"

        [project.optional-dependencies]
        dev = ["pytest>=8", "ruff>=0.5"]

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        pythonpath = ["src"]
        addopts = "-p no:cacheprovider"

        [tool.ruff]
        line-length = 100
        cache-dir = ".ruff_cache"

        [tool.ruff.lint]
        select = ["E", "F", "I"]
    """,
    "src/inventory/__init__.py": '"""Stock keeping."""\n',
    "src/inventory/stock.py": '''
        """Counting what is on the shelves."""


        def count(items: list[str]) -> int:
            return len(items)


        def restock(items: list[str], extra: list[str]) -> list[str]:
            return [*items, *extra]
    ''',
    "tests/test_stock.py": '''
        from inventory.stock import count, restock


        def test_count() -> None:
            assert count(["a", "b"]) == 2


        def test_restock() -> None:
            assert restock(["a"], ["b"]) == ["a", "b"]
    ''',
    "README.md": "# inventory\n\nKeeps stock.\n",
    ".gitignore": "__pycache__/\n.ruff_cache/\n*.egg-info/\n",
}


def python_package(root: Path) -> Path:
    """A src-layout package with pytest and ruff configured in pyproject.toml; a git repo."""
    return committed(build(root, PYTHON_PACKAGE))


def typescript_library(root: Path) -> Path:
    package = {
        "name": "@acme/dates", "version": "1.0.0", "type": "module",
        "scripts": {"build": "tsc -p .", "test": "vitest run", "lint": "eslint ."},
        "devDependencies": {"typescript": "^5.4.0", "vitest": "^1.6.0", "eslint": "^9.0.0"},
    }
    return committed(build(root, {
        "package.json": json.dumps(package, indent=2) + "\n",
        "package-lock.json": json.dumps({"name": "@acme/dates", "lockfileVersion": 3}) + "\n",
        "tsconfig.json": '{"compilerOptions": {"strict": true, "outDir": "dist"}, "include": ["src"]}\n',
        "eslint.config.js": "export default [];\n",
        "vitest.config.ts": "import { defineConfig } from 'vitest/config';\nexport default defineConfig({});\n",
        "src/index.ts": "export const addDays = (d: Date, n: number): Date => new Date(d.getTime() + n * 864e5);\n",
        "src/index.test.ts": "import { test, expect } from 'vitest';\nimport { addDays } from './index';\n"
                             "test('adds', () => expect(addDays(new Date(0), 1).getTime()).toBe(864e5));\n",
        ".gitignore": "node_modules/\ndist/\n",
    }))


def dbt_project(root: Path) -> Path:
    return committed(build(root, {
        "dbt_project.yml": "name: shop\nversion: '1.0'\nprofile: shop\nmodel-paths: ['models']\n",
        "models/staging/stg_orders.sql": "select * from {{ source('shop', 'orders') }}\n",
        "models/staging/stg_customers.sql": "select * from {{ source('shop', 'customers') }}\n",
        "models/marts/orders.sql": "select * from {{ ref('stg_orders') }}\n",
        "models/marts/customers.sql": "select * from {{ ref('stg_customers') }}\n",
        "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n"
                             "        data_tests: [unique]\n",
        "tests/assert_positive.sql": "select * from {{ ref('orders') }} where total < 0\n",
        ".sqlfluff": "[sqlfluff]\ndialect = postgres\ntemplater = dbt\n",
        "requirements.txt": "dbt-postgres==1.8.0\nsqlfluff\n",
    }))


def mkdocs_site(root: Path) -> Path:
    return committed(build(root, {
        "mkdocs.yml": "site_name: Handbook\nnav:\n  - Home: index.md\n  - Setup: guide/setup.md\n",
        "docs/index.md": "# Handbook\n\nSee [setup](guide/setup.md).\n",
        "docs/guide/setup.md": "# Setup\n",
        "docs/guide/usage.md": "# Usage\n",
        "requirements.txt": "mkdocs-material\n",
    }))


def terraform_module(root: Path) -> Path:
    return committed(build(root, {
        "main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = var.name\n}\n',
        "variables.tf": 'variable "name" {\n  type = string\n}\n',
        "outputs.tf": 'output "arn" {\n  value = aws_s3_bucket.b.arn\n}\n',
        "versions.tf": 'terraform {\n  required_version = ">= 1.5"\n}\n',
        ".terraform.lock.hcl": "# lock\n",
        "examples/basic/main.tf": 'module "bucket" {\n  source = "../.."\n  name   = "demo"\n}\n',
        ".gitignore": ".terraform/\n",
    }))


def mixed_monorepo(root: Path) -> Path:
    """A uv workspace at the root (ruff configured there), a Python service whose tests run in
    its own folder, a TypeScript web app and Terraform beside them."""
    return committed(build(root, {
        "pyproject.toml": """
            [project]
            name = "platform"
            version = "0.1.0"

            [tool.uv.workspace]
            members = ["services/*"]

            [tool.ruff]
            line-length = 100
        """,
        "uv.lock": "version = 1\n",
        "services/api/pyproject.toml": "[project]\nname = 'api'\nversion = '0.1.0'\n\n[tool.pytest.ini_options]\n"
                                       "testpaths = ['tests']\n",
        "services/api/api/__init__.py": "",
        "services/api/api/main.py": "def health() -> str:\n    return 'ok'\n",
        "services/api/tests/test_main.py": "from api.main import health\n\n\ndef test_health():\n    assert health() == 'ok'\n",
        "web/package.json": json.dumps({"name": "web", "scripts": {"test": "vitest run", "build": "vite build"},
                                        "devDependencies": {"vitest": "1", "typescript": "5"}}),
        "web/pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
        "web/tsconfig.json": "{}\n",
        "web/src/app.ts": "export const app = 1;\n",
        "web/src/app.test.ts": "import { test } from 'vitest';\ntest('app', () => {});\n",
        "infra/main.tf": 'terraform {\n  required_version = ">= 1.5"\n}\n',
        "infra/network.tf": 'variable "cidr" {}\n',
    }))
