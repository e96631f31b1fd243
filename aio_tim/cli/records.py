"""The record `aio-tim serve` leaves for the other commands: its URL, app id, admin and key (0600).

`serve` writes it (`server.py`, with the dev server's private-file helper); every command that
talks to a server reads it (`target.py`) to fill in what flags and variables leave out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import CliError

__all__ = ["SERVE_STATE", "read_serve_record", "remove_serve_record"]

SERVE_STATE = Path(os.environ.get("XDG_RUNTIME_DIR") or Path.home() / ".cache") / "aio_tim-serve.json"


def read_serve_record() -> dict[str, Any]:
    """What the running `aio-tim serve` recorded, or {} when none is recorded."""
    try:
        saved = json.loads(SERVE_STATE.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the `aio-tim serve` record {SERVE_STATE}: {exc}; delete it") from None
    return saved if isinstance(saved, dict) else {}


def remove_serve_record() -> None:
    SERVE_STATE.unlink(missing_ok=True)
