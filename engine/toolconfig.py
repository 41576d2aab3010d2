"""Where the router config comes from: ``<root>/.uet/router.yaml``, else the built-in one.

Only a router file that is not there at all means the built-in one: a path that exists but
cannot be read as a file (a directory, a link to nothing, a device) is refused, not replaced
without a word by settings the user did not write. Either way the built-in agent tools
(``engine.agents.catalog``) are added, unless the file defines a tool of the same name.
"""

from __future__ import annotations

import dataclasses
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from engine.documents import validate_document
from engine.yamlsafe import Located, load, parse

if TYPE_CHECKING:  # imported when a router is read: a plan whose steps all run commands needs none
    from schemas.router import RouterConfig

BUILTIN = Path(__file__).with_name("builtin_router.yaml")


def router_path(root: Path) -> Path:
    return root / ".uet" / "router.yaml"


def _validated(located: Located) -> RouterConfig:
    """The router with the built-in agent tools added (engine.agents.catalog): a tool of the
    file's own with the same name replaces one."""
    from engine.agents.catalog import with_catalog
    from schemas.router import RouterConfig

    return validate_document(dataclasses.replace(located, data=with_catalog(located.data)), RouterConfig)


@lru_cache(maxsize=1)
def builtin_router() -> RouterConfig:
    located: Located = parse(BUILTIN.read_text(encoding="utf-8"), str(BUILTIN))
    return _validated(located)


def load_router_config(root: Path) -> RouterConfig:
    path = router_path(root)
    if os.path.lexists(path):  # whatever it is: a directory, a dangling link or a device is an error, said so
        return _validated(load(path))
    return builtin_router()
