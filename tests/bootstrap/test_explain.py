"""What ``uet bootstrap`` says about its choice: the evidence for the profile and for the
runner-up, a low-confidence choice handed to the generic profile with the way to pick the
other, and a monorepo's folders each with its profile and commands."""

from __future__ import annotations

import json
from pathlib import Path

from engine.bootstrap.orchestrate import bootstrap
from tests.engine import repos
from tui.cli import main
from tui.cli.bootstrap import WIDTH, summary

MONOREPO = {
    "services/api/pyproject.toml": "[project]\nname = 'api'\n\n[tool.pytest.ini_options]\n",
    "services/api/tests/test_api.py": "def test_ok():\n    assert True\n",
    "web/package.json": '{"name": "web", "devDependencies": {"vitest": "1"}}',
    "web/tsconfig.json": "{}\n",
    "web/src/index.ts": "export const a = 1;\n",
    "svc/go.mod": "module example.com/svc\n\ngo 1.19\n",
}


def test_a_monorepo_lists_each_folder_with_its_profile_and_commands(tmp_path: Path) -> None:
    report = bootstrap(repos.build(tmp_path / "mono", MONOREPO), dry_run=True)
    assert [(p.folder, p.profile, p.commands["test"]) for p in report.projects] == [
        ("svc", "generic", ["go", "test", "./..."]),
        ("web", "software-dev-typescript", ["npx", "vitest", "run"]),
        ("services/api", "software-dev-python", ["python", "-m", "pytest", "-q"]),
    ]
    assert report.projects[0].commands["lint"] == ["go", "vet", "./..."]
    lines = summary(report)
    assert all(len(line) <= WIDTH for line in lines)
    assert "projects   svc/ generic · test: go test ./... · lint: go vet ./..." in lines
    assert "           services/api/ software-dev-python · test: python -m pytest -q" in lines


def test_a_low_confidence_choice_names_the_runner_up_its_evidence_and_how_to_pick_it(tmp_path: Path) -> None:
    report = bootstrap(repos.build(tmp_path / "mono", MONOREPO), dry_run=True)
    assert (report.profile, report.chosen_by, report.runner_up) == ("generic", "fallback", "software-dev-typescript")
    text = "\n".join(summary(report))
    assert "generic (the fallback: software-dev-typescript scored too little to\n           be sure" in text
    assert "+3  package.json of a sub-project (mono…  web/package.json" in text  # the runner-up's evidence
    assert "uet bootstrap --profile software-dev-typescript" in text
    assert "no other profile found evidence" not in text


def test_json_has_the_breakdown_and_every_profiles_evidence(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = repos.build(tmp_path / "mono", MONOREPO)
    assert main(["bootstrap", str(root), "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["folder"] for p in data["projects"]] == ["svc", "web", "services/api"]
    assert data["runner_up"] == "software-dev-typescript"
    assert "package.json of a sub-project (monorepo)" in [e["signal"] for e in data["evidence"]["software-dev-typescript"]]


def test_a_single_project_has_no_breakdown(tmp_path: Path) -> None:
    report = bootstrap(repos.build(tmp_path / "one", {"go.mod": "module x\n\ngo 1.19\n", "x_test.go": "package x\n"}),
                       dry_run=True)
    assert report.profile == "generic" and report.chosen_by == "detection" and report.projects == []
