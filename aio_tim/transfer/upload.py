"""Uploading a local file named in an element: the `Uploader` protocol and its dev-server default.

Production apps plug in their object storage by implementing one method::

    class CosUploader:
        async def upload(self, path: Path, kind: FileKind, progress: ProgressCallback) -> UploadedFile:
            ...  # PUT to COS/S3, call progress(sent, total) as bytes go, return id, URL, size, sha-256

    async with Client(..., uploader=CosUploader()) as tim: ...

`DevServerUploader` posts to the dev server's file service (`POST {base_url}/files`, signed like
a REST call). TIM's limits are checked on the local file before any byte moves.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol
from urllib.parse import quote

import aiohttp
import msgspec
from yarl import URL

from ..errors import TIMError, TransientError, TransportError, error_for, safe_cause
from ..types import Message

__all__ = [
    "MAX_SIZE",
    "DevServerUploader",
    "FileKind",
    "FileVersion",
    "LocalFile",
    "ProgressCallback",
    "UploadProgress",
    "UploadedFile",
    "Uploader",
    "check_local_file",
    "file_changed",
    "open_regular",
]

_MB: Final = 1024 * 1024
CHUNK: Final = 1024 * 1024
MAX_REPLY: Final = 1024 * 1024  # bytes of an upload reply
ERR_FILE_NOT_FOUND: Final = 7004
ERR_FILE_TOO_LARGE: Final = 7005
ERR_FILE_EMPTY: Final = 7006
ERR_UPLOAD: Final = 6008


class FileKind(enum.StrEnum):
    """What an uploaded file is to TIM; it decides the size limit."""

    IMAGE = "image"
    SOUND = "sound"
    FILE = "file"
    VIDEO = "video"
    VIDEO_THUMB = "video_thumb"


# TIM's element size limits (7005): sound and image up to 28 MB, video and file up to 100 MB.
MAX_SIZE: Final[dict[FileKind, int]] = {
    FileKind.IMAGE: 28 * _MB,
    FileKind.SOUND: 28 * _MB,
    FileKind.VIDEO_THUMB: 28 * _MB,
    FileKind.FILE: 100 * _MB,
    FileKind.VIDEO: 100 * _MB,
}

ProgressCallback = Callable[[int, int], None]
"""`progress(bytes_sent, total)`: called as an upload advances (must not block)."""


@dataclass(frozen=True)
class UploadedFile:
    """Where an uploaded file now lives: what the element's id, URL and size fields carry."""

    id: str
    url: str
    size: int
    sha256: str  # hex


@dataclass(frozen=True)
class UploadProgress:
    """`TIMMsgElemUploadProgressCallback`: the message, its element index, bytes sent, total.

    A video element uploads two files (the video and its thumbnail): `kind` tells them apart.
    """

    message: Message
    index: int
    kind: FileKind
    current_size: int
    total_size: int


class Uploader(Protocol):
    """Stores a local file somewhere its recipients can download it by URL."""

    async def upload(self, path: Path, kind: FileKind, progress: ProgressCallback) -> UploadedFile: ...


@dataclass(frozen=True)
class LocalFile:
    """A checked local file to upload: its absolute path, size and first bytes (image headers)."""

    path: Path
    kind: FileKind
    size: int
    head: bytes
    version: FileVersion | None = None  # as checked; an upload refuses any other


HEAD_BYTES: Final = 64 * 1024  # enough for any JPEG's SOF marker in practice (EXIF comes first)


def check_local_file(path: str, kind: FileKind) -> LocalFile:
    """Open `path` and check TIM's limits: 7004 missing or not a regular file, 7006 empty, 7005 too
    large (no upload)."""
    absolute = Path(os.path.abspath(path))
    with open_regular(absolute, kind) as file:
        info = os.fstat(file.fileno())
        head = file.read(HEAD_BYTES) if kind in (FileKind.IMAGE, FileKind.VIDEO_THUMB) else b""
    _check_size(absolute, kind, info.st_size)
    return LocalFile(absolute, kind, info.st_size, head, FileVersion.of(info))


def open_regular(path: Path, kind: FileKind | str = "upload") -> BinaryIO:
    """`path` opened for reading if it is a regular file; else 7004 (missing, a folder, a FIFO, a
    device, a socket). The open itself never blocks: a FIFO's `open()` would wait for a writer
    forever, in a worker thread the interpreter then cannot leave."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error_for(ERR_FILE_NOT_FOUND, f"{kind} file {path} does not exist") from None
    except OSError as exc:
        raise error_for(ERR_FILE_NOT_FOUND, f"cannot read {kind} file {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, device or socket)"
            raise error_for(ERR_FILE_NOT_FOUND, f"{kind} path {path} is {what}; only files are uploaded")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # O_NONBLOCK only guarded the open
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@dataclass(frozen=True)
class FileVersion:
    """What tells one version of a file from another: a rewrite in place changes its size or
    mtime, a replacement its inode."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileVersion:
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _check_size(path: Path, kind: FileKind, size: int) -> None:
    if size == 0:
        raise error_for(ERR_FILE_EMPTY, f"{kind} file {path.name} is empty")
    limit = MAX_SIZE[kind]
    if size > limit:
        raise error_for(
            ERR_FILE_TOO_LARGE, f"{kind} file {path.name} is {size} bytes; TIM allows {limit // _MB} MB"
        )


class _UploadReply(msgspec.Struct):
    """The dev server file service's answer (a TIM-style envelope plus the stored file)."""

    ActionStatus: str = "FAIL"
    ErrorCode: int = 0
    ErrorInfo: str = ""
    FileId: str | None = None
    Url: str | None = None
    Size: int | None = None
    Sha256: str | None = None


_REPLY_DECODER: Final = msgspec.json.Decoder(_UploadReply)


class DevServerUploader:
    """Uploads to the dev server's file service, streaming the file and hashing it on the way.

    `session()` gives the client's aiohttp session; `signed_url(path)` the URL with the admin's
    signed query. A transport failure before the last byte went out is retried from the start
    (`attempts` times in all), with the same version of the file. After it (a stalled or cut
    reply) the server may hold the file: that fails at once rather than store it again. A file
    that changes while it is sent fails with `file_changed`, and nothing is stored.
    """

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        signed_url: Callable[[str], URL],
        *,
        attempts: int = 3,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> None:
        self._session = session
        self._signed_url = signed_url
        self._attempts = attempts
        self._timeout = timeout or aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)

    def __repr__(self) -> str:
        return f"<DevServerUploader attempts={self._attempts}>"

    async def upload(self, path: Path, kind: FileKind, progress: ProgressCallback) -> UploadedFile:
        version: FileVersion | None = None  # the first attempt's; a retry sends that version or nothing
        for attempt in range(1, self._attempts + 1):
            body = _FileBody(path, version)
            version = body.version
            try:
                return await self._upload_once(body, path, kind, progress)
            except TransportError:
                # Once every byte went out the server may have stored the file: a retry would
                # store it again (and a stalled reply would cost a full timeout each time).
                if attempt == self._attempts or body.complete:
                    raise
            await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def _upload_once(
        self, body: _FileBody, path: Path, kind: FileKind, progress: ProgressCallback
    ) -> UploadedFile:
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(body.size),
            "X-File-Name": quote(path.name, safe=""),
            "X-File-Kind": str(kind),
        }
        try:
            async with self._session().post(
                self._signed_url("files"),
                data=body.chunks(progress),
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect would re-send the signed URL elsewhere
            ) as response:
                raw = await _read_reply(response, path.name)
                status = response.status
        except Exception as exc:
            if body.failure is not None:  # the file changed: aiohttp reports it as its own error
                failure: TIMError = body.failure
            elif isinstance(exc, aiohttp.ClientError | TimeoutError):
                failure = TransportError(ERR_UPLOAD, f"upload of {path.name} failed: {type(exc).__name__}")
                failure.__cause__ = safe_cause(exc)  # aiohttp's exception holds the signed URL
            else:
                raise
        else:
            return _stored_file(path, status, raw, body.sha256())
        finally:
            body.close()
        raise failure  # outside the except block: aiohttp's exception is not chained as context


async def _read_reply(response: aiohttp.ClientResponse, name: str) -> bytes:
    """The upload's reply, refused past MAX_REPLY bytes (a file service answers a few hundred).

    Not retried: the server has the file and answered, only not as a file service does."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_REPLY:
            response.close()
            raise TIMError(ERR_UPLOAD, f"upload of {name}: the reply exceeds {MAX_REPLY} bytes")
    return bytes(body)


def _stored_file(path: Path, status: int, raw: bytes, sent_sha256: str) -> UploadedFile:
    """The reply as an UploadedFile, or the TIMError it reports; the digest must match ours."""
    try:
        reply = _REPLY_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        detail = "no file service at this base_url (pass Client(uploader=...))" if status == 404 else ""
        raise TIMError(ERR_UPLOAD, f"upload of {path.name}: HTTP {status} {detail}".rstrip()) from None
    if reply.ErrorCode or reply.ActionStatus != "OK":
        raise error_for(reply.ErrorCode or ERR_UPLOAD, f"upload of {path.name}: {reply.ErrorInfo}")
    if not (reply.FileId and reply.Url and reply.Size is not None and reply.Sha256):
        raise TIMError(ERR_UPLOAD, f"upload of {path.name}: the reply names no stored file")
    if reply.Sha256 != sent_sha256:
        # The file changed while it was read, or bytes were damaged on the way.
        raise TransientError(ERR_UPLOAD, f"upload of {path.name}: stored digest differs from the file's")
    return UploadedFile(reply.FileId, reply.Url, reply.Size, reply.Sha256)


def file_changed(path: Path) -> TIMError:
    """The error of a file that changed (rewritten, truncated, replaced) while it was uploaded:
    not transient, since sending it again would send a file still being written."""
    return TIMError(
        ERR_UPLOAD,
        f"upload of {path.name}: the file changed while it was uploaded; nothing was stored "
        "(send it once it is complete)",
    )


class _FileBody:
    """The request body: the file read in 1 MiB chunks off the event loop, hashed as it goes.

    Each read also checks the file is still the version opened (size, mtime, inode): a file
    rewritten or truncated under the upload stops it before its last byte, so the server stores
    nothing rather than bytes of two versions (the digest cannot tell: it hashes what was read).
    """

    def __init__(self, path: Path, expected: FileVersion | None) -> None:
        self._path = path
        self._file = open_regular(path)
        self.version = FileVersion.of(os.fstat(self._file.fileno()))
        self.size = self.version.size
        self._hash = hashlib.sha256()
        self._sent = 0
        self.failure: TIMError | None = None
        if expected is not None and self.version != expected:
            self.close()
            raise file_changed(path)

    @property
    def complete(self) -> bool:
        """Whether every byte was handed to the connection."""
        return self._sent == self.size

    async def chunks(self, progress: ProgressCallback) -> AsyncIterator[bytes]:
        while self._sent < self.size:
            chunk = await asyncio.to_thread(self._read)
            if chunk is None:
                # Stop before the last byte: the server then stores nothing.
                self.failure = file_changed(self._path)
                raise self.failure
            self._sent += len(chunk)
            progress(self._sent, self.size)
            yield chunk

    def _read(self) -> bytes | None:
        """The next chunk, or None when the file is no longer the version being sent."""
        wanted = min(CHUNK, self.size - self._sent)
        chunk = self._file.read(wanted)
        if len(chunk) != wanted or FileVersion.of(os.fstat(self._file.fileno())) != self.version:
            return None
        self._hash.update(chunk)  # hashlib releases the GIL: hashing runs beside the loop
        return chunk

    def close(self) -> None:
        self._file.close()

    def sha256(self) -> str:
        return self._hash.hexdigest()
