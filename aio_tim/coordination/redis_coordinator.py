"""`RedisCoordinator`: what many workers of one TIM app share, on one Redis.

coordinator = RedisCoordinator("redis://127.0.0.1:6379/0", workers=4)
async with Client(sdk_app_id=..., ..., coordinator=coordinator) as tim:
    await tim.msg.send_new_msg("bob", ConvType.C2C, msg)     # paced at the app's shared limit
    queued = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, msg)  # any worker sends it
await coordinator.aclose()
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ..protocol.limits import Limits
from ..seams import MessageStore
from ..store import LocalStore
from .probe import Submit
from .redis_inbox import RedisInbox, store_applier
from .redis_limiter import LimiterStatistics, RedisLimiter
from .redis_outbox import RedisOutbox

__all__ = ["RedisCoordinator"]


class RedisCoordinator:
    """Shared limits and a shared outbox for every `Client(coordinator=...)` of an app.

    `url` is a redis-py URL (`redis://host:6379/0`, `rediss://...`); or pass a ready `redis`
    client. Keys start with `key_prefix` and the app's SDKAppID. `workers` is how many workers
    share the app: while Redis is out of reach each paces itself at limit/`workers`. The outbox
    spreads conversations over `shards` streams; a dead worker's entries are resent by the others
    after `visibility_timeout` seconds. `drain=False` makes a worker that only enqueues.

        coordinator = RedisCoordinator("redis://127.0.0.1:6379/0", workers=4, visibility_timeout=30)
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        redis: Redis | None = None,
        key_prefix: str = "aio_tim",
        workers: int = 1,
        max_batch: int = 8,
        probe_interval: float = 1.0,
        shards: int = 16,
        visibility_timeout: float = 30.0,
        outbox_batch: int = 64,
        result_ttl: int = 86400,
        drain: bool = True,
        connect_timeout: float = 1.0,
        command_timeout: float = 2.0,
        max_connections: int = 32,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        # One quick retry on a fresh connection covers a socket Redis closed on restart; beyond
        # that, failing fast is what lets the limiter degrade instead of stalling every send.
        # A blocking pool makes a burst of callers wait for a connection rather than fail.
        self.redis = redis or Redis.from_pool(
            BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=command_timeout,
                socket_connect_timeout=connect_timeout, socket_timeout=command_timeout,
                retry=Retry(NoBackoff(), 1),
            )
        )  # fmt: skip
        self._owns_redis = redis is None
        self._limiters: list[RedisLimiter] = []
        self._visibility_timeout = visibility_timeout
        self.key_prefix = key_prefix
        self.workers = workers
        self._limiter_options: dict[str, Any] = {"max_batch": max_batch, "probe_interval": probe_interval}
        self._outbox_options: dict[str, Any] = {
            "shards": shards,
            "visibility_timeout": visibility_timeout,
            "batch": outbox_batch,
            "result_ttl": result_ttl,
            "drain": drain,
        }

    def limiter(self, sdk_app_id: int, limits: Limits | None, margin: float) -> RedisLimiter:
        made = RedisLimiter(
            self.redis, f"{self.key_prefix}:rate:{sdk_app_id}", limits, margin, workers=self.workers,
            **self._limiter_options,
        )  # fmt: skip
        self._limiters.append(made)
        return made

    def limiter_statistics(self) -> LimiterStatistics:
        """The counters of every limiter this coordinator made, summed (`degraded`: any is now).

        stats = coordinator.limiter_statistics()
        print(stats.round_trips / max(1, stats.granted))  # Redis round trips per call
        """
        each = [limiter.statistics() for limiter in self._limiters]
        return LimiterStatistics(
            round_trips=sum(s.round_trips for s in each),
            granted=sum(s.granted for s in each),
            degraded_calls=sum(s.degraded_calls for s in each),
            degraded=any(s.degraded for s in each),
        )

    def outbox(self, sdk_app_id: int, store: MessageStore, submit: Submit | None = None) -> RedisOutbox:
        prefix = f"{self.key_prefix}:outbox:{sdk_app_id}"
        return RedisOutbox(self.redis, prefix, store, submit=submit, **self._outbox_options)

    def inbox(self, sdk_app_id: int, store: LocalStore) -> RedisInbox:
        return RedisInbox(
            self.redis, f"{self.key_prefix}:inbox:{sdk_app_id}", visibility_timeout=self._visibility_timeout,
            apply=store_applier(store),
        )  # fmt: skip

    async def __aenter__(self) -> RedisCoordinator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the Redis connections (those of a `redis` client passed in stay open)."""
        if self._owns_redis:
            await self.redis.aclose()

    def __repr__(self) -> str:
        return f"<RedisCoordinator key_prefix={self.key_prefix!r} workers={self.workers}>"
