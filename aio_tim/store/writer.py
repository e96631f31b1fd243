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

How long a small job waits for company follows PostgreSQL's `commit_delay`/`commit_siblings`,
from the caller's `siblings` (how many other writes it expects soon, e.g. its other sends in
flight): none (0) commits at once, inside `submit`, which returns without suspending (no future,
no two loop turns: a fifth of a save's cost when sends come one at a time); `COMMIT_SIBLINGS` or
more wait up to `commit_delay` so that their replies' saves share one commit (with 64 sends in
flight, 2 ms took commits from ~2 saves each to ~5 and the client's CPU per send down 15-25%);
unknown (None) or fewer commit with the rest of this loop iteration's small jobs.

The busy timeout is switched only when the side changes (`BusyTimeout`): 0 for work on the loop
thread, the store's timeout for work on aiosqlite's thread. Two PRAGMAs per inline commit were a
quarter of its cost.

Jobs may come from any table (messages, read marks, seq counters, the outbox, an inbox): the
writer knows nothing of them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import aiosqlite

from .errors import storage_error

__all__ = [
    "BusyTimeout",
    "CheckpointCounter",
    "GroupWriter",
    "Job",
    "is_busy",
    "raw_connection",
    "run_on_thread",
]

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]
_Outcome = tuple[bool, Any]  # (True, result) or (False, the exception the job raised)
CHECKPOINT_EVERY = 256  # commits between WAL checkpoints when inline commits are on
COMMIT_SIBLINGS = 5  # other writes expected soon before a small job waits `commit_delay` for them
COMMIT_DELAY = 0.002  # seconds
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` is SQLite saying another connection holds a lock (worth retrying elsewhere)."""
    return isinstance(exc, sqlite3.OperationalError) and exc.sqlite_errorcode in _BUSY


class BusyTimeout:
    """The connection's busy timeout, with a PRAGMA only when it changes.

    `never()` before using the connection from the loop thread (a lock held elsewhere must send
    the work to the thread, never stall the loop); `patient()` before work on aiosqlite's thread
    (there a write may wait out another process's lock). Callers hold the store's lock, or run
    with nothing queued on the thread, so the two sides never interleave.
    """

    def __init__(self, conn: sqlite3.Connection, patient_ms: int) -> None:
        self._conn = conn
        self._patient_ms = patient_ms
        self._current = -1  # unknown until the first call sets it

    def never(self) -> None:
        self._set(0)

    def patient(self) -> None:
        self._set(self._patient_ms)

    def _set(self, ms: int) -> None:
        if ms != self._current:
            # PRAGMA takes no bound parameters; the value is an int of ours.
            self._conn.execute(f"PRAGMA busy_timeout = {ms:d}")
            self._current = ms


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
        self,
        db: aiosqlite.Connection,
        lock: asyncio.Lock,
        busy: BusyTimeout,
        *,
        inline: bool = False,
        commit_delay: float = COMMIT_DELAY,
    ) -> None:
        self._db = db
        self._inline = inline
        self._commit_delay = commit_delay
        self._busy = busy
        self._since_checkpoint = 0
        self._raw = raw_connection(db)
        self._lock = lock
        self._pending: list[tuple[Job[Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._inline_pending: list[tuple[Job[Any], asyncio.Future[Any]]] = []
        self._inline_scheduled = False  # a flush at the end of this loop iteration
        self._inline_timer: asyncio.TimerHandle | None = None  # a flush after the commit delay
        self.batches = 0  # commits made, for tests and benchmarks
        self.jobs = 0  # jobs committed or failed
        self.inline = 0  # of which committed on the loop thread

    async def submit(self, job: Job[T], *, small: bool = False, siblings: int | None = None) -> T:
        """Queue `job`; its result once committed, or the exception it raised (as a TIMError for I/O).

        `small`: the job touches a row or a few (a save, a seq block), so it may commit inline, on
        the loop thread; `siblings`: how many other writes the caller expects soon, which decides
        when (module docstring). A large job goes to the thread with whatever else is queued."""
        if small and siblings == 0 and self._free_inline() and not self._inline_pending:
            ((ok, value),) = self._commit_inline([job])
            if ok:
                result: T = value
                return result
            if not is_busy(value):
                _raise(value)
            small = False  # another process holds the write lock: wait for it on the thread
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if small and self._inline:
            self._inline_pending.append((job, future))
            self._schedule_inline(loop, wait=siblings is not None and siblings >= COMMIT_SIBLINGS)
        else:
            self._queue([(job, future)])
        return await future

    def _schedule_inline(self, loop: asyncio.AbstractEventLoop, *, wait: bool) -> None:
        """Flush the small jobs after the commit delay (`wait`), else at the end of this iteration;
        whichever comes first takes every job pending then."""
        if wait and self._commit_delay > 0:
            if self._inline_timer is None and not self._inline_scheduled:
                self._inline_timer = loop.call_later(self._commit_delay, self._flush_inline)
        elif not self._inline_scheduled:
            self._inline_scheduled = True
            loop.call_soon(self._flush_inline)

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
        if self._inline_timer is not None:
            self._inline_timer.cancel()
            self._inline_timer = None
        batch = [(job, fut) for job, fut in self._inline_pending if not fut.cancelled()]
        self._inline_pending = []
        if not batch:
            return
        if not self._free_inline():
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

    def _free_inline(self) -> bool:
        """Whether a commit on the loop thread may run now: inline commits are on, nothing holds the
        connection (the flusher, a `_write()`, a read on the thread) and no checkpoint is due."""
        return (
            self._inline
            and self._flusher is None
            and not self._lock.locked()
            and self._since_checkpoint < CHECKPOINT_EVERY
        )

    def _commit_inline(self, jobs: list[Job[Any]]) -> list[_Outcome]:
        """Run `jobs` in one transaction on the loop thread, never waiting for a lock.
        No await: no other use of the connection can start meanwhile."""
        try:
            self._busy.never()
            outcomes = commit_batch(self._raw, jobs)
        except Exception as exc:  # BEGIN (busy) or COMMIT failed: nothing is stored
            outcomes = [(False, exc)] * len(jobs)
        if not all(not ok and is_busy(value) for ok, value in outcomes):
            self._since_checkpoint += 1
            self.batches, self.inline = self.batches + 1, self.inline + 1
        self.jobs += len(jobs)
        return outcomes

    async def drain(self) -> None:
        """Wait until every job queued so far has been committed (or has failed)."""
        while self._flusher is not None or self._inline_pending:
            if self._inline_pending:
                self._flush_inline()  # now, not after a commit delay
            if self._flusher is not None:
                await asyncio.shield(self._flusher)

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
        busy = self._busy
        checkpoint = self._inline and self._since_checkpoint >= CHECKPOINT_EVERY
        self._since_checkpoint = 0 if checkpoint else self._since_checkpoint + 1

        def on_thread() -> list[_Outcome]:
            busy.patient()
            return commit_batch(raw, jobs, checkpoint=checkpoint)

        try:
            outcomes = await run_on_thread(self._db, on_thread)
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
        future.set_exception(_mapped(value))


def _raise(exc: BaseException) -> NoReturn:
    raise _mapped(exc)


def _mapped(exc: BaseException) -> BaseException:
    """The exception a caller sees: a TIMError for storage failures, else the job's own."""
    mapped = storage_error(exc)
    return exc if mapped is None else _caused(mapped, exc)


def _caused(mapped: BaseException, cause: BaseException) -> BaseException:
    mapped.__cause__ = cause
    return mapped


class CheckpointCounter:
    """Commits made outside the writer (`LocalStore._write()`: the inbox, the outbox, migrations).
    `wal_autocheckpoint` is off, so without this a receiver that only writes through them grows
    the WAL without end; every `every`-th such commit is followed by a PASSIVE checkpoint. Each of
    these commits is a transaction of its own (a webhook: ~5 pages), so the WAL stays near 1 MiB."""

    def __init__(self, every: int = 64) -> None:
        self._every = every
        self._since = 0

    def due(self) -> bool:
        """Count a commit; True when a checkpoint should follow it."""
        self._since += 1
        if self._since < self._every:
            return False
        self._since = 0
        return True


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
