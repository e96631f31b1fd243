"""Progress of a transfer: throttled, latest-only snapshots and their derived speed and ETA.

The transfer writes to a `ProgressBoard`; a reader waits for the next change. The board keeps only
the latest snapshot, so a slow reader sees fewer, fresher snapshots and never makes the transfer
buffer anything. Reported sizes never go backwards: after a restart from zero the board holds the
old mark until the new attempt passes it, and only the final snapshot reaches the total.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..types import DownloadElemResult
from .upload import UploadProgress

__all__ = ["Progress", "ProgressBoard", "UploadWatch"]

MIN_STEP_BYTES: Final = 64 * 1024
MIN_STEP_SECONDS: Final = 0.05


@dataclass(frozen=True)
class Progress:
    """One moment of a transfer, with rich-style derived values.

    `Download.progress` gives the latest; `speed` is bytes per second, `eta` seconds left:

        >>> p = Progress(current=50, total=200, elapsed=2.0)
        >>> p.speed, p.eta, p.fraction
        (25.0, 6.0, 0.25)
    """

    current: int
    total: int | None
    elapsed: float
    finished: bool = False

    @property
    def speed(self) -> float | None:
        """Mean bytes per second since the transfer started (None before any time passed)."""
        return self.current / self.elapsed if self.elapsed > 0 else None

    @property
    def eta(self) -> float | None:
        """Seconds left at the mean speed so far (None while unknown)."""
        if self.finished:
            return 0.0
        speed = self.speed
        if not self.total or not speed:
            return None
        return max(self.total - self.current, 0) / speed

    @property
    def fraction(self) -> float | None:
        if self.finished:
            return 1.0
        return self.current / self.total if self.total else None

    def as_result(self) -> DownloadElemResult:
        """The C SDK's `msg_download_elem_result_*` shape."""
        return DownloadElemResult(current_size=self.current, total_size=self.total or 0)


class ProgressBoard:
    """The latest progress snapshot of one transfer, and a way to wait for the next one."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._started = clock()
        self._ended: float | None = None
        self._total: int | None = None
        self._shown = 0  # the mark readers have seen (never decreases)
        self._shown_at = self._started
        self._snapshot: DownloadElemResult | None = None
        self.version = 0
        self._waiter: asyncio.Future[None] | None = None

    @property
    def latest(self) -> DownloadElemResult | None:
        return self._snapshot

    def progress(self) -> Progress:
        end = self._ended if self._ended is not None else self._clock()
        return Progress(self._shown, self._total, end - self._started, self._ended is not None)

    def update(self, current: int, total: int | None) -> None:
        """Record bytes so far; publish at most every 64 KiB or 50 ms (and when the total changes)."""
        now = self._clock()
        if total != self._total:
            self._total = total
        elif current - self._shown < MIN_STEP_BYTES and now - self._shown_at < MIN_STEP_SECONDS:
            return
        self._publish(current, now)

    def finish(self, total: int) -> None:
        """The transfer completed and verified: the last snapshot is (total, total)."""
        self._total = total
        self._shown = total
        self._ended = self._clock()
        self._snapshot = DownloadElemResult(current_size=total, total_size=total)
        self._bump()

    def _publish(self, current: int, now: float) -> None:
        # Hold below the total: only `finish` may say "done" (C SDK callers read current == total
        # as completion), and never go back below what readers have already seen.
        ceiling = self._total - 1 if self._total else current
        shown = max(self._shown, min(current, ceiling))
        total = self._total or 0
        if self._snapshot is not None and (shown, total) == (self._shown, self._snapshot.total_size):
            return
        self._shown, self._shown_at = shown, now
        self._snapshot = DownloadElemResult(current_size=shown, total_size=total)
        self._bump()

    def _bump(self) -> None:
        self.version += 1
        self.wake()

    def wake(self) -> None:
        """Release the reader waiting in `changed()` (also called when the transfer ends)."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def changed(self) -> asyncio.Future[None]:
        """A future resolved at the next snapshot or at `wake()`."""
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter


class UploadWatch:
    """Upload progress of the messages being sent, latest per element (the C SDK's
    `TIMSetMsgElemUploadProgressCallback` as an async iterator).

    Iteration ends once the watch is closed and its remaining events are read, so read it in a
    task of its own and let leaving the `async with` block close it:

        async def show(uploads):
            async for event in uploads:
                print(event.index, event.current_size, event.total_size)

        async with tim.transfers.watch_uploads() as uploads:
            printer = asyncio.create_task(show(uploads))
            sent = await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
        await printer
    """

    def __init__(self, unsubscribe: Callable[[UploadWatch], None]) -> None:
        self._unsubscribe = unsubscribe
        self._latest: dict[tuple[int, int, str], UploadProgress] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def push(self, event: UploadProgress) -> None:
        key = (id(event.message), event.index, str(event.kind))
        # Re-inserting moves the element to the back: busy elements do not starve quiet ones.
        self._latest.pop(key, None)
        self._latest[key] = event
        self._wake()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._unsubscribe(self)
            self._wake()

    def __aiter__(self) -> UploadWatch:
        return self

    async def __anext__(self) -> UploadProgress:
        while not self._latest:
            if self.closed:
                raise StopAsyncIteration
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._latest.pop(next(iter(self._latest)))

    async def __aenter__(self) -> UploadWatch:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
