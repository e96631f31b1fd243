"""The store's GroupWriter (aio_tim/store/writer.py): shared commits, failure isolation, inline
commits on the loop thread that never wait on a busy database, WAL checkpoints, and the one
private aiosqlite entry point it relies on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from aio_tim import ConvType, Message, MsgStatus, TextElem, UsageError
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


@pytest.mark.parametrize("siblings", [None, 0, 10])
async def test_a_busy_database_sends_inline_commits_to_the_thread(
    tmp_path: Path, siblings: int | None
) -> None:
    """While another connection holds the write lock, a save neither blocks the loop nor fails: it
    waits on the database thread and commits once the lock is released (whether it would have
    committed at once, at the end of the loop iteration or after the commit delay)."""
    async with LocalStore(tmp_path / "s.db") as store:
        await store.save(BOB, _msg(0), status=MsgStatus.SEND_SUCC, siblings=0)  # the loop thread's turn
        other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        save = asyncio.create_task(store.save(BOB, _msg(1), status=MsgStatus.SEND_SUCC, siblings=siblings))
        await asyncio.sleep(0.2)  # the loop keeps running meanwhile
        assert not save.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(save, 10)
        assert await store.count(BOB) == 2


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
        # ~10 frames a commit (the message, its indexes, its counts, its conversation row and list
        # index; the search index is written by the next search, not here): with a checkpoint every
        # 256 commits the WAL stays near 2600 frames; without, 1500 commits leave ~15000
        assert pages[1] < 6000


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


def _msg(n: int) -> Message:
    return Message(elem_array=[TextElem(content="x")], server_time=1, seq=n, rand=n)


def _committed(path: Path) -> int:
    """Rows another connection sees: only what has been committed."""
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT count(*) FROM messages").fetchone()
    db.close()
    return int(count)


async def test_a_save_with_no_siblings_is_committed_without_yielding_to_the_loop(tmp_path: Path) -> None:
    """siblings=0 (no other send in flight): the save commits inside the call, before any other
    callback of the loop runs, and another connection already sees the row."""
    async with LocalStore(tmp_path / "s.db") as store:
        ran: list[str] = []
        asyncio.get_running_loop().call_soon(ran.append, "other callback")
        await store.save(BOB, _msg(1), status=MsgStatus.SEND_SUCC, siblings=0)
        assert ran == [] and _committed(tmp_path / "s.db") == 1
        await store.save(BOB, _msg(2), status=MsgStatus.SEND_SUCC)  # unknown siblings: waits a loop turn
        assert ran == ["other callback"] and _committed(tmp_path / "s.db") == 2


async def test_saves_with_many_siblings_wait_to_share_a_commit(tmp_path: Path) -> None:
    """Saves arriving in different loop iterations share one commit when each expects siblings,
    and commit one by one when they do not say."""
    async with LocalStore(tmp_path / "s.db", commit_delay=0.5) as store:
        writer = store._writer
        assert writer is not None
        saves = []
        for n in range(10):
            saves.append(
                asyncio.create_task(store.save(BOB, _msg(n), status=MsgStatus.SEND_SUCC, siblings=9))
            )
            await asyncio.sleep(0)
        await asyncio.gather(*saves)
        assert writer.batches == 1 and _committed(tmp_path / "s.db") == 10
        for n in range(10, 20):
            saves.append(asyncio.create_task(store.save(BOB, _msg(n), status=MsgStatus.SEND_SUCC)))
            await asyncio.sleep(0)
        await asyncio.gather(*saves)
        assert writer.batches == 11


async def test_closing_commits_a_save_waiting_for_siblings_at_once(tmp_path: Path) -> None:
    """aclose() does not wait out the commit delay: the waiting save commits and returns."""
    store = await LocalStore(tmp_path / "s.db", commit_delay=1).open()
    save = asyncio.create_task(store.save(BOB, _msg(1), status=MsgStatus.SEND_SUCC, siblings=50))
    await asyncio.sleep(0)
    await asyncio.wait_for(store.aclose(), 0.5)
    assert (await save).seq == 1 and _committed(tmp_path / "s.db") == 1


@pytest.mark.parametrize("delay", [-0.1, 2, "1"])
async def test_a_bad_commit_delay_is_refused_by_name(tmp_path: Path, delay: object) -> None:
    with pytest.raises(UsageError, match="commit_delay"):
        LocalStore(tmp_path / "s.db", commit_delay=delay)  # type: ignore[arg-type]


async def test_work_on_the_thread_waits_out_locks_after_an_inline_commit(tmp_path: Path) -> None:
    """An inline commit sets the busy timeout to 0 (the loop thread never waits); whatever runs
    under the store's lock afterwards (inbox reads, outbox transactions) gets the patient
    timeout back, so another process's lock is waited out there rather than failing it."""
    async with LocalStore(tmp_path / "s.db") as store:
        msg = Message(elem_array=[TextElem(content="x")], server_time=1, seq=1, rand=1)
        await store.save(BOB, msg, status=MsgStatus.SEND_SUCC, siblings=0)
        raw = raw_connection(store._require_open())
        assert raw.execute("PRAGMA busy_timeout").fetchone() == (0,)  # left by the inline commit
        async with store._read() as db:
            assert await db.execute_fetchall("PRAGMA busy_timeout") == [(5000,)]
