"""Group commit: write jobs queued on the event loop, committed in batches on aiosqlite's thread.

A job is a plain function of the `sqlite3.Connection` (its statements, nothing else: no awaits, no
state outside its return value). `GroupWriter.submit(job)` queues it and returns the job's result
once the COMMIT that holds its statements has returned, so durability is what one transaction per
write gave: a caller is answered only after its row is committed. Every job waiting when the
writer gets the store's lock goes into one transaction, run by one function in one hop to the
database thread (BEGIN IMMEDIATE, the jobs, COMMIT): under load, many saves share one commit and one
thread wake-up instead of six each. A job that fails is taken out and the rest run again in a fresh
transaction, so one bad row never fails or commits another caller's write.

Small jobs (a row or a few) queued in one loop iteration are committed together at its end, on
the loop thread, when nothing else holds the connection (`inline=True`, which the store passes
only for synchronous NORMAL or OFF: then a WAL commit writes to the OS cache and never fsyncs).
That commit never waits: the busy timeout is 0 for it, and a busy database sends its jobs to the
thread. The only fsync left, the WAL checkpoint, is taken off the commit (`wal_autocheckpoint =
0`) and run on the thread every `CHECKPOINT_EVERY` commits.

Jobs may come from any table (messages, read marks, seq counters, the outbox, an inbox): the
writer knows nothing of them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import aiosqlite

from .errors import storage_error

__all__ = ["GroupWriter", "Job", "raw_connection", "run_on_thread"]

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]
_Outcome = tuple[bool, Any]  # (True, result) or (False, the exception the job raised)
CHECKPOINT_EVERY = 256  # commits between WAL checkpoints when inline commits are on
NO_WAIT = "PRAGMA busy_timeout = 0"
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` is SQLite saying another connection holds a lock (worth retrying elsewhere)."""
    return isinstance(exc, sqlite3.OperationalError) and exc.sqlite_errorcode in _BUSY


def raw_connection(db: aiosqlite.Connection) -> sqlite3.Connection:
    """The sqlite3 connection behind `db` (aiosqlite exposes no public accessor)."""
    return db._conn


async def run_on_thread(db: aiosqlite.Connection, fn: Callable[[], T]) -> T:
    """Run `fn` on `db`'s worker thread, after what is queued there: one hop.

    aiosqlite has no public way to run a function of ours on its thread; `_execute` is what each
    of its own methods uses (stable since 0.11). A test checks it is still there.
    """
    result: T = await db._execute(fn)  # type: ignore[no-untyped-call]
    return result


class GroupWriter:
    """Commits queued write jobs in batches, under the store's lock, one thread hop per batch."""

    def __init__(
        self, db: aiosqlite.Connection, lock: asyncio.Lock, *, inline: bool = False, wait: str = ""
    ) -> None:
        self._db = db
        self._inline = inline
        self._wait = wait  # the PRAGMA that restores the busy timeout after an inline commit
        self._since_checkpoint = 0
        self._raw = raw_connection(db)
        self._lock = lock
        self._pending: list[tuple[Job[Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._inline_pending: list[tuple[Job[Any], asyncio.Future[Any]]] = []
        self._inline_scheduled = False
        self.batches = 0  # commits made, for tests and benchmarks
        self.jobs = 0  # jobs committed or failed
        self.inline = 0  # of which committed on the loop thread

    async def submit(self, job: Job[T], *, small: bool = False) -> T:
        """Queue `job`; its result once committed, or the exception it raised (as a TIMError for I/O).

        `small`: the job touches a row or a few (a save, a seq block), so it may commit inline:
        with the other small jobs queued in the same loop iteration, at its end (call_soon)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if small and self._inline:
            self._inline_pending.append((job, future))
            if not self._inline_scheduled:
                self._inline_scheduled = True
                loop.call_soon(self._flush_inline)
        else:
            self._queue([(job, future)])
        return await future

    def _queue(self, batch: list[tuple[Job[Any], asyncio.Future[Any]]]) -> None:
        """Hand jobs to the database thread's flusher."""
        self._pending.extend(batch)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="aio_tim store writer")

    def _flush_inline(self) -> None:
        """Commit the small jobs of this loop iteration on the loop thread, in one transaction;
        to the thread instead if it is busy: the flusher or a `_write()` holds the connection,
        a checkpoint is due, or another connection holds the database's write lock."""
        self._inline_scheduled = False
        batch = [(job, fut) for job, fut in self._inline_pending if not fut.cancelled()]
        self._inline_pending = []
        if not batch:
            return
        if self._flusher is not None or self._lock.locked() or self._since_checkpoint >= CHECKPOINT_EVERY:
            self._queue(batch)  # behind the jobs already there: order is kept
            return
        outcomes = self._commit_inline([job for job, _ in batch])
        retry = []
        for (job, future), (ok, value) in zip(batch, outcomes, strict=True):
            if not ok and is_busy(value):
                retry.append((job, future))  # rolled back: it runs again on the thread
            elif not future.done():
                _settle(future, ok, value)
        if retry:
            self._queue(retry)

    def _commit_inline(self, jobs: list[Job[Any]]) -> list[_Outcome]:
        """Run `jobs` in one transaction on the loop thread, never waiting for a lock.
        No await: no other use of the connection can start meanwhile."""
        raw = self._raw
        raw.execute(NO_WAIT)
        try:
            outcomes = commit_batch(raw, jobs)
        except Exception as exc:  # BEGIN (busy) or COMMIT failed: nothing is stored
            outcomes = [(False, exc)] * len(jobs)
        finally:
            raw.execute(self._wait)
        if not all(not ok and is_busy(value) for ok, value in outcomes):
            self._since_checkpoint += 1
            self.batches, self.inline = self.batches + 1, self.inline + 1
        self.jobs += len(jobs)
        return outcomes

    async def drain(self) -> None:
        """Wait until every job queued so far has been committed (or has failed)."""
        while self._flusher is not None or self._inline_pending:
            if self._flusher is not None:
                await asyncio.shield(self._flusher)
            else:
                await asyncio.sleep(0)  # the inline flush runs in this loop iteration's callbacks

    async def _flush(self) -> None:
        try:
            while self._pending:
                async with self._lock:
                    # Taken under the lock: the jobs that queued while we waited for it ride along.
                    batch = [(job, fut) for job, fut in self._pending if not fut.cancelled()]
                    self._pending = []
                    if batch:
                        await self._commit(batch)
        finally:
            self._flusher = None

    async def _commit(self, batch: list[tuple[Job[Any], asyncio.Future[Any]]]) -> None:
        jobs = [job for job, _ in batch]
        raw = self._raw
        checkpoint = self._inline and self._since_checkpoint >= CHECKPOINT_EVERY
        self._since_checkpoint = 0 if checkpoint else self._since_checkpoint + 1
        try:
            outcomes = await run_on_thread(self._db, lambda: commit_batch(raw, jobs, checkpoint=checkpoint))
        except Exception as exc:  # the COMMIT (or BEGIN) failed: nothing of the batch is stored
            outcomes = [(False, exc)] * len(batch)
        self.batches += 1
        self.jobs += len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if not future.done():  # else its caller was cancelled; the write is committed (or failed)
                _settle(future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if ok:
        future.set_result(value)
    else:
        mapped = storage_error(value)
        future.set_exception(value if mapped is None else _caused(mapped, value))


def _caused(mapped: BaseException, cause: BaseException) -> BaseException:
    mapped.__cause__ = cause
    return mapped


def commit_batch(
    conn: sqlite3.Connection, jobs: Sequence[Job[Any]], *, checkpoint: bool = False
) -> list[_Outcome]:
    """Run `jobs` in one transaction; a failing job is dropped and the rest run again (jobs are
    pure functions of the connection, so running one twice is harmless). Then, if asked, a
    PASSIVE WAL checkpoint (it never waits for readers; its fsync is why it is on the thread)."""
    if checkpoint:
        try:
            return _commit_all(conn, jobs)
        finally:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return _commit_all(conn, jobs)


def _commit_all(conn: sqlite3.Connection, jobs: Sequence[Job[Any]]) -> list[_Outcome]:
    outcomes: list[_Outcome] = [(False, None)] * len(jobs)
    remaining = list(range(len(jobs)))
    while remaining:
        failed = _try_commit(conn, jobs, remaining, outcomes)
        if failed is None:
            return outcomes
        remaining.remove(failed)
    return outcomes


def _try_commit(
    conn: sqlite3.Connection, jobs: Sequence[Job[Any]], indexes: list[int], outcomes: list[_Outcome]
) -> int | None:
    """One attempt: None once committed, else the index of the job that failed (all rolled back)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for index in indexes:
            try:
                outcomes[index] = (True, jobs[index](conn))
            except Exception as exc:
                conn.rollback()  # a no-op if SQLite already rolled back (disk full, for one)
                outcomes[index] = (False, exc)
                return index
        conn.execute("COMMIT")
    except BaseException:  # COMMIT failed, or an interrupt: the whole batch fails
        conn.rollback()
        raise
    return None
