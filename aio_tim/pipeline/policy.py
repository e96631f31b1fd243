"""How hard to retry: the per-call `RetryPolicy` and the `RetryBudget` shared by every call.

Backoff is full-jitter exponential with a cap, each call has a deadline, and the shared budget
(AWS "standard" mode) turns an outage into fast failures instead of a retry storm.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..errors import ERR_TIMEOUT, TIMError

__all__ = ["RetryBudget", "RetryPolicy"]


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
