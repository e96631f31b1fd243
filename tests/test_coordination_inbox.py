"""The shared inbox on a Redis Stream (`RedisInbox`): any worker may receive a webhook; the workers
reading as one consumer share its events, each event processed once per consumer, and a silent
worker's events are claimed by another."""

from __future__ import annotations

import asyncio
import contextlib

from redis_support import RedisTarget

from aio_tim import ConvType, TextElem
from aio_tim.devserver import DevServer
from aio_tim.seams.inbox import Inbox, NewEntry
from aio_tim.testing import client_for


def entry(key: str) -> NewEntry:
    body = b'{"From_Account":"' + key.encode() + b'","To_Account":"bot"}'  # a conversation per key
    return NewEntry(key=key, command="C2C.CallbackAfterSendMsg", body=body,
                    query={"ClientIP": "1.2.3.4"}, received=1_700_000_000.0)  # fmt: skip


async def test_redis_inbox_is_an_inbox(redis_target: RedisTarget) -> None:
    """RedisInbox satisfies the Inbox protocol."""
    client = redis_target.client()
    try:
        assert isinstance(redis_target.inbox(client), Inbox)
    finally:
        await client.aclose()


async def test_workers_of_one_consumer_share_its_events_once(redis_target: RedisTarget) -> None:
    """Three workers reading as consumer "bot" and acknowledging what they read: 300 appended events
    (each appended twice, as a redelivered webhook is) are processed once each, spread over the workers;
    another consumer still sees all 300."""
    client = redis_target.client()
    try:
        workers = [redis_target.inbox(client) for _ in range(3)]
        await workers[0].append([entry(f"k{i}") for i in range(300)])
        assert all(a.duplicate for a in await workers[1].append([entry(f"k{i}") for i in range(300)]))
        seen: list[list[str]] = [[] for _ in workers]

        async def work(index: int) -> None:
            inbox = workers[index]
            last = None
            while True:
                got = await inbox.read("bot", after=last, limit=7, block=0.2)
                if not got:
                    return
                seen[index] += [e.key for e in got]
                last = got[-1].position
                await inbox.ack("bot", [last])
                await asyncio.sleep(0)

        await asyncio.gather(*(work(i) for i in range(3)))
        everything = [key for keys in seen for key in keys]
        assert sorted(everything) == sorted(f"k{i}" for i in range(300))  # each once
        assert sum(1 for keys in seen if keys) >= 2
        assert await workers[0].backlog("bot") == 0
        assert await workers[0].backlog("audit") == 300
    finally:
        await client.aclose()


async def test_a_silent_workers_events_are_claimed(redis_target: RedisTarget) -> None:
    """A worker that read events and died without acknowledging: after the visibility timeout another
    worker of the same consumer gets them (not before: while it lived it renewed its claim)."""
    client = redis_target.client()
    try:
        dead = redis_target.inbox(client, visibility_timeout=0.3)
        alive = redis_target.inbox(client, visibility_timeout=0.3)
        await dead.append([entry("a"), entry("b")])
        # Order is kept per conversation; "a" and "b" are two (two shards on a cluster).
        assert sorted(e.key for e in await dead.read("bot")) == ["a", "b"]
        await dead.aclose()  # the process is gone: nobody renews its claim on them
        assert await alive.read("bot", block=0.1) == []  # handed out already, not yet stale
        await asyncio.sleep(0.4)
        claimed = await alive.read("bot", block=0.5)
        assert sorted(e.key for e in claimed) == ["a", "b"]
        await alive.ack("bot", [claimed[-1].position])
        assert await alive.backlog("bot") == 0
    finally:
        await client.aclose()


async def test_a_webhook_received_by_one_worker_is_processed_by_another(redis_target: RedisTarget) -> None:
    """Client(coordinator=...) shares the inbox: worker A receives TIM's webhooks, worker B's
    tim.events() processes them, once, and the received message lands in A's local store."""
    async with (
        DevServer(limits=None) as server,
        redis_target.coordinator() as shared,
        client_for(server, "bob", coordinator=shared) as receiver,
        client_for(server, "bob", coordinator=shared) as processor,
        client_for(server, "alice") as alice,
    ):
        server.set_webhook(await receiver.listen())
        for i in range(5):
            await alice.msg.send_new_msg("bob", ConvType.C2C, {"message_elem_array": [
                {"elem_type": 0, "text_elem_content": f"hi {i}"}]})  # fmt: skip
        await server.webhooks_idle()
        texts = []
        async with asyncio.timeout(10):
            async for event in processor.events():
                if event.command == "C2C.CallbackAfterSendMsg" and event.message is not None:
                    element = event.message.elem_array[0]
                    assert isinstance(element, TextElem)
                    texts.append(element.content)
                if len(texts) == 5:
                    await event.ack()
                    break
        assert texts == [f"hi {i}" for i in range(5)]
        assert await receiver.store.count((ConvType.C2C, "alice")) == 5
        again = []
        with contextlib.suppress(TimeoutError):  # the receiver's own reader gets nothing processed already
            async with asyncio.timeout(1):
                async for event in receiver.events():
                    again.append(event.command)
        assert "C2C.CallbackAfterSendMsg" not in again
