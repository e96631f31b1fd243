"""Logging without secrets. The UserSig travels in the query string, which aiohttp's default
access log prints and its parse-error tracebacks quote (e.g. an over-long request line)."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

__all__ = ["RedactedAccessLogger", "redact", "server_logger"]

_USERSIG: Final = re.compile(r"(usersig=)[^&\s'\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with the value of every `usersig=` parameter replaced."""
    return _USERSIG.sub(r"\1<redacted>", text)


class RedactedAccessLogger(AbstractAccessLogger):
    """Logs peer, method, path (never the query string), status and duration."""

    @property
    def enabled(self) -> bool:
        # Skips formatting entirely on a busy server whose access log is off.
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %d %.1fms",
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


class _RedactUserSig(logging.Filter):
    """Rewrites a record, traceback included, with every UserSig redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        record.msg, record.args = redact(text), ()
        record.exc_info = record.exc_text = None
        return True


def server_logger() -> logging.Logger:
    """The logger for aiohttp's request handler (errors while parsing or serving requests)."""
    logger = logging.getLogger("aio_tim.devserver.http")
    if not any(isinstance(f, _RedactUserSig) for f in logger.filters):
        logger.addFilter(_RedactUserSig())
    return logger
