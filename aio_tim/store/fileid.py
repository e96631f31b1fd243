"""Is the store still the file it opened? A database deleted or replaced under a running process
keeps working through the open connection, into a file nobody will open again: what it commits
then is gone at the next start. Writers that acknowledge work to others (the inbox answering TIM)
check the files' identity (st_dev, st_ino) after each commit and refuse instead.
"""

from __future__ import annotations

import os
from typing import Final

from ..errors import error_for
from .errors import ERR_IO

__all__ = ["FileIdentity"]

_SUFFIXES: Final = ("", "-wal")  # the database and its write-ahead log hold what was committed


def _identity(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


class FileIdentity:
    """The identities of a database file and its WAL, taken when first seen, and checked later.

    files = FileIdentity(store.path)     # when the store is open
    files.check()                        # after a commit: raises TIMError 6022 if one changed
    """

    def __init__(self, path: str) -> None:
        in_memory = path in ("", ":memory:") or path.startswith("file:")
        self._paths = [] if in_memory else [path + suffix for suffix in _SUFFIXES]
        self._seen: dict[str, tuple[int, int]] = {}
        self._gone: str | None = None
        self.refresh()

    def refresh(self) -> None:
        """Take the identity of files that have appeared since (the WAL comes with the first write)."""
        for path in self._paths:
            if path not in self._seen and (found := _identity(path)) is not None:
                self._seen[path] = found

    def check(self) -> None:
        """Raise TIMError 6022 if a file seen before is missing or is another file now (for good)."""
        if self._gone is None:
            self.refresh()
            changed = [path for path, seen in self._seen.items() if _identity(path) != seen]
            if not changed:
                return
            self._gone = f"local store: {changed[0]} was deleted or replaced while open (restart to recover)"
        raise error_for(ERR_IO, self._gone)
