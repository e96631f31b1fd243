"""Outbox leases (issue 11, item 1): clients sharing one store never resend each other's rows."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections import Counter
from pathlib import Path

from aio_tim import Client, ConvType, Message, TextElem
from aio_tim.devserver import DevServer
from aio_tim.pipeline.outbox import owner_id, owner_is_dead
from aio_tim.store import LocalStore
from aio_tim.testing import FaultPlan, FaultProxy

PER_CLIENT = 400
C2C = ConvType.C2C


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


def server_copies(db_path: Path) -> Counter[tuple[str, int]]:
    """How many times the server stored each (To, MsgRandom) sent by alice."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        rows = db.execute("SELECT to_account, msg_random FROM c2c_msgs WHERE kind = 'send'").fetchall()
    return Counter((str(t), int(r)) for t, r in rows)


async def until_sent(tim: Client, rows: int) -> None:
    """Poll the shared store until `rows` rows are sent."""
    for _ in range(2000):
        if (await tim.outbox_statistics())["sent"] >= rows:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{rows} rows not sent in time")


def counting(tim: Client, calls: Counter[int]) -> None:
    """Count every completed send of a row's message, by MsgRandom (a send cut off by a close is
    not complete: it goes out again with the same keys, and the deduping server keeps one)."""
    outbox = tim._outbox
    assert outbox is not None and outbox._deliver is not None
    deliver = outbox._deliver

    async def counted(conv: tuple[int, str], message: Message) -> tuple[Message, str | None]:
        sent = await deliver(conv, message)
        calls[message.rand or 0] += 1
        return sent

    outbox._deliver = counted


async def test_live_clients_on_one_store_never_resend_each_others_rows(tmp_path: Path) -> None:
    """Two live outbox clients drain one store; a third starts mid-drain and one closes mid-drain:
    every row is sent exactly once (the third takes none of the live clients' inflight rows) and the
    server holds one copy of each."""
    store = tmp_path / "shared.db"
    calls: Counter[int] = Counter()
    slow = FaultPlan(delay=1.0, delay_seconds=0.01)  # every send takes 10 ms: the drain lasts
    async with (
        DevServer(db_path=tmp_path / "server.db", c2c_dedup_window=600, limits=None) as server,
        FaultProxy("127.0.0.1", server.port, plan=slow) as proxy,
    ):
        app = {"sdk_app_id": server.sdk_app_id, "secret_key": server.secret_key, "admin": server.admin}
        options = {"user_id": "alice", "base_url": proxy.url, "store_path": store, "outbox": True}
        options["limits"] = None
        a = Client(**app, **options)
        b = Client(**app, **options, close_timeout=0.2)
        c = Client(**app, **options)
        await a.open()
        await b.open()
        counting(a, calls)
        counting(b, calls)
        queued = [await a.msg.enqueue_new_msg(f"p{i % 8}", C2C, text(f"a{i}")) for i in range(PER_CLIENT)]
        queued += [await b.msg.enqueue_new_msg(f"q{i % 8}", C2C, text(f"b{i}")) for i in range(PER_CLIENT)]
        await until_sent(a, 50)
        # Between two claims a drainer may hold no row for a moment: wait for one that holds rows.
        async with asyncio.timeout(30):
            while not (inflight_at_start := (await a.outbox_statistics())["inflight"]):  # noqa: ASYNC110
                await asyncio.sleep(0.002)
        await c.open()
        counting(c, calls)
        resumed_by_c = c._outbox.resumed if c._outbox else -1
        await b.aclose()  # mid-drain: only b's own inflight rows go back to the queue
        assert c._outbox is not None
        await asyncio.wait_for(c._outbox.wait_idle(), 60)
        stats = await c.outbox_statistics()
        await a.aclose()
        await c.aclose()
    sent_twice = sum(1 for n in calls.values() if n > 1)
    copies = server_copies(tmp_path / "server.db")
    print(
        f"\noutbox lease: rows={len(queued)} inflight when the third client started={inflight_at_start} "
        f"resumed by it={resumed_by_c} sends={sum(calls.values())} sent twice={sent_twice} "
        f"server copies={sum(copies.values())} (max per message {max(copies.values())}) final={stats}"
    )
    assert inflight_at_start > 0  # the third client really started mid-drain
    assert resumed_by_c == 0
    assert sent_twice == 0
    assert set(calls) == {q.rand for q in queued}
    assert len(copies) == len(queued) and max(copies.values()) == 1
    assert stats == {"queued": 0, "inflight": 0, "sent": 2 * PER_CLIENT, "failed": 0}


async def test_an_expired_lease_is_reclaimed_and_a_live_one_is_not(tmp_path: Path) -> None:
    """A row leased to a live owner is not claimable; once its lease ends another owner takes it."""
    now = [1_000_000.0]
    async with LocalStore(tmp_path / "s.db", clock=lambda: now[0]) as store:
        await store.outbox_add((1, "bob"), text("x"))
        first = await store.outbox_claim(10, owner="host/1/a", lease=30)
        now[0] += 29
        early = await store.outbox_claim(10, owner="host/2/b", lease=30)
        now[0] += 2
        late = await store.outbox_claim(10, owner="host/2/b", lease=30)
    print(f"\nlease: claimed first={len(first)} before expiry={len(early)} after expiry={len(late)}")
    assert (len(first), len(early), len(late)) == (1, 0, 1)


async def test_a_live_owner_blocks_later_rows_of_its_conversation(tmp_path: Path) -> None:
    """Rows queued after one a live owner holds in the same conversation wait (order is kept);
    other conversations' rows are claimable."""
    async with LocalStore(tmp_path / "s.db", clock=lambda: 1_000_000.0) as store:
        await store.outbox_add((1, "bob"), text("1"))
        held = await store.outbox_claim(1, owner="h/1/a")
        await store.outbox_add((1, "bob"), text("2"))
        await store.outbox_add((1, "carol"), text("3"))
        other = await store.outbox_claim(10, owner="h/2/b")
    assert [r[1] for r in held] == [(1, "bob")]
    assert [r[1] for r in other] == [(1, "carol")]


def test_owner_liveness() -> None:
    """This process is alive; a pid that does not run on this host is dead; another host is unknown."""
    mine = owner_id()
    host = mine.split("/")[0]
    dead_pid = max(os.getpid(), 2) + 4_000_000  # above Linux's pid_max
    assert not owner_is_dead(mine)
    assert owner_is_dead(f"{host}/{dead_pid}/x")
    assert not owner_is_dead(f"elsewhere.example/{dead_pid}/x")
    assert not owner_is_dead("garbage")


async def test_a_renewed_lease_keeps_the_row_with_its_owner(tmp_path: Path) -> None:
    """Renewing before the lease ends keeps the row from other owners until the renewed expiry."""
    now = [1_000_000.0]
    async with LocalStore(tmp_path / "s.db", clock=lambda: now[0]) as store:
        await store.outbox_add((1, "bob"), text("x"))
        await store.outbox_claim(10, owner="h/1/a", lease=30)
        now[0] += 25
        renewed = await store.outbox_renew("h/1/a", 30)
        now[0] += 10  # 35 s after the claim: the first lease has ended, the renewed one has not
        early = await store.outbox_claim(10, owner="h/2/b", lease=30)
        now[0] += 21
        late = await store.outbox_claim(10, owner="h/2/b", lease=30)
    assert (renewed, len(early), len(late)) == (1, 0, 1)
