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
    "LocalFile",
    "ProgressCallback",
    "UploadProgress",
    "UploadedFile",
    "Uploader",
    "check_local_file",
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


HEAD_BYTES: Final = 64 * 1024  # enough for any JPEG's SOF marker in practice (EXIF comes first)


def check_local_file(path: str, kind: FileKind) -> LocalFile:
    """Open `path` and check TIM's limits: 7004 missing, 7006 empty, 7005 too large (no upload)."""
    absolute = Path(os.path.abspath(path))
    try:
        with open(absolute, "rb") as file:
            info = os.fstat(file.fileno())
            head = file.read(HEAD_BYTES) if kind in (FileKind.IMAGE, FileKind.VIDEO_THUMB) else b""
    except FileNotFoundError:
        raise error_for(ERR_FILE_NOT_FOUND, f"{kind} file {absolute} does not exist") from None
    except IsADirectoryError:
        raise error_for(ERR_FILE_NOT_FOUND, f"{kind} path {absolute} is a folder, not a file") from None
    except OSError as exc:
        raise error_for(ERR_FILE_NOT_FOUND, f"cannot read {kind} file {absolute}: {exc.strerror}") from None
    _check_size(absolute, kind, info.st_size)
    return LocalFile(absolute, kind, info.st_size, head)


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
    signed query. A transport failure is retried from the start (`attempts` times in all): an
    upload only creates a new file, so repeating it is harmless.
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
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._upload_once(path, kind, progress)
            except TransportError:
                if attempt == self._attempts:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def _upload_once(self, path: Path, kind: FileKind, progress: ProgressCallback) -> UploadedFile:
        body = _FileBody(path)
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
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = TransportError(ERR_UPLOAD, f"upload of {path.name} failed: {type(exc).__name__}")
            failure.__cause__ = safe_cause(exc)  # aiohttp's exception holds the signed URL
        else:
            return _stored_file(path, status, raw, body.sha256())
        raise failure  # outside the except block: aiohttp's exception is not chained as context


async def _read_reply(response: aiohttp.ClientResponse, name: str) -> bytes:
    """The upload's reply, refused past MAX_REPLY bytes (a file service answers a few hundred)."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_REPLY:
            response.close()
            raise TransportError(ERR_UPLOAD, f"upload of {name}: the reply exceeds {MAX_REPLY} bytes")
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


class _FileBody:
    """The request body: the file read in 1 MiB chunks off the event loop, hashed as it goes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.size = os.stat(path).st_size
        self._hash = hashlib.sha256()
        self._sent = 0

    async def chunks(self, progress: ProgressCallback) -> AsyncIterator[bytes]:
        with open(self._path, "rb") as file:  # noqa: ASYNC230 - reads below go through to_thread
            while self._sent < self.size:
                chunk = await asyncio.to_thread(self._read, file)
                if not chunk:
                    # Content-Length promised more: stop here rather than leave the server waiting.
                    raise TIMError(ERR_UPLOAD, f"{self._path.name} shrank while it was uploaded")
                self._sent += len(chunk)
                progress(self._sent, self.size)
                yield chunk

    def _read(self, file: BinaryIO) -> bytes:
        chunk = file.read(min(CHUNK, self.size - self._sent))
        self._hash.update(chunk)  # hashlib releases the GIL: hashing runs beside the loop
        return chunk

    def sha256(self) -> str:
        return self._hash.hexdigest()
