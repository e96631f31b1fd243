"""`FileSink`: a download's bytes go to its partial file from a worker thread, hashed on the way.

The event loop only queues received chunks. One batch at a time is hashed and written
(`os.writev`) by one job in the default executor (both release the GIL), so receiving overlaps
writing and hashing. One job, not a write job beside a hash job: each executor job costs a
thread wake-up and a loop wake-up, and two made verification cost twice the bare hash.
At most `max_pending` bytes wait; past that, `write` waits, the socket is no longer read and TCP
flow control slows the sender: memory stays flat whatever the file size.

Without hashing, a chunk is written on the loop thread while such writes are fast (they land in
the page cache: ~30 µs for 256 KiB), because a thread hop per batch cost more CPU than the write
(0.26-0.28 vs 0.21 s per 256 MiB, bench_download.py). The first write slower than
`_INLINE_SLOW` seconds (a slow disk, a network mount, writeback throttling) moves the rest of the
download to the worker thread, so the loop is blocked at most once, briefly.

Every operation on the descriptor runs in that single lane, and `aclose` waits for the lane to
empty even while being cancelled, so the descriptor is never closed under a running write.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from ..errors import DownloadError

__all__ = ["FileSink", "run_to_end"]

T = TypeVar("T")

DEFAULT_MAX_PENDING: Final = 8 * 1024 * 1024
_IOV_MAX: Final = 512  # under every platform's IOV_MAX (1024 on Linux)
_HASH_READ: Final = 1024 * 1024
_INLINE_SLOW: Final = 0.002  # one inline write slower than this: the rest go to the worker thread
ERR_IO: Final = 6022


class FileSink:
    """Appends to an open file descriptor positioned at its end (`size` bytes already there)."""

    def __init__(self, fd: int, size: int, *, name: str, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._fd = fd
        self._name = name
        self.size = size  # bytes accepted: on disk or queued
        self._max_pending = max_pending
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._inflight: asyncio.Future[Any] | None = None
        self._hash: Any = None  # hashlib sha256 object once hashing is on
        self._error: DownloadError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._inline = True  # unhashed writes on the loop thread until one is slow

    def __repr__(self) -> str:
        return f"<FileSink {self._name} size={self.size} pending={self._pending_bytes}>"

    @property
    def hashing(self) -> bool:
        return self._hash is not None

    # --- writing -----------------------------------------------------------------------------

    async def write(self, chunk: bytes) -> None:
        """Queue `chunk`; waits only when too much is already queued."""
        self._raise_error()
        if self._inline and self._hash is None and self._inflight is None and not self._pending:
            self._write_inline(chunk)
            return
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        self.size += len(chunk)
        if self._inflight is None:
            self._start_batch()
        while self._pending_bytes > self._max_pending and self._error is None:
            await self._changed()

    async def drain(self) -> None:
        """Wait until every queued byte is written (raises the write's error, e.g. disk full)."""
        while self._inflight is not None:
            await self._changed()
        self._raise_error()

    def _write_inline(self, chunk: bytes) -> None:
        started = time.perf_counter()
        try:
            _writev_all(self._fd, [chunk])
        except OSError as exc:
            self._error = _io_error(self._name, exc)
            raise self._error from exc
        self.size += len(chunk)
        if time.perf_counter() - started > _INLINE_SLOW:
            self._inline = False

    def _start_batch(self) -> None:
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        # One batch at a time: the hash sees the chunks in order.
        self._inflight = self._loop.run_in_executor(None, self._write_batch, batch, self._hash)
        self._inflight.add_done_callback(self._batch_done)

    def _batch_done(self, future: asyncio.Future[Any]) -> None:
        self._inflight = None
        exc = future.exception()
        if isinstance(exc, OSError):
            self._error = _io_error(self._name, exc)
            self._error.__cause__ = exc
        elif exc is not None:
            self._error = DownloadError(ERR_IO, f"writing {self._name} failed: {exc!r}")
            self._error.__cause__ = exc
        elif self._pending:
            self._start_batch()
        self._wake()

    def _write_batch(self, batch: list[bytes], digest: Any) -> None:
        # Runs in a worker thread; only one batch (or lane operation) runs at a time. Hashed
        # first: the chunks are then hot in the CPU cache for the write's copy.
        if digest is not None:
            _hash_batch(digest, batch)
        for start in range(0, len(batch), _IOV_MAX):
            _writev_all(self._fd, batch[start : start + _IOV_MAX])

    # --- lane operations ---------------------------------------------------------------------

    async def truncate(self) -> None:
        """Empty the file (a restart from zero); hashing, if on, starts over too."""
        await self._in_lane(self._truncate)
        self.size = 0
        if self._hash is not None:
            self._hash = hashlib.sha256()

    def _truncate(self) -> None:
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)

    async def start_hashing(self) -> None:
        """Hash from now on, first catching up on the bytes already in the file (a resume)."""
        if self._hash is None:
            await self.drain()
            self._hash = await self._in_lane(self._hash_prefix, self.size)

    def _hash_prefix(self, size: int) -> Any:
        digest = hashlib.sha256()
        offset = 0
        while offset < size:
            chunk = os.pread(self._fd, min(_HASH_READ, size - offset), offset)
            if not chunk:
                raise OSError(f"{self._name} is shorter than expected")
            digest.update(chunk)
            offset += len(chunk)
        return digest

    def hexdigest(self) -> str | None:
        """The sha-256 of the content so far (after `drain`), or None when not hashing."""
        return None if self._hash is None else str(self._hash.hexdigest())

    async def sync(self) -> None:
        """Write everything and fsync: the bytes are on disk before the file is renamed."""
        await self._in_lane(os.fsync, self._fd)

    async def _in_lane(self, func: Callable[..., Any], *args: Any) -> Any:
        await self.drain()
        future = self._loop.run_in_executor(None, func, *args)
        self._inflight = future
        future.add_done_callback(self._lane_done)
        try:
            return await asyncio.shield(future)
        except OSError as exc:
            raise _io_error(self._name, exc) from exc

    def _lane_done(self, future: asyncio.Future[Any]) -> None:
        self._inflight = None
        self._wake()

    # --- closing -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Finish queued writes, then close the descriptor. Runs to the end even if cancelled
        (a write must not outlive its descriptor), and then re-raises the cancellation."""
        if self._fd < 0:
            return
        cancelled = False
        while self._inflight is not None:
            try:
                if self._inflight.done():
                    # Awaiting a done future does not yield, and its done callback (which clears
                    # _inflight) only runs once we do: without this the loop spins forever.
                    await asyncio.sleep(0)
                else:
                    await asyncio.shield(self._inflight)
            except asyncio.CancelledError:
                cancelled = True
            except Exception:  # kept in self._error (writes) or already raised to the caller (lane)
                continue
        fd, self._fd = self._fd, -1
        os.close(fd)
        if cancelled:
            raise asyncio.CancelledError

    # --- waiting -----------------------------------------------------------------------------

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _changed(self) -> asyncio.Future[None]:
        if self._waiter is None or self._waiter.done():
            self._waiter = self._loop.create_future()
        return self._waiter

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def run_to_end(func: Callable[[], T]) -> T:
    """Run blocking `func` in a thread and wait for its end even when cancelled, then re-raise
    the cancellation: a rename or fsync must never be left running behind the caller's back."""
    future = asyncio.get_running_loop().run_in_executor(None, func)
    cancelled = False
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled = True
        except Exception:
            break  # future.result() below raises it
    if cancelled:
        raise asyncio.CancelledError from future.exception()
    return future.result()


def _hash_batch(digest: Any, batch: list[bytes]) -> None:
    for chunk in batch:
        digest.update(chunk)


def _writev_all(fd: int, buffers: list[bytes]) -> None:
    """os.writev until every byte is written (it may write less than asked)."""
    views = [memoryview(b) for b in buffers if b]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def _io_error(name: str, exc: OSError) -> DownloadError:
    reason = exc.strerror or str(exc)
    return DownloadError(ERR_IO, f"cannot write {name}: {reason}")
