"""`TransferManager`: a client's downloads and uploads, under one limit on concurrent transfers.

    async with TransferManager(connection) as transfers:
        dl = transfers.download({"msg_download_elem_param_url": url}, "downloads/")
        result = await dl
        msg = await transfers.upload_attachments(Message(elem_array=[FileElem(file_path="a.pdf")]))

It owns the download tasks (closing it cancels them, keeping their partial files for a resume)
and borrows the client's one aiohttp session from `http` (the ConnectionManager).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aiohttp
import msgspec
from yarl import URL

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol.validate import check_sendable
from ..telemetry import Telemetry
from ..types import DownloadElemParam, DownloadElemResult, Message, coerce
from .attach import Attachment, attachments, fill
from .download import Download
from .fetch import DownloadOptions, DownloadSource, Fetcher
from .paths import resolve_target, target_exists
from .progress import ProgressBoard, UploadWatch
from .upload import (
    DevServerUploader,
    FileVersion,
    LocalFile,
    UploadedFile,
    Uploader,
    UploadProgress,
    check_local_file,
    file_changed,
)

__all__ = ["HttpSource", "TransferManager", "TransferStats"]


class HttpSource(Protocol):
    """What transfers borrow from the connection layer: its session and signed URLs."""

    @property
    def session(self) -> aiohttp.ClientSession: ...

    def signed_url(self, path: str) -> URL: ...


@dataclass(frozen=True)
class TransferStats:
    """A snapshot of `TransferManager.statistics()`: downloads running, done and failed so far,
    and uploads done with their bytes."""

    downloads_running: int
    downloads_done: int
    downloads_failed: int
    uploads_done: int
    bytes_uploaded: int


class TransferManager:
    """Downloads (`download`) and uploads (`upload_attachments`), at most `max_transfers` at once.

    A client has one, `tim.transfers`; `options` (a `DownloadOptions`) applies to downloads
    created after it is set:

        tim.transfers.options = DownloadOptions(stall_timeout=60.0)
        print(tim.transfers.statistics())
    """

    def __init__(
        self,
        http: HttpSource,
        *,
        uploader: Uploader | None = None,
        max_transfers: int = 4,
        options: DownloadOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        telemetry: Telemetry | None = None,
    ) -> None:
        if max_transfers < 1:
            raise UsageError(TIM_ERR_PARAM, f"max_transfers must be at least 1, not {max_transfers}")
        self._http = http
        self.uploader: Uploader = uploader or DevServerUploader(lambda: http.session, http.signed_url)
        self._slot = asyncio.Semaphore(max_transfers)
        self._max_transfers = max_transfers
        self.options = options or DownloadOptions()
        self._clock = clock
        self._telemetry = telemetry if telemetry is not None else Telemetry(enabled=False)
        self._tasks: set[asyncio.Task[DownloadElemResult]] = set()
        self._watches: set[UploadWatch] = set()
        self._closed = False
        self._done = self._failed = self._uploads = self._uploaded_bytes = 0

    async def __aenter__(self) -> TransferManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel running downloads (their partial files stay resumable) and end upload watches."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for watch in list(self._watches):
            watch.close()

    def statistics(self) -> TransferStats:
        """What the client's transfers did so far: `tim.transfers.statistics()`."""
        return TransferStats(len(self._tasks), self._done, self._failed, self._uploads, self._uploaded_bytes)

    def __repr__(self) -> str:
        return (
            f"<TransferManager running={len(self._tasks)} max_transfers={self._max_transfers} "
            f"closed={self._closed}>"
        )

    # --- downloads -----------------------------------------------------------------------------

    def download(
        self,
        param: Any,
        path: str | os.PathLike[str],
        *,
        file_name: str | None = None,
        overwrite: bool = False,
    ) -> Download:
        """A `Download` of the element's file to `path` (a file, or a folder to put it in under
        the sanitized `file_name`, else the element id). Checks run now; I/O starts on await."""
        if self._closed:
            raise RuntimeError("the client is closed: no new transfers")
        request = coerce(param, DownloadElemParam, what="json_download_elem_param")
        url = _checked_url(request.url)
        target = resolve_target(path, file_name, request.id or _url_name(url))
        if not overwrite and os.path.lexists(target):
            raise target_exists(target)
        board = ProgressBoard(self._clock)
        source = DownloadSource(url, request.id)
        fetcher = Fetcher(
            lambda: self._http.session, source, target, overwrite=overwrite, options=self.options, board=board
        )
        spawn = partial(self._spawn_traced, fetcher) if self._telemetry.active else self._spawn
        return Download(fetcher, board, target, spawn, self._slot)

    def _spawn(self, run: Coroutine[Any, Any, DownloadElemResult]) -> asyncio.Task[DownloadElemResult]:
        if self._closed:
            run.close()
            raise RuntimeError("the client is closed: no new transfers")
        task = asyncio.get_running_loop().create_task(run)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _spawn_traced(
        self, fetcher: Fetcher, run: Coroutine[Any, Any, DownloadElemResult]
    ) -> asyncio.Task[DownloadElemResult]:
        if self._closed:
            run.close()
            raise RuntimeError("the client is closed: no new transfers")
        return self._spawn(self._traced_download(fetcher, run))

    async def _traced_download(
        self, fetcher: Fetcher, run: Coroutine[Any, Any, DownloadElemResult]
    ) -> DownloadElemResult:
        with self._telemetry.transfer("download") as record:
            try:
                return await run
            finally:  # a failed or cancelled download still moved bytes (kept for its resume)
                record.size = fetcher.statistics().bytes_received

    def _finished(self, task: asyncio.Task[DownloadElemResult]) -> None:
        self._tasks.discard(task)
        # Reading the exception marks it retrieved: whoever awaits the Download still gets it,
        # and an abandoned one does not log "exception was never retrieved".
        if task.cancelled() or task.exception() is not None:
            self._failed += 1
        else:
            self._done += 1

    # --- uploads -------------------------------------------------------------------------------

    async def upload_attachments(self, msg: Message) -> Message:
        """`msg` with every local file its elements name uploaded and its id/URL/size filled in.

        All files are checked first (7004 missing, 7006 empty, 7005 too large): a refused
        message moves no byte. Elements that already carry a URL are left alone.
        """
        found = attachments(msg)
        if not found:
            return msg
        check_sendable(msg)
        files = await asyncio.to_thread(lambda: [check_local_file(a.path, a.kind) for a in found])
        elems = list(msg.elem_array)
        for attachment, local in zip(found, files, strict=True):
            stored = await self._upload(msg, attachment, local)
            elems[attachment.index] = fill(elems[attachment.index], local, stored)
        return msgspec.structs.replace(msg, elem_array=elems)

    async def _upload(self, msg: Message, attachment: Attachment, local: LocalFile) -> UploadedFile:
        def report(current: int, total: int) -> None:
            self._emit(UploadProgress(msg, attachment.index, attachment.kind, current, total))

        async with self._slot:
            if (
                local.version is not None
                and await asyncio.to_thread(_version_of, local.path) != local.version
            ):
                raise file_changed(local.path)  # since it was checked: its head and size are stale
            report(0, local.size)
            stored = await self._upload_file(local, report)
        if stored.size != local.size:
            raise file_changed(local.path)
        report(local.size, local.size)
        self._uploads += 1
        self._uploaded_bytes += stored.size
        return stored

    async def _upload_file(self, local: LocalFile, report: Callable[[int, int], None]) -> UploadedFile:
        if not self._telemetry.active:
            return await self.uploader.upload(local.path, local.kind, report)
        with self._telemetry.transfer("upload") as record:
            stored = await self.uploader.upload(local.path, local.kind, report)
            record.size = stored.size
            return stored

    def watch_uploads(self) -> UploadWatch:
        """An async iterator of `UploadProgress` (message, element index, current, total)."""
        watch = UploadWatch(self._watches.discard)
        self._watches.add(watch)
        return watch

    def _emit(self, event: UploadProgress) -> None:
        for watch in list(self._watches):
            watch.push(event)


def _version_of(path: Path) -> FileVersion | None:
    try:
        return FileVersion.of(os.stat(path))
    except OSError:
        return None


def _checked_url(url: str | None) -> str:
    if not url or urlsplit(url).scheme.lower() not in ("http", "https"):
        raise UsageError(TIM_ERR_PARAM, "msg_download_elem_param_url must be an http(s) URL")
    return url


def _url_name(url: str) -> str:
    return unquote(Path(urlsplit(url).path).name)
