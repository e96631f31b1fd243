"""`RedisInbox`: received webhooks in a Redis Stream, shared by every worker of the app.

    key_prefix:s           the stream: one entry per received webhook, in arrival order
    key_prefix:key:<key>   the entry's position, so a redelivered webhook is not added twice
                           (kept `dedup_ttl` seconds)

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
from collections.abc import Awaitable, Callable, Sequence
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

__all__ = ["RedisInbox", "store_applier"]

log = logging.getLogger("aio_tim.coordination")

MAX_BLOCK: Final = 1.0  # one blocking read stays well under the client's command timeout

# KEYS[1]: the stream. ARGV[1]: the dedup keys' prefix, ARGV[2]: their lifetime (s), then five
# values per entry (key, command, body, query JSON, received). Returns position, duplicate pairs.
APPEND_SCRIPT: Final = """
local out = {}
for i = 3, #ARGV, 5 do
  local marker = ARGV[1] .. ARGV[i]
  local found = redis.call('GET', marker)
  if found then
    out[#out + 1] = found
    out[#out + 1] = 1
  else
    local id = redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'c', ARGV[i + 1], 'b', ARGV[i + 2],
                          'q', ARGV[i + 3], 'r', ARGV[i + 4])
    redis.call('SET', marker, id, 'EX', tonumber(ARGV[2]))
    out[#out + 1] = id
    out[#out + 1] = 0
  end
end
return out
"""
# Acknowledge everything of this consumer's pending up to a position (callers ack in order).
ACK_SCRIPT: Final = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', ARGV[3], 100000, ARGV[2])
local ids = {}
for _, item in ipairs(pending) do ids[#ids + 1] = item[1] end
if #ids == 0 then return 0 end
return redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
"""

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
        self._groups: set[str] = set()
        self._given: dict[str, str] = {}  # consumer -> last position handed to this worker
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
        was given), or a plain range read after an older `after`; waits up to `block` seconds."""
        self._require_open()
        if after is not None and after != self._given.get(consumer):
            return await self._range(after, limit)
        await self._ensure_group(consumer)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (block or 0.0)
        while True:
            entries = await self._read_group(consumer, limit, loop.time() < deadline, deadline - loop.time())
            if entries or loop.time() >= deadline or self._closed:
                if entries:
                    self._given[consumer] = entries[-1].position
                return entries

    async def _read_group(self, consumer: str, limit: int, wait: bool, remaining: float) -> list[InboxEntry]:
        found: Any = await self._redis.xreadgroup(consumer, self.worker, {self._stream: "0"}, count=limit)
        mine = [_entry(i, f) for _, batch in found or () for i, f in batch if f]
        if mine:  # given to us before and not acknowledged: again, in order
            return mine
        claimed = await self._claim(consumer, limit)
        if claimed:
            return claimed
        block_ms = max(1, round(min(remaining, MAX_BLOCK) * 1000)) if wait else None
        found = await self._redis.xreadgroup(
            consumer, self.worker, {self._stream: ">"}, count=limit, block=block_ms
        )
        return [_entry(i, f) for _, batch in found or () for i, f in batch]

    async def _claim(self, consumer: str, limit: int) -> list[InboxEntry]:
        """Entries of a worker silent for the visibility timeout (looked for at most that often)."""
        now = time.monotonic()
        if now - self._claimed_at.get(consumer, 0.0) < self._visibility_ms / 2000:
            return []
        self._claimed_at[consumer] = now
        reply = await self._redis.xautoclaim(
            self._stream, consumer, self.worker, self._visibility_ms, "0-0", count=limit
        )
        return [_entry(i, f) for i, f in reply[1] if f]

    async def _range(self, after: str, limit: int) -> list[InboxEntry]:
        found: Any = await self._redis.xrange(self._stream, min=f"({after}", count=limit)
        return [_entry(i, f) for i, f in found]

    async def _ensure_group(self, consumer: str) -> None:
        if consumer in self._groups:
            return
        try:
            await self._redis.xgroup_create(self._stream, consumer, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._groups.add(consumer)

    # --- acknowledging ---------------------------------------------------------------------------

    async def ack(self, consumer: str, positions: Sequence[str]) -> None:
        """`consumer` is done with these entries and, by the callers' rule, with every earlier one
        this worker was given: one script acknowledges them all."""
        self._require_open()
        if not positions:
            return
        await self._ensure_group(consumer)
        last = max(positions, key=_order)
        await self._ack(keys=[self._stream], args=[consumer, self.worker, last])

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
        """Trim entries appended before that time (stream ids carry it); return how many went.
        Their keys stop deduplicating after `dedup_ttl` anyway; keep a margin of hours."""
        return int(await self._redis.xtrim(self._stream, minid=f"{int(received_before * 1000)}-0"))

    async def aclose(self) -> None:
        """Refuse new work; appends already handed over finish first."""
        self._closed = True
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

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
