"""Documentation sites, data pipelines and infrastructure as code: what they are built with
and how each is built or checked."""

from __future__ import annotations

import re

from engine.bootstrap.commands import CONFIGURED, DEPENDENCY
from engine.bootstrap.facts import Context, folder_of, shallowest_first

K8S_FOLDERS = frozenset({"k8s", "kubernetes", "kube", "manifests", "deploy", "deployment", "deployments", "overlays"})
_K8S_API = re.compile(r"^apiVersion:\s*\S", re.MULTILINE)
_K8S_KIND = re.compile(r"^kind:\s*\S", re.MULTILINE)
_SPHINX = re.compile(r"^\s*(extensions|html_theme|project)\s*=", re.MULTILINE)
_AIRFLOW = re.compile(r"^\s*(?:from|import)\s+airflow\b", re.MULTILINE)
_PLAY = re.compile(r"^-[ \t]+(?:hosts|import_playbook):[ \t]*\S|^-[ \t]+\w+:.*\n(?:  [^\s-].*\n)*?  hosts:[ \t]*\S",
                   re.MULTILINE)
"""A play (``- hosts: web``) or a playbook that imports others (``- import_playbook: x.yml``)."""
NOT_PLAYBOOK_FOLDERS = frozenset({
    "roles", "tasks", "handlers", "vars", "defaults", "group_vars", "host_vars", "templates", "files", "meta",
    "molecule", ".github", "charts", "k8s", "kubernetes", "manifests", "node_modules",
})
"""Folders whose YAML is not a playbook: parts of roles, variables, CI, cluster manifests."""
MAX_CONTENT_PROBES = 50
MAX_PLAYBOOK_PROBES = 200
COMPOSE_NAMES = ("docker-compose*.yml", "docker-compose*.yaml", "compose.yml", "compose.yaml")


def _has_folder(ctx: Context, name: str) -> bool:
    return any(d == name or d.endswith("/" + name) for d in ctx.index.dirs)


def _with_extension(ctx: Context, ext: str) -> list[str]:
    """Files with this extension; a pass over all paths only when the walk counted some."""
    return [p for p in ctx.index.files if p.endswith(ext)] if ctx.walk.extensions.get(ext) else []


def infra_rules(ctx: Context) -> None:
    _docs(ctx)
    _data(ctx)
    _terraform(ctx)
    _containers_and_clusters(ctx)


def _docs(ctx: Context) -> None:
    for path in ctx.paths("mkdocs.yml", "mkdocs.yaml"):
        ctx.add("docs", "mkdocs", path)
        ctx.commands.add("docs", ["mkdocs", "build", "--strict"], path, folder_of(path), CONFIGURED)
    for path in ctx.paths("book.toml"):
        ctx.add("docs", "mdbook", path)
        ctx.commands.add("docs", ["mdbook", "build"], path, folder_of(path), CONFIGURED)
    for path in ctx.paths("conf.py")[:20]:
        if _SPHINX.search(ctx.text(path, 64 * 1024) or "") and ("doc" in path.lower() or path == "conf.py"):
            folder = folder_of(path)
            ctx.add("docs", "sphinx", path)
            ctx.commands.add("docs", ["sphinx-build", "-W", "-b", "html", folder, f"{folder}/_build/html"],
                             path, ".", CONFIGURED)
    for path in ctx.paths("docusaurus.config.*"):
        ctx.commands.add("docs", ["npx", "docusaurus", "build"], path, folder_of(path), DEPENDENCY)
    for path in ctx.paths(".readthedocs.yaml", ".readthedocs.yml"):
        ctx.add("docs", "readthedocs", path)
    markdownlint = ctx.paths(".markdownlint*")
    for path in markdownlint:
        ctx.add("linters", "markdownlint", path)
    if markdownlint:
        cli2 = any("cli2" in p for p in markdownlint)
        argv = ["markdownlint-cli2", "**/*.md"] if cli2 else ["markdownlint", "."]
        ctx.commands.add("lint", argv, markdownlint[0], folder_of(markdownlint[0]), CONFIGURED)


def _data(ctx: Context) -> None:
    for path in ctx.paths("dbt_project.yml"):
        folder = folder_of(path)
        ctx.add("data", "dbt", path)
        ctx.add("test_frameworks", "dbt test", path)
        ctx.commands.add("build", ["dbt", "build"], path, folder, CONFIGURED)
        ctx.commands.add("test", ["dbt", "test"], path, folder, CONFIGURED)
    for path in ctx.paths(".sqlfluff"):
        ctx.add("linters", "sqlfluff", path)
    for key, tool in (("airflow.cfg", "airflow"), ("dagster.yaml", "dagster"), ("prefect.yaml", "prefect")):
        for path in ctx.paths(key):
            ctx.add("data", tool, path)
    dags = ctx.index.glob("**/dags/**/*.py")[:10] if _has_folder(ctx, "dags") else []
    for path in dags:
        if _AIRFLOW.search(ctx.text(path, 64 * 1024) or ""):
            ctx.add("data", "airflow", path, "imports airflow")
    notebooks = ctx.index.glob("*.ipynb") if ctx.walk.extensions.get(".ipynb") else []
    if notebooks:
        ctx.add("data", "jupyter", shallowest_first(notebooks)[0], f"and {len(notebooks) - 1} more notebooks"
                if len(notebooks) > 1 else "")


def terraform_files(ctx: Context) -> list[str]:
    return _with_extension(ctx, ".tf")


def _terraform(ctx: Context) -> None:
    files = shallowest_first(terraform_files(ctx))
    for path in ctx.paths(".terraform.lock.hcl"):
        ctx.managers.lockfile("terraform", path)
    if files:
        top = folder_of(files[0])
        for path in files[:3]:
            ctx.add("iac", "terraform", path)
        ctx.add("formatters", "terraform fmt", files[0], configured=False)
        ctx.commands.add("validate", ["terraform", "validate"], files[0], top, CONFIGURED)
        ctx.commands.add("format", ["terraform", "fmt", "-recursive"], files[0], top, DEPENDENCY)
    for path in ctx.paths(".tflint.hcl"):
        ctx.add("linters", "tflint", path)
        ctx.commands.add("lint", ["tflint", "--recursive"], path, folder_of(path), CONFIGURED)
    for path in ctx.paths("terragrunt.hcl")[:3]:
        ctx.add("iac", "terragrunt", path)


def ansible_playbooks(ctx: Context) -> list[str]:
    """YAML files that hold plays, shallowest first: named playbook*.yml, or outside the parts
    of roles and variables and with a ``hosts:`` (or ``import_playbook:``) in a list item."""
    if "ansible_playbooks" in ctx.memo:
        return ctx.memo["ansible_playbooks"]
    named = ctx.paths("playbook*.yml", "playbook*.yaml")
    probes = [
        p for p in ctx.index.files
        if p.endswith((".yml", ".yaml")) and p.count("/") <= 3 and p not in named
        and not NOT_PLAYBOOK_FOLDERS.intersection(p.split("/")[:-1])
    ] if ctx.walk.extensions.get(".yml") or ctx.walk.extensions.get(".yaml") else []
    found = list(named)
    for path in shallowest_first(probes)[:MAX_PLAYBOOK_PROBES]:
        if _PLAY.search(ctx.text(path, 64 * 1024) or ""):
            found.append(path)
    ctx.memo["ansible_playbooks"] = shallowest_first(found)
    return ctx.memo["ansible_playbooks"]


def compose_files(ctx: Context) -> list[str]:
    return ctx.paths(*COMPOSE_NAMES)


def kubernetes_manifests(ctx: Context) -> list[str]:
    return [o.path for o in ctx.found["iac"].get("kubernetes", []) if not o.path.endswith(("kustomization.yaml",
                                                                                           "kustomization.yml"))]


def notebooks(ctx: Context) -> list[str]:
    return shallowest_first(ctx.index.glob("**/*.ipynb")) if ctx.walk.extensions.get(".ipynb") else []


def _containers_and_clusters(ctx: Context) -> None:
    for path in ctx.paths("Dockerfile", "Dockerfile.*")[:5] + _with_extension(ctx, ".dockerfile")[:5]:
        ctx.add("iac", "docker", path)
    for path in compose_files(ctx)[:5]:
        ctx.add("iac", "docker-compose", path)
    for path in ctx.paths(".hadolint.yaml"):
        ctx.add("linters", "hadolint", path)
    for path in ctx.paths("Chart.yaml")[:10]:
        ctx.add("iac", "helm", path)
        ctx.commands.add("lint", ["helm", "lint", folder_of(path)], path, ".", DEPENDENCY)
    for path in ctx.paths("kustomization.yaml", "kustomization.yml")[:5]:
        ctx.add("iac", "kubernetes", path, "kustomization")
    charts = {folder_of(p) + "/" for p in ctx.paths("Chart.yaml")}
    probes = [
        p for p in ctx.index.files
        if p.endswith((".yaml", ".yml")) and K8S_FOLDERS.intersection(p.split("/")[:-1])
        and not any(p.startswith(c) for c in charts)
    ][:MAX_CONTENT_PROBES]
    for path in probes:
        text = ctx.text(path, 16 * 1024) or ""
        if _K8S_API.search(text) and _K8S_KIND.search(text):
            ctx.add("iac", "kubernetes", path)
    playbooks = ansible_playbooks(ctx)
    ansible = ctx.paths("ansible.cfg") + playbooks
    if _has_folder(ctx, "roles"):
        ansible += ctx.index.glob("**/roles/*/tasks/main.y*ml")
    for path in ansible[:5]:
        ctx.add("iac", "ansible", path, "a play" if path in playbooks else "")
    for path in ctx.paths(".ansible-lint"):
        ctx.add("linters", "ansible-lint", path)
    if ansible:
        ctx.commands.add("lint", ["ansible-lint"], ansible[0], ".", DEPENDENCY)
    for path in playbooks[:1]:
        ctx.commands.add("validate", ["ansible-playbook", "--syntax-check", "-i", "localhost,", path], path, ".",
                         DEPENDENCY)
    for path in compose_files(ctx)[:1]:
        ctx.commands.add("validate", ["docker", "compose", "-f", path, "config", "--quiet"], path, ".", DEPENDENCY)
    for key, tool in (("Pulumi.yaml", "pulumi"), ("serverless.yml", "serverless"), ("Vagrantfile", "vagrant")):
        for path in ctx.paths(key)[:3]:
            ctx.add("iac", tool, path)
