"""``uet mcp``: serve this project to an AI assistant over the Model Context Protocol (stdio).

The SDK is imported here, when the command runs, never at ``uet`` start-up; without it the
command says which extra to install. Standard output carries the protocol, so nothing else is
printed there.
"""

from __future__ import annotations

import argparse
import sys

from tui.cli.exits import EXIT_INPUT, EXIT_OK
from tui.project import db_path, project_root

MISSING = ("uet mcp needs the MCP SDK, an optional extra: pip install 'uet[mcp]' "
           "(or pip install mcp into the same environment)")


def cmd_mcp(args: argparse.Namespace) -> int:
    try:
        from tui.mcp.server import build
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "mcp":
            raise
        print(f"uet: {MISSING}", file=sys.stderr)
        return EXIT_INPUT
    root = project_root(args)
    server = build(root, db_path(args, root))
    try:
        server.run("stdio")
    finally:
        server.project.close()
    return EXIT_OK
