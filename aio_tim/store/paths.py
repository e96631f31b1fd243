"""Where a user's local store lives by default: one database per (sdk_app_id, endpoint, user_id).

The folder is the OS's per-user data folder (`platformdirs`): `~/.local/share/aio_tim` on Linux
(or `$XDG_DATA_HOME/aio_tim`), `~/Library/Application Support/aio_tim` on macOS,
`%LOCALAPPDATA%\\aio_tim` on Windows. The endpoint is part of the key, so a dev server on
loopback and Tencent's servers never share a history.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Final

import platformdirs
from yarl import URL

from ..errors import TIM_ERR_PARAM, UsageError

__all__ = ["data_folder", "default_store_path", "prepare_file"]

_UNSAFE_IN_USER: Final = re.compile(r"[^A-Za-z0-9_-]")
_UNSAFE_IN_HOST: Final = re.compile(r"[^A-Za-z0-9_.-]")
_TENCENT: Final = "https://console.tim.qq.com"


def data_folder() -> Path:
    """The OS's per-user data folder for aio_tim (`platformdirs.user_data_path("aio_tim")`)."""
    return platformdirs.user_data_path("aio_tim", appauthor=False)


def default_store_path(sdk_app_id: int, user_id: str, endpoint: str = _TENCENT) -> Path:
    """`<data folder>/<sdk_app_id>/<endpoint>/<user>.sqlite3`.

    File and folder names add a digest of the exact user id and endpoint, so two users (or two
    servers) never share a database:

        >>> default_store_path(1400000000, "alice").name
        'alice-2bd806c97f0e.sqlite3'
        >>> default_store_path(1400000000, "alice", "http://127.0.0.1:8765").parent.name
        '127.0.0.1_8765-72b0e86b156f'
    """
    if not isinstance(sdk_app_id, int) or sdk_app_id < 0:
        raise UsageError(TIM_ERR_PARAM, f"invalid sdk_app_id {sdk_app_id!r}")
    if not isinstance(user_id, str) or not user_id:
        raise UsageError(TIM_ERR_PARAM, "user_id must be a non-empty string")
    folder = data_folder() / str(sdk_app_id) / _endpoint_stem(endpoint)
    return folder / f"{_file_stem(user_id)}.sqlite3"


def _endpoint_stem(endpoint: str) -> str:
    # The readable part names the host and port; the digest covers everything else (scheme, path,
    # a dev server instance tag after '#').
    exact = endpoint.rstrip("/")
    url = URL(exact)
    host = url.host or "local"
    readable = f"{host}_{url.port}" if url.explicit_port else host
    return _stem(_UNSAFE_IN_HOST.sub("_", readable).strip("."), exact)


def _file_stem(user_id: str) -> str:
    # The readable part alone is lossy ("a/b" and "a_b"; "Bob" and "bob" on a case-insensitive disk),
    # so a digest of the exact id keeps two users from ever sharing a database.
    return _stem(_UNSAFE_IN_USER.sub("_", user_id), user_id)


def _stem(readable: str, exact: str) -> str:
    digest = hashlib.sha256(exact.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{readable[:48]}-{digest}"


def prepare_file(path: str) -> None:
    """Owner-only folder and file (0700, 0600): the database holds the user's message history.

    SQLite gives its -wal and -shm files the database file's mode, so they are 0600 too.
    """
    if path in ("", ":memory:") or path.startswith("file:"):
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        if os.name == "posix" and os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)  # a store made by an older version, with the umask's mode
    finally:
        os.close(fd)
