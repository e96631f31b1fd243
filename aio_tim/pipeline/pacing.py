"""Staying under TIM's frequency limits in process: a `TokenBucket` per endpoint (`LocalLimiter`).

A shared limiter (Redis, `aio_tim.coordination`) replaces these; it keeps a `LocalLimiter` for
when Redis is out of reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..protocol.limits import Limits
from ..seams import pace_for

__all__ = ["LocalLimiter", "TokenBucket"]


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
