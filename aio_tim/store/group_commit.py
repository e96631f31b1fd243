"""`GroupCommit`: the inboxes' writer task, which commits the appends and acknowledgements of every
caller in shared transactions (group commit). Under load a hundred webhooks cost one commit, and
each caller still gets its answer only once its entry is durable.

The inbox gives the one transaction it knows how to write (`commit(entries, acks)`: insert the
entries whose keys are new, apply their effects, move the cursors; one `Appended` per entry);
this class batches, answers the callers, counts, and wakes readers blocked for new entries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import TIM_ERR_PARAM, UsageError
from ..seams.inbox import Appended, InboxEntry, NewEntry

__all__ = ["Commit", "GroupCommit", "InboxState", "answers", "fresh_entries", "position_of"]

Commit = Callable[[list[NewEntry], dict[str, int]], Awaitable[list[Appended]]]


@dataclass
class _Work:
    """What the writer commits in its next transaction."""

    appends: list[tuple[NewEntry, asyncio.Future[Appended]]] = field(default_factory=list)
    acks: dict[str, int] = field(default_factory=dict)
    ack_waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.appends or self.acks)


class GroupCommit:
    """Batch appends and acknowledgements into `commit` transactions of at most `max_batch` entries."""

    def __init__(self, commit: Commit, *, max_batch: int, name: str) -> None:
        self._commit_batch = commit
        self._max_batch = max_batch
        self._name = name
        self._work = _Work()
        self._wake: asyncio.Event | None = None
        self._arrival: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.appended = 0
        self.duplicates = 0
        self.commits = 0

    async def append(self, entries: Sequence[NewEntry]) -> list[Appended]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in entries]
        self._work.appends.extend(zip(entries, futures, strict=True))
        self._kick()
        if len(futures) == 1:  # the receiver's case: skip gather's bookkeeping
            return [await futures[0]]
        return list(await asyncio.gather(*futures))

    async def ack(self, consumer: str, last: int) -> None:
        """Move `consumer`'s cursor to `last` (never backwards) in the next transaction."""
        self._work.acks[consumer] = max(last, self._work.acks.get(consumer, 0))
        waiter = asyncio.get_running_loop().create_future()
        self._work.ack_waiters.append(waiter)
        self._kick()
        await waiter

    def _kick(self) -> None:
        if self._writer is None:
            self._wake = asyncio.Event()
            self._writer = asyncio.get_running_loop().create_task(self._write_forever(), name=self._name)
        assert self._wake is not None
        self._wake.set()

    async def _write_forever(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._work:
                await self._commit(self._take())

    def _take(self) -> _Work:
        work, rest = self._work, _Work()
        if len(work.appends) > self._max_batch:
            rest.appends = work.appends[self._max_batch :]
            work.appends = work.appends[: self._max_batch]
        self._work = rest
        return work

    async def _commit(self, work: _Work) -> None:
        try:
            results = await self._commit_batch([entry for entry, _ in work.appends], work.acks)
        except Exception as exc:  # every caller of this batch learns it failed; none is told "durable"
            _fail([f for _, f in work.appends], exc)
            _fail(work.ack_waiters, exc)
            return
        self.commits += 1
        fresh = sum(not r.duplicate for r in results)
        self.appended += fresh
        self.duplicates += len(results) - fresh
        for (_, future), result in zip(work.appends, results, strict=True):
            if not future.done():
                future.set_result(result)
        for waiter in work.ack_waiters:
            if not waiter.done():
                waiter.set_result(None)
        if fresh:
            self.announce()

    def announce(self) -> None:
        """Wake the reads blocked for new entries (an append here, or one another process made)."""
        arrival, self._arrival = self._arrival, None
        if arrival is not None and not arrival.done():
            arrival.set_result(None)

    async def read(
        self,
        read_once: Callable[[], Awaitable[list[InboxEntry]]],
        block: float | None,
        *,
        poll: float,
        closed: Callable[[], bool],
    ) -> list[InboxEntry]:
        """`read_once()` until it finds entries, `block` seconds pass, or the inbox closes; between
        tries it waits for an arrival, or `poll` seconds for entries another process wrote."""
        loop = asyncio.get_running_loop()
        deadline = None if block is None else loop.time() + block
        while True:
            arrival = self._arrival_future()  # before reading: an append after the read still wakes us
            entries = await read_once()
            remaining = 0.0 if deadline is None else deadline - loop.time()
            if entries or remaining <= 0 or closed():
                return entries
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(arrival), min(remaining, poll))

    def _arrival_future(self) -> asyncio.Future[None]:
        if self._arrival is None:
            self._arrival = asyncio.get_running_loop().create_future()
        return self._arrival

    async def close(self) -> None:
        """Commit what is pending and stop the writer (then mark the inbox closed, and `announce`)."""
        if self._writer is not None:
            while self._work:
                await self._commit(self._take())
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


def position_of(text: str) -> int:
    """An inbox position (an entry's id, as text) as the int the tables keep."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UsageError(TIM_ERR_PARAM, f"not an inbox position: {text!r}") from None
    if value < 0:
        raise UsageError(TIM_ERR_PARAM, f"not an inbox position: {text!r}")
    return value


def fresh_entries(entries: Sequence[NewEntry], stored: dict[str, int]) -> dict[str, NewEntry]:
    """The entries to insert: keys not `stored`, the first of a key repeated in the batch."""
    fresh: dict[str, NewEntry] = {}
    for entry in entries:
        if entry.key not in stored:
            fresh.setdefault(entry.key, entry)
    return fresh


def answers(
    entries: Sequence[NewEntry], stored: dict[str, int], fresh: dict[str, NewEntry], new: dict[str, int]
) -> list[Appended]:
    """One answer per entry: new where it was inserted, else a duplicate at the key's position."""
    result: list[Appended] = []
    for entry in entries:
        if fresh.get(entry.key) is entry:
            result.append(Appended(str(new[entry.key]), duplicate=False))
        else:  # already stored, or repeated within this batch
            result.append(Appended(str(stored.get(entry.key) or new[entry.key]), duplicate=True))
    return result


def _fail(futures: Sequence[asyncio.Future[Any]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)


class InboxState:
    """What every inbox built on a `GroupCommit` says about itself: open or closed, and its counters."""

    _writes: GroupCommit
    _closed: bool

    @property
    def closed(self) -> bool:
        return self._closed

    def _require_open(self) -> None:
        if self._closed:
            raise UsageError(TIM_ERR_PARAM, "the inbox is closed")

    def statistics(self) -> dict[str, int]:
        """Counters since this inbox was made: entries appended, duplicates skipped, commits."""
        writes = self._writes
        return {"appended": writes.appended, "duplicates": writes.duplicates, "commits": writes.commits}
