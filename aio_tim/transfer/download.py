"""`Download`: the handle `download_elem_to_path` returns. Await it, iterate it, or both.

    dl = tim.msg.download_elem_to_path(param, "downloads/")
    async for p in dl:                       # DownloadElemResult snapshots, ending at the total
        print(f"{p.current_size}/{p.total_size}", dl.progress.speed)
    result = await dl                        # the final DownloadElemResult

Nothing happens until the first `await`, iteration or `start()`; the transfer then runs in a task
owned by the client's TransferManager, so a slow reader never slows it down (and sees only the
latest snapshot). Cancelling the awaiting or iterating task cancels the transfer, which keeps its
partial file for a later download to the same path to resume.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from types import TracebackType
from typing import Any

from ..types import DownloadElemResult
from .fetch import DownloadStats, Fetcher
from .progress import Progress, ProgressBoard

__all__ = ["Download"]

Spawn = Callable[[Coroutine[Any, Any, DownloadElemResult]], "asyncio.Task[DownloadElemResult]"]


class Download:
    """One element's file on its way to `target`: await it, iterate its progress, or both.

    `tim.msg.download_elem_to_path` makes it; nothing moves until the first await, iteration or
    `start()`. Cancelling the awaiting or iterating task cancels the transfer and keeps its
    partial file for a later download to the same path to resume.

        dl = tim.msg.download_elem_to_path(param, "downloads/")
        async for p in dl:                   # DownloadElemResult snapshots
            print(f"{p.current_size}/{p.total_size}", dl.progress.speed)
        result = await dl                    # the final DownloadElemResult
    """

    def __init__(
        self,
        fetcher: Fetcher,
        board: ProgressBoard,
        target: Path,
        spawn: Spawn,
        slot: asyncio.Semaphore,
    ) -> None:
        self._fetcher = fetcher
        self._board = board
        self._spawn = spawn
        self._slot = slot  # the client-wide limit on concurrent transfers
        self._task: asyncio.Task[DownloadElemResult] | None = None
        self._seen = 0
        self.target = target

    # --- running -------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[DownloadElemResult]:
        """Start the transfer now (awaiting or iterating also starts it); idempotent."""
        if self._task is None:
            self._task = self._spawn(self._run())
            self._task.add_done_callback(lambda _: self._board.wake())
        return self._task

    async def _run(self) -> DownloadElemResult:
        async with self._slot:
            total = await self._fetcher.run()
        self._board.finish(total)
        return DownloadElemResult(current_size=total, total_size=total)

    def __await__(self) -> Generator[Any, None, DownloadElemResult]:
        # Awaiting the task directly: cancelling the awaiter cancels the transfer and waits for
        # its cleanup (the partial file is closed before CancelledError arrives here).
        return self.start().__await__()

    def __aiter__(self) -> Download:
        return self

    async def __anext__(self) -> DownloadElemResult:
        task = self.start()
        while True:
            if self._board.version != self._seen:
                self._seen = self._board.version
                snapshot = self._board.latest
                assert snapshot is not None
                return snapshot
            if task.done():
                task.result()  # the transfer's error, if it failed
                raise StopAsyncIteration
            try:
                await self._board.changed()
            except asyncio.CancelledError:
                await self._cancel_and_wait()
                raise

    async def aclose(self) -> None:
        """Cancel the transfer if it is running and wait until its partial file is closed."""
        await self._cancel_and_wait()

    async def __aenter__(self) -> Download:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._cancel_and_wait()

    async def _cancel_and_wait(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    # --- state ---------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the transfer finished, failed or was cancelled."""
        return self._task is not None and self._task.done()

    @property
    def result(self) -> DownloadElemResult | None:
        """The latest snapshot (None before the first response)."""
        return self._board.latest

    @property
    def progress(self) -> Progress:
        """The latest snapshot with elapsed time, `speed` and `eta`."""
        return self._board.progress()

    @property
    def part_path(self) -> Path:
        """Where the partial file lives while the download is incomplete."""
        return self._fetcher.part_path

    def statistics(self) -> DownloadStats:
        """HTTP attempts, restarts from zero, the offset resumed from and the bytes received."""
        return self._fetcher.statistics()

    def __repr__(self) -> str:
        state = "new" if self._task is None else "done" if self._task.done() else "running"
        p = self._board.progress()
        return (
            f"<Download {self.target.name!r} {p.current}/{p.total if p.total is not None else '?'} {state}>"
        )

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_task", 0) is None:
            _warn(f"{self!r} was never awaited or iterated", ResourceWarning, source=self, stacklevel=1)
