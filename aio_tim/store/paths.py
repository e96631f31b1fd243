"""Where a user's local store lives by default: one database per (sdk_app_id, user_id)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Final

from ..errors import TIM_ERR_PARAM, UsageError

__all__ = ["default_store_path"]

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")


def default_store_path(sdk_app_id: int, user_id: str) -> Path:
    """`$XDG_DATA_HOME/aio_tim/<sdk_app_id>/<user>.sqlite3` (default `~/.local/share`).

    The file name adds a digest of the exact user id, so two users never share a database:

        >>> default_store_path(1400000000, "alice").name
        'alice-2bd806c97f0e.sqlite3'
    """
    if not isinstance(sdk_app_id, int) or sdk_app_id < 0:
        raise UsageError(TIM_ERR_PARAM, f"invalid sdk_app_id {sdk_app_id!r}")
    if not isinstance(user_id, str) or not user_id:
        raise UsageError(TIM_ERR_PARAM, "user_id must be a non-empty string")
    return _data_home() / "aio_tim" / str(sdk_app_id) / f"{_file_stem(user_id)}.sqlite3"


def _data_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME", "")
    # The XDG spec says to ignore a relative value.
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"


def _file_stem(user_id: str) -> str:
    # The readable part alone is lossy ("a/b" and "a_b"; "Bob" and "bob" on a case-insensitive disk),
    # so a digest of the exact id keeps two users from ever sharing a database.
    readable = _UNSAFE.sub("_", user_id)[:48]
    digest = hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{readable}-{digest}"
