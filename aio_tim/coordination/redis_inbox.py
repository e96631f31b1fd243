"""`RedisInbox`: received webhooks in Redis Streams, shared by every worker of the app.

The webhooks spread over `shards` streams by conversation (`redis_shards.conversation_of`: a
group, a C2C pair, a user; a conversation's events stay in order on its shard). Shard n's keys
share the hash tag `{<app>:<n>}`, so on a Redis Cluster each shard lives on one master:

    key_prefix:{app:n}:s           the shard's stream: one entry per received webhook, in arrival order
    key_prefix:{app:n}:key:<key>   the entry's position, so a redelivered webhook is not added twice
                                   (kept `dedup_ttl` seconds)
    key_prefix:{app:n}:dead        entries no worker could decode, moved there once (`redis_dead`)

Any worker may receive a webhook (`append`); each logical consumer (`read(consumer)`) is a Redis
consumer group, and the workers reading as that consumer share its entries: each entry goes to one
of them (`XREADGROUP`), is acknowledged by it (`XACK`), and is claimed by another (`XAUTOCLAIM`)
when the one it went to stays silent for `visibility_timeout`. So an event is processed once per
consumer, by whichever worker is free. A read from an explicit older position (`after=` not the
last one this worker was given) is a plain range read, outside the group. A read covers every
shard (one XREADGROUP per shard on a cluster); a position is `<shard>/<stream id>`, and entries of
different shards come out in the order of their stream ids.

The entries' store effects (a received message saved, a recall, ...) are applied by `apply`
(the worker's local store) after the append, for the entries that were new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, Final

import msgspec
from redis.exceptions import RedisError, ResponseError

from ..errors import TIM_ERR_PARAM, UsageError
from ..seams.inbox import Appended, InboxEntry, NewEntry
from ..store import LocalStore
from ..store.inbox import apply_effects
from .base import CoordinationUnavailableError
from .redis_dead import DeadLetters, reason_of
from .redis_scripts import ACK_SCRIPT, APPEND_SCRIPT, PURGE_SCRIPT, RENEW_SCRIPT
from .redis_shards import (
    AnyRedis,
    by_shard,
    conversation_of,
    order,
    position_of,
    read_group,
    shard_base,
    split,
    text_of,
)

__all__ = ["RedisInbox", "store_applier"]

log = logging.getLogger("aio_tim.coordination")

MAX_BLOCK: Final = 1.0  # one blocking read stays well under the client's command timeout
RENEW_CHUNK: Final = 500  # held ids per script call (Lua's unpack has a limit)

Apply = Callable[[Sequence[NewEntry]], Awaitable[None]]


class RedisInbox:
    """An `aio_tim.seams.Inbox` on Redis Streams (see the module docstring).

    inbox = RedisInbox(redis, "aio_tim:inbox:1400000000", shards=16)  # shards: on a cluster
    async with Client(..., inbox=inbox) as tim:
        async for event in tim.events(): ...
    """

    def __init__(
        self,
        redis: AnyRedis,
        key_prefix: str,
        *,
        shards: int = 1,
        visibility_timeout: float = 30.0,
        dedup_ttl: int = 7 * 86400,
        apply: Apply | None = None,
        worker: str | None = None,
    ) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self._redis = redis
        self._prefix = key_prefix
        self._shards = shards
        self._streams = [f"{shard_base(key_prefix, n)}:s" for n in range(shards)]
        self._visibility_ms = max(1, round(visibility_timeout * 1000))
        self._dedup_ttl = dedup_ttl
        self._apply = apply
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"
        """This process's consumer name within each group."""
        self._append = redis.register_script(APPEND_SCRIPT)
        self._ack = redis.register_script(ACK_SCRIPT)
        self._renew = redis.register_script(RENEW_SCRIPT)
        self._purge = redis.register_script(PURGE_SCRIPT)
        self.dead = DeadLetters(redis, "redis inbox")
        """Where undecodable entries go (`dead.buried`: how many this worker moved)."""
        self._held: dict[str, dict[str, None]] = {}  # consumer -> positions handed out, not acked
        self._renewer: asyncio.Task[None] | None = None
        self._renew_failed = False
        self._unreachable = False
        self._groups: set[str] = set()
        self._given: dict[str, str] = {}  # consumer -> last position handed to this worker
        self._history: dict[str, dict[int, str]] = {}  # consumer -> shard -> where re-reading stands
        self._claimed_at: dict[str, float] = {}
        self._closed = False
        self._waiting: list[tuple[list[NewEntry], asyncio.Future[list[Appended]]]] = []
        self._writer: asyncio.Future[None] | None = None

    # --- shards ----------------------------------------------------------------------------------

    def stream(self, shard: int) -> str:
        return self._streams[shard]

    def shard_of(self, entry: NewEntry) -> int:
        """The shard of an entry: its conversation's (the same in every worker, and for a redelivery)."""
        if self._shards == 1:
            return 0
        return zlib.crc32(conversation_of(entry.body).encode()) % self._shards

    # --- appending -------------------------------------------------------------------------------

    async def append(self, entries: Sequence[NewEntry]) -> list[Appended]:
        """Add the entries whose keys are new; one answer per entry, once Redis has them.

        Concurrent appends share one script call per shard (group commit): a burst of webhooks
        costs a round trip per shard, not one each. Raises CoordinationUnavailableError when Redis
        cannot take them.
        """
        self._require_open()
        if not entries:
            return []
        answer: asyncio.Future[list[Appended]] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(entries), answer))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_waiting())
        return await answer

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    answers = await self._append_now([e for entries, _ in batch for e in entries])
                except Exception as error:
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(error)
                    continue
                start = 0
                for entries, answer in batch:
                    if not answer.done():
                        answer.set_result(answers[start : start + len(entries)])
                    start += len(entries)
        finally:
            self._writer = None

    async def _append_now(self, entries: Sequence[NewEntry]) -> list[Appended]:
        parts: dict[int, list[int]] = {}
        for index, entry in enumerate(entries):
            parts.setdefault(self.shard_of(entry), []).append(index)
        try:
            replies = await asyncio.gather(
                *(self._append_shard(shard, [entries[i] for i in got]) for shard, got in parts.items())
            )
        except (RedisError, OSError) as error:
            raise CoordinationUnavailableError(f"Redis did not take the webhook: {error}") from error
        answers: list[Appended | None] = [None] * len(entries)
        for indexes, reply in zip(parts.values(), replies, strict=True):
            for index, answer in zip(indexes, reply, strict=True):
                answers[index] = answer
        done = [a for a in answers if a is not None]
        fresh = [entry for entry, answer in zip(entries, done, strict=True) if not answer.duplicate]
        if fresh and self._apply is not None:
            await self._apply(fresh)
        return done

    async def _append_shard(self, shard: int, entries: Sequence[NewEntry]) -> list[Appended]:
        stream = self.stream(shard)
        args: list[Any] = [f"{stream.removesuffix(':s')}:key:", self._dedup_ttl]
        for entry in entries:
            query = msgspec.json.encode(entry.query)
            args += [entry.key, entry.command, entry.body, query, repr(entry.received or time.time())]
        reply = await self._append(keys=[stream], args=args)
        return [
            Appended(position_of(shard, reply[i]), bool(int(reply[i + 1]))) for i in range(0, len(reply), 2)
        ]

    # --- reading ---------------------------------------------------------------------------------

    async def read(
        self, consumer: str, *, after: str | None = None, limit: int = 100, block: float | None = None
    ) -> list[InboxEntry]:
        """The next entries for `consumer` handed to this worker (`after`: None or the last one it
        was given), or a plain range read after an older `after`; waits up to `block` seconds.

        `after=None` starts a reader: what this worker was given before and did not acknowledge
        comes first, once, in order; then new entries and those claimed from silent workers.
        """
        self._require_open()
        if after is not None and after != self._given.get(consumer):
            return await self._range(after, limit)
        if after is None:  # a new reader: what the last one held is handed out again
            self._history[consumer] = dict.fromkeys(range(self._shards), "0")
            self._held[consumer] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (block or 0.0)
        while True:
            try:
                await self._ensure_group(consumer)
                entries = await self._read_group(
                    consumer, limit, loop.time() < deadline, deadline - loop.time()
                )
            except ResponseError as error:
                if not _group_gone(error):
                    raise
                self._forget_group(consumer)  # and read again: the group is created anew
                continue
            except (RedisError, OSError) as error:  # Redis away: the loop waits for it, as for events
                self._unreachable_once(error)
                await asyncio.sleep(min(max(deadline - loop.time(), 0.05), MAX_BLOCK))
                return []
            self._reachable_again()
            if entries or loop.time() >= deadline or self._closed:
                if entries:
                    self._given[consumer] = entries[-1].position
                    self._hold(consumer, entries)
                return entries

    async def _read_group(self, consumer: str, limit: int, wait: bool, remaining: float) -> list[InboxEntry]:
        mine = await self._read_history(consumer, limit)
        if mine:
            return mine
        claimed = await self._claim(consumer, limit)
        if claimed:
            return claimed
        block_ms = max(1, round(min(remaining, MAX_BLOCK) * 1000)) if wait else None
        # Per shard on a cluster, one call on a single Redis; `limit` split over the shards.
        streams, count = dict.fromkeys(self._streams, ">"), self._per_shard(limit)
        found = await read_group(self._redis, consumer, self.worker, streams, count, block_ms)
        return await self._decoded(found, consumer)

    def _per_shard(self, limit: int) -> int:  # a read returns about `limit` over all shards
        return max(1, limit // self._shards)

    async def _read_history(self, consumer: str, limit: int) -> list[InboxEntry]:
        """Entries given to this worker before the reader started and not acknowledged, each once:
        the read goes on after the last one handed out, so an entry is never handed out twice."""
        starts = self._history.get(consumer)
        if not starts:
            self._history.pop(consumer, None)
            return []
        streams = {self.stream(shard): start for shard, start in starts.items()}
        found = await read_group(self._redis, consumer, self.worker, streams, self._per_shard(limit))
        last: dict[int, str] = {}
        for stream, entry_id, _ in found:
            last[self._streams.index(stream)] = text_of(entry_id)
        for shard in list(starts):
            if shard in last:
                starts[shard] = last[shard]
            else:
                del starts[shard]  # all handed out: new entries from now on
        return await self._decoded(found, consumer)

    async def _claim(self, consumer: str, limit: int) -> list[InboxEntry]:
        """Entries of a worker silent for the visibility timeout (looked for at most that often)."""
        now = time.monotonic()
        if now - self._claimed_at.get(consumer, 0.0) < self._visibility_ms / 2000:
            return []
        self._claimed_at[consumer] = now
        found = []
        for stream in self._streams:
            reply = await self._redis.xautoclaim(
                stream, consumer, self.worker, self._visibility_ms, "0-0", count=self._per_shard(limit)
            )
            found += [(stream, entry_id, fields) for entry_id, fields in reply[1]]
        return await self._decoded(found, consumer)

    async def _range(self, after: str, limit: int) -> list[InboxEntry]:
        """Entries after `after`: on its shard after it, on the others after its stream id."""
        _, after_id = split(after)
        found = []
        for stream in self._streams:
            batch: Any = await self._redis.xrange(stream, min=f"({after_id}", count=limit)
            found += [(stream, entry_id, fields) for entry_id, fields in batch]
        return (await self._decoded(found, group=""))[:limit]

    def _forget_group(self, consumer: str) -> None:
        """The group is gone (Redis flushed, or restarted empty): so are its entries; start over."""
        log.warning("redis inbox: the consumer group %r is gone (Redis flushed or restarted empty); "
                    "creating it again", consumer)  # fmt: skip
        self._groups.discard(consumer)
        self._history.pop(consumer, None)
        self._held.pop(consumer, None)

    async def _decoded(self, batch: Iterable[tuple[str, Any, Any]], group: str) -> list[InboxEntry]:
        """The batch's entries in stream-id order; one that cannot be decoded goes to the dead
        letters, never stalling the others (an entry deleted meanwhile has no fields: skipped)."""
        entries = []
        for stream, entry_id, fields in batch:
            if not fields:
                continue
            try:
                entries.append(_entry(position_of(self._streams.index(stream), entry_id), fields))
            except (KeyError, ValueError, TypeError, msgspec.MsgspecError) as error:
                await self.dead.bury(stream, text_of(entry_id), reason_of(error), group=group)
        if self._shards > 1:
            entries.sort(key=lambda e: order(e.position))
        return entries

    async def _ensure_group(self, consumer: str) -> None:
        if consumer in self._groups:
            return
        for stream in self._streams:
            try:
                await self._redis.xgroup_create(stream, consumer, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
        self._groups.add(consumer)

    # --- holding: what this worker works on is not claimed by another --------------------------

    def _hold(self, consumer: str, entries: Sequence[InboxEntry]) -> None:
        self._held.setdefault(consumer, {}).update(dict.fromkeys(e.position for e in entries))
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="aio_tim redis inbox renewer")

    async def _renew_forever(self) -> None:
        """Every third of the visibility timeout, reset the idle time of the entries held."""
        while not self._closed:
            await asyncio.sleep(self._visibility_ms / 3000)
            try:
                for consumer in list(self._held):
                    await self._renew_held(consumer)
            except (RedisError, OSError) as error:
                if not self._renew_failed:
                    log.warning("redis inbox: could not renew held entries (%s); retrying", error)
                self._renew_failed = True
            else:
                self._renew_failed = False

    async def _renew_held(self, consumer: str) -> None:
        held = sorted(self._held.get(consumer, ()), key=order)
        renewed: set[str] = set()
        for shard, positions in by_shard(held).items():
            ids = [split(p)[1] for p in positions]
            for start in range(0, len(ids), RENEW_CHUNK):
                chunk = ids[start : start + RENEW_CHUNK]
                try:
                    reply = await self._renew(keys=[self.stream(shard)], args=[consumer, self.worker, *chunk])
                except ResponseError as error:
                    if not _group_gone(error):
                        raise
                    self._forget_group(consumer)
                    return
                renewed.update(position_of(shard, entry_id) for entry_id in reply)
        lost = [p for p in held if p not in renewed and p in self._held.get(consumer, {})]
        if lost:  # renewed too late (a stalled loop), or acknowledged meanwhile
            for position in lost:
                self._held[consumer].pop(position, None)
            log.info("redis inbox: %d held entries of %r are no longer this worker's", len(lost), consumer)

    # --- acknowledging ---------------------------------------------------------------------------

    async def ack(self, consumer: str, positions: Sequence[str]) -> None:
        """`consumer` is done with these entries and, by the callers' rule, with every one this
        worker was given before them: one script per shard acknowledges them all."""
        self._require_open()
        if not positions:
            return
        # Everything handed out up to the last of `positions`, in every shard (held keeps hand-out order).
        held = self._held.get(consumer, {})
        given, marks = list(held), set(positions)
        cut = max((i for i, position in enumerate(given) if position in marks), default=-1)
        done = given[: cut + 1] + [p for p in positions if p not in held]
        lasts = {shard: max(mine, key=order) for shard, mine in by_shard(done).items()}
        for position in given[: cut + 1]:  # released first: a renewal racing the ack finds it gone
            del held[position]
        pause = 0.05
        while True:
            try:
                await self._ensure_group(consumer)
                for shard, last in lasts.items():
                    await self._ack(keys=[self.stream(shard)], args=[consumer, self.worker, split(last)[1]])
                return
            except ResponseError as error:
                if not _group_gone(error):
                    raise
                self._forget_group(consumer)  # the entries went with it: nothing left to acknowledge
                return
            except (RedisError, OSError) as error:
                if self._closed:
                    raise CoordinationUnavailableError(f"Redis did not take the ack: {error}") from error
                self._unreachable_once(error)  # unacknowledged, the entries would come again: wait
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_BLOCK)

    async def backlog(self, consumer: str) -> int:
        """Entries `consumer` has not acknowledged: not yet handed out (the group's lag) plus handed
        out and unacknowledged (pending), across all workers and shards."""
        self._require_open()
        return sum([await self._backlog_of(stream, consumer) for stream in self._streams])

    async def _backlog_of(self, stream: str, consumer: str) -> int:
        groups: Any = []
        with contextlib.suppress(ResponseError):  # no stream yet
            groups = await self._redis.xinfo_groups(stream)
        for group in groups:
            if text_of(group["name"]) == consumer:
                lag = group.get("lag")
                if lag is None:  # Redis cannot tell after deletions: count what is left
                    rest: Any = await self._redis.xrange(
                        stream, min=f"({text_of(group['last-delivered-id'])}"
                    )
                    lag = len(rest)
                return int(lag) + int(group["pending"])
        return int(await self._redis.xlen(stream))

    async def purge(self, received_before: float) -> int:
        """Trim entries appended before that time (stream ids carry it) that every consumer has
        acknowledged (every consumer group: each consumer that has read); return how many went.
        A consumer that never read is unknown: start it before the first purge. Their keys stop
        deduplicating after `dedup_ttl` anyway; keep a margin of hours."""
        self._require_open()
        bound = f"{int(received_before * 1000)}-0"
        return sum([int(await self._purge(keys=[stream], args=[bound])) for stream in self._streams])

    async def forget(self, consumer: str) -> None:
        """Drop `consumer`'s group (a consumer retired for good): `purge()` stops keeping entries
        for it; should it read again, it starts from the first entry left."""
        self._require_open()
        for stream in self._streams:
            with contextlib.suppress(ResponseError):  # no stream or no such group: nothing to drop
                await self._redis.xgroup_destroy(stream, consumer)
        self._groups.discard(consumer)
        self._history.pop(consumer, None)
        self._held.pop(consumer, None)

    async def aclose(self) -> None:
        """Refuse new work; appends already handed over finish first."""
        self._closed = True
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    def _unreachable_once(self, error: BaseException) -> None:
        if not self._unreachable:
            self._unreachable = True
            log.warning("redis inbox: Redis failed (%s: %s); retrying", type(error).__name__, error)

    def _reachable_again(self) -> None:
        if self._unreachable:
            self._unreachable = False
            log.warning("redis inbox: Redis answers again")

    @property
    def closed(self) -> bool:
        return self._closed

    def _require_open(self) -> None:
        if self._closed:
            raise UsageError(TIM_ERR_PARAM, "the inbox is closed")

    def __repr__(self) -> str:
        return f"<RedisInbox {self._prefix!r} shards={self._shards} worker={self.worker!r}>"


def store_applier(store: LocalStore) -> Apply:
    """Apply new entries' effects to a worker's local store, by the SQLite inbox's own rules."""

    return partial(apply_effects, store)


def _group_gone(error: ResponseError) -> bool:
    """NOGROUP, or a blocked read whose stream was deleted under it."""
    text = str(error)
    return "NOGROUP" in text or "no longer exists" in text


def _entry(position: str, fields: dict[bytes, bytes]) -> InboxEntry:
    return InboxEntry(
        position=position,
        key=fields[b"k"].decode(),
        command=fields[b"c"].decode(),
        body=fields[b"b"],
        query=msgspec.json.decode(fields[b"q"], type=dict[str, str]),
        received=float(fields[b"r"]),
    )
