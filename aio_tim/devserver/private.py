"""Files that hold the dev server's secret key: readable by their owner only (0600).

`aio-tim serve` records its URL and secret key in a state file for `aio-tim send`, and a file
`--db` keeps the key in its meta table. Both are created 0600, an existing one is brought to 0600
(opening with O_TRUNC would keep a 0644 mode).

    write_private_json(path, {"url": ..., "secret_key": ...})   # atomic, 0600
    make_private(db_path)                                         # before sqlite opens it
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final

__all__ = ["PRIVATE_MODE", "make_private", "write_private_json"]

PRIVATE_MODE: Final = 0o600
_SQLITE_SIDE_FILES: Final = ("", "-wal", "-shm", "-journal")


def write_private_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write `data` as JSON to `path`, mode 0600, atomically: a new file replaces the old one,
    so an existing file's looser mode cannot survive and a reader never sees half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(data, file)
        os.chmod(temporary, PRIVATE_MODE)  # mkstemp's 0600, whatever umask says
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def make_private(db_path: str | os.PathLike[str]) -> None:
    """Create `db_path` 0600 if missing, else set 0600 on it and its sqlite side files
    (SQLite creates -wal and -shm with the database's mode). In-memory databases are skipped."""
    text = os.fspath(db_path)
    if text in ("", ":memory:") or text.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(text, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    for suffix in _SQLITE_SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(text + suffix, PRIVATE_MODE)
