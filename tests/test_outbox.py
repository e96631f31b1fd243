"""The durable outbox (`Client(outbox=True)`): acknowledged sends are delivered exactly once,
across a close with the server down and across a SIGKILL of the sending process."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from aio_tim import Client, ConvType, Message, MsgStatus, TextElem, UsageError
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

CHILD = Path(__file__).with_name("outbox_child.py")
KILL_TRIALS = int(os.environ.get("AIO_TIM_OUTBOX_TRIALS", "5"))
CHILD_MESSAGES = 10_000


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


def server_sends(db_path: Path) -> Counter[tuple[str, str, int]]:
    """How many times the server stored each (From, To, MsgRandom)."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT from_account, to_account, msg_random FROM c2c_msgs WHERE kind = 'send'")
        found = Counter((str(f), str(t), int(r)) for f, t, r in rows)
    db.close()
    return found


def file_server(path: Path) -> DevServer:
    return DevServer(db_path=path, c2c_dedup_window=600, limits=None)


async def test_outbox_needs_a_file_store(dev_server: DevServer) -> None:
    """outbox=True with an in-memory store is a usage error; enqueue without the outbox is one too."""
    with pytest.raises(UsageError, match="file store_path"):
        client_for(dev_server, "alice", outbox=True)
    async with client_for(dev_server, "alice") as tim:
        with pytest.raises(UsageError, match="outbox=True"):
            await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text("hi"))


async def test_enqueued_messages_are_delivered_once_in_order(tmp_path: Path) -> None:
    """200 enqueued messages to 4 peers: each delivered exactly once, in enqueue order per peer,
    and saved in the local store as sent."""
    async with file_server(tmp_path / "server.db") as server:
        async with client_for(server, "alice", store_path=tmp_path / "a.db", outbox=True, limits=None) as tim:
            queued = [
                await tim.msg.enqueue_new_msg(f"p{i % 4}", ConvType.C2C, text(f"m{i}")) for i in range(200)
            ]
            assert all(q.status == MsgStatus.SENDING and q.rand for q in queued)
            await asyncio.wait_for(tim._outbox.wait_idle(), 30)  # type: ignore[union-attr]
            assert await tim.outbox_statistics() == {"queued": 0, "inflight": 0, "sent": 200, "failed": 0}
            for peer in range(4):
                assert await tim.store.count((ConvType.C2C, f"p{peer}")) == 50
        sends = server_sends(tmp_path / "server.db")
        assert set(sends) == {("alice", q.conv_id, q.rand) for q in queued}
        assert max(sends.values()) == 1
        with sqlite3.connect(tmp_path / "server.db") as db:
            order = [
                int(r)
                for (r,) in db.execute("SELECT msg_random FROM c2c_msgs WHERE to_account = 'p1' ORDER BY id")
            ]
        db.close()
        assert order == [q.rand for q in queued if q.conv_id == "p1"]


async def test_a_fatal_error_fails_the_row_and_keeps_its_code(tmp_path: Path) -> None:
    """A send the server refuses for good (no such account) is `failed` with its code; others go on."""
    async with DevServer(auto_accounts=False, limits=None) as server:
        await server.add_accounts("alice", "bob")
        async with client_for(server, "alice", store_path=tmp_path / "a.db", outbox=True, limits=None) as tim:
            await tim.msg.enqueue_new_msg("ghost", ConvType.C2C, text("lost"))
            await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text("fine"))
            await asyncio.wait_for(tim._outbox.wait_idle(), 30)  # type: ignore[union-attr]
            assert await tim.outbox_statistics() == {"queued": 0, "inflight": 0, "sent": 1, "failed": 1}
    with sqlite3.connect(tmp_path / "a.db") as db:
        ((code, desc),) = db.execute("SELECT error_code, error_desc FROM outbox WHERE state = 'failed'")
    db.close()
    assert code and desc


async def test_close_with_the_server_down_keeps_rows_queued(tmp_path: Path) -> None:
    """Closing while the server is down reports the rows left; they stay queued, and the next start
    delivers them: none lost, none duplicated."""
    server_db, store = tmp_path / "server.db", tmp_path / "a.db"
    async with file_server(server_db) as server:
        app = (server.sdk_app_id, server.secret_key, server.admin)
        dead_url = server.url  # nothing listens here once the server is closed
    tim = Client(
        sdk_app_id=app[0], user_id="alice", secret_key=app[1], admin=app[2], base_url=dead_url,
        store_path=store, outbox=True, limits=None, close_timeout=1.0,
    )  # fmt: skip
    async with tim:
        queued = [await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text(f"m{i}")) for i in range(50)]
        started = time.monotonic()
    assert time.monotonic() - started < 5
    with sqlite3.connect(store) as db:
        states = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    db.close()
    assert states == {"queued": 50}
    server = file_server(server_db)
    async with server, client_for(server, "alice", store_path=store, outbox=True, limits=None) as again:
        await asyncio.wait_for(again._outbox.wait_idle(), 30)  # type: ignore[union-attr]
        assert (await again.outbox_statistics())["sent"] == 50
    sends = server_sends(server_db)
    assert set(sends) == {("alice", "bob", q.rand) for q in queued}
    assert max(sends.values()) == 1


async def kill_trial(tmp_path: Path, rng: random.Random) -> tuple[int, int, int, int, int]:
    """One SIGKILL trial: (acknowledged, left queued, left inflight, lost, duplicates)."""
    server_db, store = tmp_path / "server.db", tmp_path / "a.db"
    kill_after = rng.randint(1, CHILD_MESSAGES)
    async with file_server(server_db) as server:
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), server.url, str(server.sdk_app_id), server.secret_key,
            server.admin, str(store), str(CHILD_MESSAGES), "20",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert child.stdout is not None
        acked: list[tuple[str, int]] = []
        try:
            while len(acked) < kill_after:
                line = await asyncio.wait_for(child.stdout.readline(), 60)
                if not line or line == b"done\n":
                    break
                _, rand, peer = line.split()
                acked.append((peer.decode(), int(rand)))
        finally:
            child.send_signal(signal.SIGKILL)
            rest = await child.stdout.read()
            await child.wait()
        for line in rest.splitlines():  # acknowledged before the kill, not yet read
            if line != b"done":
                _, rand, peer = line.split()
                acked.append((peer.decode(), int(rand)))
        with sqlite3.connect(store) as db:
            left = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        db.close()
        async with client_for(server, "alice", store_path=store, outbox=True, limits=None) as tim:
            await asyncio.wait_for(tim._outbox.wait_idle(), 120)  # type: ignore[union-attr]
    sends = server_sends(server_db)
    lost = sum(1 for peer, rand in acked if sends[("alice", peer, rand)] == 0)
    duplicates = sum(n - 1 for n in sends.values())
    return len(acked), left.get("queued", 0), left.get("inflight", 0), lost, duplicates


async def test_sigkill_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """A sender SIGKILLed after a random number of acknowledged enqueues (of 10,000): a client
    restarted on its store delivers every acknowledged message, none twice.
    (AIO_TIM_OUTBOX_TRIALS sets the number of trials; 5 by default.)"""
    rng = random.Random()
    results = []
    for trial in range(KILL_TRIALS):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        results.append(await kill_trial(folder, rng))
    print("SIGKILL trials (acknowledged, queued, inflight, lost, duplicates):", results)
    assert all(lost == 0 and duplicates == 0 for *_, lost, duplicates in results), results
    assert all(result[0] > 0 for result in results)


async def test_outbox_result_gives_each_queued_message_its_outcome(tmp_path: Path) -> None:
    """With the local outbox, `outbox_result` returns the sent message or raises TIM's refusal."""
    from aio_tim import NotFoundError

    async with DevServer(auto_accounts=False) as server:
        await server.add_accounts("alice", "bob")
        async with client_for(server, "alice", store_path=tmp_path / "a.db", outbox=True) as tim:
            good = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text("to bob"))
            bad = await tim.msg.enqueue_new_msg("nobody", ConvType.C2C, text("to nobody"))
            sent = await tim.outbox_result(good, timeout=30)
            with pytest.raises(NotFoundError) as refused:
                await tim.outbox_result(bad, timeout=30)
            with pytest.raises(UsageError, match="enqueue_new_msg returned"):
                await tim.outbox_result(text("never queued"), timeout=1)
            elsewhere = Message(conv_id="bob", conv_type=ConvType.C2C, rand=7, elem_array=[])
            with pytest.raises(UsageError, match="not queued"):
                await tim.outbox_result(elsewhere, timeout=1)
    print(f"sent seq={sent.seq} msg_id={sent.msg_id}; refused: {refused.value}")
    assert sent.status == MsgStatus.SEND_SUCC and sent.msg_id and sent.rand == good.rand
    assert sent.server_time and refused.value.code == 90012  # To_Account is not registered


async def test_outbox_result_times_out_while_the_server_is_away(tmp_path: Path) -> None:
    """No outcome within the timeout is a TimeoutError; the message stays queued."""
    async with DevServer() as probe:
        options = {"sdk_app_id": probe.sdk_app_id, "secret_key": probe.secret_key, "base_url": probe.url}
    async with Client(user_id="alice", store_path=tmp_path / "a.db", outbox=True, **options) as tim:
        queued = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text("waits"))
        with pytest.raises(TimeoutError):
            await tim.outbox_result(queued, timeout=0.5)
        counts = await tim.outbox_statistics()
    assert counts["sent"] == 0 and counts["failed"] == 0
