"""The store's GroupWriter (aio_tim/store/writer.py): shared commits, failure isolation, inline
commits on the loop thread that never wait on a busy database, WAL checkpoints, and the one
private aiosqlite entry point it relies on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from aio_tim import ConvType, Message, MsgStatus, TextElem
from aio_tim.store import LocalStore
from aio_tim.store.writer import raw_connection, run_on_thread

BOB = (int(ConvType.C2C), "bob")


async def test_aiosqlite_still_runs_our_functions_on_its_thread(tmp_path: Path) -> None:
    """aiosqlite's private `_execute` and `_conn`, which the writer uses, still behave: a function
    runs on the connection's worker thread with the connection's sqlite3 object."""
    async with aiosqlite.connect(tmp_path / "a.db", check_same_thread=False) as db:
        raw = raw_connection(db)
        assert isinstance(raw, sqlite3.Connection)
        thread_name = await run_on_thread(db, lambda: __import__("threading").current_thread().name)
        assert thread_name != "MainThread"
        assert await run_on_thread(db, lambda: raw.execute("SELECT 41 + 1").fetchone()) == (42,)


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


async def test_saves_of_one_loop_iteration_share_an_inline_commit(tmp_path: Path) -> None:
    """With synchronous NORMAL, saves issued together commit on the loop thread in a few shared
    transactions (not one each), and every one is stored."""
    async with LocalStore(tmp_path / "s.db") as store:
        msgs = [Message(elem_array=[TextElem(content="x")], server_time=1, seq=n, rand=n) for n in range(200)]
        await asyncio.gather(*(store.save(BOB, m, status=MsgStatus.SEND_SUCC) for m in msgs))
        writer = store._writer
        assert writer is not None
        assert writer.jobs == 200 and writer.inline == writer.batches < 5
        assert await store.count(BOB) == 200
