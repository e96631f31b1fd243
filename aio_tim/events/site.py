"""The TCP site `tim.listen()` serves webhooks on, guarded against clients that connect and dawdle.

- A connection without a complete request `idle_timeout` seconds after it opened (or after its last
  answer) is closed: aiohttp's keep-alive timer, as `aio-tim serve` sets it. Bytes do not reset it,
  so headers trickling in a line at a time are cut off too.
- At most `max_connections` are open; one more closes the oldest that is not handling a request.
  Slow clients exhaust file descriptors first (1,100 of them past a 1,024 limit leave none to accept
  TIM's connection with, and asyncio stops accepting for a second after each failed accept), so the
  cap defaults to well under the process's descriptor limit (`default_max_connections`); the
  connections kept are the busy ones and the newest, the ones most likely about to send a request.
- A body that does not arrive within the receiver's `body_timeout` is refused (`receiver.py`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

__all__ = ["IDLE_TIMEOUT", "BusyConnections", "GuardedSite", "default_max_connections"]

IDLE_TIMEOUT: Final = 15.0  # seconds, as `aio-tim serve`; TIM's callers keep idle connections for less
_MAX_CONNECTIONS: Final = 1000
_BACKLOG: Final = 128  # the most connections asyncio accepts in one go
_QUEUE: Final = 1024  # connections the kernel holds until they are accepted (capped by somaxconn)

log = logging.getLogger("aio_tim.events")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def default_max_connections() -> int:
    """Half of what the process's file-descriptor limit leaves after two bursts of accepts (asyncio
    accepts up to `_BACKLOG` connections before handing any over, and those closed to make room
    are let go a moment later), at most 1,000: the other half is room for the store, the client's own
    connections and the rest. 1,024 descriptors: 384 connections."""
    try:
        import resource  # POSIX only
    except ImportError:  # pragma: no cover (Windows)
        return _MAX_CONNECTIONS
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _MAX_CONNECTIONS
    return max(16, min(_MAX_CONNECTIONS, (soft - 2 * _BACKLOG) // 2))


class BusyConnections:
    """The connections handling a request right now; `watch` is the app middleware that knows."""

    def __init__(self) -> None:
        self._busy: set[object] = set()  # aiohttp's handlers take no weak references

    @web.middleware
    async def watch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        protocol = request.protocol
        self._busy.add(protocol)
        try:
            return await handler(request)
        finally:
            self._busy.discard(protocol)

    def __contains__(self, connection: object) -> bool:
        return connection in self._busy


class GuardedSite(web.BaseSite):
    """A TCP site that keeps at most `max_connections` open: to admit one more it closes the oldest
    connection that is not handling a request (`busy`, whose `watch` is among the app's
    middlewares): a request in progress is never cut off.
    """

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, *, max_connections: int, busy: BusyConnections
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        super().__init__(runner, backlog=_BACKLOG)
        self._host, self._port = host, port
        self._max_connections = max_connections
        self._busy = busy
        self.shed = 0

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, self._host, self._port, backlog=self._backlog)
        for listening in self._server.sockets:
            _deepen_queue(listening.fileno())

    def _accept(self) -> asyncio.BaseProtocol:
        server = self._runner.server
        assert server is not None
        alive = [handler for handler in server.connections if handler.transport is not None]
        excess = len(alive) - self._max_connections + 1
        if excess > 0:
            idle = (handler for handler in alive if handler not in self._busy)  # oldest first
            for handler in itertools.islice(idle, excess):
                handler.force_close()
                self.shed += 1
                if self.shed == 1:
                    log.warning(
                        "over %d webhook connections: closing the oldest idle ones", self._max_connections
                    )
        return server()


def _deepen_queue(fileno: int) -> None:
    """Let the kernel hold `_QUEUE` connections waiting to be accepted while asyncio still takes at
    most `_BACKLOG` at a time (it uses one number for both): when the queue is full the kernel drops
    the SYN, and the client (TIM) tries again only a second later."""
    with socket.socket(fileno=os.dup(fileno)) as listening:  # the same socket; closing the copy keeps it
        listening.listen(_QUEUE)
