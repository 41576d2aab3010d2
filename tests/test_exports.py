"""Each package's public surface: a sorted ``__all__`` whose every name exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["schemas", "store"]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted(package: str) -> None:
    exported = importlib.import_module(package).__all__
    assert list(exported) == sorted(exported)
    assert len(set(exported)) == len(exported), "a name is listed twice"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
