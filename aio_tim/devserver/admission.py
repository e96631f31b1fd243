"""Admission control: the dev server's backlog is bounded, and work whose client left is dropped.

Every REST call that reads or writes the state waits for one writer lock. Without a bound, a
burst (say a few hundred batch sends that their clients cancelled at once) queues minutes of
work, and every caller times out behind it. `Admission` counts the calls waiting or running;
past `max_pending` a call is answered at once with TIM's "too frequent" 60018 (the client's
pipeline waits and retries: nothing was done). A call whose client disconnected while it
waited is dropped before it runs, as TIM drops a request whose connection is gone: the client
never saw an answer, so it resends with the same idempotency keys.

    admission = Admission(max_pending=256)
    async with admission.admit():               # 60018 when the backlog is full
        async with state.transaction():
            if client_gone(request):
                raise ClientGone                 # nothing runs, nothing is written
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from ..errors import error_for

__all__ = ["ERR_BUSY", "MAX_PENDING", "Admission", "ClientGone", "client_gone"]

ERR_BUSY: Final = 60018
MAX_PENDING: Final = 256


class ClientGone(Exception):
    """The caller disconnected before its call ran: there is no one to answer."""


def client_gone(request: web.BaseRequest) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


class Admission:
    """At most `max_pending` calls waiting for (or holding) the state; the rest get 60018 at once."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.max_pending = max_pending
        self.pending = 0
        self.refused = 0
        """Calls answered 60018 because the backlog was full."""
        self.abandoned = 0
        """Calls dropped because their client had gone when their turn came."""

    def __repr__(self) -> str:
        counts = f"refused={self.refused} abandoned={self.abandoned}"
        return f"<Admission pending={self.pending}/{self.max_pending} {counts}>"

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        if self.pending >= self.max_pending:
            self.refused += 1
            raise error_for(ERR_BUSY, f"server busy: {self.pending} calls waiting; retry later")
        self.pending += 1
        try:
            yield
        finally:
            self.pending -= 1

    def check_present(self, request: web.BaseRequest) -> None:
        """Raise ClientGone (and count it) if `request`'s client has disconnected."""
        if client_gone(request):
            self.abandoned += 1
            raise ClientGone
