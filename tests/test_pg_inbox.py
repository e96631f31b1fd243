"""The inbox on PostgreSQL shared by workers (`PgInbox`): any worker receives, a webhook redelivered
to another worker is not added twice, a consumer's cursor is one for the fleet, and entries become
readable in position order however the workers' appends interleave. Against the real PostgreSQL
(`pg_schema`: a schema per test); the Inbox contract itself is tests/test_inbox_contract.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import msgspec

from aio_tim import ConvType, TextElem
from aio_tim.devserver import DevServer
from aio_tim.pgstore import PgStore
from aio_tim.pgstore.inbox import PgInbox
from aio_tim.seams.inbox import NewEntry, SaveMessage
from aio_tim.testing import client_for
from aio_tim.types import Message

APP = 1400000000


def entry(key: str, *effects: SaveMessage) -> NewEntry:
    return NewEntry(key=key, command="C2C.CallbackAfterSendMsg", body=b"{}", received=1_700_000_000.0,
                    effects=effects)  # fmt: skip


@asynccontextmanager
async def stores(url: str, schema: str, count: int) -> AsyncIterator[list[PgStore]]:
    """`count` stores of bob, each with a pool of its own (as workers have) on the one schema."""
    async with AsyncExitStack() as stack:
        made = [PgStore(url, sdk_app_id=APP, user_id="bob", schema=schema, pool_size=4) for _ in range(count)]
        yield [await stack.enter_async_context(store) for store in made]


async def test_a_webhook_redelivered_to_another_worker_is_kept_once(pg_url: str, pg_schema: str) -> None:
    """The same 100 keys appended at once on two workers: each key is new on exactly one of them,
    both answer the same position, and the received message is saved (and counted) once."""
    async with stores(pg_url, pg_schema, 2) as (one, two):
        inboxes = [one.inbox(), two.inbox()]
        message = Message(elem_array=[TextElem(content="hi")], sender="alice", server_time=1_700_000_000)

        def batch(i: int) -> list[NewEntry]:
            received = msgspec.structs.replace(message, seq=i, rand=i)
            return [entry(f"k{i}", SaveMessage(1, "alice", received, None))]

        answers = await asyncio.gather(*(inbox.append(batch(i)) for i in range(100) for inbox in inboxes))
        pairs = [(answers[2 * i][0], answers[2 * i + 1][0]) for i in range(100)]
        assert all(a.duplicate != b.duplicate and a.position == b.position for a, b in pairs)
        assert await one.count((ConvType.C2C, "alice")) == 100 and await inboxes[1].backlog("x") == 100
        for inbox in inboxes:
            await inbox.aclose()


async def test_interleaved_appends_are_read_in_order_and_none_is_skipped(pg_url: str, pg_schema: str) -> None:
    """Three workers append 600 entries concurrently while a fourth reads incrementally after its
    last position: it reads every entry exactly once, in increasing positions (an append's ids
    are drawn under the tail's lock, so none commits below a position already read)."""
    async with stores(pg_url, pg_schema, 4) as all_stores:
        writers, reader = [s.inbox() for s in all_stores[:3]], all_stores[3].inbox()

        async def write(index: int, inbox: PgInbox) -> None:
            for i in range(0, 200, 4):
                await asyncio.gather(*(inbox.append([entry(f"w{index}-{i + j}")]) for j in range(4)))

        writing = asyncio.gather(*(write(i, inbox) for i, inbox in enumerate(writers)))
        seen: list[tuple[int, str]] = []
        after = None
        while True:  # until the writers are done and nothing is left after the last position read
            done = writing.done()
            got = await reader.read("r", after=after, limit=50, block=0.5)
            seen += [(int(e.position), e.key) for e in got]
            after = got[-1].position if got else after
            if done and not got:
                break
        await writing
        skipped = 600 - len({k for _, k in seen})
        print(f"interleaved appends: 600 appended by 3 workers, read {len(seen)}, skipped {skipped}")
        positions = [p for p, _ in seen]
        assert positions == sorted(positions) and (len(seen), skipped) == (600, 0)
        for inbox in [*writers, reader]:
            await inbox.aclose()


async def test_a_blocked_read_wakes_when_another_worker_appends(pg_url: str, pg_schema: str) -> None:
    """A read blocked on one worker returns the entry another worker appended (NOTIFY)."""
    async with stores(pg_url, pg_schema, 2) as (one, two):
        waiting, writing = one.inbox(), two.inbox()
        reader = asyncio.create_task(waiting.read("x", block=10))
        await asyncio.sleep(0.2)
        await writing.append([entry("from-two")])
        assert [e.key for e in await asyncio.wait_for(reader, 5)] == ["from-two"]
        await waiting.aclose()
        await writing.aclose()


async def test_one_worker_receives_another_processes_and_every_worker_has_the_history(
    pg_url: str, pg_schema: str
) -> None:
    """Client(store=PostgreSQL) receives into the PostgreSQL inbox with no other option: worker A
    receives TIM's webhooks, worker B's tim.events() processes them, the received messages are in
    the history both workers read, and the consumer's cursor moved for the fleet."""
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(DevServer(limits=None))
        made = [PgStore(pg_url, sdk_app_id=server.sdk_app_id, user_id="bob", schema=pg_schema) for _ in "ab"]
        a, b = [await stack.enter_async_context(client_for(server, "bob", store=s)) for s in made]
        alice = await stack.enter_async_context(client_for(server, "alice"))
        server.set_webhook(await a.listen())
        for i in range(5):
            await alice.msg.send_text("bob", ConvType.C2C, f"hi {i}")
        await server.webhooks_idle()
        texts = []
        async with asyncio.timeout(10):
            async for event in b.events():
                if event.command == "C2C.CallbackAfterSendMsg" and event.message is not None:
                    element = event.message.elem_array[0]
                    assert isinstance(element, TextElem)
                    texts.append(element.content)
                if len(texts) == 5:
                    await event.ack()
                    break
        assert texts == [f"hi {i}" for i in range(5)]
        for worker in (a, b):
            page = await worker.msg.get_msg_list("alice", ConvType.C2C, {})
            assert sorted(m.elem_array[0].content for m in page) == texts  # type: ignore[union-attr]
            assert await worker.store.unread_count((ConvType.C2C, "alice")) == 5
        assert await b.inbox_backlog() == await a.inbox_backlog()
        again = []
        with contextlib.suppress(TimeoutError):  # A's reader of the same consumer: nothing left
            async with asyncio.timeout(1):
                async for event in a.events():
                    again.append(event.command)
        assert "C2C.CallbackAfterSendMsg" not in again
