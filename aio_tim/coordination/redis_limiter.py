"""`RedisLimiter`: TIM's per-app limits shared by every worker, booked in Redis with one script.

GCRA (virtual scheduling) on Redis's clock: a key per app and endpoint holds the theoretical
arrival time of the next call (the script touches that key only, so it runs on a Redis Cluster
as is, each endpoint on its own slot); one atomic script books `count` consecutive slots and answers how
long to wait for the first. A worker under load books several slots per round trip (never more
than its callers waiting, up to `max_batch`), so a send costs at most one round trip, usually a
fraction of one. Booked slots a worker leaves unused are lost to the app: a little under the
limit, never over it.

When Redis cannot be reached the limiter falls back to in-process buckets at limit/`workers`,
logs it once, and probes Redis again every `probe_interval` seconds until it answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from redis.exceptions import RedisError

from ..pipeline import LocalLimiter
from ..protocol.limits import Limits
from .base import pace_for
from .redis_shards import AnyRedis

__all__ = ["LimiterStatistics", "RedisLimiter"]

log = logging.getLogger("aio_tim.coordination")

STALE_AFTER: Final = 0.25  # a booked slot this far in the past is dropped, not bunched with newer ones

MAX_WAIT: Final = 60.0  # seconds: no booking lies further ahead (a call's retry deadline)

# KEYS[1]: the endpoint's key. ARGV: interval and tolerance (µs), slots to book, the furthest a
# booking may lie ahead (µs). Returns {µs to wait before the first booked slot (negative: no
# wait), 1 if the key held no sane instant (garbage, NaN, beyond the furthest) and was reset}.
GCRA_SCRIPT: Final = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stored = redis.call('GET', KEYS[1])
local tat = tonumber(stored)
local repaired = 0
if stored and (tat == nil or tat ~= tat or tat > now + tonumber(ARGV[4])) then
  tat = now
  repaired = 1
end
if tat == nil or tat < now then tat = now end
local after = tat + count * interval
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000) + 1000)
return {tat - tolerance - now, repaired}
"""


@dataclass(frozen=True)
class LimiterStatistics:
    """Counters since the start: Redis `round_trips`, slots `granted` by them, calls paced
    locally while Redis was out of reach (`degraded_calls`), and whether it is `degraded` now."""

    round_trips: int
    granted: int
    degraded_calls: int
    degraded: bool


class _Endpoint:
    """One endpoint's booked slots (local monotonic times) and the booking in progress."""

    __slots__ = ("fetch", "interval", "slots", "tolerance", "waiting")

    def __init__(self, rate: float, burst: float) -> None:
        self.interval = round(1_000_000 / rate)
        self.tolerance = round((burst - 1.0) * 1_000_000 / rate)
        self.slots: deque[float] = deque()
        self.fetch: asyncio.Future[None] | None = None
        self.waiting = 0


class RedisLimiter:
    """The `Limiter` of `RedisCoordinator`: slots booked in Redis, keyed by app and endpoint.

    limiter = RedisLimiter(redis, "aio_tim:limit:1400000000", RATE_LIMITS, workers=4)
    wait = await limiter.reserve("openim/sendmsg")
    """

    def __init__(
        self,
        redis: AnyRedis,
        key_prefix: str,
        limits: Limits | None,
        margin: float = 0.02,
        *,
        workers: int = 1,
        max_batch: int = 8,
        probe_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        max_wait: float = MAX_WAIT,
    ) -> None:
        if workers < 1 or max_batch < 1 or max_wait <= 0:
            raise ValueError("workers and max_batch must be at least 1, max_wait positive")
        self._max_wait = max_wait
        self._repaired: set[str] = set()  # endpoints whose key was reset (logged once each)
        self._key_prefix = key_prefix
        self._workers = workers
        self._limits = limits
        self._margin = margin
        self._max_batch = max_batch
        self._probe_interval = probe_interval
        self._clock = clock
        self._script = redis.register_script(GCRA_SCRIPT)
        self._local = LocalLimiter(limits, margin, share=1.0 / workers, clock=clock)
        self._endpoints: dict[str, _Endpoint | None] = {}
        self._retry_at: float | None = None  # while degraded: when to ask Redis again
        self._round_trips = self._granted = self._degraded_calls = 0

    def statistics(self) -> LimiterStatistics:
        return LimiterStatistics(
            self._round_trips, self._granted, self._degraded_calls, self._retry_at is not None
        )

    async def reserve(self, endpoint: str) -> float:
        try:
            state = self._endpoints[endpoint]
        except KeyError:
            state = self._endpoints[endpoint] = self._new_endpoint(endpoint)
        if state is None:
            return 0.0
        while True:
            now = self._clock()
            if self._retry_at is not None and now < self._retry_at:
                self._degraded_calls += 1
                return self._local.reserve_now(endpoint)
            slots = state.slots
            while slots and slots[0] < now - STALE_AFTER:
                slots.popleft()
            if slots:
                return max(0.0, slots.popleft() - now)
            if state.fetch is None:
                state.fetch = asyncio.ensure_future(self._book(endpoint, state))
            state.waiting += 1
            try:
                await asyncio.shield(state.fetch)
            finally:
                state.waiting -= 1

    async def aclose(self) -> None:
        for state in self._endpoints.values():
            if state is not None and state.fetch is not None:
                state.fetch.cancel()

    def _new_endpoint(self, endpoint: str) -> _Endpoint | None:
        pace = pace_for(endpoint, self._limits, self._margin)
        return None if pace is None else _Endpoint(*pace)

    async def _book(self, endpoint: str, state: _Endpoint) -> None:
        """One round trip: book slots for the callers waiting now (at least one)."""
        count = min(self._max_batch, state.waiting + 1)
        key = f"{self._key_prefix}:{endpoint}"
        sent_at = self._clock()
        ahead = round(self._max_wait * 1_000_000)
        try:
            reply = await self._script(keys=[key], args=[state.interval, state.tolerance, count, ahead])
            wait_us, repaired = min(int(reply[0]), ahead), int(reply[1])
        except (RedisError, OSError) as error:
            self._degrade(error)
            return
        finally:
            state.fetch = None
        self._round_trips += 1
        self._granted += count
        if repaired and endpoint not in self._repaired:
            self._repaired.add(endpoint)
            log.warning(
                "shared limiter: %s held no sane instant (garbage, or over %.0f s ahead); repaired",
                key, self._max_wait,
            )  # fmt: skip
        if self._retry_at is not None:
            self._retry_at = None
            log.warning("shared limiter: Redis answers again; pacing at the app's shared limits")
        # Redis ran the script between our request and its reply: the midpoint is our best guess.
        first = (sent_at + self._clock()) / 2 + wait_us / 1_000_000
        step = state.interval / 1_000_000
        state.slots.extend(first + i * step for i in range(count))

    def _degrade(self, error: BaseException) -> None:
        if self._retry_at is None:  # once per outage, not once per call
            log.warning(
                "shared limiter: Redis unreachable (%s); pacing locally at 1/%d of each limit",
                type(error).__name__, self._workers,
            )  # fmt: skip
        self._retry_at = self._clock() + self._probe_interval

    def __repr__(self) -> str:
        state = "degraded" if self._retry_at is not None else "shared"
        return f"<RedisLimiter {self._key_prefix!r} {state} round_trips={self._round_trips}>"
