"""Where the router config comes from: ``<root>/.uet/router.yaml``, else the built-in one."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from engine.yamlsafe import Located, load, parse
from schemas.router import RouterConfig

BUILTIN = Path(__file__).with_name("builtin_router.yaml")


def router_path(root: Path) -> Path:
    return root / ".uet" / "router.yaml"


@lru_cache(maxsize=1)
def builtin_router() -> RouterConfig:
    from engine.planner import validate_document

    located: Located = parse(BUILTIN.read_text(encoding="utf-8"), str(BUILTIN))
    return validate_document(located, RouterConfig)


def load_router_config(root: Path) -> RouterConfig:
    from engine.planner import validate_document

    path = router_path(root)
    if path.is_file():
        return validate_document(load(path), RouterConfig)
    return builtin_router()
