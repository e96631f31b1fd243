"""The PostgreSQL store shared by workers: the outbox written in the caller's transaction, drained
by any worker (FOR UPDATE SKIP LOCKED, LISTEN/NOTIFY, leases, per-conversation order), history
and counts every worker sees. Against the real PostgreSQL (`pg_schema`: a schema per test)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from aio_tim import Client, ConvType, Message, TextElem, UsageError
from aio_tim.devserver import DevServer
from aio_tim.pgstore import PgStore
from aio_tim.testing import client_for
from aio_tim.types import MsgStatus

APP = 1400000000


class Rollback(Exception):
    """The business transaction changed its mind."""


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


def server_sends(db_path: Path) -> Counter[tuple[str, str, int]]:
    """How many times the dev server stored each (From, To, MsgRandom)."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT from_account, to_account, msg_random FROM c2c_msgs WHERE kind = 'send'")
        found = Counter((str(f), str(t), int(r)) for f, t, r in rows)
    db.close()
    return found


def server_order(db_path: Path, peer: str) -> list[int]:
    with sqlite3.connect(db_path) as db:
        query = "SELECT msg_random FROM c2c_msgs WHERE to_account = ? AND kind = 'send' ORDER BY id"
        order = [int(r) for (r,) in db.execute(query, (peer,))]
    db.close()
    return order


@asynccontextmanager
async def workers(server: DevServer, url: str, schema: str, count: int) -> AsyncIterator[list[Client]]:
    """`count` clients acting as alice, each with its own pool on the one PostgreSQL schema."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(count):
            store = PgStore(url, sdk_app_id=server.sdk_app_id, user_id="alice", schema=schema, pool_size=4)
            clients.append(
                await stack.enter_async_context(client_for(server, "alice", store=store, limits=None))
            )
        yield clients


async def wait_drained(tim: Client, expected: int) -> dict[str, int]:
    """The outbox's counts once nothing is queued or inflight and `expected` rows are finished."""
    async with asyncio.timeout(60):
        while True:
            counts = await tim.outbox_statistics()
            finished = counts["sent"] + counts["failed"]
            if counts["queued"] == counts["inflight"] == 0 and finished >= expected:
                return counts
            await asyncio.sleep(0.05)


def file_server(tmp_path: Path) -> DevServer:
    return DevServer(db_path=tmp_path / "server.db", c2c_dedup_window=600, limits=None)


async def business(
    pool: asyncpg.Pool, tim: Client, schema: str, peer: str, rounds: int, rng: random.Random
) -> tuple[list[Message], list[Message]]:
    """`rounds` transactions, each an order row and a message to `peer`, committed or rolled back."""
    committed, rolled_back = [], []
    for i in range(rounds):
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(f'INSERT INTO "{schema}".orders (peer) VALUES ($1)', peer)
                queued = await tim.msg.enqueue_new_msg(
                    peer, ConvType.C2C, text(f"{peer}-{i}"), connection=conn
                )
                if rng.random() < 0.5:
                    rolled_back.append(queued)
                    raise Rollback
            committed.append(queued)
        except Rollback:
            pass
    return committed, rolled_back


async def test_committed_transactions_are_delivered_once_and_rolled_back_ones_never(
    tmp_path: Path, pg_url: str, pg_schema: str
) -> None:
    """1,000 business transactions enqueue a message and commit or roll back at random: exactly the
    committed ones reach TIM, once each, in commit order per conversation; two workers drain."""
    rng = random.Random(24)
    server = file_server(tmp_path)
    async with server, workers(server, pg_url, pg_schema, 2) as (first, _second):
        pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=20)
        try:
            await pool.execute(f'CREATE TABLE "{pg_schema}".orders (id serial PRIMARY KEY, peer text)')
            runs = await asyncio.gather(
                *(business(pool, first, pg_schema, f"p{n}", 50, rng) for n in range(20))
            )
            committed = [q for done, _ in runs for q in done]
            rolled_back = [q for _, undone in runs for q in undone]
            counts = await wait_drained(first, len(committed))
            orders = await pool.fetchval(f'SELECT count(*) FROM "{pg_schema}".orders')
        finally:
            await pool.close()
    sends = server_sends(tmp_path / "server.db")
    delivered = {("alice", q.conv_id, q.rand) for q in committed}
    never = {("alice", q.conv_id, q.rand) for q in rolled_back}
    print(
        f"\n1000 transactions: {len(committed)} committed, {len(rolled_back)} rolled back; server stored "
        f"{sum(sends.values())} sends, {len(delivered & set(sends))} of the committed, "
        f"{len(never & set(sends))} of the rolled back, max copies {max(sends.values())}; outbox {counts}"
    )
    assert len(committed) + len(rolled_back) == 1000 and orders == len(committed)
    assert set(sends) == delivered and not never & set(sends)
    assert max(sends.values()) == 1
    assert counts == {"queued": 0, "inflight": 0, "sent": len(committed), "failed": 0}
    for peer in (f"p{n}" for n in range(20)):
        assert server_order(tmp_path / "server.db", peer) == [q.rand for q in committed if q.conv_id == peer]


async def test_outbox_result_and_history_on_every_worker(tmp_path: Path, pg_url: str, pg_schema: str) -> None:
    """`outbox_result()` answers on any worker; a message one worker sent is in `get_msg_list` of the
    other, and counts and read marks are the same on both."""
    server = file_server(tmp_path)
    async with server, workers(server, pg_url, pg_schema, 2) as (one, two):
        queued = await one.msg.enqueue_new_msg("bob", ConvType.C2C, text("queued"))
        sent = await two.outbox_result(queued, timeout=30)
        assert sent.msg_id and sent.rand == queued.rand
        direct = await two.msg.send_text("bob", ConvType.C2C, "direct")
        bob = (int(ConvType.C2C), "bob")
        for tim in (one, two):
            page = await tim.msg.get_msg_list("bob", ConvType.C2C, {"msg_getmsglist_param_count": 10})
            assert [m.rand for m in page] == [direct.rand, sent.rand]
            assert await tim.store.count(bob) == 2
        incoming = Message(elem_array=[TextElem(content="hi")], sender="bob", server_time=2_000_000_000)
        await one.store.save(bob, incoming, status=int(MsgStatus.SEND_SUCC))
        assert await two.store.unread_count(bob) == 1
        await two.msg.report_readed("bob", ConvType.C2C)
        assert await one.store.unread_count(bob) == 0


async def test_a_connection_needs_a_postgres_store(dev_server: DevServer, tmp_path: Path) -> None:
    """enqueue_new_msg(connection=...) without a PostgreSQL store is a usage error, before any I/O."""
    async with client_for(dev_server, "alice", store_path=tmp_path / "a.db", outbox=True) as tim:
        with pytest.raises(UsageError, match="PostgreSQL"):
            await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text("hi"), connection=object())
        assert (await tim.outbox_statistics())["queued"] == 0


def test_the_store_is_chosen_in_one_place() -> None:
    """A postgresql:// URL makes a PgStore (schema aio_tim), anything else not a store is refused
    without showing it (a URL may hold a password)."""
    tim = Client(sdk_app_id=APP, user_id="alice", secret_key="k", store="postgresql://u:secret@db/app")
    assert isinstance(tim.store, PgStore) and tim.store.schema == "aio_tim"
    with pytest.raises(UsageError) as refused:
        Client(sdk_app_id=APP, user_id="alice", secret_key="k", store="mysql://u:secret@db/app")
    assert "secret" not in str(refused.value)


def queued_message(peer: str, rand: int, now: int) -> Message:
    """A message as enqueue_new_msg queues it: sender, keys and client time fixed."""
    return Message(
        elem_array=[TextElem(content=f"to {peer} {rand}")], sender="alice", is_from_self=True, rand=rand,
        seq=rand, client_time=now, server_time=now, conv_id=peer, conv_type=int(ConvType.C2C),
    )  # fmt: skip


async def test_concurrent_claims_never_share_a_conversation(pg_url: str, pg_schema: str) -> None:
    """Two owners claiming at once split the conversations between them (SKIP LOCKED on each
    conversation's head); a conversation whose head a live owner holds is left alone."""
    store = PgStore(pg_url, sdk_app_id=APP, user_id="alice", schema=pg_schema)
    async with store:
        for i in range(200):
            await store.outbox_add((1, f"p{i % 40}"), queued_message(f"p{i % 40}", i + 1, 1_700_000_000))
        a, b = await asyncio.gather(
            store.outbox_claim_rows(30, owner="host/1/a", lease=30),
            store.outbox_claim_rows(30, owner="host/2/b", lease=30),
        )
        convs_a, convs_b = {row.conv for row in a}, {row.conv for row in b}
        assert not convs_a & convs_b and len(convs_a | convs_b) == 40
        assert len(a) + len(b) == 200  # every row of a claimed conversation comes with its head
        assert await store.outbox_claim_rows(30, owner="host/3/c", lease=30) == []
        await store.outbox_add((1, "p0"), queued_message("p0", 999, 1_700_000_000))  # behind a held head
        assert await store.outbox_claim_rows(30, owner="host/3/c", lease=30) == []


async def test_a_dead_workers_sent_row_is_looked_up_not_resent(
    tmp_path: Path, pg_url: str, pg_schema: str
) -> None:
    """Rows a dead worker held are taken over when its lease ends; the one TIM already stored (found
    in roaming) is recorded as sent, not sent again, and the rest follow in order."""
    server = DevServer(db_path=tmp_path / "server.db", limits=None)  # TIM's 1 s C2C dedup window
    now = int(time.time())
    rows = [queued_message("bob", rand, now) for rand in (11, 12, 13)]
    store = PgStore(pg_url, sdk_app_id=server.sdk_app_id, user_id="alice", schema=pg_schema)
    async with server, store:
        for message in rows:
            await store.outbox_add((1, "bob"), message)
        # A worker on another host claims them for 1 s, sends the first, and dies.
        dead = await store.outbox_claim_rows(10, owner="elsewhere/1/dead", lease=1)
        assert [row.message.rand for row in dead] == [11, 12, 13]
        async with client_for(server, "alice") as before_it_died:
            await before_it_died.msg._deliver((1, "bob"), rows[0])
        await asyncio.sleep(1.1)
        async with workers(server, pg_url, pg_schema, 1) as (tim,):
            counts = await wait_drained(tim, 3)
            assert counts["sent"] == 3 and tim._outbox.looked_up == 1  # type: ignore[union-attr]
    assert server_order(tmp_path / "server.db", "bob") == [11, 12, 13]


async def test_a_slow_conversation_does_not_hold_the_others(pg_url: str, pg_schema: str) -> None:
    """A drainer with two lanes: one conversation's send hangs until five other conversations
    (one row each, enqueued after it) are sent. They are: a finished lane's slot is claimed again
    at once, not when the whole claim (with the slow lane) is done."""
    from aio_tim.pipeline.outbox import SharedOutbox

    now, others_sent = int(time.time()), asyncio.Event()
    delivered: list[str] = []

    async def deliver(conv: tuple[int, str], message: Message) -> tuple[Message, str | None]:
        if conv[1] == "slow":
            await asyncio.wait_for(others_sent.wait(), 10)
        delivered.append(conv[1])
        if len(delivered) == 5:
            others_sent.set()
        return message, None

    async with PgStore(pg_url, sdk_app_id=APP, user_id="alice", schema=pg_schema) as store:
        for peer in ["slow", *(f"c{i}" for i in range(5))]:
            await store.outbox_add((1, peer), queued_message(peer, len(peer), now))
        outbox = SharedOutbox(store, batch=2)
        await outbox.start(deliver)
        await asyncio.wait_for(outbox.wait_idle(), 15)
        assert await outbox.aclose(5) == 0
    assert delivered == ["c0", "c1", "c2", "c3", "c4", "slow"]
