"""The one place aiohttp's exceptions and HTTP statuses become `TIMError`s.

The texts name the endpoint and the failure, never the URL: the URL's query carries the UserSig.
Whether the request may have reached the server decides `sent`: a failed connect did not send
anything, so retrying it can never duplicate a message.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable

import aiohttp

from ..errors import (
    ERR_BAD_REPLY,
    ERR_TIMEOUT,
    ERR_TRANSPORT,
    RateLimitedError,
    TIMError,
    TransientError,
    TransportError,
    UnreachableError,
)

__all__ = [
    "RetryAfterError",
    "parse_retry_after",
    "reply_error",
    "status_error",
    "transport_error",
    "unreachable_error",
]

_THROTTLED_STATUSES = frozenset({429, 503})


def transport_error(endpoint: str, exc: BaseException) -> TransportError:
    """Map an aiohttp/asyncio exception raised while calling `endpoint`."""
    # Order matters: ClientConnectorError is a ClientOSError, and ConnectionTimeoutError is a
    # ServerTimeoutError; test the not-sent kinds first.
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportError(ERR_TRANSPORT, f"{endpoint}: cannot connect ({_reason(exc)})", sent=False)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportError(ERR_TIMEOUT, f"{endpoint}: connect timed out", sent=False)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return TransportError(ERR_TIMEOUT, f"{endpoint}: no reply in time")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TransportError(ERR_BAD_REPLY, f"{endpoint}: reply body cut short")
    return TransportError(ERR_TRANSPORT, f"{endpoint}: connection lost ({_reason(exc)})")


def unreachable_error(endpoint: str, host: str, exc: BaseException) -> TransportError:
    """`exc` seen before the server ever answered: a connect failure names the host and is final."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = _reason(exc)
    elif isinstance(exc, aiohttp.ConnectionTimeoutError):
        reason = "connect timed out"
    else:  # the connection was made: the request may have reached the server
        return transport_error(endpoint, exc)
    return UnreachableError(
        f"{endpoint}: cannot reach {host} ({reason}); nothing was sent: check base_url and the network"
    )


class RetryAfterError(RateLimitedError):
    """HTTP 429/503 that said when to come back: `retry_after` seconds (the pipeline waits that
    long, capped, before retrying)."""

    def __init__(self, code: int, desc: str = "", *, retry_after: float = 0.0) -> None:
        super().__init__(code, desc)
        self.retry_after = retry_after


def status_error(endpoint: str, status: int, retry_after: float | None = None) -> TIMError:
    """A non-200 HTTP status (TIM answers 200 even for failures; others come from proxies)."""
    if status in _THROTTLED_STATUSES:
        desc = f"{endpoint}: HTTP {status}"
        if retry_after is not None:
            return RetryAfterError(60007, desc, retry_after=retry_after)
        return RateLimitedError(60007, desc)
    if status >= 500:
        return TransientError(60008, f"{endpoint}: HTTP {status}")
    return TIMError(60002, f"{endpoint}: HTTP {status}")


def parse_retry_after(value: str | None, clock: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP-date; None when unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock())


def reply_error(endpoint: str, detail: str) -> TransportError:
    """A 200 reply that is not a TIM envelope of the expected shape."""
    return TransportError(ERR_BAD_REPLY, f"{endpoint}: malformed reply ({detail})")


def _reason(exc: BaseException) -> str:
    # OSError carries a clean strerror; other aiohttp errors are named by their class.
    os_error = getattr(exc, "os_error", None)
    strerror = getattr(os_error, "strerror", None) or getattr(exc, "strerror", None)
    return str(strerror) if strerror else type(exc).__name__
