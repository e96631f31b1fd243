"""The records `aio-tim serve` leaves for the other commands: one file per running server (its
URL, app id, admin, key, pid), 0600 since it holds the secret key.

`serve` writes its own record (`server.py`) and removes only that one when it stops, so two
servers on two ports keep each other's records. A record whose process is gone (`kill -9`, a
crash) is stale: the next `serve`, and any command that reads the records, removes it (it holds a
secret) and says so, instead of calling a dead server current.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FOLDER", "ServeRecord", "is_alive", "read_records", "record_path"]

FOLDER = Path(os.environ.get("XDG_RUNTIME_DIR") or Path.home() / ".cache") / "aio_tim-serve"


@dataclass(frozen=True)
class ServeRecord:
    path: Path
    url: str
    sdk_app_id: int
    secret_key: str
    admin: str
    instance: str
    pid: int
    started: float

    def __repr__(self) -> str:  # no secret key in reprs
        return f"<ServeRecord {self.url} pid={self.pid}>"

    def describe(self) -> str:
        return f"{self.url}, pid {self.pid}"


def record_path(url: str) -> Path:
    """Where the server at `url` keeps its record: one file per host and port."""
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    return FOLDER / (re.sub(r"[^A-Za-z0-9.-]", "_", netloc) + ".json")


def read_records() -> tuple[list[ServeRecord], list[ServeRecord]]:
    """The records of running servers, newest first, and the stale ones just removed."""
    live: list[ServeRecord] = []
    stale: list[ServeRecord] = []
    for path in sorted(FOLDER.glob("*.json")):
        record = _load(path)
        if record is None:
            continue
        if is_alive(record.pid):
            live.append(record)
        else:
            path.unlink(missing_ok=True)  # it holds the secret key of a server that is gone
            stale.append(record)
    live.sort(key=lambda record: record.started, reverse=True)
    return live, stale


def _load(path: Path) -> ServeRecord | None:
    """A record, or None for one that vanished meanwhile or is not a record (removed: a
    half-written file left by a crash is of no use and may hold a key)."""
    try:
        data: Any = json.loads(path.read_text())
        return ServeRecord(
            path, str(data["url"]), int(data["sdk_app_id"]), str(data["secret_key"]), str(data["admin"]),
            str(data.get("instance", "")), int(data["pid"]), float(data.get("started", 0.0)),
        )  # fmt: skip
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None


def is_alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): kill(0) is all we know
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
