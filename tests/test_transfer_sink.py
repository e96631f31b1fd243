"""FileSink: where a download's bytes are written (loop thread while fast, worker thread otherwise)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from aio_tim.transfer import sink as sink_module
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


async def test_a_slow_write_moves_the_rest_to_the_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After one write slower than the threshold, writes are queued for the thread; bytes stay in order."""
    monkeypatch.setattr(sink_module, "_INLINE_SLOW", 0.0)  # every write counts as slow
    path = tmp_path / "part"
    sink = FileSink(_open(path), 0, name="part")
    await sink.write(CHUNKS[0])
    assert path.stat().st_size == len(CHUNKS[0])  # the first one still ran inline
    for chunk in CHUNKS[1:]:
        await sink.write(chunk)
    assert sink._inflight is not None  # the rest went to the worker thread
    await sink.drain()
    await sink.aclose()
    assert path.read_bytes() == b"".join(CHUNKS)
    assert sink.size == len(b"".join(CHUNKS))


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
