"""MessagePipeline: every outgoing REST call passes here on its way to the connection.

An operation moves through named stages, each bounded::

    submit ─► intake (≤ max_queued waiting; when full the caller waits, or PipelineFullError)
           ─► its conversation's lane (one at a time per order key, in submission order)
           ─► an in-flight slot (≤ max_in_flight)
           ─► the endpoint's token bucket (TIM's documented calls/s) ─► the connection
           ─► on failure: classify, then retry, wait out, or raise

Failures are classified before deciding (`classify`, RELIABILITY.md):

    NOT_SENT   the request never left (connect refused, DNS, connect timeout): retry freely
    THROTTLED  a frequency-limit code or HTTP 429/503: the server did nothing; wait and retry
    AMBIGUOUS  the server may have acted (reset after writing, timeout, garbled reply, 5xx):
               retry with the same idempotency keys, under `max_attempts` and the shared budget
    FATAL      anything else (auth, parameters, content, permission, unknown codes): raise

Backoff is full-jitter exponential with a cap, each call has a deadline, and a shared retry
budget (AWS "standard" mode) turns an outage into fast failures instead of a retry storm.

    async with MessagePipeline(conn.call) as pipeline:
        reply = await pipeline.submit(SendMsg(...), order_key=("c2c", "bob"))
        print(pipeline.statistics())
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Final

from .errors import ERR_TIMEOUT, RateLimitedError, TIMError, TransportError, UnreachableError
from .protocol import Envelope, Request
from .protocol.limits import RATE_LIMITS, Limits
from .seams import Limiter, pace_for

__all__ = [
    "RATE_LIMITS",
    "Failure",
    "LocalLimiter",
    "MessagePipeline",
    "PipelineClosedError",
    "PipelineFullError",
    "PipelineStatistics",
    "RetryBudget",
    "RetryPolicy",
    "TokenBucket",
    "classify",
]

log = logging.getLogger("aio_tim.pipeline")

Call = Callable[[Request], Awaitable[Envelope]]

ERR_QUEUE_FULL: Final = 9507  # ERR_SDK_NET_REQ_COUNT_LIMIT: too many requests outstanding
ERR_CLOSED: Final = 6013  # ERR_SDK_NOT_INITIALIZED: the client is closing or closed


class PipelineFullError(TIMError):
    """`submit(block=False)` found the queue at `max_queued`: nothing was queued or sent."""


class PipelineClosedError(TIMError, RuntimeError):
    """The pipeline is closing or closed: the operation was not (or not fully) carried out."""


# --- failure classification ---------------------------------------------------------------------


class Failure(enum.Enum):
    NOT_SENT = "not sent"
    THROTTLED = "throttled"
    AMBIGUOUS = "ambiguous"
    FATAL = "fatal"


def classify(error: TIMError) -> Failure:
    """What a failed attempt tells about the server's state, and so what may follow it."""
    # TransportError is a TransientError: test "never sent" before the retryable kinds.
    if isinstance(error, TransportError) and not error.sent:
        return Failure.NOT_SENT
    if isinstance(error, RateLimitedError):
        return Failure.THROTTLED
    if error.retryable:
        return Failure.AMBIGUOUS
    return Failure.FATAL


# --- policies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try; delays in seconds.

    `max_attempts` bounds attempts whose outcome was ambiguous (the server may have acted).
    Not-sent and throttled attempts are bounded only by `deadline`, counted from the first
    attempt: they cannot duplicate anything, and waiting them out is what loses nothing.

        Client(..., retry=RetryPolicy(max_attempts=6, max_delay=2.0, deadline=30.0))
    """

    max_attempts: int = 4
    base_delay: float = 0.05
    max_delay: float = 5.0
    throttled_base_delay: float = 1.0
    retry_after_cap: float = 30.0
    deadline: float = 60.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**retry)]."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2**retry))

    def throttle_delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """The server's Retry-After when it sent one (capped), else jitter from a ≥1 s base."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        return rng.uniform(0, min(self.max_delay, self.throttled_base_delay * 2**retry))


class RetryBudget:
    """A shared retry quota in the manner of AWS's standard retry mode.

    A retry costs tokens (more after a timeout); a first-try success refunds one and a
    successful retry gives back what it cost. An empty budget means calls fail fast instead of
    piling retries onto a struggling server, and it refills as the server recovers.
    """

    def __init__(self, capacity: int = 500, retry_cost: int = 5, timeout_cost: int = 10) -> None:
        self.capacity = capacity
        self.tokens = capacity
        self._retry_cost = retry_cost
        self._timeout_cost = timeout_cost

    def cost(self, error: TIMError) -> int:
        return self._timeout_cost if error.code == ERR_TIMEOUT else self._retry_cost

    def try_acquire(self, cost: int) -> bool:
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def release(self, cost: int = 1) -> None:
        self.tokens = min(self.capacity, self.tokens + cost)

    def __repr__(self) -> str:
        return f"<RetryBudget tokens={self.tokens}/{self.capacity}>"


class TokenBucket:
    """Paces calls to `rate` per second with bursts of at most `burst` calls.

    GCRA (virtual scheduling): `reserve` books the next free instant and answers how long to
    wait for it. Booking at call time keeps waiters first come, first served, costs O(1), and
    wakes no task early. A caller cancelled while waiting wastes its booking: a little under
    the rate, never over it.
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (max(burst, 1.0) - 1.0) * self._interval
        self._next = float("-inf")  # the theoretical arrival time of the next call

    def reserve(self, now: float) -> float:
        """Book a call; the seconds to wait before making it."""
        due = max(self._next, now)
        self._next = due + self._interval
        return max(0.0, due - self._tolerance - now)

    def __repr__(self) -> str:
        return f"<TokenBucket rate={self.rate:g}/s>"


class LocalLimiter:
    """The in-process `Limiter`: one `TokenBucket` per endpoint, paced under `limits`.

    `share` divides every limit (a worker standing in for 1/N of an app when the shared limiter
    is out of reach).

        limiter = LocalLimiter({"openim/sendmsg": 200}, margin=0.02)
        wait = await limiter.reserve("openim/sendmsg")
    """

    def __init__(
        self,
        limits: Limits | None,
        margin: float = 0.02,
        *,
        share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._margin = margin
        self._share = share
        self._clock = clock
        self._buckets: dict[str, TokenBucket | None] = {}

    def reserve_now(self, endpoint: str) -> float:
        """`reserve` without the coroutine (what `reserve` does)."""
        try:
            bucket = self._buckets[endpoint]
        except KeyError:
            bucket = self._buckets[endpoint] = self._new_bucket(endpoint)
        return 0.0 if bucket is None else bucket.reserve(self._clock())

    async def reserve(self, endpoint: str) -> float:
        return self.reserve_now(endpoint)

    async def aclose(self) -> None:
        return None

    def _new_bucket(self, endpoint: str) -> TokenBucket | None:
        pace = pace_for(endpoint, self._limits, self._margin)
        if pace is None:
            return None
        rate, burst = pace
        return TokenBucket(rate=rate * self._share, burst=max(1.0, burst * self._share))

    def __repr__(self) -> str:
        return f"<LocalLimiter endpoints={len(self._buckets)} share={self._share:g}>"


# --- waiting in line ----------------------------------------------------------------------------


class _Gate:
    """`places` holders at a time; the others wait first come, first served.

    A freed place is handed straight to the first live waiter, so a newcomer never overtakes
    the line; `fail_waiters` wakes every waiter with an error (closing gave up on them).
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, places: int) -> None:
        self._free = places
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_enter(self) -> bool:
        if self._free > 0:
            self._free -= 1
            return True
        return False

    async def enter(self) -> None:
        if self.try_enter():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.leave()  # the place reached us as we were cancelled: pass it on
            raise

    def leave(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    def fail_waiters(self, error: Callable[[], BaseException]) -> int:
        failed = 0
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error())
                failed += 1
        return failed


class _Lane:
    """The calls of one order key: one at a time, dropped when its last user leaves."""

    __slots__ = ("gate", "users")

    def __init__(self) -> None:
        self.gate = _Gate(1)
        self.users = 0


class _Op:
    """One submitted operation and where it is."""

    __slots__ = ("done_codes", "queued", "request")

    def __init__(self, request: Request, done_codes: frozenset[int]) -> None:
        self.request = request
        self.done_codes = done_codes
        self.queued = True


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
    ) -> None:
        if max_in_flight < 1 or max_queued < 1:
            raise ValueError("max_in_flight and max_queued must be at least 1")
        self._call = call
        self._max_queued = max_queued
        self._intake = _Gate(max_queued)
        self._slots = _Gate(max_in_flight)
        self._lanes: dict[Hashable, _Lane] = {}
        self._local = LocalLimiter(limits, limit_margin, clock=clock) if limiter is None else None
        self._limiter = limiter
        self._retry = retry
        self._budget = budget or RetryBudget()
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep
        self._closing = False
        self._aborted = asyncio.Event()
        self._idle = asyncio.Event()
        self._budget_empty = False
        self._queued = self._peak_queued = self._blocked = self._in_flight = 0
        self._sent = self._retried = self._throttled = self._failed = 0
        self._ambiguous = self._not_sent = 0

    # --- observing -------------------------------------------------------------------------------

    @property
    def outstanding(self) -> int:
        """How many operations are queued or in flight right now (0: the pipeline is idle)."""
        return self._busy()

    def statistics(self) -> PipelineStatistics:
        return PipelineStatistics(
            queued=self._queued,
            peak_queued=self._peak_queued,
            blocked=self._blocked,
            in_flight=self._in_flight,
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
            f"<MessagePipeline queued={self._queued} in_flight={self._in_flight} "
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
    ) -> Envelope:
        """Deliver `request`; with an `order_key`, after every earlier call with the same key.

        When `max_queued` operations are already waiting, wait for room (or, with
        `block=False`, raise PipelineFullError). `done_codes` are errors that mean "already
        done" (e.g. 20023 already recalled): after an ambiguous attempt they prove it worked,
        so a retry answering one of them is a success.

            reply = await pipeline.submit(SendMsg(...), order_key=(ConvType.C2C, "bob"))
        """
        await self._enter(block)
        op = _Op(request, done_codes)
        try:
            return await self._in_lane(op, order_key)
        except TIMError:
            self._failed += 1
            raise
        finally:
            if op.queued:
                self._leave_queue()
            self._settle()

    async def _enter(self, block: bool) -> None:
        """Take a place in the queue (the intake stage)."""
        if self._closing:
            raise PipelineClosedError(ERR_CLOSED, "the pipeline is closed: nothing more is accepted")
        if not self._intake.try_enter():
            if not block:
                raise PipelineFullError(ERR_QUEUE_FULL, f"{self._max_queued} operations already queued")
            self._blocked += 1
            try:
                await self._intake.enter()
            finally:
                self._blocked -= 1
        self._queued += 1
        self._peak_queued = max(self._peak_queued, self._queued)

    def _leave_queue(self) -> None:
        self._queued -= 1
        self._intake.leave()

    async def _in_lane(self, op: _Op, order_key: Hashable | None) -> Envelope:
        if order_key is None:
            return await self._in_slot(op)
        lane = self._lanes.get(order_key)
        if lane is None:
            lane = self._lanes[order_key] = _Lane()
        lane.users += 1
        try:
            await lane.gate.enter()  # FIFO: the order of submission is the order of sending
            try:
                return await self._in_slot(op)
            finally:
                lane.gate.leave()
        finally:
            lane.users -= 1
            if lane.users == 0:
                del self._lanes[order_key]

    async def _in_slot(self, op: _Op) -> Envelope:
        await self._slots.enter()
        op.queued = False
        self._leave_queue()
        self._in_flight += 1
        try:
            return await self._with_retries(op)
        finally:
            self._in_flight -= 1
            self._slots.leave()

    # --- attempts --------------------------------------------------------------------------------

    async def _with_retries(self, op: _Op) -> Envelope:
        tries = _Tries(self._clock())
        attempt = 0
        while True:
            await self._pace(op.request.endpoint)
            attempt += 1
            # Timed only when DEBUG is on: the hot path stays as it was.
            started = time.perf_counter() if log.isEnabledFor(logging.DEBUG) else 0.0
            try:
                reply = await self._call(op.request)
            except TIMError as error:
                if started:
                    _log_call(op.request.endpoint, error.code, attempt, started)
                if tries.maybe_done and error.code in op.done_codes:
                    return self._succeeded(tries, Envelope())
                await self._before_retry(op, tries, error)
                continue
            if started:
                _log_call(op.request.endpoint, 0, attempt, started)
            return self._succeeded(tries, reply)

    def _succeeded(self, tries: _Tries, reply: Envelope) -> Envelope:
        self._sent += 1
        self._budget.release(tries.retry_cost or 1)
        return reply

    async def _before_retry(self, op: _Op, tries: _Tries, error: TIMError) -> None:
        """Wait before the next attempt, or raise `error` when there is to be none."""
        delay = self._retry_delay(op.request, tries, error)
        if delay is None or self._aborted.is_set():
            raise error
        self._retried += 1
        if log.isEnabledFor(logging.INFO):
            kind = classify(error).value
            log.info("retrying %s in %.3fs after %s (%s)", op.request.endpoint, delay, error, kind)
        await self._pause(delay)
        if self._aborted.is_set():
            raise PipelineClosedError(ERR_CLOSED, f"{op.request.endpoint}: closed before a retry") from error

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
            turned_away = self._intake.fail_waiters(_closed_error)
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
        for lane in self._lanes.values():
            lane.gate.fail_waiters(_closed_error)
        self._slots.fail_waiters(_closed_error)

    def _busy(self) -> int:
        return self._queued + self._in_flight

    def _settle(self) -> None:
        if self._closing and not self._busy():
            self._idle.set()


def _log_call(endpoint: str, code: int, attempt: int, started: float) -> None:
    """One DEBUG line per REST call: endpoint, TIM code (0 = ok), attempt, duration. Never the
    URL: its query carries the UserSig."""
    elapsed = (time.perf_counter() - started) * 1000
    log.debug("%s code=%d attempt=%d %.1fms", endpoint, code, attempt, elapsed)


def _closed_error() -> PipelineClosedError:
    return PipelineClosedError(ERR_CLOSED, "the pipeline closed before this operation was sent")
