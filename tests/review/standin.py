"""A stand-in for an agent in review-round tests, and the project it works on.

It reads the prompt it is given; in a revision round it applies each `replace "A" with "B"`
review comment to the file and line the comment names, else it writes the first version of
greet() into app.py. Given the attempt number as a second argument, it hangs in attempt 2 when
that is a revision (so a test can lose its engine during it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import Project
from tests.engine.patch_repos import git

STANDIN = r'''
import pathlib, re, sys, time
prompt = pathlib.Path(sys.argv[1]).read_text()
asked = re.findall(r'^\d+\. On ([^:\s]+):(\d+):\n\s+replace "(.*?)" with "(.*?)"', prompt, re.M)
if asked and sys.argv[2:] == ["2"]:
    time.sleep(300)
if not asked:
    app = pathlib.Path("app.py")
    app.write_text(app.read_text() + '\n\ndef greet():\n    return "hello"\n')
for path, line, old, new in asked:
    target = pathlib.Path(path)
    lines = target.read_text().splitlines(keepends=True)
    lines[int(line) - 1] = lines[int(line) - 1].replace(old, new)
    target.write_text("".join(lines))
print(f"applied {len(asked)} comment(s)")
'''


def greet_project(project: Project, tmp_path: Path, *args: str) -> Path:
    """``project`` as a git repository holding app.py (and whatever the test wrote before), with
    the stand-in installed like a program (the sandbox shows a program's own folder) as the tool
    ``standin``, called with the prompt file and ``args``. Returns the program's path."""
    program = tmp_path / "standin" / "bin" / "standin"
    program.parent.mkdir(parents=True)
    program.write_text(f"#!{sys.executable}\n" + STANDIN)
    program.chmod(0o755)
    project.write("app.py", "import sys\n")
    project.write(".gitignore", ".uet/\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    command = ", ".join(['"{prompt_file}"', *(f'"{a}"' for a in args)])
    project.write(".uet/router.yaml", f"""
        tools:
          standin:
            command: [{program}, {command}]
    """)
    return program
