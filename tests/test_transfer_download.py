"""Downloads over loopback: progress, resume, validators, verification, cancellation, safety."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import msgspec
import pytest
from disk_support import can_reserve_space, tiny_tmpfs
from test_transfer_support import (  # noqa: F401  (fixtures)
    FAST,
    conn_fixture,
    data_of,
    param,
    transfers_fixture,
)

from aio_tim.connection import ConnectionManager
from aio_tim.devserver import DevServer
from aio_tim.devserver.files import CutAt, StallAt, StoredFile
from aio_tim.errors import DownloadError, UsageError
from aio_tim.transfer import Download, DownloadOptions, TransferManager
from aio_tim.transfer.fetch import _RECV_SIZE, _larger_reads
from aio_tim.types import DownloadElemParam, DownloadElemResult

SIZE = 4 * 1024 * 1024 + 123
DATA = data_of(SIZE)
AT_30 = SIZE * 3 // 10
AT_50 = SIZE // 2
AT_70 = SIZE * 7 // 10


@pytest.fixture
async def stored(dev_server: DevServer) -> StoredFile:
    """DATA stored on the dev server."""
    return await dev_server.files.put(DATA, name="data.bin")


def leftovers(folder: Path) -> list[str]:
    """Every name in `folder` (partial files and sidecars are hidden dot files)."""
    return sorted(os.listdir(folder))


# --- the happy path --------------------------------------------------------------------------------


async def test_await_returns_the_total_and_writes_the_file(
    transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """Awaiting a Download gives (total, total) and leaves exactly the file, byte for byte."""
    result = await transfers.download(param(stored), tmp_path / "out.bin")
    assert result == DownloadElemResult(current_size=SIZE, total_size=SIZE)
    assert (tmp_path / "out.bin").read_bytes() == DATA
    assert leftovers(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("form", ["struct", "dict", "json"])
async def test_param_may_be_struct_dict_or_json(
    transfers: TransferManager, stored: StoredFile, tmp_path: Path, form: str
) -> None:
    """The parameter may be a DownloadElemParam, a dict or JSON text in the C SDK's keys."""
    as_struct = DownloadElemParam(url=stored.url, id=stored.id)
    value = {"struct": as_struct, "dict": param(stored), "json": msgspec.json.encode(as_struct).decode()}[
        form
    ]
    await transfers.download(value, tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == DATA


async def test_progress_is_monotonic_throttled_and_ends_at_the_total(
    transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """Iterating yields non-decreasing snapshots, at most one per 64 KiB, the last equal to the total."""
    dl = transfers.download(param(stored), tmp_path / "out")
    seen = [(p.current_size, p.total_size) async for p in dl]
    assert seen[-1] == (SIZE, SIZE)
    assert all(total == SIZE for _, total in seen)
    assert [c for c, _ in seen] == sorted(c for c, _ in seen)
    assert all(c < SIZE for c, _ in seen[:-1])  # only the end says "done"
    assert len(seen) <= SIZE // (64 * 1024) + 2
    assert await dl == DownloadElemResult(current_size=SIZE, total_size=SIZE)
    assert dl.progress.fraction == 1.0 and dl.progress.eta == 0.0


async def test_a_slow_reader_sees_only_the_latest_snapshots(
    transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """A reader slower than the transfer gets few, fresh snapshots; the transfer does not wait for it."""
    dl = transfers.download(param(stored), tmp_path / "out")
    seen = []
    async for p in dl:
        seen.append(p.current_size)
        await asyncio.sleep(0.2)
    assert seen[-1] == SIZE
    assert len(seen) <= 3


# --- resume ------------------------------------------------------------------------------------------


async def test_resume_after_cuts_at_30_and_70_percent(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """Two cut connections are resumed with Range + If-Range; at most 5% more than the file moves."""
    dev_server.files.fail_next(CutAt(AT_30), CutAt(AT_70))
    dl = transfers.download(param(stored), tmp_path / "out")
    seen = [p.current_size async for p in dl]
    assert (tmp_path / "out").read_bytes() == DATA
    assert seen == sorted(seen) and seen[-1] == SIZE
    server = dev_server.files.statistics()
    assert (server.downloads, server.partial_responses) == (3, 2)
    assert server.bytes_sent <= 1.05 * SIZE
    stats = dl.statistics()
    assert (stats.attempts, stats.restarts) == (3, 0)
    assert stats.bytes_received <= 1.05 * SIZE


async def test_resume_after_a_stall(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """No byte for stall_timeout seconds abandons the attempt and resumes where it stopped."""
    dev_server.files.fail_next(StallAt(AT_50, seconds=30))
    dl = transfers.download(param(stored), tmp_path / "out")
    await dl
    assert (tmp_path / "out").read_bytes() == DATA
    assert dl.statistics().attempts == 2
    assert dev_server.files.statistics().bytes_sent <= 1.05 * SIZE


async def test_a_file_changed_between_attempts_is_fetched_again_whole(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """When the file changes after a cut, If-Range gets the whole new file: no spliced result."""
    new = data_of(SIZE, seed=1)
    dev_server.files.fail_next(CutAt(AT_30, replace_with=new))
    dl = transfers.download(param(stored), tmp_path / "out")
    seen = [p.current_size async for p in dl]
    assert (tmp_path / "out").read_bytes() == new
    assert seen == sorted(seen)


async def test_a_server_ignoring_if_range_is_caught_by_the_etag(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """A server that answers 206 from a new version (like aiohttp's FileResponse) is caught by its
    new ETag; the download starts over instead of splicing."""
    new = data_of(SIZE, seed=2)
    dev_server.files.honor_if_range = False
    dev_server.files.fail_next(CutAt(AT_30, replace_with=new))
    dl = transfers.download(param(stored), tmp_path / "out")
    await dl
    assert (tmp_path / "out").read_bytes() == new
    assert dl.statistics().restarts == 1


async def test_a_server_ignoring_range_makes_the_download_start_over(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """A 200 answer to a range request replaces the partial bytes with the full body."""
    dev_server.files.ignore_range = True
    dev_server.files.fail_next(CutAt(AT_30), CutAt(AT_70))
    dl = transfers.download(param(stored), tmp_path / "out")
    seen = [p.current_size async for p in dl]
    assert (tmp_path / "out").read_bytes() == DATA
    assert seen == sorted(seen) and seen[-1] == SIZE
    assert dl.statistics().bytes_received == AT_30 + AT_70 + SIZE


async def test_content_failing_its_digest_is_an_error_and_leaves_nothing(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """Bytes that do not match Repr-Digest raise DownloadError 6009; no final or partial file stays."""
    await dev_server.files.corrupt_content(stored.id, bytes(SIZE))
    with pytest.raises(DownloadError) as caught:
        await transfers.download(param(stored), tmp_path / "out")
    assert caught.value.code == 6009
    assert "Repr-Digest" in caught.value.desc
    assert leftovers(tmp_path) == []


async def test_giving_up_keeps_the_partial_file_for_later(
    dev_server: DevServer, conn: object, stored: StoredFile, tmp_path: Path
) -> None:
    """After max_stuck_attempts attempts without progress the error is 6009 and the partial stays."""
    options = DownloadOptions(stall_timeout=0.2, retry_delay=0.01, max_stuck_attempts=2)
    dev_server.files.fail_next(CutAt(AT_30), CutAt(AT_30), CutAt(AT_30))
    async with TransferManager(conn, options=options) as manager:  # type: ignore[arg-type]
        dl = manager.download(param(stored), tmp_path / "out")
        with pytest.raises(DownloadError, match="no progress in 2 attempts") as caught:
            await dl
        assert caught.value.code == 6009
        assert dl.part_path.stat().st_size == AT_30
        again = await manager.download(param(stored), tmp_path / "out")
    assert again.current_size == SIZE
    assert (tmp_path / "out").read_bytes() == DATA


# --- cancellation ------------------------------------------------------------------------------------


async def until_at_least(dl: Download, offset: int) -> None:
    async for p in dl:
        if p.current_size >= offset:
            return


async def test_cancel_keeps_a_resumable_partial_and_a_later_download_resumes(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """Cancelling raises CancelledError and keeps the partial file and sidecar beside the target;
    downloading the same element to the same path then resumes from there."""
    dev_server.files.fail_next(StallAt(AT_50, seconds=30))
    transfers.options = DownloadOptions(stall_timeout=30)  # stalled, not yet timed out
    first = transfers.download(param(stored), tmp_path / "out")
    reader = asyncio.create_task(until_at_least(first, AT_50 - 64 * 1024))
    await reader
    waiting = asyncio.create_task(asyncio.wait_for(first, 30))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not (tmp_path / "out").exists()
    assert first.part_path.stat().st_size == AT_50
    assert leftovers(tmp_path) == sorted([first.part_path.name, first.part_path.name + ".json"])

    transfers.options = FAST
    second = transfers.download(param(stored), tmp_path / "out")
    assert await second == DownloadElemResult(current_size=SIZE, total_size=SIZE)
    assert second.statistics().resumed_from == AT_50
    assert (tmp_path / "out").read_bytes() == DATA
    assert leftovers(tmp_path) == ["out"]
    assert dev_server.files.statistics().bytes_sent <= 1.05 * SIZE


async def test_a_download_allocates_space_ahead_of_its_writes(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """Knowing the size, a download has blocks allocated ahead of what it wrote; the partial
    file's size stays what was received (the cancel test above resumes from it)."""
    if not can_reserve_space(tmp_path):
        pytest.skip("this platform or file system cannot fallocate(KEEP_SIZE); downloads write without")
    dev_server.files.fail_next(StallAt(AT_30, seconds=30))
    transfers.options = DownloadOptions(stall_timeout=30)
    dl = transfers.download(param(stored), tmp_path / "out")
    await until_at_least(dl, AT_30 - 64 * 1024)
    await asyncio.sleep(0.05)  # the worker's allocation runs beside the writes
    stat = dl.part_path.stat()
    assert stat.st_size <= AT_30
    assert stat.st_blocks * 512 >= stat.st_size + 1024 * 1024
    await transfers.aclose()


async def test_cancelling_the_iterating_task_cancels_the_transfer(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """A task cancelled while iterating progress takes the transfer down with it."""
    dev_server.files.fail_next(StallAt(AT_30, seconds=30))
    transfers.options = DownloadOptions(stall_timeout=30)
    dl = transfers.download(param(stored), tmp_path / "out")

    async def read_all() -> None:
        async for _ in dl:
            pass

    task = asyncio.create_task(read_all())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert dl.done
    assert dl.part_path.exists() and not (tmp_path / "out").exists()


async def test_closing_the_manager_cancels_downloads_and_keeps_partials(
    dev_server: DevServer, conn: object, stored: StoredFile, tmp_path: Path
) -> None:
    """Closing the TransferManager cancels running downloads; their partial files stay resumable."""
    dev_server.files.fail_next(StallAt(AT_30, seconds=30))
    manager = TransferManager(conn, options=DownloadOptions(stall_timeout=30))  # type: ignore[arg-type]
    dl = manager.download(param(stored), tmp_path / "out")
    dl.start()
    await asyncio.sleep(0.3)
    await manager.aclose()
    assert dl.done and dl.part_path.stat().st_size == AT_30
    with pytest.raises(asyncio.CancelledError):
        await dl


# --- concurrency ---------------------------------------------------------------------------------


async def test_at_most_max_transfers_run_at_once(
    dev_server: DevServer, conn: object, stored: StoredFile, tmp_path: Path
) -> None:
    """With max_transfers=1 a second download waits until the first one is done."""
    dev_server.files.fail_next(StallAt(AT_30, seconds=0.5))
    async with TransferManager(conn, max_transfers=1, options=DownloadOptions()) as manager:  # type: ignore[arg-type]
        first = manager.download(param(stored), tmp_path / "a")
        second = manager.download(param(stored), tmp_path / "b")
        first.start(), second.start()
        await asyncio.sleep(0.3)
        assert dev_server.files.statistics().downloads == 1
        await asyncio.gather(first, second)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == DATA


async def test_two_downloads_to_one_path_do_not_mix(
    dev_server: DevServer, transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """A second download to a path already being downloaded fails with 6015 (in progress)."""
    dev_server.files.fail_next(StallAt(AT_30, seconds=1))
    transfers.options = DownloadOptions()
    first = transfers.download(param(stored), tmp_path / "out")
    first.start()
    await asyncio.sleep(0.2)
    with pytest.raises(UsageError) as caught:
        await transfers.download(param(stored), tmp_path / "out")
    assert caught.value.code == 6015
    await first
    assert (tmp_path / "out").read_bytes() == DATA


# --- the target ----------------------------------------------------------------------------------


async def test_an_existing_file_is_kept_unless_overwrite(
    transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """An existing target is an error before any I/O; overwrite=True replaces it atomically."""
    target = tmp_path / "out"
    target.write_bytes(b"mine")
    with pytest.raises(UsageError, match="already exists"):
        transfers.download(param(stored), target)
    assert target.read_bytes() == b"mine"
    await transfers.download(param(stored), target, overwrite=True)
    assert target.read_bytes() == DATA


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("../x", "x"),
        ("../../../../tmp/evil", "evil"),
        ("/etc/passwd", "passwd"),
        ("C:\\Windows\\system.ini", "system.ini"),
        ("a\x00b\nc", "a_b_c"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("..", None),
        ("", None),
        (None, None),
        ("report.pdf", "report.pdf"),
    ],
)
async def test_a_folder_target_gets_a_sanitized_name_inside_it(
    transfers: TransferManager,
    stored: StoredFile,
    tmp_path: Path,
    file_name: str | None,
    expected: str | None,
) -> None:
    """A folder target gets the sanitized file_name (else the element id) and nothing outside it."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    dl = transfers.download(param(stored), folder, file_name=file_name)
    await dl
    name = expected or stored.id
    assert dl.target == folder / name
    assert leftovers(folder) == [name]
    assert leftovers(tmp_path) == ["downloads"]
    assert (folder / name).read_bytes() == DATA


@pytest.mark.parametrize(
    ("url", "match"),
    [(None, "http"), ("ftp://example.com/x", "http"), ("file:///etc/passwd", "http")],
)
def test_a_url_that_is_not_http_is_refused_before_io(
    transfers: TransferManager, tmp_path: Path, url: str | None, match: str
) -> None:
    """download() checks the URL at once: only http(s) element URLs are fetched."""
    with pytest.raises(UsageError, match=match):
        transfers.download({"msg_download_elem_param_url": url}, tmp_path)


def test_a_missing_folder_is_refused_before_io(transfers: TransferManager, tmp_path: Path) -> None:
    """The target's folder must exist."""
    with pytest.raises(UsageError, match="does not exist"):
        transfers.download({"msg_download_elem_param_url": "http://127.0.0.1:9/x"}, tmp_path / "no" / "x")


async def test_a_file_the_server_no_longer_has_is_6009(
    dev_server: DevServer, transfers: TransferManager, tmp_path: Path
) -> None:
    """A 404 is DownloadError 6009 (TIM keeps files 7 days) and leaves no partial file."""
    url = f"{dev_server.url}/files/{'0' * 32}"
    with pytest.raises(DownloadError, match="HTTP 404") as caught:
        await transfers.download({"msg_download_elem_param_url": url}, tmp_path / "out")
    assert caught.value.code == 6009
    assert leftovers(tmp_path) == []


async def test_a_full_disk_is_a_clear_error(
    transfers: TransferManager, stored: StoredFile, tmp_path: Path
) -> None:
    """Running out of space raises DownloadError 6022 caused by ENOSPC; the target never appears."""
    with tiny_tmpfs(tmp_path / "small", "1m") as small:
        with pytest.raises(DownloadError) as caught:
            await transfers.download(param(stored), small / "out")
        assert caught.value.code == 6022
        assert isinstance(caught.value.__cause__, OSError)
        assert caught.value.__cause__.errno == errno.ENOSPC
        assert not (small / "out").exists()


async def test_an_unreachable_server_is_6009_after_a_few_attempts(
    transfers: TransferManager, tmp_path: Path
) -> None:
    """Connection refused is retried, then DownloadError 6009; an empty partial file is not kept."""
    with pytest.raises(DownloadError, match="cannot connect") as caught:
        await transfers.download(
            {"msg_download_elem_param_url": "http://127.0.0.1:9/files/x"}, tmp_path / "out"
        )
    assert caught.value.code == 6009
    assert leftovers(tmp_path) == []


async def test_a_download_reads_in_larger_pieces_and_restores_the_connection(
    conn: ConnectionManager, stored: StoredFile
) -> None:
    """While a body is received the plain-socket transport reads up to _RECV_SIZE per recv;
    afterwards the pooled connection reads as asyncio set it (the setting does not leak)."""
    async with conn.session.get(stored.url) as response:
        assert response.connection is not None
        transport = response.connection.transport
        before = getattr(transport, "max_size", None)
        with _larger_reads(response):
            during = getattr(transport, "max_size", None)
            await response.read()
        after = getattr(transport, "max_size", None)
    if isinstance(before, int):  # a selector transport (not uvloop)
        assert during == max(before, _RECV_SIZE)
    assert after == before
