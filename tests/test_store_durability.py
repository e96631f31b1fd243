"""Group commit keeps durability: a send returns only after the COMMIT that holds its row, so a
process killed right after sends return loses none of them (SIGKILL trials on a real file store)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from aio_tim import ConvType, Message, MsgStatus, TextElem
from aio_tim.devserver import DevServer
from aio_tim.store import LocalStore

CHILD = Path(__file__).with_name("send_child.py")
KILL_TRIALS = int(os.environ.get("AIO_TIM_DURABILITY_TRIALS", "3"))
BOB = (int(ConvType.C2C), "bob")


async def kill_trial(tmp_path: Path, server: DevServer, kill_after: int) -> tuple[int, int]:
    """Run the child until `kill_after` sends have returned, SIGKILL it at once; (returned, missing)."""
    store = tmp_path / "a.db"
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), server.url, str(server.sdk_app_id), server.secret_key,
        server.admin, str(store), "32", "50",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    returned: list[tuple[str, int, int, int]] = []
    try:
        while len(returned) < kill_after:
            line = await asyncio.wait_for(child.stdout.readline(), 30)
            assert line, "the child stopped before it was killed"
            peer, time, seq, rand = line.split()
            returned.append((peer.decode(), int(time), int(seq), int(rand)))
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    with sqlite3.connect(store) as db:
        stored = set(
            db.execute(
                "SELECT conv_id, time, seq, rand FROM messages WHERE status = ?", (MsgStatus.SEND_SUCC,)
            )
        )
    db.close()
    return len(returned), sum(1 for item in returned if item not in stored)


async def test_every_returned_send_survives_sigkill(tmp_path: Path) -> None:
    """SIGKILL right after sends return (32 concurrent senders sharing commits): every message a send
    returned is in the store file, as sent."""
    rng = random.Random(10)
    async with DevServer(limits=None) as server:
        for trial in range(KILL_TRIALS):
            folder = tmp_path / f"trial{trial}"
            folder.mkdir()
            returned, missing = await kill_trial(folder, server, rng.randint(50, 400))
            assert returned >= 50
            assert missing == 0, f"trial {trial}: {missing} of {returned} returned sends are not stored"


async def test_concurrent_saves_share_commits(tmp_path: Path) -> None:
    """Saves issued together are committed in fewer transactions than saves, and all are stored
    (synchronous=FULL: every commit goes to the database thread)."""
    async with LocalStore(tmp_path / "s.db", synchronous="FULL") as store:
        msgs = [Message(elem_array=[TextElem(content="x")], server_time=1, seq=n, rand=n) for n in range(200)]
        await asyncio.gather(*(store.save(BOB, m, status=MsgStatus.SEND_SUCC) for m in msgs))
        writer = store._writer
        assert writer is not None
        assert writer.jobs == 200 and writer.batches < 20
        assert await store.count(BOB) == 200


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
async def test_a_failing_job_fails_alone(tmp_path: Path, synchronous: str) -> None:
    """A write that fails (in a shared batch, or inline) fails only its caller: the others commit."""
    async with LocalStore(tmp_path / "s.db", synchronous=synchronous) as store:
        good = [Message(elem_array=[TextElem(content="x")], server_time=1, seq=n, rand=n) for n in range(5)]
        bad = Message(elem_array=[TextElem(content="x")], server_time=2**63, seq=1, rand=1)  # past int64
        results = await asyncio.gather(
            *(store.save(BOB, m, status=MsgStatus.SEND_SUCC) for m in good[:3]),
            store.save(BOB, bad, status=MsgStatus.SEND_SUCC),
            *(store.save(BOB, m, status=MsgStatus.SEND_SUCC) for m in good[3:]),
            return_exceptions=True,
        )
        assert [isinstance(r, Exception) for r in results] == [False, False, False, True, False, False]
        assert await store.count(BOB) == 5


async def test_a_busy_database_sends_inline_commits_to_the_thread(tmp_path: Path) -> None:
    """While another connection holds the write lock, a save neither blocks the loop nor fails: it
    waits on the database thread and commits once the lock is released."""
    async with LocalStore(tmp_path / "s.db") as store:
        other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        msg = Message(elem_array=[TextElem(content="x")], server_time=1, seq=1, rand=1)
        save = asyncio.create_task(store.save(BOB, msg, status=MsgStatus.SEND_SUCC))
        await asyncio.sleep(0.2)  # the loop keeps running meanwhile
        assert not save.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(save, 10)
        assert await store.count(BOB) == 1


async def test_inline_commits_checkpoint_the_wal(tmp_path: Path) -> None:
    """Inline commits (synchronous NORMAL) keep the WAL bounded: a checkpoint runs on the thread."""
    async with LocalStore(tmp_path / "s.db") as store:
        for n in range(1500):
            msg = Message(elem_array=[TextElem(content="x" * 200)], server_time=1, seq=n, rand=n)
            await store.save(BOB, msg, status=MsgStatus.SEND_SUCC)
        writer = store._writer
        assert writer is not None and writer.inline > 1000
        with sqlite3.connect(tmp_path / "s.db") as db:
            pages = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        db.close()
        assert pages[1] < 1500  # ~3 frames a commit: without checkpoints 1500 commits leave ~4500
