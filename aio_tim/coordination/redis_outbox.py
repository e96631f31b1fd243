"""`RedisOutbox`: one app's outbox as Redis Streams, drained by every worker of the app.

Shard n's keys share the hash tag `{<app>:<n>}` (`redis_shards.shard_base`): one slot on a cluster.

    key_prefix:{app:n}:s           stream shard n; a conversation always hashes to the same shard
    key_prefix:{app:n}:lease       which worker drains shard n now (expires after `visibility_timeout`)
    key_prefix:{app:n}:stats       the shard's sent and failed counters (summed by `statistics()`)
    key_prefix:{app:n}:result:...  each message's outcome, for `result()` (kept `result_ttl` seconds)
    key_prefix:{app:n}:queued:...  each message's entry id, so a retried enqueue appends nothing twice
    key_prefix:{app:n}:dead        entries no worker could decode, moved there once (`redis_dead`)
    key_prefix:workers             live workers (a sorted set of heartbeats on Redis's clock)

`enqueue` appends the message, its idempotency keys fixed, to its conversation's shard (once: a retry finds
the first append). Workers share the shards out (each takes its fair part of the leases), read them as the
consumer group "drainers", send each conversation's entries in order, and acknowledge (XACK + XDEL) only
after TIM's answer. A worker that dies leaves its entries pending; when its leases expire another worker
takes the shards, claims those entries (XAUTOCLAIM, once idle for `visibility_timeout`) and resends them,
with their original keys, before anything newer of the shard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import time
import zlib
from typing import Any, Final

import msgspec
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from ..errors import TIM_ERR_PARAM, TIMError, error_for
from ..pipeline import Failure, PipelineClosedError, classify
from ..pipeline.outbox import OutboxClosedError
from ..seams import MessageStore
from ..store import Conv
from ..telemetry import carry
from ..types import Message, MsgStatus
from .base import CoordinationUnavailableError, Deliver, EnqueueUnknownError
from .probe import Submit, find_sent
from .redis_dead import DeadLetters, reason_of
from .redis_scripts import ENQUEUE_SCRIPT, FINISH_SCRIPT, HEARTBEAT_SCRIPT, LEASE_SCRIPT
from .redis_shards import AnyRedis, Entries, read_group, shard_base, text_of

__all__ = ["RedisOutbox"]

log = logging.getLogger("aio_tim.coordination")

GROUP: Final = "drainers"
READ_BLOCK_MS: Final = 200
RETRY_PAUSE: Final = 0.2  # first pause after a failure; doubles up to RETRY_PAUSE_MAX
RETRY_PAUSE_MAX: Final = 5.0
ENQUEUE_RETRY_PAUSES: Final = (0.1, 0.3)  # an enqueue whose answer was lost: tried twice more
OUTCOMES_KEPT: Final = 4096  # outcomes of entries this worker acknowledged, newest kept


class _Outcome(msgspec.Struct, omit_defaults=True):
    """What became of one queued message (stored for `result`)."""

    ok: bool
    message: Message | None = None
    code: int = 0
    desc: str = ""


def result_key(message: Message) -> str:
    """The suffix that names a queued message's outcome: its conversation and idempotency keys."""
    return f"{message.conv_type}:{message.rand}:{message.seq}:{message.conv_id}"


class RedisOutbox:
    """The `OutboxQueue` of `RedisCoordinator`. The Client builds, starts and closes it.

    outbox = RedisOutbox(redis, "aio_tim:outbox:1400000000", store, shards=16)
    await outbox.start(deliver)
    await outbox.enqueue((1, "bob"), message)
    """

    def __init__(
        self,
        redis: AnyRedis,
        key_prefix: str,
        store: MessageStore,
        *,
        shards: int = 16,
        visibility_timeout: float = 30.0,
        batch: int = 64,
        result_ttl: int = 86400,
        drain: bool = True,
        consumer: str | None = None,
        submit: Submit | None = None,
    ) -> None:
        if shards < 1 or batch < 1 or visibility_timeout <= 0:
            raise ValueError("shards and batch must be at least 1 and visibility_timeout positive")
        self._redis = redis
        self._prefix = key_prefix
        self._store = store
        self._shards = shards
        self._visibility_ms = max(1, round(visibility_timeout * 1000))
        self._batch = batch
        self._result_ttl = result_ttl
        self._drain = drain
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"
        """This worker's consumer name in the group (unique per process)."""
        self._heartbeat = redis.register_script(HEARTBEAT_SCRIPT)
        self._lease = redis.register_script(LEASE_SCRIPT)
        self._enqueue = redis.register_script(ENQUEUE_SCRIPT)
        self._finish_script = redis.register_script(FINISH_SCRIPT)
        self.dead = DeadLetters(redis, "redis outbox", count_in=("stats", "failed"))
        """Where undecodable entries go (`dead.buried`: how many this worker moved)."""
        self._deliver: Deliver | None = None
        self._ready: set[int] = set()  # shards we lease whose older entries are all ours
        self._claiming: set[int] = set()  # shards we lease, waiting to claim a dead worker's entries
        self._releasing: set[int] = set()  # shards over our fair part, to give back between batches
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._stop = asyncio.Event()
        self._pause = 0.0
        self._unreachable = False
        self._outcomes: dict[tuple[str, str], _Outcome] = {}  # (stream, entry id): ids repeat across streams
        self._submit = submit  # to ask TIM whether a claimed entry went out already
        self._claimed: set[tuple[str, str]] = set()  # (stream, entry id) taken from a silent worker

    # --- keys ------------------------------------------------------------------------------------

    def stream(self, shard: int) -> str:
        return f"{shard_base(self._prefix, shard)}:s"

    def _key(self, shard: int, name: str) -> str:
        """A key of shard `shard` (its hash tag: the same slot as its stream)."""
        return f"{shard_base(self._prefix, shard)}:{name}"

    def _message_key(self, name: str, message: Message) -> str:
        """The result or queued marker of a message, in its conversation's shard."""
        shard = self.shard_of((int(message.conv_type or 0), message.conv_id or ""))
        return self._key(shard, f"{name}:{result_key(message)}")

    def shard_of(self, conv: Conv) -> int:
        """The shard a conversation's messages go to (a stable hash: the same in every worker)."""
        return zlib.crc32(f"{conv[0]}:{conv[1]}".encode()) % self._shards

    # --- the queue interface ---------------------------------------------------------------------

    async def start(self, deliver: Deliver) -> None:
        """Create the consumer groups and, unless `drain=False`, start draining."""
        self._deliver = deliver
        try:
            for shard in range(self._shards):
                await self._ensure_group(shard)
        except (RedisError, OSError) as error:
            self._unreachable_once(error)  # the drainer keeps trying
        if self._drain:
            self._tasks = [
                asyncio.create_task(self._keep_leases(), name="aio_tim redis outbox leases"),
                asyncio.create_task(self._run(), name="aio_tim redis outbox drainer"),
            ]

    async def enqueue(self, conv: Conv, message: Message) -> str:
        """Append `message` (keys fixed) to its conversation's shard, once; return the entry id.

        The append is idempotent: a marker named by the message's keys, set in the same script,
        makes a retry return the first append's entry. So an append whose answer was lost (a
        timeout, a reset) is retried here; if Redis still does not answer, EnqueueUnknownError
        (the message may be queued) carries the message to enqueue again. Raises
        CoordinationUnavailableError when Redis could not be reached at all: nothing was queued.
        """
        if self._closing or self._deliver is None:
            raise OutboxClosedError(TIM_ERR_PARAM, "the outbox is closed: nothing more is accepted")
        keys = [self.stream(self.shard_of(conv)), self._message_key("queued", message)]
        body = carry.stamped(msgspec.json.encode(message))  # the enqueue's trace context rides along
        args: list[int | str | bytes] = [conv[0], conv[1], body, self._result_ttl]
        unknown: BaseException | None = None
        for pause in (*ENQUEUE_RETRY_PAUSES, None):
            try:
                return text_of(await self._enqueue(keys=keys, args=args))
            except (RedisError, OSError) as error:
                if _not_sent(error) and unknown is None:
                    raise CoordinationUnavailableError(f"Redis did not take the message: {error}") from error
                unknown = unknown or error
                if pause is not None:
                    await asyncio.sleep(pause)
        raise EnqueueUnknownError(
            f"Redis did not answer in time ({unknown}): the message may be queued; enqueue "
            "error.message again to find out (its keys find the first append)",
            message,
        ) from unknown

    async def statistics(self) -> dict[str, int]:
        """Entries per state across the app: queued, inflight (delivered, not yet acked), sent, failed."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for shard in range(self._shards):
                pipe.xlen(self.stream(shard))
                pipe.xpending(self.stream(shard), GROUP)
                pipe.hgetall(self._key(shard, "stats"))
            replies = await pipe.execute(raise_on_error=False)
        lengths = [r if isinstance(r, int) else 0 for r in replies[0::3]]
        pending = [r["pending"] if isinstance(r, dict) else 0 for r in replies[1::3]]
        stats: dict[str, int] = {}
        for counters in replies[2::3]:
            for name, value in (counters if isinstance(counters, dict) else {}).items():
                stats[text_of(name)] = stats.get(text_of(name), 0) + int(value)
        inflight = sum(pending)
        return {
            "queued": sum(lengths) - inflight,
            "inflight": inflight,
            "sent": stats.get("sent", 0),
            "failed": stats.get("failed", 0),
        }

    async def wait_idle(self, poll: float = 0.05) -> None:
        """Wait until no entry is queued or inflight (polls Redis)."""
        while True:
            counts = await self.statistics()
            if not counts["queued"] and not counts["inflight"]:
                return
            await asyncio.sleep(poll)

    async def result(self, message: Message, timeout: float | None = None) -> Message:  # noqa: ASYNC109
        """The sent `message` (as `enqueue_new_msg` returned it) once a worker sent it; raises its
        TIMError if TIM refused it, TimeoutError if no outcome came within `timeout` seconds."""
        key = self._message_key("result", message)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        poll = 0.01
        while (found := await self._redis.get(key)) is None:
            if deadline is not None and loop.time() + poll > deadline:
                raise TimeoutError(f"no outcome for the message within {timeout}s")
            await asyncio.sleep(poll)
            poll = min(poll * 2, 0.25)
        outcome = msgspec.json.decode(found, type=_Outcome)
        if not outcome.ok or outcome.message is None:
            raise error_for(outcome.code, outcome.desc)
        return outcome.message

    # `timeout` is a drain budget that ends in a count, not a cancel scope: ASYNC109 does not apply.
    async def aclose(self, timeout: float) -> int:  # noqa: ASYNC109
        """Stop intake, let the current batch finish for up to `timeout` seconds, give the leases
        back; return how many entries this worker leaves pending (others claim them)."""
        self._closing = True
        self._stop.set()
        tasks, self._tasks = self._tasks, []
        if tasks:
            _, running = await asyncio.wait(tasks, timeout=timeout)
            for task in running:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        left = 0
        with contextlib.suppress(RedisError, OSError):
            left = await self._pending_of_mine(range(self._shards))
            for shard in self._ready | self._claiming:
                await self._lease(keys=[self._key(shard, "lease")], args=[self.consumer, 0])
            if not left and self._drain:  # leave no trace in the groups
                for shard in range(self._shards):
                    await self._redis.xgroup_delconsumer(self.stream(shard), GROUP, self.consumer)
        self._ready.clear()
        self._claiming.clear()
        if left:
            log.warning("redis outbox closed with %d entries pending: other workers will claim them", left)
        return left

    # --- leases ----------------------------------------------------------------------------------

    async def _keep_leases(self) -> None:
        """Every third of the visibility timeout: heartbeat, renew, and take or give back shards."""
        every = self._visibility_ms / 3000
        while not self._closing:
            try:
                await self._balance()
                self._reachable_again()
            except (RedisError, OSError) as error:
                self._unreachable_once(error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), every)

    async def _balance(self) -> None:
        alive = int(
            await self._heartbeat(keys=[f"{self._prefix}:workers"], args=[self.consumer, self._visibility_ms])
        )
        fair = math.ceil(self._shards / max(1, alive))
        for shard in sorted(self._ready | self._claiming):
            kept = await self._lease(
                keys=[self._key(shard, "lease")], args=[self.consumer, self._visibility_ms]
            )
            if not kept:
                log.warning("redis outbox: lost the lease of shard %d", shard)
                self._ready.discard(shard)
                self._claiming.discard(shard)
        owned = self._ready | self._claiming
        # The drainer gives them back between batches: a read in progress may still cover them.
        self._releasing = set(sorted(self._ready, reverse=True)[: max(0, len(owned) - fair)])
        free = [s for s in range(self._shards) if s not in self._ready | self._claiming]
        random.shuffle(free)
        for shard in free:
            if len(self._ready | self._claiming) >= fair:
                break
            lease = self._key(shard, "lease")
            if await self._redis.set(lease, self.consumer, nx=True, px=self._visibility_ms):
                await self._ensure_group(shard)
                self._claiming.add(shard)

    async def _pending_of_mine(self, shards: Any) -> int:
        """Entries delivered to this worker and not acknowledged, in `shards`."""
        mine = 0
        for shard in shards:
            with contextlib.suppress(ResponseError):  # NOGROUP: nothing pending
                summary = await self._redis.xpending(self.stream(shard), GROUP)
                consumers = summary.get("consumers") or ()
                mine += sum(int(c["pending"]) for c in consumers if text_of(c["name"]) == self.consumer)
        return mine

    async def _ensure_group(self, shard: int) -> None:
        try:
            await self._redis.xgroup_create(self.stream(shard), GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    # --- draining --------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closing:
            try:
                entries = await self._next_entries()
                if entries is not None:  # Redis answered (None: no shard leased, nothing was asked)
                    self._reachable_again()
                if entries:
                    await self._send_entries(entries)
                elif not self._ready:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), READ_BLOCK_MS / 1000)
            except (RedisError, OSError) as error:
                # Unacknowledged entries stay pending: read again ("0") and resent with their keys.
                if isinstance(error, ResponseError) and "NOGROUP" in str(error):
                    await self._recreate_groups()  # Redis restarted without our groups
                else:
                    self._unreachable_once(error)
                await self._backoff()
            except Exception:  # e.g. the local store: the entries stay pending, never dropped
                log.exception("redis outbox drainer: an error; retrying after a pause")
                await self._backoff()

    async def _next_entries(self) -> Entries | None:
        """Claimed entries of newly leased shards, else our own pending (a retry), else new ones.

        None when no shard is leased: nothing was read, so nothing says whether Redis answers.
        """
        await self._release_extras()
        for shard in sorted(self._claiming):
            await self._claim(shard)
        streams = [self.stream(shard) for shard in sorted(self._ready)]
        if not streams:
            return None
        # Per shard on a cluster (one slot each), in one call on a single Redis.
        mine = await read_group(self._redis, GROUP, self.consumer, dict.fromkeys(streams, "0"), self._batch)
        entries = [(s, i, f) for s, i, f in mine if f]
        if entries:
            return entries
        return await read_group(
            self._redis, GROUP, self.consumer, dict.fromkeys(streams, ">"), self._batch, READ_BLOCK_MS
        )

    async def _release_extras(self) -> None:
        """Give back the shards over our fair part that hold nothing of ours pending."""
        releasing, self._releasing = self._releasing, set()
        for shard in sorted(releasing & self._ready):
            if not await self._pending_of_mine([shard]):
                self._ready.discard(shard)
                await self._lease(keys=[self._key(shard, "lease")], args=[self.consumer, 0])

    async def _claim(self, shard: int) -> None:
        """Take over a newly leased shard's entries left by others, once they are idle long enough."""
        stream, start = self.stream(shard), "0-0"
        while True:
            reply = await self._redis.xautoclaim(
                stream, GROUP, self.consumer, self._visibility_ms, start, count=self._batch
            )
            start = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            if reply[1]:
                log.info("redis outbox: claimed %d entries of shard %d", len(reply[1]), shard)
                self._claimed.update((stream, text_of(entry_id)) for entry_id, _ in reply[1])
            if start == "0-0":
                break
        summary = await self._redis.xpending(stream, GROUP)
        others = [c for c in summary.get("consumers") or () if text_of(c["name"]) != self.consumer]
        if not others:  # everything older is ours now: the shard is ready, in order
            self._claiming.discard(shard)
            self._ready.add(shard)

    async def _send_entries(self, entries: Entries) -> None:
        """Send a batch: conversations side by side, each one's entries in order; an entry that
        cannot be decoded goes to the dead letters (counted as failed) instead of stalling them."""
        lanes: dict[Conv, list[tuple[str, Message]]] = {}
        for stream, entry_id, fields in entries:
            try:
                conv: Conv = (int(fields[b"t"]), fields[b"c"].decode())
                message = carry.claimed(fields[b"m"])
            except (KeyError, ValueError, TypeError, msgspec.MsgspecError) as error:
                await self.dead.bury(stream, text_of(entry_id), reason_of(error), group=GROUP)
                continue
            lanes.setdefault(conv, []).append((text_of(entry_id), message))
        # Every lane runs to its end before the next read, even when one fails: a lane still
        # running then would be read again as pending and sent twice.
        results = await asyncio.gather(
            *(self._send_lane(conv, lane) for conv, lane in lanes.items()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        if all(results):
            self._pause = 0.0
        else:  # a transient failure outlived the pipeline's retries: the entries stay pending
            await self._backoff()

    async def _send_lane(self, conv: Conv, lane: list[tuple[str, Message]]) -> bool:
        """Send one conversation's entries in order; stop at a transient failure (return False)."""
        assert self._deliver is not None
        shard = self.shard_of(conv)
        stream = self.stream(shard)
        for entry_id, message in lane:
            if shard not in self._ready:  # the lease went to another worker: it resends the rest
                return True
            outcome = self._outcomes.get((stream, entry_id))  # sent before, but Redis missed the ack
            if outcome is None and (stream, entry_id) in self._claimed:
                outcome = await self._sent_by_the_dead(conv, message)
            if outcome is None:
                try:
                    sent, msg_key = await self._deliver(conv, message)
                except TIMError as error:
                    if isinstance(error, PipelineClosedError) or classify(error) is not Failure.FATAL:
                        return False  # pending: resent later with the same keys
                    outcome = _Outcome(False, code=error.code, desc=error.desc)
                    await self._store.save(conv, message, status=int(MsgStatus.SEND_FAIL))
                else:
                    outcome = _Outcome(True, message=sent)
                    await self._store.save(conv, sent, status=int(MsgStatus.SEND_SUCC), msg_key=msg_key)
            # Until Redis has the outcome, a retry acknowledges instead of sending again; kept a
            # while after: a failover before the ack reached the replica brings the entry back.
            self._outcomes[stream, entry_id] = outcome
            await self._finish(stream, entry_id, message, outcome)
            while len(self._outcomes) > OUTCOMES_KEPT:
                del self._outcomes[next(iter(self._outcomes))]
            self._claimed.discard((stream, entry_id))
        return True

    async def _sent_by_the_dead(self, conv: Conv, message: Message) -> _Outcome | None:
        """A claimed entry's send that reached TIM before its worker died, looked up; None: send it."""
        if self._submit is None:
            return None
        try:
            found = await find_sent(self._submit, conv, message, time.time())
        except TIMError as error:  # cannot tell: resend with the same keys
            log.info("redis outbox: could not look a claimed message up (%s); resending", error)
            return None
        if found is None:
            return None
        await self._store.save(conv, found, status=int(MsgStatus.SEND_SUCC), msg_key=found.msg_id)
        return _Outcome(True, message=found)

    async def _finish(self, stream: str, entry_id: str, message: Message, outcome: _Outcome) -> None:
        """Record the outcome and acknowledge the entry, atomically (one script, on the shard's slot)."""
        await self._finish_script(
            keys=[self._message_key("result", message), f"{stream.removesuffix(':s')}:stats", stream],
            args=[msgspec.json.encode(outcome), self._result_ttl, "sent" if outcome.ok else "failed",
                  GROUP, entry_id],
        )  # fmt: skip

    async def _recreate_groups(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            for shard in range(self._shards):
                await self._ensure_group(shard)

    async def _backoff(self) -> None:
        self._pause = min(max(self._pause * 2, RETRY_PAUSE), RETRY_PAUSE_MAX)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self._pause)

    def _unreachable_once(self, error: BaseException) -> None:
        if not self._unreachable:
            self._unreachable = True
            log.warning("redis outbox: Redis failed (%s: %s); retrying", type(error).__name__, error)

    def _reachable_again(self) -> None:
        if self._unreachable:
            self._unreachable = False
            log.warning("redis outbox: Redis answers again; draining")

    def __repr__(self) -> str:
        return f"<RedisOutbox {self._prefix!r} consumer={self.consumer!r} shards={sorted(self._ready)}>"


def _not_sent(error: BaseException) -> bool:
    """Whether the command surely never reached Redis (no connection, none free in the pool)."""
    text = str(error)
    return isinstance(error, RedisConnectionError) and ("connecting to" in text or "No connection" in text)
