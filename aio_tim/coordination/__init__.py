"""Many workers, one TIM app: the limiter and outbox seams, and their Redis implementations.

The embedded default is in-process (token buckets, the SQLite outbox). Give every worker one
`RedisCoordinator` to make TIM's per-app limits, the outbox and the inbox of received webhooks
app-wide (`pip install aio_tim[redis]`):

    from aio_tim.coordination import RedisCoordinator

    coordinator = RedisCoordinator("redis://127.0.0.1:6379/0", workers=4)
    async with Client(..., coordinator=coordinator) as tim:
        queued = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, msg)
        sent = await tim.outbox_result(queued, timeout=30)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import (
    CoordinationUnavailableError,
    Coordinator,
    EnqueueUnknownError,
    Limiter,
    OutboxQueue,
    pace_for,
)

if TYPE_CHECKING:
    from .redis_coordinator import RedisCoordinator

__all__ = [
    "CoordinationUnavailableError",
    "Coordinator",
    "EnqueueUnknownError",
    "Limiter",
    "OutboxQueue",
    "RedisCoordinator",
    "pace_for",
]


def __getattr__(name: str) -> Any:
    # The Redis side is imported on first use: `redis` is an optional extra.
    if name == "RedisCoordinator":
        try:
            from .redis_coordinator import RedisCoordinator
        except ModuleNotFoundError as error:  # pragma: no cover - needs an install without redis
            if error.name != "redis":
                raise
            raise ImportError(
                "RedisCoordinator needs the redis extra: pip install 'aio_tim[redis]'"
            ) from error
        return RedisCoordinator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
