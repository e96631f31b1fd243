"""Faults of the shared outbox on Redis (issue 25): a garbage entry in a shard, and an enqueue
whose reply timed out. Each test prints its counts (tried, lost, duplicated)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from redis_support import PrivateRedis, RedisTarget, StallingProxy

from aio_tim import Client, ConvType, Message, TextElem
from aio_tim.coordination import CoordinationUnavailableError, RedisCoordinator
from aio_tim.coordination.redis_outbox import RedisOutbox, _Outcome
from aio_tim.coordination.redis_shards import shard_base
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


def server_sends(db_path: Path) -> Counter[tuple[str, int]]:
    """How many times the dev server stored each (To, MsgRandom)."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT to_account, msg_random FROM c2c_msgs WHERE kind = 'send'")
        found = Counter((str(t), int(r)) for t, r in rows)
    db.close()
    return found


def report(what: str, queued: list[Message], sends: Counter[tuple[str, int]]) -> tuple[int, int]:
    lost = sum(1 for q in queued if (q.conv_id, q.rand) not in sends)
    duplicated = sum(n - 1 for n in sends.values())
    print(f"{what}: tried {len(queued)}, sent {sum(sends.values())}, lost {lost}, duplicated {duplicated}")
    return lost, duplicated


GARBAGE = (
    {"x": "1"},  # none of the fields
    {"t": "one", "c": "bob", "m": "{}"},  # not a conversation type
    {"t": "1", "c": "bob", "m": "not json"},
    {"t": "1", "c": "bob", "m": '{"message_elem_array": 5}'},  # JSON, not a message
)


async def test_garbage_in_shards_goes_to_the_dead_letters(
    tmp_path: Path, redis_target: RedisTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage entries at the head of two of four shards, then 40 messages to 8 peers: all 40 are
    sent once, the garbage moved to the dead-letter stream, counted as failed and logged once each."""
    caplog.set_level(logging.WARNING, logger="aio_tim.coordination")
    options = {"shards": 4, "visibility_timeout": 2.0}
    async with DevServer(db_path=tmp_path / "server.db", limits=None) as server:
        prefix = f"{redis_target.prefix}:outbox:{server.sdk_app_id}"
        raw = redis_target.client()
        try:
            for index, fields in enumerate(GARBAGE):
                await raw.xadd(f"{shard_base(prefix, index % 2)}:s", fields)  # type: ignore[arg-type]
            async with (
                redis_target.coordinator(drain=False, **options) as enqueuer_side,
                redis_target.coordinator(**options) as worker_side,
                client_for(server, "alice", coordinator=enqueuer_side) as alice,
                client_for(server, "alice", coordinator=worker_side),
            ):
                queued = [
                    await alice.msg.enqueue_new_msg(f"p{i % 8}", ConvType.C2C, text(f"m{i}"))
                    for i in range(40)
                ]
                counts = await drained(alice, 20)
            dead = sum([await raw.xlen(f"{shard_base(prefix, n)}:dead") for n in range(4)])
        finally:
            await raw.aclose()
    lost, duplicated = report("garbage in outbox shards", queued, server_sends(tmp_path / "server.db"))
    logged = sum("cannot be decoded" in r.message for r in caplog.records)
    print(f"garbage entries: injected {len(GARBAGE)}, dead letters {dead}, logged {logged}, outbox {counts}")
    assert (lost, duplicated) == (0, 0)
    assert dead == len(GARBAGE) and logged == len(GARBAGE)
    assert counts == {"queued": 0, "inflight": 0, "sent": 40, "failed": len(GARBAGE)}


async def drained(tim: object, seconds: float) -> dict[str, int]:
    """The outbox's counts once nothing is queued or inflight, or after `seconds` (the asserts tell)."""
    counts: dict[str, int] = {}
    try:
        async with asyncio.timeout(seconds):
            while True:
                counts = await tim.outbox_statistics()  # type: ignore[attr-defined]
                if not counts["queued"] and not counts["inflight"]:
                    return counts
                await asyncio.sleep(0.05)
    except TimeoutError:
        return counts


STALLS = (0.35, 0.5, 0.8, 1.2, 2.0, 3.0)  # seconds Redis's replies are held; the client waits 0.3


async def enqueue_as_the_docs_say(tim: Client, peer: str, message: Message, stall: float) -> int:
    """Enqueue; on CoordinationUnavailableError wait for Redis and enqueue again, with the message
    the error gives back (its keys fixed) when it gives one. How many errors the caller saw."""
    errors = 0
    while True:
        try:
            await tim.msg.enqueue_new_msg(peer, ConvType.C2C, message)
            return errors
        except CoordinationUnavailableError as error:
            errors += 1
            message = getattr(error, "message", None) or message
            await asyncio.sleep(stall)


async def test_an_enqueue_whose_reply_timed_out_is_queued_once(tmp_path: Path) -> None:
    """Redis's reply to an enqueue held past the client's timeout (it ran the append): the enqueue,
    and the caller's retry the docs advise, leave one copy queued; the server gets each message
    once (6 stalls from 0.35 to 3 s, command timeout 0.3 s)."""
    (tmp_path / "redis").mkdir()
    with PrivateRedis(tmp_path / "redis") as redis_server:
        async with (
            StallingProxy(redis_server.port) as proxy,
            DevServer(db_path=tmp_path / "server.db", limits=None) as server,
        ):
            async with (
                RedisCoordinator(proxy.url, key_prefix="t", drain=False, command_timeout=0.3) as front,
                client_for(server, "alice", coordinator=front) as alice,
            ):
                errors = []
                for index, stall in enumerate(STALLS):
                    proxy.stall(stall)
                    errors.append(
                        await enqueue_as_the_docs_say(alice, f"bob{index}", text(f"m{index}"), stall)
                    )
            async with (
                RedisCoordinator(redis_server.url, key_prefix="t") as back,
                client_for(server, "alice", coordinator=back) as worker,
            ):
                counts = await drained(worker, 20)
    sends = server_sends(tmp_path / "server.db")
    copies = [sum(n for (to, _), n in sends.items() if to == f"bob{i}") for i in range(len(STALLS))]
    lost, duplicated = sum(1 for n in copies if n == 0), sum(max(0, n - 1) for n in copies)
    print(f"timed-out enqueues: tried {len(STALLS)}, lost {lost}, duplicated {duplicated},",
          f"copies per message {copies}, errors the caller saw {errors}, held {proxy.held}")  # fmt: skip
    assert counts["sent"] == len(STALLS)
    assert (lost, duplicated) == (0, 0)


async def test_an_outcome_recorded_twice_is_counted_once(tmp_path: Path, redis_target: RedisTarget) -> None:
    """The outcome script run twice for one entry (a client retrying a call whose reply a failover
    lost): the message counts once as sent."""
    async with (
        DevServer(limits=None) as server,
        redis_target.coordinator(drain=False, shards=2) as shared,
        client_for(server, "alice", coordinator=shared) as alice,
    ):
        queued = await alice.msg.enqueue_new_msg("bob", ConvType.C2C, text("once"))
        outbox = alice._outbox
        assert isinstance(outbox, RedisOutbox)
        stream = outbox.stream(outbox.shard_of((ConvType.C2C, "bob")))
        [(entry_id, _)] = await shared.redis.xrange(stream)
        outcome = _Outcome(True, message=queued)
        for _ in range(2):
            await outbox._finish(stream, entry_id.decode(), queued, outcome)
        counts = await alice.outbox_statistics()
    print(f"an outcome recorded twice: counted sent {counts['sent']}")
    assert counts == {"queued": 0, "inflight": 0, "sent": 1, "failed": 0}


async def test_an_entry_a_failover_brings_back_is_not_sent_again(redis_target: RedisTarget) -> None:
    """A worker sent an entry and acknowledged it, then the master failed over before the
    acknowledgement reached its replica: the entry is this worker's pending one again. Read again,
    it is acknowledged with the outcome the worker kept, not sent a second time."""
    async with (
        DevServer(limits=None) as server,
        redis_target.coordinator(drain=False, shards=1) as shared,
        client_for(server, "alice", coordinator=shared) as alice,
    ):
        message = await alice.msg.enqueue_new_msg("bob", ConvType.C2C, text("once"))
        outbox = alice._outbox
        assert isinstance(outbox, RedisOutbox) and outbox._deliver is not None
        deliver, calls = outbox._deliver, []

        async def counted(conv: tuple[int, str], queued: Message) -> tuple[Message, str | None]:
            calls.append(queued.rand)
            return await deliver(conv, queued)

        outbox._deliver = counted
        outbox._ready.add(0)
        [(entry_id, _)] = await shared.redis.xrange(outbox.stream(0))
        for _ in range(2):  # the second time: the entry the failover brought back
            await outbox._send_lane((int(ConvType.C2C), "bob"), [(entry_id.decode(), message)])
    print(f"an entry back after a failover: delivered {len(calls)} time(s)")
    assert calls == [message.rand]
