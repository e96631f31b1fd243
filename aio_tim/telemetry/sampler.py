"""The outbox's and inbox's depths, read from the store every `sample_interval` seconds: an
observable gauge's callback runs in the metric reader's thread and may not await a query."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from . import names as n
from .core import Telemetry

__all__ = ["Sampler"]

log = logging.getLogger("aio_tim.telemetry")

OutboxCounts = Callable[[], Awaitable[dict[str, int]]]
Backlog = Callable[[str], Awaitable[int]]


class Sampler:
    """Samples `outbox()` (rows per state) and `backlog(consumer)` for each of `consumers()`."""

    def __init__(
        self,
        telemetry: Telemetry,
        outbox: OutboxCounts | None,
        backlog: Backlog | None,
        consumers: Callable[[], Iterable[str]],
    ) -> None:
        self._telemetry = telemetry
        self._outbox = outbox
        self._backlog = backlog
        self._consumers = consumers
        self._task: asyncio.Task[None] | None = None

    async def sample(self) -> None:
        """Read the depths once, for the next metric collection."""
        if self._outbox is not None:
            for state, count in (await self._outbox()).items():
                self._telemetry.set_gauge(n.OUTBOX_MESSAGES, count, **{n.OUTBOX_STATE: state})
        if self._backlog is None:
            return
        for consumer in list(self._consumers()):
            backlog = await self._backlog(consumer)
            self._telemetry.set_gauge(n.INBOX_BACKLOG, backlog, **{n.MESSAGING_CONSUMER_GROUP: consumer})

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as exc:  # a store hiccup must not end the sampling
                log.debug("telemetry sample failed: %s", type(exc).__name__)
            await asyncio.sleep(self._telemetry.sample_interval)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
