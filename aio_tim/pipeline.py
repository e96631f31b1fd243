"""MessagePipeline: every outgoing REST call passes here on its way to the connection.

It bounds concurrency, keeps sends to one conversation in submission order, and retries only what
is safe to retry: a call that never left (connect failed), a throttled call (the server did
nothing), or an ambiguous one whose request carries fixed idempotency keys (`MsgRandom`, `Random`)
so the server can drop the duplicate. Backoff is full-jitter exponential with a cap, each call
has a deadline, and a shared retry budget stops an outage from turning into a retry storm.

    pipeline = MessagePipeline(conn.call)
    reply = await pipeline.submit(SendMsg(...), order_key=("c2c", "bob"))
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from .errors import RateLimitedError, TIMError, TransportError
from .protocol import Envelope, Request

__all__ = ["MessagePipeline", "PipelineStatistics", "RetryBudget", "RetryPolicy"]

log = logging.getLogger("aio_tim.pipeline")

Call = Callable[[Request], Awaitable[Envelope]]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per call, backoff (seconds) and a deadline per call."""

    max_attempts: int = 4
    base_delay: float = 0.05
    throttled_base_delay: float = 1.0
    max_delay: float = 5.0
    deadline: float = 60.0

    def delay(self, attempt: int, error: TIMError, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        base = self.throttled_base_delay if isinstance(error, RateLimitedError) else self.base_delay
        return rng.uniform(0, min(self.max_delay, base * 2**attempt))


class RetryBudget:
    """A shared token bucket in the manner of AWS's standard retry mode.

    A retry costs tokens (more after a timeout), a success refunds a little; an empty bucket
    means calls fail fast instead of piling retries onto a struggling server.
    """

    def __init__(self, capacity: int = 500, retry_cost: int = 5, timeout_cost: int = 10) -> None:
        self.capacity = capacity
        self.tokens = capacity
        self._retry_cost = retry_cost
        self._timeout_cost = timeout_cost

    def try_acquire(self, error: TIMError) -> bool:
        cost = self._timeout_cost if isinstance(error, TransportError) else self._retry_cost
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def refund(self) -> None:
        self.tokens = min(self.capacity, self.tokens + 1)

    def __repr__(self) -> str:
        return f"<RetryBudget tokens={self.tokens}/{self.capacity}>"


class _Lane:
    """The calls of one order key: a FIFO lock, dropped when its last user leaves."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


@dataclass(frozen=True)
class PipelineStatistics:
    queued: int
    in_flight: int
    sent: int
    retried: int
    throttled: int
    failed: int


class MessagePipeline:
    """Bounded, ordered, retrying delivery of REST calls to `call` (the connection's)."""

    def __init__(
        self,
        call: Call,
        *,
        max_in_flight: int = 64,
        retry: RetryPolicy = RetryPolicy(),
        budget: RetryBudget | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._call = call
        self._slots = asyncio.Semaphore(max_in_flight)
        self._retry = retry
        self._budget = budget or RetryBudget()
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep
        self._order_lanes: dict[Hashable, _Lane] = {}
        self._waiting = 0
        self._in_flight = 0
        self._sent = self._retried = self._throttled = self._failed = 0

    def statistics(self) -> PipelineStatistics:
        return PipelineStatistics(
            queued=self._waiting,
            in_flight=self._in_flight,
            sent=self._sent,
            retried=self._retried,
            throttled=self._throttled,
            failed=self._failed,
        )

    def __repr__(self) -> str:
        return f"<MessagePipeline queued={self._waiting} in_flight={self._in_flight} sent={self._sent}>"

    async def submit(
        self,
        request: Request,
        *,
        order_key: Hashable | None = None,
        done_codes: frozenset[int] = frozenset(),
    ) -> Envelope:
        """Deliver `request`; with an `order_key`, after every earlier call with the same key.

        `done_codes` are errors that mean "already done" (e.g. 20023 already recalled): after an
        ambiguous first attempt they prove the first attempt worked, so a retry answering one
        of them is a success.
        """
        if order_key is None:
            return await self._deliver(request, done_codes)
        lane = self._order_lanes.get(order_key)
        if lane is None:
            lane = self._order_lanes[order_key] = _Lane()
        lane.users += 1
        try:
            async with lane.lock:  # asyncio.Lock wakes waiters first-in, first-out
                return await self._deliver(request, done_codes)
        finally:
            lane.users -= 1
            if lane.users == 0:
                del self._order_lanes[order_key]

    async def _deliver(self, request: Request, done_codes: frozenset[int]) -> Envelope:
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self._in_flight += 1
        try:
            return await self._with_retries(request, done_codes)
        finally:
            self._in_flight -= 1
            self._slots.release()

    async def _with_retries(self, request: Request, done_codes: frozenset[int]) -> Envelope:
        started = self._clock()
        attempt = 0
        maybe_done = False  # an earlier attempt may have reached the server
        while True:
            try:
                reply = await self._call(request)
            except TIMError as error:
                if maybe_done and error.code in done_codes:
                    self._sent += 1
                    return Envelope()
                maybe_done = maybe_done or _ambiguous(error)
                attempt += 1
                delay = self._retry_delay(request, error, attempt, started)
                if delay is None:
                    self._failed += 1
                    raise
                await self._sleep(delay)
                continue
            self._sent += 1
            self._budget.refund()
            return reply

    def _retry_delay(self, request: Request, error: TIMError, attempt: int, started: float) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise."""
        if isinstance(error, RateLimitedError):
            self._throttled += 1
        if not error.retryable or attempt >= self._retry.max_attempts:
            return None
        delay = self._retry.delay(attempt, error, self._rng)
        if self._clock() + delay - started > self._retry.deadline:
            return None
        if not self._budget.try_acquire(error):
            log.warning("retry budget exhausted; %s fails fast", request.endpoint)
            return None
        self._retried += 1
        log.debug("retrying %s in %.3fs after %r", request.endpoint, delay, error)
        return delay


def _ambiguous(error: TIMError) -> bool:
    """True when the failed attempt may still have been carried out by the server."""
    return isinstance(error, TransportError) and error.sent
