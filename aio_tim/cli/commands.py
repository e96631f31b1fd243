"""The table of `aio-tim` commands: name, one-line summary and the module that implements it.

`aio-tim --help` is built from this table alone, and a command imports only its own family's
module (`send` never loads the dev server, `serve` never loads the batch code): what a command
needs is loaded when it runs, not at every start-up.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

__all__ = ["COMMANDS", "Command", "add_command", "package_version"]


@dataclass(frozen=True)
class Command:
    module: str  # under aio_tim.cli, with a `register(commands)` function
    summary: str


COMMANDS: Final = {
    "demo": Command("demo", "run a tour of aio_tim against an embedded dev server"),
    "serve": Command("server", "run the TIM-compatible dev server"),
    "send": Command("messages", "send a C2C or group message (text, a file, or both)"),
    "batch-send": Command("batch", "send one text to every UserID in a file"),
    "download": Command("download", "download an attachment URL with a progress bar"),
    "history": Command("messages", "page through a conversation's history"),
    "revoke": Command("messages", "recall a message"),
    "edit": Command("search", "replace a sent message's text"),
    "search": Command("search", "search the messages kept in the local store"),
    "conv": Command("conversations", "list a user's conversations; pin, unpin or delete one"),
    "receipts": Command("receipts", "show who read a message, or send a read receipt"),
    "group": Command("admin", "create and dismiss groups, add and remove members"),
    "account": Command("admin", "import, check and delete accounts"),
    "listen": Command("listen", "receive TIM's webhooks and print events as JSON lines"),
    "trigger": Command("trigger", "fire a realistic, signed TIM callback at your handler"),
    "faults": Command("faults", "make a running dev server fail or slow down on purpose"),
    "info": Command("server", "show the version, the server in use and where files are kept"),
}


def add_command(commands: Any, name: str, description: str) -> argparse.ArgumentParser:
    """Add command `name` (its summary from COMMANDS) to an argparse subparsers object."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=COMMANDS[name].summary, description=description
    )
    return parser


def package_version() -> str:
    """The installed aio_tim version (`aio-tim --version`, `aio-tim info`)."""
    try:
        return version("aio_tim")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"
