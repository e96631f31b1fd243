"""`RedisCoordinator`: what many workers of one TIM app share, on one Redis or a Redis Cluster.

coordinator = RedisCoordinator("redis://127.0.0.1:6379/0", workers=4)
coordinator = RedisCoordinator("redis://any-node:6379", cluster=True, workers=4)  # a cluster
async with Client(sdk_app_id=..., ..., coordinator=coordinator) as tim:
    await tim.msg.send_new_msg("bob", ConvType.C2C, msg)     # paced at the app's shared limit
    queued = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, msg)  # any worker sends it
await coordinator.aclose()
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ..protocol.limits import Limits
from ..seams import MessageStore
from ..store import LocalStore
from .probe import Submit
from .redis_inbox import RedisInbox, store_applier
from .redis_limiter import LimiterStatistics, RedisLimiter
from .redis_outbox import RedisOutbox
from .redis_shards import AnyRedis, check_prefix, is_cluster

__all__ = ["RedisCoordinator"]


class RedisCoordinator:
    """Shared limits and a shared outbox for every `Client(coordinator=...)` of an app.

    `url` is a redis-py URL (`redis://host:6379/0`, `rediss://...`), of any node with
    `cluster=True`; or pass a ready `redis` client (`Redis` or `RedisCluster`). Keys start with
    `key_prefix` (no braces: they are hash tags) and the app's SDKAppID. `workers` is how many
    workers share the app: while Redis is out of reach each paces itself at limit/`workers`. The
    outbox spreads conversations over `shards` streams; a dead worker's entries are resent by the
    others after `visibility_timeout` seconds. `drain=False` makes a worker that only enqueues. The
    inbox spreads conversations over `inbox_shards` streams (default: 1 on a single Redis, keeping
    one order for all events; `shards` on a cluster, so every master carries its part).

        coordinator = RedisCoordinator("redis://127.0.0.1:6379/0", workers=4, visibility_timeout=30)
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        redis: AnyRedis | None = None,
        cluster: bool = False,
        key_prefix: str = "aio_tim",
        workers: int = 1,
        max_batch: int = 8,
        probe_interval: float = 1.0,
        shards: int = 16,
        inbox_shards: int | None = None,
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
        check_prefix(key_prefix)
        self.redis: AnyRedis = redis or _connect(
            url, cluster, max_connections=max_connections, connect_timeout=connect_timeout,
            command_timeout=command_timeout,
        )  # fmt: skip
        self._owns_redis = redis is None
        if inbox_shards is None:
            inbox_shards = shards if is_cluster(self.redis) else 1
        if inbox_shards < 1:
            raise ValueError("inbox_shards must be at least 1")
        self._inbox_shards = inbox_shards
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
            apply=store_applier(store), shards=self._inbox_shards,
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
        kind = "cluster" if is_cluster(self.redis) else "redis"
        return f"<RedisCoordinator {kind} key_prefix={self.key_prefix!r} workers={self.workers}>"


def _connect(
    url: str, cluster: bool, *, max_connections: int, connect_timeout: float, command_timeout: float
) -> AnyRedis:
    """A client that fails fast: the limiter degrades instead of stalling every send."""
    if cluster:
        # The cluster client follows MOVED/ASK and a failover by itself; `max_connections` is per node.
        return RedisCluster.from_url(
            url, max_connections=max_connections, socket_connect_timeout=connect_timeout,
            socket_timeout=command_timeout,
        )  # fmt: skip
    # One quick retry on a fresh connection covers a socket Redis closed on restart; beyond that,
    # failing fast. A blocking pool makes a burst of callers wait for a connection rather than fail.
    return Redis.from_pool(
        BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=command_timeout,
            socket_connect_timeout=connect_timeout, socket_timeout=command_timeout,
            retry=Retry(NoBackoff(), 1),
        )
    )  # fmt: skip
