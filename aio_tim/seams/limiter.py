"""The limiter seam: how long a call waits so that an app stays under TIM's per-endpoint limits.

The pipeline asks a `Limiter` before each call; the in-process token buckets (`aio_tim.pipeline`)
and the Redis limiter shared by many workers (`aio_tim.coordination`) implement it:

    wait = await limiter.reserve("openim/sendmsg")   # seconds until this call may go out
    await asyncio.sleep(wait)
"""

from __future__ import annotations

from typing import Protocol

from ..protocol.limits import Limits, limit_for

__all__ = ["Limiter", "pace_for"]


def pace_for(endpoint: str, limits: Limits | None, margin: float) -> tuple[float, float] | None:
    """(calls per second, burst) to pace `endpoint` at, or None when it has no limit.

    A limit is a ceiling, not a target: the margin absorbs the jitter between our clock and the
    server's, and the burst is kept as small so no one-second window goes over.

        >>> pace_for("openim/sendmsg", {"*": 100}, 0.02)
        (98.0, 2.0)
    """
    limit = limit_for(endpoint, limits)
    if limit is None:
        return None
    allowance = limit * margin
    return limit - allowance, max(1.0, allowance)


class Limiter(Protocol):
    """Paces the calls of one app's endpoints; implementations book a slot per call."""

    async def reserve(self, endpoint: str) -> float:
        """Book the next call to `endpoint`; the seconds to wait before making it."""
        ...

    async def aclose(self) -> None:
        """Release what the limiter holds (connections, background tasks)."""
        ...
