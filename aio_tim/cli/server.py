"""`aio-tim serve` (the dev server, recorded for the other commands) and `aio-tim info` (where
things are).

    aio-tim serve --port 8765 --db dev.sqlite3    # Ctrl-C (or SIGTERM) stops it
    aio-tim info
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

from ..devserver import DevServer
from ..devserver.private import write_private_json
from ..store.paths import data_folder
from ..telemetry import Telemetry
from ..telemetry.console import console_telemetry
from . import records
from .checkpoint import checkpoint_folder
from .commands import add_command, package_version
from .console import console
from .errors import CliError, say
from .options import add_target_options, at_least, option, port
from .target import Target, target_of

__all__ = ["register", "run_info", "run_serve"]

WEBHOOK_LOGGER = "aio_tim.devserver.webhooks"  # logs each failed delivery at INFO


def register(commands: Any) -> None:
    serve = add_command(commands, "serve",
                        "Runs the dev server until Ctrl-C and records its URL and key so that the other "
                        "commands find it without flags.")  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=port, default=8765, help="0 = any free port (default: 8765)")
    serve.add_argument("--db", default=":memory:", help="sqlite file for state (default: memory)")
    serve.add_argument("--secret-key", default=None, help="default: random, kept in --db")
    # A service with a fixed app id (and admin) points at the dev server unchanged.
    option(serve, "--sdk-app-id", env="AIO_TIM_SDK_APP_ID", type=at_least(1), default=1400000000,
           help="the SDKAppID it answers to (default: 1400000000)")  # fmt: skip
    option(serve, "--admin", env="AIO_TIM_ADMIN", default="administrator",
           help="the App admin's UserID every REST call is signed as (default: administrator)")  # fmt: skip
    serve.add_argument(
        "--no-auto-accounts", action="store_true",
        help="do not create accounts on first use: sending to an unknown UserID fails with 70107 as on TIM",
    )  # fmt: skip
    serve.add_argument("--webhook-url", default=None, help="fire TIM's webhooks at this URL")
    option(serve, "--webhook-token", env="AIO_TIM_WEBHOOK_TOKEN",
           help="sign them with this token (Sign, RequestTime)")  # fmt: skip
    option(serve, "--otel", env="AIO_TIM_OTEL", action="store_true",
           help="print a span per REST call to stderr, continuing each caller's trace "
                "(needs opentelemetry-sdk)")  # fmt: skip
    serve.set_defaults(run=run_serve)

    info = add_command(commands, "info",
                       "Prints the aio_tim version, which server the other commands would use (and "
                       "where that came from), the local store, the serve record and the checkpoints "
                       "folder.")  # fmt: skip
    add_target_options(info)
    info.set_defaults(run=run_info)


async def run_serve(args: argparse.Namespace) -> int:
    try:
        server = DevServer(
            db_path=args.db, host=args.host, port=args.port, secret_key=args.secret_key,
            sdk_app_id=int(args.sdk_app_id), admin=args.admin, auto_accounts=not args.no_auto_accounts,
            webhook_url=args.webhook_url, webhook_token=args.webhook_token,
            telemetry=_console_spans() if args.otel else None,
        )  # fmt: skip
    except ValueError as exc:  # an admin that is no UserID, an empty key, a webhook URL that is no URL
        raise CliError(str(exc)) from None
    # A run whose state is in memory is a new server each time: the CLI keys its local store by
    # this tag, so a second run does not show the first run's history.
    instance = secrets.token_hex(6) if args.db == ":memory:" else ""
    stopped = _stop_on_sigterm()
    _, stale = records.read_records()  # reclaims the records (and keys) of servers that are gone
    for gone in stale:
        say(f"removed the record of an `aio-tim serve` that is no longer running ({gone.describe()})")
    if args.webhook_url and not args.verbose:
        _say_first_webhook_failure(args.webhook_url)
    async with server:
        record_file = _write_record(server, instance)
        console.print(f"[bold]aio_tim dev server[/bold] listening on {server.url}")
        console.print(f"  sdkappid   {server.sdk_app_id}")
        console.print(f"  admin      {server.admin}")
        console.print(f"  secret key {server.secret_key}")
        console.print(f"  inspector: {server.inspector_url}", soft_wrap=True)
        if args.webhook_url:
            console.print(f"  webhooks   {args.webhook_url}", soft_wrap=True)
        console.print(f"  (recorded in {record_file} for `aio-tim send`; Ctrl-C stops)", soft_wrap=True)
        try:
            await stopped.wait()
        finally:
            _remove_own_record(record_file)
    return 0


def _console_spans() -> Telemetry:
    try:
        return console_telemetry()
    except ImportError as exc:
        raise CliError(f"--otel: {exc}") from None


def _stop_on_sigterm() -> asyncio.Event:
    """An event SIGTERM sets, from now on (before the server starts, so a SIGTERM during the
    start-up still removes the record). SIGTERM is handled on its own, not turned into a SIGINT:
    `aio-tim serve &` in a script inherits SIGINT ignored, and must still stop on `kill`.
    Ctrl-C interrupts as usual."""
    stopped = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers (Windows)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    return stopped


def _write_record(server: DevServer, instance: str) -> Path:
    """This server's record, one file per host and port (a second server keeps the first's)."""
    path = records.record_path(server.url)
    state = {
        "url": server.url,
        "sdk_app_id": server.sdk_app_id,
        "admin": server.admin,
        "secret_key": server.secret_key,
        "instance": instance,
        "pid": os.getpid(),
        "started": time.time(),
    }
    # The file holds the secret key: 0600 (an existing file too), in a folder of the user's only.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private_json(path, state)
    return path


def _remove_own_record(path: Path) -> None:
    """Remove the record if it is still this process's (never another server's)."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


class _FirstFailure(logging.Handler):
    """Says the first webhook failure on stderr, once: without -v a dead receiver is not silent."""

    def __init__(self, url: str) -> None:
        super().__init__(logging.INFO)
        self._url = url
        self._said = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._said:
            return
        self._said = True
        say(f"serve: {record.getMessage()} ({self._url}); is the receiver running? (said once; "
            "-v logs every failure)")  # fmt: skip


def _say_first_webhook_failure(url: str) -> None:
    logger = logging.getLogger(WEBHOOK_LOGGER)
    logger.setLevel(logging.INFO)
    logger.addHandler(_FirstFailure(url))


async def run_info(args: argparse.Namespace) -> int:
    """Where things are: version, server in use, local store, serve record, checkpoints."""
    rows = [("aio_tim", package_version()), ("python", sys.version.split()[0])]
    live, stale = records.read_records()
    try:
        target: Target | None = target_of(args, (live, stale))
    except CliError as error:
        target, rows = None, [*rows, ("server", str(error))]
    if target is not None:
        user = args.user or target.admin
        rows += [
            ("server", f"{target.url} (from {target.origin})"),
            ("sdkappid", str(target.sdk_app_id)),
            ("admin", target.admin),
            ("local store", target.store_path(user) + ("" if target.store else " (--no-store)")),
        ]
    rows += [
        ("data folder", str(data_folder())),
        *_record_rows(live, stale),
        ("checkpoints", str(checkpoint_folder())),
    ]
    for name, value in rows:
        console.print(f"{name:<13}{value}", soft_wrap=True, highlight=False)
    return 0


def _record_rows(live: list[records.ServeRecord], stale: list[records.ServeRecord]) -> list[tuple[str, str]]:
    """One row per running server's record (the first is the one in use), and the stale ones removed."""
    rows = [("serve record", f"{record.path} ({record.describe()})") for record in live]
    rows += [("serve record", f"removed {record.path}: its server ({record.describe()}) is no longer running")
             for record in stale]  # fmt: skip
    return rows or [("serve record", f"none in {records.FOLDER}")]
