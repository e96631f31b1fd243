"""`aio-tim serve` (the dev server, recorded for the other commands) and `aio-tim info` (where
things are).

    aio-tim serve --port 8765 --db dev.sqlite3    # Ctrl-C (or SIGTERM) stops it
    aio-tim info
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from typing import Any

from ..devserver import DevServer
from ..devserver.private import stop_on_sigterm, write_private_json
from ..store.paths import data_folder
from . import records
from .checkpoint import checkpoint_folder
from .commands import add_command, package_version
from .console import console
from .errors import CliError
from .options import add_target_options, port
from .target import Target, target_of

__all__ = ["register", "run_info", "run_serve"]


def register(commands: Any) -> None:
    serve = add_command(commands, "serve",
                        "Runs the dev server until Ctrl-C and records its URL and key so that the other "
                        "commands find it without flags.")  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port, default=8765, help="0 = any free port (default: 8765)")
    serve.add_argument("--db", default=":memory:", help="sqlite file for state (default: memory)")
    serve.add_argument("--secret-key", default=None, help="default: random, kept in --db")
    serve.add_argument(
        "--no-auto-accounts", action="store_true",
        help="do not create accounts on first use: sending to an unknown UserID fails with 70107 as on TIM",
    )  # fmt: skip
    serve.add_argument("--webhook-url", default=None, help="fire TIM's webhooks at this URL")
    serve.add_argument("--webhook-token", default=None, help="sign them with this token (Sign, RequestTime)")
    serve.set_defaults(run=run_serve)

    info = add_command(commands, "info",
                       "Prints the aio_tim version, which server the other commands would use (and "
                       "where that came from), the local store, the serve record and the checkpoints "
                       "folder.")  # fmt: skip
    add_target_options(info)
    info.set_defaults(run=run_info)


async def run_serve(args: argparse.Namespace) -> int:
    server = DevServer(
        db_path=args.db, host=args.host, port=args.port, secret_key=args.secret_key,
        auto_accounts=not args.no_auto_accounts,
        webhook_url=args.webhook_url, webhook_token=args.webhook_token,
    )  # fmt: skip
    # A run whose state is in memory is a new server each time: the CLI keys its local store by
    # this tag, so a second run does not show the first run's history.
    instance = secrets.token_hex(6) if args.db == ":memory:" else ""
    async with server:
        _record_serve_state(server, instance)
        console.print(f"[bold]aio_tim dev server[/bold] listening on {server.url}")
        console.print(f"  sdkappid   {server.sdk_app_id}")
        console.print(f"  admin      {server.admin}")
        console.print(f"  secret key {server.secret_key}")
        if args.webhook_url:
            console.print(f"  webhooks   {args.webhook_url}", soft_wrap=True)
        console.print(f"  (recorded in {records.SERVE_STATE} for `aio-tim send`; Ctrl-C stops)")
        try:
            await asyncio.Event().wait()
        finally:
            records.remove_serve_record()
    return 0


def _record_serve_state(server: DevServer, instance: str = "") -> None:
    state = {
        "url": server.url,
        "sdk_app_id": server.sdk_app_id,
        "admin": server.admin,
        "secret_key": server.secret_key,
        "instance": instance,
    }
    # The file holds the secret key: 0600 (an existing file too); SIGTERM removes it as Ctrl-C does.
    write_private_json(records.SERVE_STATE, state)
    stop_on_sigterm()


async def run_info(args: argparse.Namespace) -> int:
    """Where things are: version, server in use, local store, serve record, checkpoints."""
    rows = [("aio_tim", package_version()), ("python", sys.version.split()[0])]
    try:
        target: Target | None = target_of(args)
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
    state = records.SERVE_STATE
    rows += [
        ("data folder", str(data_folder())),
        ("serve record", f"{state}{'' if state.exists() else ' (none)'}"),
        ("checkpoints", str(checkpoint_folder())),
    ]
    for name, value in rows:
        console.print(f"{name:<13}{value}", soft_wrap=True, highlight=False)
    return 0
