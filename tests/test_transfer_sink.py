"""FileSink: where a download's bytes are written (loop thread while fast, worker thread otherwise),
and the space allocated ahead of them."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import threading
from pathlib import Path

import pytest
from disk_support import can_reserve_space

from aio_tim.errors import DownloadError
from aio_tim.transfer import sink as sink_module
from aio_tim.transfer import space
from aio_tim.transfer.sink import FileSink

CHUNKS = [os.urandom(n) for n in (1, 65536, 300_000, 7, 262_144)]


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)


async def test_unhashed_writes_land_before_write_returns(tmp_path: Path) -> None:
    """Without hashing, each chunk is in the file when `write` returns (no thread hop)."""
    path = tmp_path / "part"
    sink = FileSink(_open(path), 0, name="part")
    written = 0
    for chunk in CHUNKS:
        await sink.write(chunk)
        written += len(chunk)
        assert path.stat().st_size == written
    await sink.drain()
    await sink.aclose()
    assert path.read_bytes() == b"".join(CHUNKS)


async def test_slow_writes_in_a_row_move_the_rest_to_the_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `_SLOW_IN_A_ROW` writes slower than the threshold, writes are queued for the thread;
    bytes stay in order."""
    monkeypatch.setattr(sink_module, "_INLINE_SLOW", -1.0)  # every write counts as slow
    path = tmp_path / "part"
    sink = FileSink(_open(path), 0, name="part")
    chunks = CHUNKS * 2
    inline = chunks[: sink_module._SLOW_IN_A_ROW]
    for chunk in inline:
        await sink.write(chunk)
    assert path.stat().st_size == len(b"".join(inline))  # these still ran inline
    for chunk in chunks[len(inline) :]:
        await sink.write(chunk)
    assert sink._inflight is not None  # the rest went to the worker thread
    await sink.drain()
    await sink.aclose()
    assert path.read_bytes() == b"".join(chunks)
    assert sink.size == len(b"".join(chunks))


class _StutteringClock:
    """perf_counter for the sink: `slow` writes in a row seem to take 10 ms, then one takes 0."""

    def __init__(self, slow: int) -> None:
        self.slow, self.calls, self.now = slow, 0, 0.0

    def perf_counter(self) -> float:
        self.calls += 1
        write, ends = divmod(self.calls - 1, 2)  # two calls per write: its start, its end
        if ends and write % (self.slow + 1) < self.slow:
            self.now += 0.010
        return self.now


async def test_slow_writes_not_in_a_row_stay_on_the_loop_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow write now and then (a preempted vCPU, a wait for the reservation's lock) is not a
    slow disk: with a fast write between them, every write still lands before `write` returns."""
    monkeypatch.setattr(sink_module, "time", _StutteringClock(slow=sink_module._SLOW_IN_A_ROW - 1))
    path = tmp_path / "part"
    sink = FileSink(_open(path), 0, name="part")
    written = 0
    for chunk in CHUNKS * 4:
        await sink.write(chunk)
        written += len(chunk)
        assert path.stat().st_size == written
    assert sink._slow_writes < sink_module._SLOW_IN_A_ROW
    await sink.aclose()


async def test_hashed_writes_hash_every_byte_in_order(tmp_path: Path) -> None:
    """With hashing on (and a resumed prefix), the digest covers the prefix and every chunk in order."""
    path = tmp_path / "part"
    path.write_bytes(b"prefix")
    fd = os.open(path, os.O_RDWR)
    os.lseek(fd, 0, os.SEEK_END)
    sink = FileSink(fd, 6, name="part")
    await sink.start_hashing()
    for chunk in CHUNKS:
        await sink.write(chunk)
    await sink.drain()
    await sink.aclose()
    content = b"prefix" + b"".join(CHUNKS)
    assert path.read_bytes() == content
    assert sink.hexdigest() == hashlib.sha256(content).hexdigest()


async def test_hashing_that_lags_is_bounded_and_still_covers_every_byte(tmp_path: Path) -> None:
    """With a tiny lag bound, `write` waits for the hasher (which reads the file back) instead of
    running ahead; the digest still covers every byte in order."""
    path = tmp_path / "part"
    sink = FileSink(_open(path), 0, name="part", max_pending=1000)
    await sink.start_hashing()
    for chunk in CHUNKS * 3:
        await sink.write(chunk)
        assert sink._written - sink._hashed <= max(1000, len(chunk))
    await sink.drain()
    await sink.aclose()
    assert sink.hexdigest() == hashlib.sha256(b"".join(CHUNKS * 3)).hexdigest()


async def test_hashing_reads_what_the_file_holds(tmp_path: Path) -> None:
    """The digest is of the bytes in the file: a byte changed on disk behind the sink's back
    (before hashing caught up) shows in the digest, so verification fails rather than passes."""
    path = tmp_path / "part"
    sink = FileSink(_open(path), 0, name="part")
    await sink.start_hashing()
    await sink.write(b"a" * 1000)
    other = os.open(path, os.O_WRONLY)
    os.pwrite(other, b"b", 0)
    os.close(other)
    await sink.drain()
    await sink.aclose()
    assert sink.hexdigest() == hashlib.sha256(b"b" + b"a" * 999).hexdigest()


# --- space allocated ahead of the writes -----------------------------------------------------------


async def test_a_known_size_reserves_space_ahead_but_the_size_counts_written_bytes(tmp_path: Path) -> None:
    """With the final size known, blocks are allocated ahead of the writes, while the file's size
    stays the bytes written: a resumed download trusts that size."""
    if not can_reserve_space(tmp_path):
        pytest.skip("this platform or file system cannot fallocate(KEEP_SIZE); the sink writes without")
    path = tmp_path / "part"
    total = 3 * sink_module._RESERVE_AHEAD
    sink = FileSink(_open(path), 0, name="part")
    sink.expect(total)
    await sink.write(CHUNKS[1])
    await sink.drain()
    stat = path.stat()
    assert stat.st_size == len(CHUNKS[1])
    assert stat.st_blocks * 512 >= sink_module._RESERVE_AHEAD  # allocated ahead
    assert stat.st_blocks * 512 < total  # but not the whole file at once
    body = os.urandom(total - len(CHUNKS[1]))
    for start in range(0, len(body), 300_000):
        await sink.write(body[start : start + 300_000])
    await sink.drain()
    await sink.aclose()
    assert path.read_bytes() == CHUNKS[1] + body
    assert sink._reserved == total  # never past the end


async def test_space_that_cannot_be_reserved_is_written_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that refuses fallocate (EOPNOTSUPP) costs one try, then writes go on as before."""
    calls: list[int] = []

    def refuse(fd: int, offset: int, length: int) -> None:
        calls.append(offset)
        raise space.SpaceUnsupported("Operation not supported")

    monkeypatch.setattr(sink_module, "reserve", refuse)
    path = tmp_path / "part"
    sink = FileSink(_open(path), 0, name="part")
    sink.expect(len(b"".join(CHUNKS * 40)))
    for chunk in CHUNKS * 40:
        await sink.write(chunk)
    await sink.drain()
    await sink.aclose()
    assert path.read_bytes() == b"".join(CHUNKS * 40)
    assert calls == [0]


async def test_a_full_disk_met_while_reserving_fails_like_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC from reserving is the download's disk-full error; the bytes written stay for a resume."""

    def full(fd: int, offset: int, length: int) -> None:
        if offset > 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(sink_module, "reserve", full)
    path = tmp_path / "part"
    sink = FileSink(_open(path), 0, name="part")
    sink.expect(10 * sink_module._RESERVE_AHEAD)
    chunk = os.urandom(256 * 1024)
    written = 0
    with pytest.raises(DownloadError, match="No space left on device"):
        for _ in range(40):
            await sink.write(chunk)
            written += len(chunk)
        await sink.drain()
    await sink.aclose()
    assert written > 0
    assert path.read_bytes() == chunk * (written // len(chunk))


async def test_sync_then_runs_after_the_fsync_in_the_same_worker_job(tmp_path: Path) -> None:
    """`sync(then=...)` (the rename) runs once the bytes are written, on the worker thread that
    synced them, in one job; its OSError arrives as the download's I/O error naming the file."""
    path = tmp_path / "part"
    sink = FileSink(_open(path), 0, name="report.pdf")
    await sink.write(CHUNKS[2])
    seen: list[tuple[int, str | None]] = []

    def rename() -> None:
        seen.append((path.stat().st_size, threading.current_thread().name))
        os.replace(path, tmp_path / "report.pdf")

    await sink.sync(then=rename)
    assert (tmp_path / "report.pdf").read_bytes() == CHUNKS[2]
    assert seen[0][0] == len(CHUNKS[2]) and seen[0][1] != threading.current_thread().name

    with pytest.raises(DownloadError, match=r"cannot write report\.pdf: No such file") as caught:
        await sink.sync(then=lambda: os.replace(tmp_path / "gone", tmp_path / "elsewhere"))
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    await sink.aclose()


async def test_a_cancelled_sync_leaves_its_job_running_and_aclose_waits_for_it(tmp_path: Path) -> None:
    """Cancelling `sync` while its rename runs cancels the waiting, not the rename: `aclose` (which
    the download calls before anything else on its error path) returns only once it has ended."""
    sink = FileSink(_open(tmp_path / "part"), 0, name="part")
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_rename() -> None:
        started.set()
        release.wait(10)
        finished.set()

    syncing = asyncio.create_task(sink.sync(then=slow_rename))
    assert await asyncio.to_thread(started.wait, 10)
    syncing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await syncing
    closing = asyncio.create_task(sink.aclose())
    await asyncio.sleep(0.05)
    assert not closing.done() and not finished.is_set()
    release.set()
    await closing
    assert finished.is_set()
