"""The `Inbox` contract (aio_tim.seams.inbox), run against each implementation.

SQLite (the default), Redis Streams (`aio_tim.coordination.redis_inbox`) and PostgreSQL
(`aio_tim.pgstore.inbox`) are the `inbox` fixture's params; the effects on the store are checked
with SQLite and PostgreSQL, the two that apply them in the append's transaction.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from pg_support import PG_URL, own_schema
from redis_support import REDIS_URL, on_ci, require_redis

from aio_tim import ConvType, Message, MsgStatus, TextElem
from aio_tim.coordination.redis_inbox import RedisInbox, store_applier
from aio_tim.seams.inbox import (
    Inbox,
    JoinGroup,
    ModifyC2C,
    NewEntry,
    PeerReadC2C,
    RevokeC2C,
    RevokeGroup,
    SaveMessage,
)
from aio_tim.store import LocalStore
from aio_tim.store.inbox import SqliteInbox


async def pg_store(stack: AsyncExitStack) -> Any:
    """A PgStore in a schema of the test's own (dropped afterwards); asyncpg only for these runs."""
    from aio_tim.pgstore import PgStore

    schema = await stack.enter_async_context(own_schema(PG_URL))
    return await stack.enter_async_context(
        PgStore(PG_URL, sdk_app_id=1400000000, user_id="bob", schema=schema)
    )


@pytest_asyncio.fixture(params=["sqlite", "redis", "postgresql"])
async def inbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Inbox]:
    async with LocalStore(tmp_path / "store.db") as store, AsyncExitStack() as stack:
        if request.param == "postgresql":  # the shared PostgreSQL (fails under CI=true without it)
            made: Inbox = (await pg_store(stack)).inbox()
        elif request.param == "redis":  # the shared Redis (fails under CI=true, skips elsewhere, without it)
            require_redis(REDIS_URL, ci=on_ci())
            prefix = f"aio_tim_test:{uuid.uuid4().hex[:12]}"
            client = aioredis.Redis.from_url(REDIS_URL)
            made = RedisInbox(client, prefix, apply=store_applier(store))
        else:
            made = SqliteInbox(store)
        yield made
        await made.aclose()
        if request.param == "redis":
            await client.delete(*[key async for key in client.scan_iter(match=f"{prefix}:*")] or [prefix])
            await client.aclose()


def entry(key: str, **fields: object) -> NewEntry:
    return NewEntry(key=key, command="C2C.CallbackAfterSendMsg", body=b'{"k":"' + key.encode() + b'"}',
                    query={"ClientIP": "1.2.3.4"}, received=1_700_000_000.0, **fields)  # type: ignore[arg-type]  # fmt: skip


def test_sqlite_inbox_is_an_inbox(inbox: Inbox) -> None:
    """The SQLite implementation satisfies the Protocol."""
    assert isinstance(inbox, Inbox)


async def test_append_dedups_by_key_and_answers_in_order(inbox: Inbox) -> None:
    """A key already present (or repeated in the same call) is not added again; its position is given."""
    first = await inbox.append([entry("a"), entry("b")])
    again = await inbox.append([entry("b"), entry("c"), entry("c")])
    assert [a.duplicate for a in first] == [False, False]
    assert [a.duplicate for a in again] == [True, False, True]
    assert again[0].position == first[1].position and again[2].position == again[1].position
    read = await inbox.read("x")
    assert [(e.key, e.body, e.query) for e in read] == [
        ("a", b'{"k":"a"}', {"ClientIP": "1.2.3.4"}), ("b", b'{"k":"b"}', {"ClientIP": "1.2.3.4"}),
        ("c", b'{"k":"c"}', {"ClientIP": "1.2.3.4"}),
    ]  # fmt: skip


async def test_concurrent_appends_each_get_their_own_answer(inbox: Inbox) -> None:
    """200 concurrent single appends (group-committed) each get a distinct position, in the inbox once."""
    answers = await asyncio.gather(*(inbox.append([entry(f"k{i}")]) for i in range(200)))
    positions = {a[0].position for a in answers}
    assert len(positions) == 200 and await inbox.backlog("x") == 200


async def test_ack_moves_a_consumers_cursor_only(inbox: Inbox) -> None:
    """Acknowledging moves that consumer's cursor; another consumer still sees everything."""
    await inbox.append([entry(f"k{i}") for i in range(5)])
    read = await inbox.read("one", limit=3)
    await inbox.ack("one", [read[2].position])
    assert [e.key for e in await inbox.read("one")] == ["k3", "k4"]
    assert await inbox.backlog("one") == 2 and await inbox.backlog("two") == 5
    assert [e.key for e in await inbox.read("one", after=read[0].position, limit=2)] == ["k1", "k2"]


async def test_read_blocks_until_an_append(inbox: Inbox) -> None:
    """A blocking read returns as soon as an entry arrives, and empty once `block` has passed."""
    assert await inbox.read("x", block=0.05) == []
    reader = asyncio.create_task(inbox.read("x", block=5))
    await asyncio.sleep(0.05)
    await inbox.append([entry("late")])
    assert [e.key for e in await asyncio.wait_for(reader, 2)] == ["late"]


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def store_inbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Any, Inbox]]:
    """A store and its inbox, which applies entries' effects to it in the append's transaction."""
    async with AsyncExitStack() as stack:
        if request.param == "postgresql":
            store = await pg_store(stack)
            yield store, store.inbox()
        else:
            store = await stack.enter_async_context(LocalStore(tmp_path / "s.db"))
            yield store, SqliteInbox(store)


async def test_effects_apply_once_and_in_causal_order(store_inbox: tuple[Any, Inbox]) -> None:
    """A message saved and recalled in the same batch ends revoked; a duplicate entry applies nothing."""
    store, inbox = store_inbox
    msg = Message(
        elem_array=[TextElem(content="hi")], sender="alice", server_time=1_700_000_000, seq=5, rand=9
    )
    group_msg = Message(
        elem_array=[TextElem(content="g")], sender="alice", server_time=1_700_000_000, seq=1, rand=2
    )
    await asyncio.gather(
        inbox.append([entry("send", effects=(SaveMessage(1, "alice", msg, "5_9_1700000000"),))]),
        inbox.append([entry("recall", effects=(RevokeC2C("alice", "5_9_1700000000"),))]),
        inbox.append([entry("not-member", effects=(SaveMessage(2, "g1", group_msg, None),))]),
        inbox.append([entry("join", effects=(JoinGroup("g2"),))]),
        inbox.append([entry("member", effects=(SaveMessage(2, "g2", group_msg, None),))]),
    )
    [stored] = await store.page((ConvType.C2C, "alice"), anchor=None, count=5, forward=False)
    assert stored.status == MsgStatus.REVOKED
    assert await store.count((ConvType.GROUP, "g1")) == 0 and await store.count((ConvType.GROUP, "g2")) == 1
    await inbox.append([entry("send", effects=(SaveMessage(1, "alice", msg, None),))])  # a redelivery
    await inbox.append([entry("recall-g", effects=(RevokeGroup("g2", (1,)),))])
    [group_stored] = await store.page((ConvType.GROUP, "g2"), anchor=None, count=5, forward=False)
    assert group_stored.status == MsgStatus.REVOKED
    assert await store.count((ConvType.C2C, "alice")) == 1
    await inbox.aclose()


async def test_modify_and_read_receipt_effects_rewrite_the_stored_json(
    store_inbox: tuple[Any, Inbox],
) -> None:
    """A modify replaces the elements (keeping the cloud data it does not carry); a read receipt
    marks the user's own message read by the peer; a message from the peer is left alone."""
    store, inbox = store_inbox
    mine = Message(elem_array=[TextElem(content="v1")], sender="bob", is_from_self=True,
                   server_time=1_700_000_000, seq=7, rand=8, cloud_custom_str="c")  # fmt: skip
    theirs = Message(
        elem_array=[TextElem(content="t")], sender="alice", server_time=1_700_000_001, seq=9, rand=1
    )
    await inbox.append([entry("s1", effects=(SaveMessage(1, "alice", mine, "7_8"),)),
                        entry("s2", effects=(SaveMessage(1, "alice", theirs, "9_1"),))])  # fmt: skip
    await inbox.append([entry("modify", effects=(ModifyC2C("alice", "7_8", (TextElem(content="v2"),)),))])
    await inbox.append([entry("receipt", effects=(PeerReadC2C("alice", ("7_8", "9_1")),))])
    newer, older = await store.page((ConvType.C2C, "alice"), anchor=None, count=5, forward=False)
    assert isinstance(older.elem_array[0], TextElem) and older.elem_array[0].content == "v2"
    assert (older.cloud_custom_str, older.receipt_peer_read) == ("c", True)
    assert newer.receipt_peer_read is not True and newer.elem_array[0].content == "t"  # type: ignore[union-attr]
    await inbox.aclose()


async def test_a_closed_inbox_refuses_work(inbox: Inbox) -> None:
    """After aclose, append and read raise a usage error rather than losing entries silently."""
    await inbox.append([entry("a")])
    await inbox.aclose()
    with pytest.raises(Exception, match="closed"):
        await inbox.append([entry("b")])


async def test_purge_removes_only_old_entries_every_consumer_acknowledged(tmp_path: Path) -> None:
    """purge() keeps what is recent or not yet acknowledged by every consumer with a cursor."""
    async with LocalStore(tmp_path / "s.db") as store:
        inbox = SqliteInbox(store)
        old = [NewEntry(key=f"old{i}", command="c", body=b"{}", received=100.0) for i in range(4)]
        await inbox.append([*old, NewEntry(key="new", command="c", body=b"{}", received=10_000.0)])
        read = await inbox.read("a")
        await inbox.ack("a", [read[3].position])  # a: everything old
        await inbox.ack("b", [read[1].position])  # b: two of them
        assert await inbox.purge(received_before=5_000.0) == 2
        assert [e.key for e in await inbox.read("z")] == ["old2", "old3", "new"]
        await inbox.aclose()


async def test_purge_never_deletes_what_a_consumer_has_not_acknowledged(inbox: Inbox) -> None:
    """Consumer "a" acknowledged all 20 entries, "b" read them and acknowledged none: purge() with
    every entry old enough deletes nothing (b has no cursor yet, and still counts); once b
    acknowledged 10, those 10 go and b reads the other 10."""
    await inbox.append([entry(f"k{i}") for i in range(20)])
    for consumer in ("a", "b"):
        read = await inbox.read(consumer, limit=50)
        assert len(read) == 20
    await inbox.ack("a", [read[-1].position])
    later = time.time() + 3600
    first = await inbox.purge(received_before=later)
    await inbox.ack("b", [read[9].position])
    second = await inbox.purge(received_before=later)
    left = [e.key for e in await inbox.read("b", limit=50)]
    lost = sum(1 for i in range(10, 20) if f"k{i}" not in left)
    print(f"purge ({type(inbox).__name__}): tried 20, purged before b acked {first}, after b acked 10:",
          f"{second}, lost for b {lost}")  # fmt: skip
    assert (first, second, lost) == (0, 10, 0)
    assert left == [f"k{i}" for i in range(10, 20)]
    await inbox.ack("b", [read[-1].position])
    assert await inbox.purge(received_before=later) == 10  # acknowledged by both now


async def test_a_forgotten_consumer_no_longer_holds_purge(inbox: Inbox) -> None:
    """A consumer that read and never acknowledged keeps everything until it is forgotten."""
    await inbox.append([entry(f"k{i}") for i in range(5)])
    read = await inbox.read("a")
    await inbox.ack("a", [read[-1].position])
    await inbox.read("retired")
    assert await inbox.purge(received_before=time.time() + 3600) == 0
    await inbox.forget("retired")  # type: ignore[attr-defined]
    assert await inbox.purge(received_before=time.time() + 3600) == 5
