"""Where a command sends: `Target` (URL, credentials) resolved from flags, `AIO_TIM_*` variables
and the `aio-tim serve` record, and a Client that fails within seconds when nothing listens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from dataclasses import dataclass
from socket import gaierror as socket_gaierror
from typing import Any
from urllib.parse import urlsplit

from ..client import Client
from ..connection import Timeouts
from ..pipeline import RetryPolicy
from ..store import default_store_path
from . import records
from .errors import CliError, ExitCode

__all__ = ["CONNECT_CHECK_SECONDS", "Target", "check_reachable", "target_of"]

# A CLI user waits at a prompt: an unreachable server must say so within seconds, not after the
# library's default 60 s of retries meant for long-running services.
CLI_TIMEOUTS = Timeouts(connect=3.0, read=15.0, total=30.0)
CLI_RETRY = RetryPolicy(deadline=10.0)
CONNECT_CHECK_SECONDS = 3.0


@dataclass(frozen=True)
class Target:
    """Where the CLI sends: a REST base URL and the credentials to sign with.

    `origin` says where the URL came from (for hints); `instance` tags one run of an
    `aio-tim serve` whose state is in memory, so its store is not mixed with another run's.
    """

    url: str
    sdk_app_id: int
    secret_key: str
    admin: str
    origin: str = "--url"
    instance: str = ""
    store: bool = True

    def client(self, user_id: str, store_path: str | None = None) -> Client:
        """A Client for `user_id` that, on opening, first checks within seconds that the server
        is reachable: every command gets that."""
        return _CliClient(
            self,
            sdk_app_id=self.sdk_app_id,
            user_id=user_id,
            secret_key=self.secret_key,
            base_url=self.url,
            admin=self.admin,
            store_path=store_path or self.store_path(user_id),
            timeouts=CLI_TIMEOUTS,
            retry=CLI_RETRY,
            close_timeout=3.0,
        )

    def store_path(self, user_id: str) -> str:
        """The local store the CLI keeps for `user_id` here (":memory:" with --no-store)."""
        if not self.store:
            return ":memory:"
        endpoint = f"{self.url}#{self.instance}" if self.instance else self.url
        return str(default_store_path(self.sdk_app_id, user_id, endpoint))


class _CliClient(Client):
    """A Client whose `open` fails fast, with a hint, when nothing listens at the target."""

    def __init__(self, target: Target, **options: Any) -> None:
        super().__init__(**options)
        self._target = target

    async def open(self) -> None:
        await check_reachable(self._target)
        await super().open()


Records = tuple[list[records.ServeRecord], list[records.ServeRecord]]


def target_of(args: argparse.Namespace, found: Records | None = None) -> Target:
    """Flags and AIO_TIM_* first; the newest running `aio-tim serve`'s record fills the rest
    (`found`: `records.read_records()`, when the caller has read them already)."""
    live, stale = found or records.read_records()
    saved = live[0] if live else None
    url = args.url or (saved and saved.url)
    sdk_app_id = args.sdk_app_id or (saved and saved.sdk_app_id)
    secret_key = args.secret_key or (saved and saved.secret_key)
    if not (url and sdk_app_id and secret_key):
        gone = f" (the `aio-tim serve` at {stale[0].describe()} is no longer running)" if stale else ""
        raise CliError(
            f"no server given{gone}. Start one with `aio-tim serve`, or pass --url, "
            "--sdk-app-id and --secret-key (or AIO_TIM_URL, AIO_TIM_SDK_APP_ID, AIO_TIM_SECRET_KEY).",
            ExitCode.UNREACHABLE,
        )
    _check_url(url)
    admin = args.admin or (saved and saved.admin) or "administrator"
    from_record = saved is not None and not args.url
    origin = f"the `aio-tim serve` record {saved.path}" if saved and from_record else "--url"
    instance = saved.instance if saved and from_record else ""
    return Target(url, int(sdk_app_id), secret_key, admin, origin, instance, store=not args.no_store)


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        hint = f"; did you mean http://{url}?" if "://" not in url else ""
        raise CliError(f"--url {url!r} must start with http:// or https://{hint}")


async def check_reachable(target: Target) -> None:
    """Fail within seconds, with a hint, when nothing listens at the target (the library would
    keep retrying a refused connect for up to a minute: right for a service, not at a prompt)."""
    parts = urlsplit(target.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_CHECK_SECONDS)
    except (OSError, TimeoutError) as exc:
        reason = "no answer within 3 s" if isinstance(exc, TimeoutError) else _os_reason(exc)
        message = f"cannot reach {target.url} ({reason}): {_reach_hint(target)}"
        raise CliError(message, ExitCode.UNREACHABLE) from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, socket_gaierror):
        return "unknown host"
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def _reach_hint(target: Target) -> str:
    if target.origin == "--url":
        return "is the server running, and is --url (or AIO_TIM_URL) right?"
    return (
        f"the `aio-tim serve` of {target.origin} runs but does not answer; pass --url to use another server"
    )
