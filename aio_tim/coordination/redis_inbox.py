"""`RedisInbox`: received webhooks in a Redis Stream, shared by every worker of the app.

    key_prefix:s           the stream: one entry per received webhook, in arrival order
    key_prefix:key:<key>   the entry's position, so a redelivered webhook is not added twice
                           (kept `dedup_ttl` seconds)
    key_prefix:dead        entries no worker could decode, moved there once (`redis_dead`)

Any worker may receive a webhook (`append`); each logical consumer (`read(consumer)`) is a Redis
consumer group, and the workers reading as that consumer share its entries: each entry goes to one
of them (`XREADGROUP`), is acknowledged by it (`XACK`), and is claimed by another (`XAUTOCLAIM`)
when the one it went to stays silent for `visibility_timeout`. So an event is processed once per
consumer, by whichever worker is free. A read from an explicit older position (`after=` not the
last one this worker was given) is a plain range read, outside the group.

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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, Final

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from ..errors import TIM_ERR_PARAM, UsageError
from ..seams.inbox import Appended, InboxEntry, NewEntry
from ..store import LocalStore
from ..store.inbox import apply_effects
from .base import CoordinationUnavailableError
from .redis_dead import DeadLetters, reason_of
from .redis_scripts import ACK_SCRIPT, APPEND_SCRIPT, PURGE_SCRIPT, RENEW_SCRIPT

__all__ = ["RedisInbox", "store_applier"]

log = logging.getLogger("aio_tim.coordination")

MAX_BLOCK: Final = 1.0  # one blocking read stays well under the client's command timeout

RENEW_CHUNK: Final = 500  # held ids per script call (Lua's unpack has a limit)

Apply = Callable[[Sequence[NewEntry]], Awaitable[None]]


class RedisInbox:
    """An `aio_tim.seams.Inbox` on a Redis Stream (see the module docstring).

    inbox = RedisInbox(redis, "aio_tim:inbox:1400000000")
    async with Client(..., inbox=inbox) as tim:
        async for event in tim.events(): ...
    """

    def __init__(
        self,
        redis: Redis,
        key_prefix: str,
        *,
        visibility_timeout: float = 30.0,
        dedup_ttl: int = 7 * 86400,
        apply: Apply | None = None,
        worker: str | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._stream = f"{key_prefix}:s"
        self._visibility_ms = max(1, round(visibility_timeout * 1000))
        self._dedup_ttl = dedup_ttl
        self._apply = apply
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"
        """This process's consumer name within each group."""
        self._append = redis.register_script(APPEND_SCRIPT)
        self._ack = redis.register_script(ACK_SCRIPT)
        self._renew = redis.register_script(RENEW_SCRIPT)
        self._purge = redis.register_script(PURGE_SCRIPT)
        self.dead = DeadLetters(redis, f"{key_prefix}:dead", "redis inbox")
        """Where undecodable entries go (`dead.buried`: how many this worker moved)."""
        self._held: dict[str, dict[str, None]] = {}  # consumer -> positions handed out, not acked
        self._renewer: asyncio.Task[None] | None = None
        self._renew_failed = False
        self._unreachable = False
        self._groups: set[str] = set()
        self._given: dict[str, str] = {}  # consumer -> last position handed to this worker
        self._history: dict[str, str] = {}  # consumer -> where re-reading its pending entries stands
        self._claimed_at: dict[str, float] = {}
        self._closed = False
        self._waiting: list[tuple[list[NewEntry], asyncio.Future[list[Appended]]]] = []
        self._writer: asyncio.Future[None] | None = None

    # --- appending -------------------------------------------------------------------------------

    async def append(self, entries: Sequence[NewEntry]) -> list[Appended]:
        """Add the entries whose keys are new; one answer per entry, once Redis has them.

        Concurrent appends share one script call (group commit): a burst of webhooks costs one
        round trip, not one each. Raises CoordinationUnavailableError when Redis cannot take them.
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
        args: list[Any] = [f"{self._prefix}:key:", self._dedup_ttl]
        for entry in entries:
            query = msgspec.json.encode(entry.query)
            args += [entry.key, entry.command, entry.body, query, repr(entry.received or time.time())]
        try:
            reply = await self._append(keys=[self._stream], args=args)
        except (RedisError, OSError) as error:
            raise CoordinationUnavailableError(f"Redis did not take the webhook: {error}") from error
        answers = [Appended(_text(reply[i]), bool(int(reply[i + 1]))) for i in range(0, len(reply), 2)]
        fresh = [entry for entry, answer in zip(entries, answers, strict=True) if not answer.duplicate]
        if fresh and self._apply is not None:
            await self._apply(fresh)
        return answers

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
            self._history[consumer] = "0"
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
        found: Any = await self._redis.xreadgroup(
            consumer, self.worker, {self._stream: ">"}, count=limit, block=block_ms
        )
        return await self._decoded([entry for _, batch in found or () for entry in batch], consumer)

    async def _read_history(self, consumer: str, limit: int) -> list[InboxEntry]:
        """Entries given to this worker before the reader started and not acknowledged, each once:
        the read goes on after the last one handed out, so an entry is never handed out twice."""
        start = self._history.get(consumer)
        if start is None:
            return []
        found: Any = await self._redis.xreadgroup(consumer, self.worker, {self._stream: start}, count=limit)
        batch = [(i, f) for _, entries in found or () for i, f in entries]
        if not batch:
            del self._history[consumer]  # all handed out: new entries from now on
            return []
        self._history[consumer] = _text(batch[-1][0])
        return await self._decoded(batch, consumer)

    async def _claim(self, consumer: str, limit: int) -> list[InboxEntry]:
        """Entries of a worker silent for the visibility timeout (looked for at most that often)."""
        now = time.monotonic()
        if now - self._claimed_at.get(consumer, 0.0) < self._visibility_ms / 2000:
            return []
        self._claimed_at[consumer] = now
        reply = await self._redis.xautoclaim(
            self._stream, consumer, self.worker, self._visibility_ms, "0-0", count=limit
        )
        return await self._decoded(reply[1], consumer)

    async def _range(self, after: str, limit: int) -> list[InboxEntry]:
        found: Any = await self._redis.xrange(self._stream, min=f"({after}", count=limit)
        return await self._decoded(found, group="")

    def _forget_group(self, consumer: str) -> None:
        """The group is gone (Redis flushed, or restarted empty): so are its entries; start over."""
        log.warning("redis inbox: the consumer group %r is gone (Redis flushed or restarted empty); "
                    "creating it again", consumer)  # fmt: skip
        self._groups.discard(consumer)
        self._history.pop(consumer, None)
        self._held.pop(consumer, None)

    async def _decoded(self, batch: Iterable[tuple[Any, Any]], group: str) -> list[InboxEntry]:
        """The batch's entries; one that cannot be decoded goes to the dead letters, never stalling
        the others (an entry deleted meanwhile has no fields: skipped)."""
        entries = []
        for entry_id, fields in batch:
            if not fields:
                continue
            try:
                entries.append(_entry(entry_id, fields))
            except (KeyError, ValueError, TypeError, msgspec.MsgspecError) as error:
                await self.dead.bury(self._stream, _text(entry_id), reason_of(error), group=group)
        return entries

    async def _ensure_group(self, consumer: str) -> None:
        if consumer in self._groups:
            return
        try:
            await self._redis.xgroup_create(self._stream, consumer, id="0", mkstream=True)
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
        held = sorted(self._held.get(consumer, ()), key=_order)
        renewed: set[str] = set()
        for start in range(0, len(held), RENEW_CHUNK):
            chunk = held[start : start + RENEW_CHUNK]
            try:
                reply = await self._renew(keys=[self._stream], args=[consumer, self.worker, *chunk])
            except ResponseError as error:
                if not _group_gone(error):
                    raise
                self._forget_group(consumer)
                return
            renewed.update(_text(position) for position in reply)
        lost = [p for p in held if p not in renewed and p in self._held.get(consumer, {})]
        if lost:  # renewed too late (a stalled loop), or acknowledged meanwhile
            for position in lost:
                self._held[consumer].pop(position, None)
            log.info("redis inbox: %d held entries of %r are no longer this worker's", len(lost), consumer)

    # --- acknowledging ---------------------------------------------------------------------------

    async def ack(self, consumer: str, positions: Sequence[str]) -> None:
        """`consumer` is done with these entries and, by the callers' rule, with every earlier one
        this worker was given: one script acknowledges them all."""
        self._require_open()
        if not positions:
            return
        last = max(positions, key=_order)
        held = self._held.get(consumer, {})  # released first: a renewal racing the ack finds it gone
        for position in [p for p in held if _order(p) <= _order(last)]:
            del held[position]
        pause = 0.05
        while True:
            try:
                await self._ensure_group(consumer)
                await self._ack(keys=[self._stream], args=[consumer, self.worker, last])
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
        out and unacknowledged (pending), across all workers."""
        self._require_open()
        groups: Any = []
        with contextlib.suppress(ResponseError):  # no stream yet
            groups = await self._redis.xinfo_groups(self._stream)
        for group in groups:
            if _text(group["name"]) == consumer:
                lag = group.get("lag")
                if lag is None:  # Redis cannot tell after deletions: count what is left
                    rest: Any = await self._redis.xrange(
                        self._stream, min=f"({_text(group['last-delivered-id'])}"
                    )
                    lag = len(rest)
                return int(lag) + int(group["pending"])
        return int(await self._redis.xlen(self._stream))

    async def purge(self, received_before: float) -> int:
        """Trim entries appended before that time (stream ids carry it) that every consumer has
        acknowledged (every consumer group: each consumer that has read); return how many went.
        A consumer that never read is unknown: start it before the first purge. Their keys stop
        deduplicating after `dedup_ttl` anyway; keep a margin of hours."""
        self._require_open()
        return int(await self._purge(keys=[self._stream], args=[f"{int(received_before * 1000)}-0"]))

    async def forget(self, consumer: str) -> None:
        """Drop `consumer`'s group (a consumer retired for good): `purge()` stops keeping entries
        for it; should it read again, it starts from the first entry left."""
        self._require_open()
        with contextlib.suppress(ResponseError):  # no stream or no such group: nothing to drop
            await self._redis.xgroup_destroy(self._stream, consumer)
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
        return f"<RedisInbox {self._stream!r} worker={self.worker!r}>"


def store_applier(store: LocalStore) -> Apply:
    """Apply new entries' effects to a worker's local store, by the SQLite inbox's own rules."""

    return partial(apply_effects, store)


def _group_gone(error: ResponseError) -> bool:
    """NOGROUP, or a blocked read whose stream was deleted under it."""
    text = str(error)
    return "NOGROUP" in text or "no longer exists" in text


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _order(position: str) -> tuple[int, int]:
    ms, _, seq = position.partition("-")
    return int(ms), int(seq or 0)


def _entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> InboxEntry:
    return InboxEntry(
        position=_text(entry_id),
        key=fields[b"k"].decode(),
        command=fields[b"c"].decode(),
        body=fields[b"b"],
        query=msgspec.json.decode(fields[b"q"], type=dict[str, str]),
        received=float(fields[b"r"]),
    )
