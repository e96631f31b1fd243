"""Uploads that must neither hang nor tear: a FIFO named as an attachment, a file rewritten or
truncated while it streams through a slow proxy, an upload reply over the cap, a stalled reply;
and a bare UserSig a server echoes into its error text."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from hostile import HostileServer
from test_transfer_support import data_of
from yarl import URL

from aio_tim import Client, ConvType, Message
from aio_tim.auth import UserSigCache, mint_usersig
from aio_tim.connection import ConnectionManager
from aio_tim.devserver import DevServer
from aio_tim.errors import AuthError, TIMError, TransientError, UsageError
from aio_tim.transfer import FileKind, TransferManager
from aio_tim.transfer.upload import DevServerUploader
from aio_tim.types import FileElem, TextElem

MB = 1024 * 1024


class SlowProxy:
    """A loopback TCP relay that passes the client's bytes on at `rate` bytes a second (replies
    at full speed): an upload through it takes long enough to change its file meanwhile."""

    def __init__(self, target_port: int, rate: int) -> None:
        self._target_port, self._rate = target_port, rate
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def __aenter__(self) -> SlowProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        step = 64 * 1024
        pipes = [self._pipe(reader, up_writer, step / self._rate), self._pipe(up_reader, writer, 0.0)]
        for pipe in pipes:
            task = asyncio.ensure_future(pipe)
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pause: float) -> None:
        try:
            while chunk := await reader.read(64 * 1024):
                writer.write(chunk)
                await writer.drain()
                if pause:
                    await asyncio.sleep(pause)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@pytest_asyncio.fixture
async def slow_transfers(dev_server: DevServer) -> AsyncIterator[tuple[TransferManager, SlowProxy]]:
    """A TransferManager whose uploads reach the dev server through a 4 MB/s proxy."""
    async with SlowProxy(dev_server.port, rate=4 * MB) as proxy:
        signer = UserSigCache(dev_server.sdk_app_id, dev_server.secret_key, dev_server.admin)
        async with (
            ConnectionManager(proxy.url, dev_server.sdk_app_id, signer) as conn,
            TransferManager(conn) as transfers,
        ):
            yield transfers, proxy


async def stored_files(server: DevServer) -> list[Path]:
    """The files the server keeps, once an aborted upload's spool is gone (it goes when the
    server's handler sees the connection end, which the slow proxy delays a little)."""
    deadline = time.monotonic() + 5
    while True:
        files = [path for path in server.files.root.rglob("*") if path.is_file()]
        if not any(path.name.startswith(".upload-") for path in files) or time.monotonic() > deadline:
            return files
        await asyncio.sleep(0.05)


async def upload_changing(
    transfers: TransferManager, path: Path, change: Callable[[Path], None]
) -> tuple[BaseException | None, list[int]]:
    """Upload `path` and call `change(path)` once 2 MiB went out; the error (if any) and progress."""
    seen: list[int] = []
    changed = threading.Event()

    async def watch() -> None:
        async for event in uploads:
            seen.append(event.current_size)
            if event.current_size >= 2 * MB and not changed.is_set():
                changed.set()
                change(path)  # on the loop, mid-upload: the next read sees the new file

    failure: BaseException | None = None
    async with transfers.watch_uploads() as uploads:
        watcher = asyncio.create_task(watch())
        try:
            await transfers.upload_attachments(Message(elem_array=[FileElem(file_path=str(path))]))
        except TIMError as error:
            failure = error
    await watcher
    assert changed.is_set(), "the upload ended before the file could change"
    return failure, seen


# --- 8. a FIFO named as an attachment --------------------------------------------------------


async def test_a_fifo_is_refused_at_once_and_never_opened_for_a_read(
    dev_server: DevServer, tmp_path: Path
) -> None:
    """A FIFO (or device) is not uploaded: 7004 at once. A blocking open() of it would wait for a
    writer forever (a writer is offered after 3 s, only so that old code ends the test)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    stop = threading.Event()

    def unblock_a_reader() -> None:
        # O_NONBLOCK: succeeds only when someone has the FIFO open for reading.
        if stop.wait(3):
            return
        while not stop.is_set():
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            time.sleep(0.05)

    helper = threading.Thread(target=unblock_a_reader, daemon=True)
    helper.start()
    signer = UserSigCache(dev_server.sdk_app_id, dev_server.secret_key, dev_server.admin)
    try:
        async with (
            ConnectionManager(dev_server.url, dev_server.sdk_app_id, signer) as conn,
            TransferManager(conn) as transfers,
        ):
            for kind_elem in (FileElem(file_path=str(fifo)), FileElem(file_path="/dev/zero")):
                started = time.monotonic()
                with pytest.raises(UsageError) as caught:
                    await transfers.upload_attachments(Message(elem_array=[kind_elem]))
                assert time.monotonic() - started < 2
                assert caught.value.code == 7004
                assert "not a regular file" in caught.value.desc
    finally:
        stop.set()
        helper.join()
    assert dev_server.files.statistics().uploads == 0


# --- 9. a file rewritten in place during its upload -------------------------------------------


async def test_a_file_rewritten_during_its_upload_fails_and_stores_nothing(
    dev_server: DevServer, slow_transfers: tuple[TransferManager, SlowProxy], tmp_path: Path
) -> None:
    """8 MiB through a 4 MB/s proxy, rewritten in place (same size) after 2 MiB: a clear error,
    not retried, and no torn file on the server."""
    transfers, proxy = slow_transfers
    path = tmp_path / "report.bin"
    path.write_bytes(data_of(8 * MB, seed=1))

    def rewrite(target: Path) -> None:
        with open(target, "r+b") as file:
            file.write(data_of(8 * MB, seed=2))

    failure, _ = await upload_changing(transfers, path, rewrite)
    assert isinstance(failure, TIMError), "the torn upload was accepted"
    assert "changed while it was uploaded" in failure.desc
    assert not failure.retryable and not isinstance(failure, TransientError)
    assert proxy.connections == 1  # not sent again
    assert dev_server.files.statistics().uploads == 0
    assert await stored_files(dev_server) == []


# --- 10. a file truncated during its upload ----------------------------------------------------


async def test_a_file_truncated_during_its_upload_is_not_retried(
    dev_server: DevServer, slow_transfers: tuple[TransferManager, SlowProxy], tmp_path: Path
) -> None:
    """Truncated to 1 MiB after 2 MiB went out: one attempt, progress never goes backwards, a
    non-transient error, and no orphan on the server."""
    transfers, proxy = slow_transfers
    path = tmp_path / "video.bin"
    path.write_bytes(data_of(8 * MB, seed=3))

    def truncate(target: Path) -> None:
        os.truncate(target, MB)

    failure, seen = await upload_changing(transfers, path, truncate)
    assert isinstance(failure, TIMError)
    assert not failure.retryable, failure
    assert "changed while it was uploaded" in failure.desc
    assert seen == sorted(seen), seen
    assert proxy.connections == 1
    assert dev_server.files.statistics().uploads == 0
    assert await stored_files(dev_server) == []


# --- 11 and 12. replies: over the cap, stalled ---------------------------------------------------


async def upload_to(hostile: HostileServer, path: Path, limits: aiohttp.ClientTimeout | None = None) -> None:
    async with aiohttp.ClientSession() as session:
        uploader = DevServerUploader(
            lambda: session, lambda name: URL(f"{hostile.url}/{name}"), timeout=limits
        )
        await uploader.upload(path, FileKind.FILE, lambda sent, total: None)


async def test_an_upload_reply_over_the_cap_is_not_retried(tmp_path: Path) -> None:
    """A 2 MiB reply to a 5 MiB upload: one POST (not three, 15 MiB), a non-transient error."""
    path = tmp_path / "a.bin"
    path.write_bytes(data_of(5 * MB))

    async def huge(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(body=b"x" * (2 * MB), content_type="application/json")

    async with HostileServer() as hostile:
        hostile.handler = huge
        with pytest.raises(TIMError) as caught:
            await upload_to(hostile, path)
    assert "exceeds" in caught.value.desc and not caught.value.retryable
    assert len(hostile.requests) == 1


async def test_a_stalled_upload_reply_fails_within_one_read_timeout(tmp_path: Path) -> None:
    """The server takes the whole body and never answers: one attempt, failing after one read
    timeout (1 s here; 60 s by default), not three of them."""
    path = tmp_path / "a.bin"
    path.write_bytes(data_of(MB))
    answered = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        await request.read()
        await answered.wait()
        return web.Response(status=500)

    async with HostileServer() as hostile:
        hostile.handler = stall
        started = time.monotonic()
        with pytest.raises(TIMError) as caught:
            await upload_to(hostile, path, aiohttp.ClientTimeout(total=None, sock_connect=2, sock_read=1))
        elapsed = time.monotonic() - started
        answered.set()
    assert elapsed < 2.5, elapsed
    assert len(hostile.requests) == 1
    assert caught.value.code == 6008


# --- 12. a bare UserSig echoed by a server -------------------------------------------------------


async def test_a_bare_usersig_echoed_by_the_server_is_redacted(tmp_path: Path) -> None:
    """'invalid UserSig eJy...': the UserSig the server quotes back is not in the AuthError."""
    key = "the-key-of-the-echo-test-2f1c"

    async def echo(request: web.Request) -> web.StreamResponse:
        usersig = request.query.get("usersig", "")
        info = f"invalid UserSig {usersig}, check it"
        return web.json_response({"ActionStatus": "FAIL", "ErrorCode": 70009, "ErrorInfo": info})

    async with HostileServer() as hostile:
        hostile.handler = echo
        async with Client(
            sdk_app_id=1400000000,
            user_id="alice",
            secret_key=key,
            base_url=hostile.url,
            store_path=":memory:",
        ) as tim:
            with pytest.raises(AuthError) as caught:
                await tim.msg.send_new_msg("bob", ConvType.C2C, Message(elem_array=[TextElem(content="hi")]))
    assert mint_usersig(1400000000, key, "administrator").startswith("eJ")  # what a UserSig looks like
    error = caught.value
    texts = [str(error), repr(error), error.desc, *map(str, error.args)]
    assert not [text for text in texts if re.search(r"eJ[0-9A-Za-z*_+/=-]{20,}", text)], texts
    assert "invalid UserSig <redacted>, check it" in error.desc
