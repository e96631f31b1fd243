"""`FileSink`: a download's bytes go to its partial file; sha-256 is computed from the file.

Chunks are written on the loop thread while such writes are fast (they land in the page cache:
~30 µs for 256 KiB), because a thread hop per chunk cost more CPU than the write. `_SLOW_IN_A_ROW`
writes in a row slower than `_INLINE_SLOW` seconds (a slow disk, a network mount, writeback
throttling) move the rest of the download to the worker thread (`os.writev` batches), so the loop
is blocked only briefly. One slow write alone is not enough: on a busy VM a preempted vCPU takes
2-4 ms now and then (8 of 24 downloads of 256 MiB met one), and moving a fast download off the
loop thread for such a blip made it slower (queued chunks cause the page churn described below:
~9,000 page faults per 256 MiB instead of ~1,000).

When the final size is known (`expect`), a worker job allocates the file's space a few MiB
ahead of the writes (space.py), so the loop thread's writes only copy.

Hashing runs in a worker thread and reads back what was written (`os.preadv` into one reused
buffer, from the page cache), catching up with the loop; a resumed prefix is hashed the same way.
It does not hash the received `bytes` objects: keeping several 256 KiB chunks alive for a worker
made glibc hand pages back and fault them in again (~20 000 page faults per 256 MiB, more kernel
time than the hash itself, bench_download.py); reading the file back costs one copy from the
page cache and keeps memory flat. Hashing may lag at most `max_pending` bytes behind the
writes (past that, `write` waits, the socket is no longer read and TCP slows the sender).

Every worker job on the descriptor runs in a single lane (one at a time), and `aclose` waits for
the lane to empty even while being cancelled, so the descriptor is never closed under a running
write or read.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable
from typing import Any, Final

from ..errors import DownloadError
from .space import SpaceUnsupported, reserve

__all__ = ["FileSink"]

DEFAULT_MAX_PENDING: Final = 8 * 1024 * 1024
_IOV_MAX: Final = 512  # under every platform's IOV_MAX (1024 on Linux)
_HASH_READ: Final = 1024 * 1024  # bytes read back and hashed per step (one reused buffer)
_HASH_STEP: Final = 1024 * 1024  # unhashed bytes that start a hash job: fewer thread hops
_INLINE_SLOW: Final = 0.002  # an inline write slower than this is slow ...
_SLOW_IN_A_ROW: Final = 3  # ... and this many in a row send the rest to the worker thread
# Space allocated ahead of the writes, topped up when half is used. Larger steps hold the
# file's lock longer (16 MiB: ~4 ms on tmpfs), long enough to make inline writes "slow".
# Writes arriving during a top-up spin on that lock (perf: ~7% of the loop thread's samples);
# splitting a top-up into 512 KiB calls, or pausing between them, did not lower it.
_RESERVE_AHEAD: Final = 4 * 1024 * 1024
ERR_IO: Final = 6022


class FileSink:
    """Appends to an open file descriptor positioned at its end (`size` bytes already there)."""

    def __init__(self, fd: int, size: int, *, name: str, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._fd = fd
        self._name = name
        self.size = size  # bytes accepted: in the file or queued
        self._written = size  # bytes in the file (hashing reads up to here)
        self._hashed = 0  # bytes hashed so far (while hashing)
        self._max_pending = max_pending
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._inflight: asyncio.Future[Any] | None = None
        self._hash: Any = None  # hashlib sha256 object once hashing is on
        self._buffer: memoryview | None = None  # hashing's read buffer
        self._error: DownloadError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._inline = True  # writes on the loop thread until several in a row are slow
        self._slow_writes = 0  # slow inline writes in a row
        self._end: int | None = None  # the file's final size, when known and space is reserved
        self._reserved = size  # space is allocated up to here

    def __repr__(self) -> str:
        return f"<FileSink {self._name} size={self.size} pending={self._pending_bytes}>"

    @property
    def hashing(self) -> bool:
        return self._hash is not None

    # --- writing -----------------------------------------------------------------------------

    async def write(self, chunk: bytes) -> None:
        """Write or queue `chunk`; waits only when too much is queued or left to hash."""
        self._raise_error()
        if self._inline:
            self._write_inline(chunk)
        else:
            self._pending.append(chunk)
            self._pending_bytes += len(chunk)
            self.size += len(chunk)
        self._kick(catch_up=False)
        while self._backlog() > self._max_pending and self._error is None:
            self._kick(catch_up=True)  # a no-op while a job runs; its end wakes us
            await self._changed()

    async def drain(self) -> None:
        """Wait until every queued byte is written and, when hashing, hashed (raises the
        worker's error, e.g. disk full)."""
        await self._settle(catch_up=True)

    def _backlog(self) -> int:
        return self._pending_bytes + self._unhashed()

    def _unhashed(self) -> int:
        return self._written - self._hashed if self._hash is not None else 0

    def _write_inline(self, chunk: bytes) -> None:
        started = time.perf_counter()
        try:
            _writev_all(self._fd, [chunk])
        except OSError as exc:
            self._error = _io_error(self._name, exc)
            raise self._error from exc
        self.size += len(chunk)
        self._written += len(chunk)
        if time.perf_counter() - started <= _INLINE_SLOW:
            self._slow_writes = 0
        else:
            self._slow_writes += 1
            self._inline = self._slow_writes < _SLOW_IN_A_ROW

    def expect(self, end: int | None) -> None:
        """The file will end at `end` bytes (None: unknown): allocate its space ahead of the writes."""
        self._end = end
        self._kick(catch_up=False)

    def _reserve_due(self) -> bool:
        end = self._end
        return end is not None and self._reserved < end and self._reserved - self.size < _RESERVE_AHEAD // 2

    def _kick(self, *, catch_up: bool) -> None:
        """Start a worker job if none runs and there is work: queued writes, space to reserve,
        or bytes to hash (at least `_HASH_STEP` of them unless `catch_up`)."""
        if self._inflight is not None or self._error is not None:
            return
        if self._pending or self._reserve_due() or self._unhashed() >= (1 if catch_up else _HASH_STEP):
            batch, self._pending, self._pending_bytes = self._pending, [], 0
            self._inflight = self._loop.run_in_executor(None, self._job, batch)
            self._inflight.add_done_callback(self._job_done)

    async def _settle(self, *, catch_up: bool) -> None:
        while True:
            self._kick(catch_up=catch_up)
            if self._inflight is None:
                break
            await self._changed()
        self._raise_error()

    def _job_done(self, future: asyncio.Future[Any]) -> None:
        self._inflight = None
        exc = future.exception()
        if isinstance(exc, OSError):
            self._error = _io_error(self._name, exc)
            self._error.__cause__ = exc
        elif exc is not None:
            self._error = DownloadError(ERR_IO, f"writing {self._name} failed: {exc!r}")
            self._error.__cause__ = exc
        else:
            self._kick(catch_up=False)
        self._wake()

    def _job(self, batch: list[bytes]) -> None:
        # Runs in a worker thread, one job at a time. Reads `_written` while the loop thread
        # may be appending (inline writes): ints are swapped atomically under the GIL, and
        # only bytes already written are read back.
        if self._reserve_due():
            self._reserve_ahead()
        for start in range(0, len(batch), _IOV_MAX):
            _writev_all(self._fd, batch[start : start + _IOV_MAX])
        self._written += sum(map(len, batch))
        if self._hash is not None:
            self._hash_written()

    def _reserve_ahead(self) -> None:
        assert self._end is not None
        start = max(self._reserved, self.size)
        stop = min(self._end, self.size + _RESERVE_AHEAD)
        try:
            if stop > start:
                reserve(self._fd, start, stop - start)
        except SpaceUnsupported:
            self._end = None  # not here: write without
        else:
            self._reserved = stop

    def _hash_written(self) -> None:
        digest, buffer = self._hash, self._buffer
        assert buffer is not None
        while self._hashed < self._written:
            offset = self._hashed
            got = _pread_into(self._fd, buffer[: min(len(buffer), self._written - offset)], offset)
            if not got:
                raise OSError(f"{self._name} is shorter than expected")
            digest.update(buffer[:got])
            self._hashed = offset + got

    # --- lane operations ---------------------------------------------------------------------

    async def truncate(self) -> None:
        """Empty the file (a restart from zero); hashing, if on, starts over too."""
        await self._in_lane(self._truncate)
        self.size = self._written = self._hashed = self._reserved = 0
        if self._hash is not None:
            self._hash = hashlib.sha256()

    def _truncate(self) -> None:
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)

    async def start_hashing(self) -> None:
        """Hash from now on, from byte 0: the bytes already in the file (a resume) too."""
        if self._hash is None:
            await self._settle(catch_up=False)
            self._buffer = memoryview(bytearray(_HASH_READ))
            self._hash, self._hashed = hashlib.sha256(), 0

    def hexdigest(self) -> str | None:
        """The sha-256 of the content so far (after `drain`), or None when not hashing."""
        return None if self._hash is None else str(self._hash.hexdigest())

    async def sync(self, then: Callable[[], None] | None = None) -> None:
        """Write everything and fsync: the bytes are on disk before the file is renamed. `then`
        (the rename) runs right after, in the same worker job: one thread hop, not two."""
        await self._in_lane(_fsync_then, self._fd, then)

    async def _in_lane(self, func: Callable[..., Any], *args: Any) -> Any:
        await self._settle(catch_up=False)
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


def _fsync_then(fd: int, then: Callable[[], None] | None) -> None:
    os.fsync(fd)
    if then is not None:
        then()


def _pread_into(fd: int, buffer: memoryview, offset: int) -> int:
    """Read at `offset` into `buffer` without allocating (os.preadv; a copy where it is missing)."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [buffer], offset)
    data = os.pread(fd, len(buffer), offset)  # Windows
    buffer[: len(data)] = data
    return len(data)


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
