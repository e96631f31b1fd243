"""Call frequency limits per endpoint, refused the way TIM refuses them.

TIM answers an over-limit call with HTTP 200 and a FAIL envelope: 10023 for a group send,
10006 for other group calls, 60007 ("REST call frequency over limit") for the rest. The limits
are TIM's documented calls per second (`protocol.limits`), per app, as each endpoint's own
bucket: a burst of up to `limit` calls, refilled at `limit` per second on the server's clock.

    limiter = RateLimiter({"openim/sendmsg": 200}, clock=time.time)
    limiter.check("openim/sendmsg")  # raises RateLimitedError(60007) when over
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..errors import error_for
from ..protocol.limits import Limits, limit_for

__all__ = ["RateLimiter", "throttle_code"]

GROUP_SERVICE: Final = "group_open_http_svc/"
GROUP_SEND: Final = "group_open_http_svc/send_group_msg"
ERR_REST_FREQUENCY: Final = 60007
ERR_GROUP_FREQUENCY: Final = 10006
ERR_GROUP_SEND_FREQUENCY: Final = 10023


def throttle_code(endpoint: str) -> int:
    """The ErrorCode TIM answers when `endpoint` is called too often."""
    if endpoint == GROUP_SEND:
        return ERR_GROUP_SEND_FREQUENCY
    if endpoint.startswith(GROUP_SERVICE):
        return ERR_GROUP_FREQUENCY
    return ERR_REST_FREQUENCY


class _Bucket:
    __slots__ = ("limit", "stamp", "tokens")

    def __init__(self, limit: float, now: float) -> None:
        self.limit = limit
        self.tokens = limit
        self.stamp = now

    def take(self, now: float) -> bool:
        # max(): an injected clock may step back; that must not mint tokens.
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.limit, self.tokens + elapsed * self.limit)
        self.stamp = max(self.stamp, now)
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class RateLimiter:
    """One bucket per endpoint, sized by `limits` (None: no limits at all); `enabled` switches
    them off and on while the server runs (a switched-off limiter counts nothing)."""

    def __init__(self, limits: Limits | None, clock: Callable[[], float], *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._limits = limits
        self._clock = clock
        self._buckets: dict[str, _Bucket | None] = {}
        self.refused = 0

    def check(self, endpoint: str) -> None:
        """Count a call to `endpoint`; raise TIM's frequency error if it is over the limit."""
        if not self.enabled:
            return
        try:
            bucket = self._buckets[endpoint]
        except KeyError:
            bucket = self._buckets[endpoint] = self._new_bucket(endpoint)
        if bucket is None or bucket.take(self._clock()):
            return
        self.refused += 1
        raise error_for(throttle_code(endpoint), f"{endpoint}: over {bucket.limit:g} calls per second")

    def _new_bucket(self, endpoint: str) -> _Bucket | None:
        limit = limit_for(endpoint, self._limits)
        return None if limit is None else _Bucket(limit, self._clock())

    def __repr__(self) -> str:
        return f"<RateLimiter endpoints={len(self._buckets)} refused={self.refused}>"
