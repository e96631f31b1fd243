"""The local message store: the C SDK's local database semantics on aiosqlite (DESIGN.md §6).

A client opens one at its `store_path` (`tim.store`); on its own:

    >>> from aio_tim.store import LocalStore, default_store_path
    >>> store = LocalStore(default_store_path(1400000000, "alice"))   # then `async with store: ...`
"""

from typing import TYPE_CHECKING

from .local import LocalStore
from .paths import default_store_path
from .rows import Conv, LocatorKey, locator_key
from .schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "Conv", "LocalStore", "LocatorKey", "default_store_path", "locator_key"]

if TYPE_CHECKING:  # the SQLite store is one implementation of the store seam (mypy checks this)
    from ..seams.store import OutboxStore

    _: OutboxStore = LocalStore()
