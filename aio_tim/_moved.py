"""Old import paths of modules that moved, still importable (with a DeprecationWarning).

0.2 gave the package's top level one room per floor (docs/architecture.md): loose modules moved
into the packages they belong to. `import aio_tim.faultproxy` (and friends) keeps working through
this finder, which hands out the module at its new address; the CHANGELOG lists every move.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Final

__all__ = ["MOVED", "install"]

MOVED: Final = {
    "aio_tim.checkpoint": "aio_tim.cli.checkpoint",
    "aio_tim.faultproxy": "aio_tim.testing.faultproxy",
    "aio_tim.history": "aio_tim.msg.roaming",
    "aio_tim.outbox": "aio_tim.pipeline.outbox",
    "aio_tim.pytest_plugin": "aio_tim.testing.plugin",
    "aio_tim.validate": "aio_tim.protocol.validate",
}


class _Alias(importlib.abc.Loader):
    """Loads an old name as the module at its new address (the same module object)."""

    def __init__(self, old: str, new: str) -> None:
        self._old, self._new = old, new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{self._old} moved to {self._new}", DeprecationWarning, stacklevel=2)
        return importlib.import_module(self._new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at the new address is already loaded."""


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        return None if new is None else importlib.util.spec_from_loader(fullname, _Alias(fullname, new))


def install() -> None:
    """Put the finder on `sys.meta_path` once."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
