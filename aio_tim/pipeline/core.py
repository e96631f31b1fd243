"""`MessagePipeline`: every outgoing REST call passes here on its way to the connection.

The stages, the policies and the failure classes are described in the package docstring
(`aio_tim.pipeline`); this module strings them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from ..errors import TIMError, UnreachableError
from ..protocol import Envelope, Request
from ..protocol.limits import RATE_LIMITS, Limits
from ..seams import Limiter
from ..telemetry import ATTEMPT, Telemetry
from .dispatch import RUNNING, Dispatcher, Ticket
from .failures import (
    ERR_CLOSED,
    ERR_QUEUE_FULL,
    Failure,
    PipelineClosedError,
    PipelineFullError,
    classify,
    closed_error,
)
from .pacing import LocalLimiter
from .policy import RetryBudget, RetryPolicy

__all__ = ["Call", "MessagePipeline", "PipelineStatistics"]

# The documented logger name (docs/logging.md), not this module's.
log = logging.getLogger("aio_tim.pipeline")

Call = Callable[[Request], Awaitable[Envelope]]


class _Tries:
    """The retry state of one operation."""

    __slots__ = ("ambiguous", "maybe_done", "not_sent", "retry_cost", "started", "throttled")

    def __init__(self, started: float) -> None:
        self.started = started
        self.ambiguous = self.not_sent = self.throttled = self.retry_cost = 0
        self.maybe_done = False  # an earlier attempt may have reached the server


@dataclass(frozen=True)
class PipelineStatistics:
    """A snapshot: operations waiting (`queued`, and `blocked` callers waiting for queue space),
    `in_flight`, and counters since the start (`retried`, `throttled`, `ambiguous` and
    `not_sent` count attempts; `sent` and `failed` count operations)."""

    queued: int
    peak_queued: int
    blocked: int
    in_flight: int
    sent: int
    retried: int
    throttled: int
    failed: int
    ambiguous: int
    not_sent: int


# --- the pipeline -------------------------------------------------------------------------------


class MessagePipeline:
    """Bounded, paced, ordered, retrying delivery of REST calls to `call` (the connection's).

    `limits` maps endpoints to calls per second over TIM's documented table (`"*"`: every
    endpoint not named; None or 0: unlimited; `limits=None`: no limits at all). Each limit is
    paced `limit_margin` below the ceiling, with a burst of the same size, so that no
    one-second window of the server ever sees more than the limit. A `limiter` (e.g. one shared
    through Redis, `aio_tim.coordination`) replaces the in-process buckets. Time (`clock`,
    `sleep`) and randomness (`rng`) are injectable.

        async with MessagePipeline(conn.call, limits={"openim/sendmsg": 100}) as pipeline:
            reply = await pipeline.submit(SendMsg(...), order_key=(ConvType.C2C, "bob"))
            print(pipeline.statistics().sent)
    """

    def __init__(
        self,
        call: Call,
        *,
        max_in_flight: int = 64,
        max_queued: int = 10_000,
        limits: Limits | None = RATE_LIMITS,
        limit_margin: float = 0.02,
        limiter: Limiter | None = None,
        retry: RetryPolicy = RetryPolicy(),
        budget: RetryBudget | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        telemetry: Telemetry | None = None,
    ) -> None:
        if max_in_flight < 1 or max_queued < 1:
            raise ValueError("max_in_flight and max_queued must be at least 1")
        self._call = call
        self._max_queued = max_queued
        self._line = Dispatcher(places=max_queued, slots=max_in_flight)
        self._local = LocalLimiter(limits, limit_margin, clock=clock) if limiter is None else None
        self._limiter = limiter
        self._retry = retry
        self._budget = budget or RetryBudget()
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep
        self._telemetry = telemetry or Telemetry(enabled=False)
        self._closing = False
        self._aborted = asyncio.Event()
        self._idle = asyncio.Event()
        self._budget_empty = False
        self._peak_queued = 0
        self._sent = self._retried = self._throttled = self._failed = 0
        self._ambiguous = self._not_sent = 0

    # --- observing -------------------------------------------------------------------------------

    @property
    def outstanding(self) -> int:
        """How many operations are queued or in flight right now (0: the pipeline is idle)."""
        return self._busy()

    def statistics(self) -> PipelineStatistics:
        return PipelineStatistics(
            queued=self._line.queued,
            peak_queued=max(self._peak_queued, self._line.queued),
            blocked=self._line.blocked,
            in_flight=self._line.in_flight,
            sent=self._sent,
            retried=self._retried,
            throttled=self._throttled,
            failed=self._failed,
            ambiguous=self._ambiguous,
            not_sent=self._not_sent,
        )

    @property
    def closed(self) -> bool:
        """True once `aclose` has begun: new submits are refused."""
        return self._closing

    def __repr__(self) -> str:
        return (
            f"<MessagePipeline queued={self._line.queued} in_flight={self._line.in_flight} "
            f"sent={self._sent} closed={self._closing}>"
        )

    # --- submitting ------------------------------------------------------------------------------

    async def submit(
        self,
        request: Request,
        *,
        order_key: Hashable | None = None,
        done_codes: frozenset[int] = frozenset(),
        block: bool = True,
        on_start: Callable[[], None] | None = None,
    ) -> Envelope:
        """Deliver `request`; with an `order_key`, after every earlier call with the same key.

        When `max_queued` operations are already waiting, wait for room (or, with
        `block=False`, raise PipelineFullError). `done_codes` are errors that mean "already
        done" (e.g. 20023 already recalled): after an ambiguous attempt they prove it worked,
        so a retry answering one of them is a success. `on_start` is called once the request
        leaves the queue for its first attempt: until then, cancelling the call sends nothing.

            reply = await pipeline.submit(SendMsg(...), order_key=(ConvType.C2C, "bob"))
        """
        ticket = self._admit(order_key, block)
        try:
            if ticket.stage != RUNNING:
                # Parked on one future right here, not in a coroutine below: a pending call holds
                # its ticket, its future and this frame, and is woken once, when it may go.
                await ticket.park()
            if on_start is not None:
                on_start()
            return await self._with_retries(request, done_codes)
        except TIMError:
            self._failed += 1
            raise
        finally:
            self._leave(ticket)

    def _admit(self, order_key: Hashable | None, block: bool) -> Ticket:
        """Take a place in the queue (or in line for one), or raise."""
        if self._closing:
            raise PipelineClosedError(ERR_CLOSED, "the pipeline is closed: nothing more is accepted")
        ticket = Ticket(order_key)
        if not self._line.admit(ticket, wait=block):
            raise PipelineFullError(ERR_QUEUE_FULL, f"{self._max_queued} operations already queued")
        if self._line.queued > self._peak_queued:
            self._peak_queued = self._line.queued
        return ticket

    def _leave(self, ticket: Ticket) -> None:
        if ticket.stage == RUNNING:
            self._line.finish(ticket)
        else:  # cancelled or failed while waiting
            self._line.withdraw(ticket)
        self._settle()

    # --- attempts --------------------------------------------------------------------------------

    async def _with_retries(self, request: Request, done_codes: frozenset[int]) -> Envelope:
        tries = _Tries(self._clock())
        attempt = 0
        error: TIMError | None = None
        while True:
            await self._pace(request.endpoint)
            attempt += 1
            if self._telemetry.active:  # the attempt's span says which try it is, and why
                ATTEMPT.set((attempt, classify(error).value if error is not None else ""))
            # Timed only when DEBUG is on: the hot path stays as it was.
            started = time.perf_counter() if log.isEnabledFor(logging.DEBUG) else 0.0
            try:
                reply = await self._call(request)
            except TIMError as failed:
                error = failed
                if started:
                    _log_call(request.endpoint, error.code, attempt, started)
                if tries.maybe_done and error.code in done_codes:
                    return self._succeeded(tries, Envelope())
                await self._before_retry(request, tries, error)
                continue
            if started:
                _log_call(request.endpoint, 0, attempt, started)
            return self._succeeded(tries, reply)

    def _succeeded(self, tries: _Tries, reply: Envelope) -> Envelope:
        self._sent += 1
        self._budget.release(tries.retry_cost or 1)
        return reply

    async def _before_retry(self, request: Request, tries: _Tries, error: TIMError) -> None:
        """Wait before the next attempt, or raise `error` when there is to be none."""
        delay = self._retry_delay(request, tries, error)
        if delay is None or self._aborted.is_set():
            raise error
        self._retried += 1
        if self._telemetry.active:
            self._telemetry.retrying(classify(error).value, error.code, delay)
        if log.isEnabledFor(logging.INFO):
            kind = classify(error).value
            log.info("retrying %s in %.3fs after %s (%s)", request.endpoint, delay, error, kind)
        await self._pause(delay)
        if self._aborted.is_set():
            raise PipelineClosedError(ERR_CLOSED, f"{request.endpoint}: closed before a retry") from error

    def _retry_delay(self, request: Request, tries: _Tries, error: TIMError) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if isinstance(error, UnreachableError):
            # Never reached since we opened: the caller hears it now. It is still NOT_SENT, so the
            # outboxes keep such a row queued for later rather than failing it.
            return None
        kind = classify(error)
        if kind is Failure.FATAL:
            return None
        if kind is Failure.THROTTLED:
            self._throttled += 1
            tries.throttled += 1
            retry_after: float | None = getattr(error, "retry_after", None)
            delay = self._retry.throttle_delay(tries.throttled - 1, retry_after, self._rng)
        elif kind is Failure.NOT_SENT:
            self._not_sent += 1
            tries.not_sent += 1
            delay = self._retry.backoff(tries.not_sent, self._rng)
        else:
            self._ambiguous += 1
            tries.maybe_done = True
            tries.ambiguous += 1
            if tries.ambiguous >= self._retry.max_attempts:
                return None
            delay = self._retry.backoff(tries.ambiguous, self._rng)
        if self._clock() + delay - tries.started > self._retry.deadline:
            return None
        if kind is Failure.AMBIGUOUS and not self._spend_budget(request, tries, error):
            return None
        return delay

    def _spend_budget(self, request: Request, tries: _Tries, error: TIMError) -> bool:
        cost = self._budget.cost(error)
        if self._budget.try_acquire(cost):
            tries.retry_cost = cost
            self._budget_empty = False
            return True
        if not self._budget_empty:  # say it once per outage, not once per call
            log.warning("retry budget exhausted: calls fail fast (first: %s)", request.endpoint)
            self._budget_empty = True
        return False

    async def _pace(self, endpoint: str) -> None:
        """Wait for the endpoint's token bucket: stay under TIM's frequency limit."""
        if self._local is not None:  # the in-process buckets, without a coroutine per call
            wait = self._local.reserve_now(endpoint)
        else:
            assert self._limiter is not None
            wait = await self._limiter.reserve(endpoint)
        if wait > 0:
            await self._sleep(wait)

    async def _pause(self, delay: float) -> None:
        """Sleep before a retry; cut short when closing gives up on unfinished work."""
        sleeper = asyncio.ensure_future(self._sleep(delay))
        aborted = asyncio.ensure_future(self._aborted.wait())
        try:
            await asyncio.wait((sleeper, aborted), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            aborted.cancel()

    # --- closing ---------------------------------------------------------------------------------

    async def __aenter__(self) -> MessagePipeline:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # `timeout` is a drain budget that ends in a count, not a cancel scope: ASYNC109 does not apply.
    async def aclose(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """Stop intake, let queued and in-flight work finish for up to `timeout` seconds, and
        return how many operations did not finish (each of those callers gets an error).

            unfinished = await pipeline.aclose(timeout=5)
        """
        turned_away = 0
        if not self._closing:
            self._closing = True
            turned_away = self._line.fail_blocked(closed_error)
        unfinished = turned_away + await self._drain(timeout)
        if unfinished:
            log.warning("pipeline closed with %d operations unfinished", unfinished)
            self._abort()
        return unfinished

    async def _drain(self, seconds: float) -> int:
        if self._busy():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), seconds)
        return self._busy()

    def _abort(self) -> None:
        """Give up on what is left: waiters raise PipelineClosedError, retries stop."""
        self._aborted.set()
        self._line.fail_queued(closed_error)

    def _busy(self) -> int:
        return self._line.queued + self._line.in_flight

    def _settle(self) -> None:
        if self._closing and not self._busy():
            self._idle.set()


def _log_call(endpoint: str, code: int, attempt: int, started: float) -> None:
    """One DEBUG line per REST call: endpoint, TIM code (0 = ok), attempt, duration. Never the
    URL: its query carries the UserSig."""
    elapsed = (time.perf_counter() - started) * 1000
    log.debug("%s code=%d attempt=%d %.1fms", endpoint, code, attempt, elapsed)
