"""Faults of the shared inbox on Redis (issue 25): what an event loop with `auto_ack=False`, two
workers reading as one consumer, a flushed Redis, a garbage entry and `purge()` must not lose or
repeat. Each test prints its counts (tried, handed out, lost, duplicated)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis_support import PrivateRedis, RedisTarget

from aio_tim.coordination import CoordinationUnavailableError, RedisCoordinator
from aio_tim.coordination.redis_dead import dead_key
from aio_tim.coordination.redis_inbox import RedisInbox
from aio_tim.events.inbox import NewEntry
from aio_tim.events.stream import EventStream


def entry(key: str) -> NewEntry:
    body = b'{"From_Account":"' + key.encode() + b'","To_Account":"bot"}'  # a conversation per key
    return NewEntry(key=key, command="C2C.CallbackAfterSendMsg", body=body,
                    query={"ClientIP": "1.2.3.4"}, received=1_700_000_000.0)  # fmt: skip


def report(what: str, tried: int, handed: Counter[str]) -> tuple[int, int]:
    """Print and return (lost, duplicated) for `tried` keys k0..k<tried-1> handed out as counted."""
    lost = sum(1 for i in range(tried) if f"k{i}" not in handed)
    duplicated = sum(n - 1 for n in handed.values())
    print(f"{what}: tried {tried}, handed out {sum(handed.values())}, lost {lost}, duplicated {duplicated}")
    return lost, duplicated


@pytest_asyncio.fixture
async def shared(redis_target: RedisTarget) -> AsyncIterator[Any]:
    client = redis_target.client()
    yield client
    await client.aclose()


async def drain(stream: EventStream, handed: Counter[str], *, until: int, idle: float) -> list[str]:
    """Take events from `stream` until `until` were handed out or none came for `idle` seconds."""
    positions: list[str] = []
    with contextlib.suppress(TimeoutError):
        while sum(handed.values()) < until:
            event = await asyncio.wait_for(stream.__anext__(), idle)
            handed[event.id] += 1
            positions.append(event.position)
    return positions


async def test_auto_ack_false_hands_each_event_out_once(shared: Any, redis_target: RedisTarget) -> None:
    """`auto_ack=False`: 300 events, none acknowledged while reading, are each handed out once and all
    come out (the worker's own pending entries are not read again on every read); acknowledged
    afterwards, nothing is left."""
    inbox = redis_target.inbox(shared, visibility_timeout=30)
    await inbox.append([entry(f"k{i}") for i in range(300)])
    stream = EventStream(inbox, "bob", "bot", auto_ack=False)
    handed: Counter[str] = Counter()
    positions = await drain(stream, handed, until=600, idle=1.5)
    lost, duplicated = report("auto_ack=False", 300, handed)
    assert (lost, duplicated) == (0, 0)
    await inbox.ack("bot", positions)
    assert await inbox.backlog("bot") == 0
    await inbox.aclose()


async def test_two_workers_of_one_consumer_never_share_an_event(
    shared: Any, redis_target: RedisTarget
) -> None:
    """Two live workers reading as consumer "bot", 50 ms per event, visibility 2 s, 300 events: a
    batch takes longer than the visibility timeout, yet nothing a live worker holds is claimed by
    the other (its claims are renewed while held): each event once."""
    workers = [redis_target.inbox(shared, visibility_timeout=2.0) for _ in range(2)]
    await workers[0].append([entry(f"k{i}") for i in range(300)])
    handed: Counter[str] = Counter()

    async def work(inbox: RedisInbox) -> None:
        stream = EventStream(inbox, "bob", "bot")
        with contextlib.suppress(TimeoutError):
            while True:  # until nothing came for longer than the visibility timeout
                event = await asyncio.wait_for(stream.__anext__(), 3.0)
                handed[event.id] += 1
                await asyncio.sleep(0.05)

    await asyncio.gather(*(work(inbox) for inbox in workers))
    lost, duplicated = report("two workers, one consumer", 300, handed)
    assert (lost, duplicated) == (0, 0)
    for inbox in workers:
        await inbox.aclose()


async def test_the_inbox_recovers_after_flushdb_and_an_empty_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A consumer reading all along: Redis flushed (FLUSHDB), then killed and restarted empty; the
    50 events appended (answered OK) after each are all consumed: the consumer group is recreated,
    and each loss is logged once."""
    caplog.set_level(logging.WARNING, logger="aio_tim.coordination")
    handed: Counter[str] = Counter()
    with PrivateRedis(tmp_path) as server:
        async with RedisCoordinator(server.url, key_prefix="t") as shared:
            inbox = RedisInbox(shared.redis, "t:inbox:1", visibility_timeout=2.0)

            async def consume() -> None:
                async for event in EventStream(inbox, "bob", "bot"):
                    handed[event.id] += 1

            consumer = asyncio.create_task(consume())
            await inbox.append([entry(f"k{i}") for i in range(20)])
            await wait_for_count(handed, 20)
            await shared.redis.flushdb()
            await inbox.append([entry(f"k{i}") for i in range(20, 70)])
            await wait_for_count(handed, 70)
            server.kill()
            empty_folder(tmp_path)  # restarted with nothing on disk: empty
            server.start()
            await append_until_taken(inbox, [entry(f"k{i}") for i in range(70, 120)])
            await wait_for_count(handed, 120)
            await inbox.aclose()
            finished = await asyncio.wait_for(asyncio.gather(consumer, return_exceptions=True), 5)
    lost, duplicated = report("FLUSHDB, then an empty restart", 120, handed)
    assert finished == [None]  # the consumer never raised
    assert (lost, duplicated) == (0, 0)
    assert sum("is gone" in r.message for r in caplog.records) == 2


async def wait_for_count(handed: Counter[str], count: int, seconds: float = 10.0) -> None:
    """Until `count` distinct events were handed out (or the time is up: the test's asserts tell)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                if len(handed) >= count:
                    return
                await asyncio.sleep(0.02)


def empty_folder(folder: Path) -> None:
    for leftover in folder.iterdir():
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()


async def append_until_taken(inbox: RedisInbox, entries: list[NewEntry]) -> None:
    """Append as the receiver's sender does: retry until Redis takes them (it answers 503 meanwhile)."""
    while True:
        try:
            await inbox.append(entries)
            return
        except CoordinationUnavailableError:
            await asyncio.sleep(0.05)


GARBAGE = (
    {b"x": b"1"},  # none of the fields
    {b"k": b"g1", b"c": b"C2C.CallbackAfterSendMsg", b"b": b"{}", b"q": b"not json", b"r": b"1"},
    {b"k": b"\xff\xfe", b"c": b"C", b"b": b"{}", b"q": b"{}", b"r": b"1"},  # not UTF-8
    {b"k": b"g3", b"c": b"C", b"b": b"{}", b"q": b"{}", b"r": b"soon"},
)


async def test_garbage_entries_go_to_the_dead_letters(
    shared: Any, redis_target: RedisTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """Four undecodable entries among 20 events in the inbox stream: two consumers each get all 20
    events (before and after the garbage, again after a restart); the garbage is moved to the
    dead-letter stream and logged once each, however many consumers met it."""
    caplog.set_level(logging.WARNING, logger="aio_tim.coordination")
    first = redis_target.inbox(shared)
    await first.append([entry(f"k{i}") for i in range(10)])
    for fields in GARBAGE:
        await shared.xadd(first.stream(0), fields)  # type: ignore[arg-type]
    await first.append([entry(f"k{i}") for i in range(10, 20)])
    counts = {}
    for consumer in ("bot", "audit"):
        handed: Counter[str] = Counter()
        for inbox in (
            first,
            redis_target.inbox(shared),
        ):  # and again, as after a restart
            await drain(EventStream(inbox, "bob", consumer, auto_ack=False), handed, until=40, idle=0.5)
        counts[consumer] = report(f"garbage in the inbox, consumer {consumer}", 20, handed)
    dead = await shared.xlen(dead_key(first.stream(0)))
    logged = sum("cannot be decoded" in r.message for r in caplog.records)
    print(f"garbage entries: injected {len(GARBAGE)}, dead letters {dead}, logged {logged}")
    assert counts == {"bot": (0, 0), "audit": (0, 0)}
    assert dead == len(GARBAGE) and logged == len(GARBAGE)
    await first.aclose()


async def test_one_ack_covers_thousands_of_held_entries(shared: Any, redis_target: RedisTarget) -> None:
    """9,000 entries handed out and acknowledged with one call (an `auto_ack=False` consumer that
    held them all): every one is acknowledged (Lua's unpack() limit is not hit)."""
    inbox = redis_target.inbox(shared)
    await inbox.append([entry(f"k{i}") for i in range(9_000)])
    got = []
    while len(got) < 9_000 and (more := await inbox.read("bot", after=got[-1].position if got else None,
                                                          limit=9_000)):  # fmt: skip
        got += more  # on a cluster a read covers each of 16 shards with a part of the limit
    await inbox.ack("bot", [e.position for e in got])
    left = await inbox.backlog("bot")
    print(f"one ack: tried {len(got)}, left unacknowledged {left}")
    assert (len(got), left) == (9_000, 0)
    await inbox.aclose()
