"""Conversation events (tim.conv.events / watch / unread_counts) over loopback HTTP against the
dev server: a scripted sequence of sends, receives, reads, deletes and a sync yields exactly the
expected events and unread totals; the webhook inbox's writes show too."""

from __future__ import annotations

import asyncio
import json

import pytest
from scenario import GROUP

from aio_tim import ConvType, UsageError
from aio_tim.testing import client_for
from aio_tim.types.conv import ConvEventType

C2C, GRP = ConvType.C2C, ConvType.GROUP
ADD, DEL, UPDATE, START, FINISH = (
    ConvEventType.ADD,
    ConvEventType.DEL,
    ConvEventType.UPDATE,
    ConvEventType.START,
    ConvEventType.FINISH,
)


async def receive(tim, peer: str) -> None:
    await tim.msg.get_msg_list(
        peer, C2C, {"msg_getmsglist_param_is_remble": True, "msg_getmsglist_param_count": 20}
    )


def shape(events) -> list[tuple[int, list[str]]]:
    return [(int(e.type), [c.id for c in e.convs]) for e in events]


async def test_a_scripted_day_yields_exactly_these_events(alice, bob, clock):
    watch = alice.conv.watch()
    await watch.start()
    assert (await watch.poll(), watch.total) == ([], 0)

    await alice.msg.send_text("bob", C2C, "hi")
    assert shape(await watch.poll()) == [(ADD, ["bob"])]
    clock.now += 1
    await bob.msg.send_text("alice", C2C, "one")
    await bob.msg.send_text("alice", C2C, "two")
    await receive(alice, "bob")
    [event] = await watch.poll()
    assert shape([event]) == [(UPDATE, ["bob"])] and watch.total == 2
    [info] = json.loads(event.json_conv_array)
    assert (info["conv_id"], info["conv_type"], info["conv_unread_num"]) == ("bob", 1, 2)
    clock.now += 1
    await alice.msg.send_text(GROUP, GRP, "to the group")
    assert shape(await watch.poll()) == [(ADD, [GROUP])] and watch.total == 2

    await alice.msg.report_readed("bob", C2C, None)
    assert shape(await watch.poll()) == [(UPDATE, ["bob"])] and watch.total == 0
    await alice.conv.pin_conversation("bob", C2C, True)
    [event] = await watch.poll()
    assert shape([event]) == [(UPDATE, ["bob"])] and event.convs[0].is_pinned
    await alice.conv.delete_conversation(GROUP, GRP)
    assert shape(await watch.poll()) == [(DEL, [GROUP])]
    assert await watch.poll() == []

    await alice.conv.sync_conv_list()  # the server lists bob only (g1 was deleted there)
    assert shape(await watch.poll()) == [(START, []), (UPDATE, ["bob"]), (FINISH, [])]


async def test_deleted_then_back_is_added_again(alice, clock):
    watch = alice.conv.watch()
    await watch.start()
    await alice.msg.send_text("bob", C2C, "first")
    await alice.msg.send_text("carol", C2C, "there and gone")
    await alice.conv.delete_conversation("carol", C2C)
    # one poll: bob appeared; carol came and went between two polls, so she is no event at all
    assert shape(await watch.poll()) == [(ADD, ["bob"])]
    await alice.conv.delete_conversation("bob", C2C)
    assert shape(await watch.poll()) == [(DEL, ["bob"])]
    clock.now += 1
    await alice.msg.send_text("bob", C2C, "again")
    assert shape(await watch.poll()) == [(ADD, ["bob"])]


async def test_unread_counts_by_filter_follow_receives_and_reads(alice, bob, clock):
    c2c_only = alice.conv.unread_counts({"conversation_list_filter_conv_type": 1}, interval=0.01)
    total = alice.conv.unread_counts(interval=0.01)
    async with asyncio.timeout(10):
        assert (await anext(c2c_only)).unread_count == 0
        assert (await anext(total)).unread_count == 0
        await bob.msg.send_text("alice", C2C, "one")
        await bob.msg.send_text(GROUP, GRP, "to all")
        await receive(alice, "bob")
        assert (await anext(c2c_only)).unread_count == 1
        await alice.msg.get_msg_list(
            GROUP, GRP, {"msg_getmsglist_param_is_remble": True, "msg_getmsglist_param_count": 20}
        )
        assert (await anext(total)).unread_count == 2  # the group's message counted too
        await alice.msg.report_readed("bob", C2C, None)
        assert (await anext(c2c_only)).unread_count == 0
        assert (await anext(total)).unread_count == 1
    await c2c_only.aclose()
    await total.aclose()


async def test_events_of_the_webhook_inbox(clock, tmp_path):
    """bob listens: alice's message, applied by his inbox, is an ADD in his events()."""
    from aio_tim.devserver import DevServer

    token = "webhook-token-for-conv-event-tests"
    async with (
        DevServer(clock=clock) as server,
        client_for(server, "alice", clock=clock) as alice,
        client_for(server, "bob", clock=clock, store_path=tmp_path / "bob.db", webhook_token=token) as bob,
    ):
        server.set_webhook(await bob.listen(), token=token)
        events = bob.conv.events(interval=0.01)
        counts = bob.conv.unread_counts(interval=0.01)
        async with asyncio.timeout(10):
            assert (await anext(counts)).unread_count == 0
            first = asyncio.ensure_future(anext(events))  # the watch starts before the message
            await asyncio.sleep(0.1)
            await alice.msg.send_text("bob", C2C, "hello")
            event = await first
            assert (event.type, [c.id for c in event.convs]) == (ADD, ["alice"])
            assert (await anext(counts)).unread_count == 1
        await events.aclose()
        await counts.aclose()


async def test_the_postgresql_store_has_no_change_log_yet(server, clock, pg_url, pg_schema):
    from aio_tim.pgstore import PgStore

    store = PgStore(pg_url, sdk_app_id=server.sdk_app_id, user_id="alice", schema=pg_schema)
    async with client_for(server, "alice", clock=clock, store=store) as tim:
        with pytest.raises(UsageError, match="logs its changes"):
            tim.conv.unread_counts()


async def test_a_bad_filter_is_refused_before_any_read(alice):
    with pytest.raises(UsageError):
        alice.conv.unread_counts({"conversation_list_filter_conv_type": "c2c"})
