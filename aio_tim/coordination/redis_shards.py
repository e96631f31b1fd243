"""What the Redis inbox and outbox share to run on one Redis or on a Redis Cluster.

A Redis Cluster runs a script or a multi-key command only on keys of one slot. So every key a shard
touches together (its stream, lease, markers, results, counters, dead letters) shares one hash tag:

    shard_base("aio_tim:outbox:1400000000", 3) == "aio_tim:outbox:1400000000:{1400000000:3}"

and a read over several shards goes per shard on a cluster (one XREADGROUP each, side by side),
in one call on a single Redis. An inbox position names its shard: `<shard>/<stream id>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, TypeAlias

import msgspec
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

__all__ = [
    "AnyRedis",
    "Entries",
    "by_shard",
    "check_prefix",
    "conversation_of",
    "is_cluster",
    "order",
    "position_of",
    "read_group",
    "shard_base",
    "split",
    "text_of",
]

AnyRedis: TypeAlias = Redis | RedisCluster

Entries: TypeAlias = list[tuple[str, bytes, dict[bytes, bytes]]]  # (stream, entry id, fields)


def is_cluster(redis: AnyRedis) -> bool:
    return isinstance(redis, RedisCluster)


def check_prefix(key_prefix: str) -> None:
    """A prefix with braces would move every key's hash tag: refused."""
    if "{" in key_prefix or "}" in key_prefix:
        raise ValueError("key_prefix may not contain '{' or '}' (they are Redis Cluster hash tags)")


def shard_base(prefix: str, shard: int) -> str:
    """Where shard `shard`'s keys start; the hash tag names the prefix's last part and the shard, so
    each app's shards land on slots of their own."""
    return f"{prefix}:{{{prefix.rsplit(':', 1)[-1]}:{shard}}}"


async def read_group(
    redis: AnyRedis, group: str, consumer: str, streams: dict[str, str], count: int, block: int | None = None
) -> Entries:
    """XREADGROUP over `streams` ({stream: id}): one call on a single Redis; on a cluster one per
    stream, side by side (streams of different slots cannot share a call). `count` is per stream."""
    if not streams:
        return []
    if not is_cluster(redis):
        found: Any = await redis.xreadgroup(group, consumer, streams, count=count, block=block)  # type: ignore[arg-type]
        return [(text_of(s), i, f) for s, batch in found or () for i, f in batch]
    replies: list[Any] = await asyncio.gather(
        *(redis.xreadgroup(group, consumer, {s: i}, count=count, block=block) for s, i in streams.items())
    )
    return [(text_of(s), i, f) for found in replies for s, batch in found or () for i, f in batch]


class _Shape(msgspec.Struct):
    """The fields of a webhook body that name its conversation (any may be absent)."""

    GroupId: str | None = None
    From_Account: str | None = None
    To_Account: str | None = None
    Info: dict[str, Any] | None = None


def conversation_of(body: bytes) -> str:
    """The conversation a webhook belongs to, so its events stay in order on one shard: the group,
    the C2C pair (either direction), the user a state change is about; "" when the body names none."""
    try:
        shape = msgspec.json.decode(body, type=_Shape)
    except (msgspec.MsgspecError, ValueError):
        return ""
    if shape.GroupId:
        return f"g:{shape.GroupId}"
    if shape.From_Account and shape.To_Account:
        return "c:" + "|".join(sorted((shape.From_Account, shape.To_Account)))
    user = (shape.Info or {}).get("To_Account")
    if isinstance(user, str) and user:
        return f"u:{user}"
    return ""


def position_of(shard: int, entry_id: bytes | str) -> str:
    return f"{shard}/{text_of(entry_id)}"


def split(position: str) -> tuple[int, str]:
    """(shard, stream id) of a position; a bare stream id is shard 0's."""
    shard, _, entry_id = position.rpartition("/")
    return int(shard or 0), entry_id


def by_shard(positions: Iterable[str]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for position in positions:
        found.setdefault(split(position)[0], []).append(position)
    return found


def order(position: str) -> tuple[int, int, int]:
    """Stream-id order (time first), then the shard: entries of all shards merged."""
    shard, entry_id = split(position)
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0), shard


def text_of(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
