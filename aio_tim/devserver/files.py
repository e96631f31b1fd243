"""The dev server's file service: attachment uploads, and downloads with byte ranges.

    POST /files?sdkappid=..&identifier=<admin>&usersig=..&random=..   (signed like a REST call)
        body: the file, raw (`X-File-Name`, `X-File-Kind` headers) or multipart/form-data
        -> {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
            "FileId": "<32 hex>", "Url": "<server>/files/<id>", "Size": n, "Sha256": "<hex>"}
    GET|HEAD /files/<id>
        200, or 206 for one `Range`; `If-Range` honoured only with the current strong ETag;
        416 with `Content-Range: bytes */size` past the end; `ETag` and `Repr-Digest` always.

Ranges are answered here rather than by `web.FileResponse`, which ignores an entity-tag If-Range
(RELIABILITY.md). Ids are made by the server (32 random hex digits), never taken from a path:
a request reaches a file only through an id of that shape with a database row, opened with
O_NOFOLLOW inside the storage root.

Test-only hooks make the server misbehave on purpose; they are off unless a test turns them on:
`ignore_range`, `honor_if_range`, `fail_next(CutAt(..) | StallAt(..))`, `replace_content`,
`corrupt_content`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, unquote

import msgspec
from aiohttp import BodyPartReader, web

from ..errors import AuthError, TIMError, error_for
from .authn import AdminGuard
from .rows import FileRow
from .state import State

__all__ = ["CutAt", "FileService", "FileStats", "StallAt", "StoredFile"]

MAX_UPLOAD: Final = 100 * 1024 * 1024  # TIM's largest attachment (file, video)
CHUNK: Final = 512 * 1024
ERR_TOO_LARGE: Final = 7005
ERR_EMPTY: Final = 7006
ERR_INTERNAL: Final = 70500
_FILE_ID: Final = re.compile(r"[0-9a-f]{32}")
_KINDS: Final = frozenset({"image", "sound", "file", "video", "video_thumb"})
# [0-9], not \d: \d also matches non-ASCII digits.
_RANGE: Final = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)
# A position with more digits than this is past the end of any file; int() is not asked to read
# it (Python refuses over 4300 digits, and a long one costs quadratic time).
_MAX_POSITION_DIGITS: Final = 18
_PAST_ANY_END: Final = 10**_MAX_POSITION_DIGITS
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY: Final = getattr(os, "O_BINARY", 0)
_UPLOAD_PREFIX: Final = ".upload-"
_log = logging.getLogger("aio_tim.devserver.files")


@dataclass(frozen=True)
class CutAt:
    """Test-only fault: close the connection when the body reaches byte `offset` of the file,
    then (optionally) give the file new content, as if it changed between two attempts."""

    offset: int
    replace_with: bytes | None = None


@dataclass(frozen=True)
class StallAt:
    """Test-only fault: stop sending at byte `offset` for `seconds` (or until the client leaves)."""

    offset: int
    seconds: float = 3600.0


Fault = CutAt | StallAt


@dataclass(frozen=True)
class StoredFile:
    id: str
    url: str
    size: int
    sha256: str  # hex


@dataclass(frozen=True)
class FileStats:
    uploads: int
    downloads: int
    partial_responses: int
    bytes_sent: int


class _Reply(msgspec.Struct, omit_defaults=True):
    ActionStatus: str
    ErrorCode: int
    ErrorInfo: str
    FileId: str | None = None
    Url: str | None = None
    Size: int | None = None
    Sha256: str | None = None


_ENCODER: Final = msgspec.json.Encoder()


class FileService:
    """Stores uploaded files under `root` (metadata in the server's database) and serves them."""

    def __init__(
        self,
        state: State,
        root: Path,
        *,
        temporary: bool,
        base_url: Callable[[], str],
        now: Callable[[], int],
    ) -> None:
        self._state = state
        self.root = root
        self._temporary = temporary
        self._base_url = base_url
        self._now = now
        self._guard: AdminGuard | None = None
        self._faults: collections.deque[Fault] = collections.deque()
        self._uploads = self._downloads = self._partials = self._bytes_sent = 0
        self.max_upload_size = MAX_UPLOAD
        self.ignore_range = False  # test-only: answer every GET with 200 and the whole file
        self.honor_if_range = True  # test-only: False behaves like aiohttp's FileResponse

    @classmethod
    def open(cls, state: State, db_path: str | os.PathLike[str], **options: Any) -> FileService:
        """The service for a database: files in `<db>.files/` beside a file db (kept across
        restarts), or in a temporary folder for `:memory:` (removed by `close`)."""
        if os.fspath(db_path) == ":memory:":
            return cls(state, Path(tempfile.mkdtemp(prefix="aio_tim-files-")), temporary=True, **options)
        root = Path(f"{os.fspath(db_path)}.files")
        root.mkdir(mode=0o700, exist_ok=True)
        for leftover in root.glob(f"{_UPLOAD_PREFIX}*"):  # uploads cut short by a crash
            leftover.unlink(missing_ok=True)
        return cls(state, root, temporary=False, **options)

    def close(self) -> None:
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)

    def mount(self, app: web.Application, guard: AdminGuard) -> None:
        self._guard = guard
        app.router.add_post("/files", self._handle_upload)
        app.router.add_get("/files/{file_id}", self._handle_download)

    def url_of(self, file_id: str) -> str:
        return f"{self._base_url()}/files/{file_id}"

    def statistics(self) -> FileStats:
        return FileStats(self._uploads, self._downloads, self._partials, self._bytes_sent)

    def __repr__(self) -> str:
        return f"<FileService root={str(self.root)!r} uploads={self._uploads} downloads={self._downloads}>"

    # --- storing -------------------------------------------------------------------------------

    async def put(self, data: bytes | Path, *, name: str = "file", kind: str = "file") -> StoredFile:
        """Store `data` (bytes, or a local file to copy) as if uploaded; for tests and benchmarks."""
        spool = await asyncio.to_thread(_Spool, self.root)
        try:
            await asyncio.to_thread(spool.copy_from, data)
        except BaseException:
            spool.discard()
            raise
        return await self._commit(spool, name, kind)

    async def _commit(self, spool: _Spool, name: str, kind: str) -> StoredFile:
        file_id = secrets.token_hex(16)
        row = FileRow(file_id, name, kind, spool.size, spool.sha256(), self._now())
        await asyncio.to_thread(spool.keep_as, self.root / file_id)
        async with self._state.transaction():
            await self._state.insert_file(row)
        self._uploads += 1
        return StoredFile(file_id, self.url_of(file_id), row.size, row.sha256)

    # --- test hooks ----------------------------------------------------------------------------

    def fail_next(self, *faults: Fault) -> None:
        """Test-only: the next GETs misbehave, one fault each, in order."""
        self._faults.extend(faults)

    async def replace_content(self, file_id: str, data: bytes) -> None:
        """Test-only: the file changes (new size, digest and ETag), as a re-upload would."""
        await asyncio.to_thread(_overwrite, self.root / file_id, data)
        async with self._state.transaction():
            await self._state.set_file_content(file_id, len(data), hashlib.sha256(data).hexdigest())

    async def corrupt_content(self, file_id: str, data: bytes) -> None:
        """Test-only: the bytes change but the stored digest and ETag do not (bit rot)."""
        await asyncio.to_thread(_overwrite, self.root / file_id, data)

    # --- POST /files ---------------------------------------------------------------------------

    async def _handle_upload(self, request: web.Request) -> web.Response:
        try:
            assert self._guard is not None
            self._guard.check(request.query, request.remote)
            stored = await self._receive(request)
        except TIMError as exc:
            return _reply(_status_for(exc), _Reply("FAIL", exc.code, exc.desc))
        except ConnectionError:
            return _reply(400, _Reply("FAIL", ERR_INTERNAL, "the upload was cut short"))  # client left
        except OSError:
            # e.g. the server's disk is full; the path is ours to log, the query (UserSig) is not.
            _log.exception("cannot store an upload under %s", self.root)
            return _reply(500, _Reply("FAIL", ERR_INTERNAL, "the server cannot store the file"))
        body = _Reply("OK", 0, "", stored.id, stored.url, stored.size, stored.sha256)
        return _reply(200, body)

    async def _receive(self, request: web.Request) -> StoredFile:
        if request.content_length is not None and request.content_length > self.max_upload_size:
            raise _too_large(self.max_upload_size)
        name, kind, chunks = await _upload_body(request)
        spool = await asyncio.to_thread(_Spool, self.root)
        try:
            async for chunk in chunks:
                await asyncio.to_thread(spool.write, chunk)
                if spool.size > self.max_upload_size:
                    raise _too_large(self.max_upload_size)
            if spool.size == 0:
                raise error_for(ERR_EMPTY, "the uploaded file is empty")
        except BaseException:
            spool.discard()
            raise
        return await self._commit(spool, name, kind)

    # --- GET /files/{id} -----------------------------------------------------------------------

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        row = await self._row(request.match_info["file_id"])
        fd = await asyncio.to_thread(_open_stored, self.root, row.file_id) if row else None
        if row is None or fd is None:
            return web.Response(status=404, text="no such file\n")
        try:
            return await self._answer(request, row, fd)
        finally:
            os.close(fd)

    async def _row(self, file_id: str) -> FileRow | None:
        if not _FILE_ID.fullmatch(file_id):
            return None
        async with self._state.transaction():
            return await self._state.file(file_id)

    async def _answer(self, request: web.Request, row: FileRow, fd: int) -> web.StreamResponse:
        size = os.fstat(fd).st_size
        etag = f'"{row.sha256}"'
        headers = {
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(row.sha256)).decode()}:",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.name, safe='')}",
        }
        span = self._span(request, etag, size)
        if span is None:
            return web.Response(status=416, headers=headers | {"Content-Range": f"bytes */{size}"})
        start, end = span
        response = web.StreamResponse(status=200 if (start, end) == (0, size) else 206, headers=headers)
        if response.status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
            self._partials += 1
        response.content_type = "application/octet-stream"
        response.content_length = end - start
        self._downloads += 1
        await response.prepare(request)
        if request.method != "HEAD":
            # A client that leaves mid-body (cancelled, timed out) is routine for downloads.
            with contextlib.suppress(ConnectionError):
                await self._send(request, response, fd, start, end)
        return response

    def _span(self, request: web.Request, etag: str, size: int) -> tuple[int, int] | None:
        """[start, end) to send, or None for 416. The whole file unless one valid range applies."""
        whole = (0, size)
        header = request.headers.get("Range")
        if header is None or self.ignore_range:
            return whole
        if_range = request.headers.get("If-Range")
        # A weak or stale validator (or a date: this server sends no Last-Modified) means
        # "send it all": the client's partial copy is of another version.
        if if_range is not None and if_range.strip() != etag and self.honor_if_range:
            return whole
        return byte_range(header, size, whole)

    async def _send(
        self, request: web.Request, response: web.StreamResponse, fd: int, start: int, end: int
    ) -> None:
        fault = self._faults.popleft() if self._faults else None
        if fault is None and await self._sendfile(request, fd, start, end):
            return
        stop = fault.offset if fault is not None and start <= fault.offset < end else end
        await self._copy(response, fd, start, stop)
        if stop == end:
            return
        assert fault is not None
        if isinstance(fault, CutAt):
            await self._cut(request, fault)
            return
        await _stall(request, fault.seconds)
        if request.transport is not None and not request.transport.is_closing():
            await self._copy(response, fd, stop, end)

    async def _sendfile(self, request: web.Request, fd: int, start: int, end: int) -> bool:
        """Send [start, end) with the kernel's sendfile (prepare() already sent the headers);
        False when the transport cannot (e.g. TLS), to copy chunk by chunk instead."""
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("the client left")
        with os.fdopen(os.dup(fd), "rb") as file:
            try:
                await asyncio.get_running_loop().sendfile(transport, file, start, end - start, fallback=False)
            except (NotImplementedError, asyncio.SendfileNotAvailableError):
                return False
        self._bytes_sent += end - start
        return True

    async def _copy(self, response: web.StreamResponse, fd: int, start: int, end: int) -> None:
        position = start
        while position < end:
            chunk = await asyncio.to_thread(os.pread, fd, min(CHUNK, end - position), position)
            if not chunk:
                return  # the file shrank under us (corrupt_content): the client sees a short body
            await response.write(chunk)
            self._bytes_sent += len(chunk)
            position += len(chunk)

    async def _cut(self, request: web.Request, fault: CutAt) -> None:
        # Replace first (this response keeps reading the old inode), so the client's next
        # attempt cannot race ahead of the change.
        if fault.replace_with is not None:
            await self.replace_content(request.match_info["file_id"], fault.replace_with)
        # close(), not abort(): what was written still reaches the client, then the FIN.
        if request.transport is not None:
            request.transport.close()


def byte_range(header: str, size: int, whole: tuple[int, int]) -> tuple[int, int] | None:
    """The [start, end) of a single-range `Range` header (RFC 9110 §14.1.2), `whole` when it
    cannot be parsed or asks for several ranges (ignoring Range is allowed), None if unsatisfiable."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return whole
    if not match[1]:  # suffix: the last N bytes
        suffix = _position(match[2])
        return (max(size - suffix, 0), size) if suffix and size else None
    first = _position(match[1])
    last = _position(match[2]) if match[2] else None
    if last is not None and last < first:
        return whole  # invalid range-spec: ignore the header
    if first >= size:
        return None
    return first, size if last is None else min(last + 1, size)


def _position(digits: str) -> int:
    """A Range position; any number too long to be a real offset reads as past every file's end."""
    stripped = digits.lstrip("0") or "0"
    return _PAST_ANY_END if len(stripped) > _MAX_POSITION_DIGITS else int(stripped)


async def _upload_body(request: web.Request) -> tuple[str, str, AsyncIterator[bytes]]:
    """(name, kind, chunks) of a raw or multipart upload."""
    kind = request.headers.get("X-File-Kind", "file")
    kind = kind if kind in _KINDS else "file"
    if request.content_type != "multipart/form-data":
        name = unquote(request.headers.get("X-File-Name", "file"))
        return _clean_name(name), kind, request.content.iter_chunked(CHUNK)
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.filename:
            return _clean_name(part.filename), kind, _part_chunks(part)
    raise error_for(ERR_EMPTY, "the multipart upload holds no file part")


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


def _clean_name(name: str) -> str:
    """A display name for Content-Disposition; storage never uses it."""
    name = "".join(ch for ch in name if ch.isprintable()).replace("/", "_").replace("\\", "_")
    return name[:255] or "file"


async def _stall(request: web.Request, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    # Polling: aiohttp offers no "the client left" event to wait on.
    while loop.time() < deadline and request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(0.05)


class _Spool:
    """An upload on its way to the storage root: a temp file there, hashed as it is written."""

    def __init__(self, root: Path) -> None:
        self.path = root / f"{_UPLOAD_PREFIX}{secrets.token_hex(8)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY
        self._fd = os.open(self.path, flags, 0o600)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view) :]
        self._hash.update(chunk)
        self.size += len(chunk)

    def copy_from(self, data: bytes | Path) -> None:
        if isinstance(data, bytes):
            self.write(data)
            return
        with open(data, "rb") as source:
            while chunk := source.read(4 * 1024 * 1024):
                self.write(chunk)

    def sha256(self) -> str:
        return self._hash.hexdigest()

    def keep_as(self, final: Path) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        os.replace(self.path, final)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self.path.unlink(missing_ok=True)


def _open_stored(root: Path, file_id: str) -> int | None:
    """A read descriptor of a stored plain file; None when it is missing or not a plain file."""
    try:
        fd = os.open(root / file_id, os.O_RDONLY | _O_NOFOLLOW | _O_BINARY)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _overwrite(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{_UPLOAD_PREFIX}{secrets.token_hex(8)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _too_large(limit: int) -> TIMError:
    return error_for(ERR_TOO_LARGE, f"the file exceeds the {limit // (1024 * 1024)} MB upload limit")


def _status_for(exc: TIMError) -> int:
    if isinstance(exc, AuthError):
        return 403
    return 413 if exc.code == ERR_TOO_LARGE else 400


def _reply(status: int, body: _Reply) -> web.Response:
    return web.Response(status=status, body=_ENCODER.encode(body), content_type="application/json")
