"""The download engine: one `Fetcher` fetches one file into its target, resuming and verifying.

    open the partial file beside the target (resume when its sidecar names the same source)
    attempt: GET [Range: bytes=N- and If-Range: <strong ETag>], stream the body into a FileSink
        cut, stall, 408/429/5xx        -> resume from the bytes already received
        200 to a range request          -> the server sent everything: take it from byte 0
        new ETag, size or digest, a 206 not starting at N, 416, a spliced digest mismatch
                                        -> start over from zero (never splice two versions)
    verify size and sha-256 (when the server sent Repr-Digest), fsync, rename atomically

Cancelling, running out of attempts and a full disk keep the partial file and its sidecar for
a later resume; content that fails verification and files the server no longer has do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp
from yarl import URL

from ..errors import ERR_DOWNLOAD, DownloadError, TIMError, error_for, safe_cause
from .headers import parse_content_range, public_url, repr_sha256, strong_etag
from .paths import PartFile, Sidecar, finalize
from .progress import ProgressBoard
from .sink import FileSink

if sys.platform != "win32":
    import fcntl

__all__ = ["DownloadOptions", "DownloadSource", "DownloadStats", "Fetcher"]

ERR_IN_PROGRESS: Final = 6015
ERR_IO: Final = 6022
_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_GONE_STATUSES: Final = frozenset({404, 410})
_MAX_RETRY_DELAY: Final = 5.0
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS: Final = 5
MAX_DOWNLOAD: Final = 100 * 1024 * 1024  # TIM's largest attachment (file, video)
_RECV_SIZE: Final = 512 * 1024  # see _larger_reads


@dataclass(frozen=True)
class DownloadOptions:
    """How patient a download is. There is no total deadline: a slow but moving download runs
    to the end; `stall_timeout` seconds without a byte abandon the attempt and resume."""

    stall_timeout: float = 30.0
    connect_timeout: float = 10.0
    max_stuck_attempts: int = 5  # consecutive attempts that got no further
    max_restarts: int = 3  # starts from zero forced by the server changing or misbehaving
    retry_delay: float = 0.1  # doubled for each stuck attempt, up to 5 s
    read_bufsize: int = 1024 * 1024
    # sha-256 costs ~0.85 s of CPU per GiB, reading the file back included (in a worker thread,
    # off the event loop); False keeps the size and ETag checks but skips hashing, for hosts
    # short of CPU that trust their storage.
    verify_digest: bool = True
    # A body longer than this is refused and dropped (None: no limit). TIM's attachments are at
    # most 100 MB; a server streaming more without a length is not sending an attachment.
    max_size: int | None = MAX_DOWNLOAD
    # Redirects are followed within the file's origin (scheme, host, port) only, unless this is set.
    cross_origin_redirects: bool = False

    def client_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=None, sock_connect=self.connect_timeout, sock_read=self.stall_timeout
        )


@dataclass(frozen=True)
class DownloadSource:
    url: str
    file_id: str | None = None


@dataclass(frozen=True)
class DownloadStats:
    """What a download cost: HTTP attempts, starts from zero, the resumed offset, bytes received."""

    attempts: int
    restarts: int
    resumed_from: int
    bytes_received: int


@dataclass
class _Representation:
    """The version of the file being assembled, as its validators describe it."""

    etag: str | None = None  # strong only
    total: int | None = None
    sha256: str | None = None


class _Interrupted(Exception):
    """The attempt ended early; the bytes so far are good and the next attempt resumes."""


class _Redirected(Exception):
    """The server sent us elsewhere: the next attempt asks that URL (no delay)."""


class _StartOver(Exception):
    """The bytes so far cannot be continued: the next attempt starts from zero."""


_CUT_ERRORS: Final = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError)


class Fetcher:
    """Fetches `source` into `target`; `run()` returns the verified size."""

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        source: DownloadSource,
        target: Path,
        *,
        overwrite: bool,
        options: DownloadOptions,
        board: ProgressBoard,
    ) -> None:
        self._session = session
        self._source = source
        self._target = target
        self._overwrite = overwrite
        self._options = options
        self._board = board
        self._part = PartFile.for_target(target)
        self._url = source.url  # where the next attempt asks (a same-origin redirect moves it)
        self._redirects = 0
        self._rep = _Representation()
        self._spliced = False  # the bytes on disk came from more than one response
        self._discard = False  # on failure, drop the partial file: it cannot be resumed
        self._attempts = self._restarts = self._resumed_from = self._received = 0

    def statistics(self) -> DownloadStats:
        return DownloadStats(self._attempts, self._restarts, self._resumed_from, self._received)

    @property
    def part_path(self) -> Path:
        return self._part.path

    # --- the whole download --------------------------------------------------------------------

    async def run(self) -> int:
        sink = FileSink(self._open_part(), self._resumed_from, name=self._target.name)
        try:
            if sink.size and self._rep.sha256:
                await sink.start_hashing()
            total = await self._fetch(sink)
            await sink.sync(then=self._finalize)
        except BaseException:
            try:
                await sink.aclose()  # after a running job (fsync, the rename) ends: never behind it
            finally:
                if self._discard or sink.size == 0:  # nothing worth resuming
                    self._part.remove()
            raise
        await sink.aclose()
        return total

    def _open_part(self) -> int:
        try:
            fd, existed = self._part.open()
        except OSError as exc:
            raise _io_error(self._part.path.name, exc) from exc
        try:
            _lock(fd, self._target.name)
            self._resumed_from = self._resume_offset(fd) if existed else 0
            if not self._resumed_from:
                os.ftruncate(fd, 0)
                self._part.remove_sidecar()
            os.lseek(fd, self._resumed_from, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _resume_offset(self, fd: int) -> int:
        """Bytes of an earlier attempt that may be continued, per the sidecar (0: none)."""
        sidecar = self._part.read_sidecar()
        size = os.fstat(fd).st_size
        if sidecar is None or not sidecar.same_source(self._source.url, self._source.file_id):
            return 0
        if sidecar.total is not None and size > sidecar.total:
            return 0
        self._rep = _Representation(sidecar.etag, sidecar.total, sidecar.sha256)
        return size

    def _finalize(self) -> None:
        finalize(self._part.path, self._target, overwrite=self._overwrite)
        self._part.remove_sidecar()

    # --- attempts ------------------------------------------------------------------------------

    async def _fetch(self, sink: FileSink) -> int:
        stuck, best = 0, sink.size
        while True:
            try:
                return await self._attempt(sink)
            except _Redirected as moved:
                self._redirects += 1
                if self._redirects > _MAX_REDIRECTS:
                    raise DownloadError(
                        ERR_DOWNLOAD, f"{self._name}: more than {_MAX_REDIRECTS} redirects"
                    ) from None
                self._url = str(moved)
            except _StartOver as why:
                await self._start_over(sink, str(why))
            except _Interrupted as why:
                best, stuck = (sink.size, 0) if sink.size > best else (best, stuck + 1)
                if stuck >= self._options.max_stuck_attempts:
                    raise DownloadError(
                        ERR_DOWNLOAD, f"{self._name}: no progress in {stuck} attempts ({why})"
                    ) from why.__cause__
                await asyncio.sleep(min(self._options.retry_delay * 2**stuck, _MAX_RETRY_DELAY))

    async def _attempt(self, sink: FileSink) -> int:
        if sink.size and self._rep.etag is None:
            await self._reset(sink)  # without a strong validator, resuming could splice versions
        self._attempts += 1
        offset = sink.size
        failure: Exception | None = None
        try:
            async with self._session().get(
                self._url,
                headers=self._headers(offset),
                timeout=self._options.client_timeout(),
                read_bufsize=self._options.read_bufsize,
                auto_decompress=False,
                allow_redirects=False,  # _redirect_target follows: to another origin unless asked
            ) as response:
                total = await self._accept(response, sink, offset)
                await self._receive(response, sink, total)
        except _CUT_ERRORS as exc:
            failure = _Interrupted(_describe(exc, self._options.stall_timeout))
            failure.__cause__ = safe_cause(exc)  # aiohttp's exception holds the URL
        except aiohttp.ClientError as exc:
            failure = DownloadError(ERR_DOWNLOAD, f"{self._name}: {type(exc).__name__}")
            failure.__cause__ = safe_cause(exc)
        if failure is not None:
            raise failure  # outside the except blocks: aiohttp's exception is not chained
        await sink.drain()
        if total is not None and sink.size != total:
            raise _Interrupted(f"the body ended at byte {sink.size} of {total}")
        await self._verify(sink)
        return sink.size

    def _headers(self, offset: int) -> dict[str, str]:
        headers = {"Accept-Encoding": "identity"}
        if offset and self._rep.etag is not None:
            headers["Range"] = f"bytes={offset}-"
            headers["If-Range"] = self._rep.etag
        return headers

    async def _accept(self, response: aiohttp.ClientResponse, sink: FileSink, offset: int) -> int | None:
        """Check the status and validators; the size of the whole file when known."""
        status = response.status
        if response.headers.get("Content-Encoding", "identity").lower() != "identity":
            raise DownloadError(ERR_DOWNLOAD, f"{self._name}: the server encoded the body despite identity")
        if status == 206 and offset:
            return await self._accept_partial(response, sink, offset)
        if status == 200:
            if offset:
                await self._reset(sink)  # a full answer to a range request: take it from byte 0
            return await self._adopt(response, sink)
        if status in _REDIRECT_STATUSES:
            raise _Redirected(self._redirect_target(response))
        if status == 416:
            raise _StartOver("the server cannot serve the rest (416)")
        if status in _RETRY_STATUSES:
            raise _Interrupted(f"HTTP {status}")
        if status in _GONE_STATUSES:
            self._discard = True
            raise DownloadError(
                ERR_DOWNLOAD, f"{self._name}: HTTP {status}, the file is gone (TIM keeps 7 days)"
            )
        raise DownloadError(ERR_DOWNLOAD, f"{self._name}: unexpected HTTP {status}")

    def _redirect_target(self, response: aiohttp.ClientResponse) -> str:
        """Where a redirect points, if it may be followed; a DownloadError otherwise."""
        location = response.headers.get("Location")
        if not location:
            raise DownloadError(ERR_DOWNLOAD, f"{self._name}: HTTP {response.status} without a Location")
        try:
            target = response.url.join(URL(location))
        except ValueError:
            raise DownloadError(ERR_DOWNLOAD, f"{self._name}: a redirect to an unusable URL") from None
        if target.scheme not in ("http", "https"):
            raise DownloadError(ERR_DOWNLOAD, f"{self._name}: a redirect to a {target.scheme!r} URL")
        if target.origin() != response.url.origin() and not self._options.cross_origin_redirects:
            raise DownloadError(
                ERR_DOWNLOAD,
                f"{self._name}: redirected to another origin ({target.host}); not followed "
                "(DownloadOptions(cross_origin_redirects=True) allows it)",
            )
        return str(target)

    def _check_size(self, size: int | None) -> None:
        limit = self._options.max_size
        if size is not None and limit is not None and size > limit:
            self._discard = True
            raise DownloadError(ERR_DOWNLOAD, f"{self._name}: larger than the {limit}-byte download limit")

    async def _accept_partial(
        self, response: aiohttp.ClientResponse, sink: FileSink, offset: int
    ) -> int | None:
        span = parse_content_range(response.headers.get("Content-Range"))
        if span is None or span.start != offset:
            raise _StartOver(f"a 206 that does not start at byte {offset}")
        if strong_etag(response.headers.get("ETag")) != self._rep.etag:
            raise _StartOver("the file changed since the last attempt (ETag)")
        if self._rep.total is not None and span.total != self._rep.total:
            raise _StartOver("the file's size changed")
        digest = self._digest_of(response)
        if digest is not None and self._rep.sha256 not in (None, digest):
            raise _StartOver("the file's digest changed")
        self._check_size(span.total)
        self._spliced = True
        if digest is not None and self._rep.sha256 is None:
            self._rep.sha256 = digest
            await sink.start_hashing()
        self._rep.total = span.total
        self._save_sidecar()
        return span.total

    async def _adopt(self, response: aiohttp.ClientResponse, sink: FileSink) -> int | None:
        """A full response: its validators describe the version being assembled from now on."""
        headers = response.headers
        total = response.content_length
        self._check_size(total)
        self._rep = _Representation(strong_etag(headers.get("ETag")), total, self._digest_of(response))
        self._spliced = False
        if self._rep.sha256 is not None:
            await sink.start_hashing()
        self._save_sidecar()
        return total

    def _digest_of(self, response: aiohttp.ClientResponse) -> str | None:
        if not self._options.verify_digest:
            return None
        return repr_sha256(response.headers.get("Repr-Digest"))

    async def _receive(self, response: aiohttp.ClientResponse, sink: FileSink, total: int | None) -> None:
        board = self._board
        board.update(sink.size, total)
        sink.expect(total)
        with _larger_reads(response):
            # iter_chunks, not iter_any: the reads as received, never joined into a new object
            # (a join copies, and its odd sizes made glibc map fresh pages for each one).
            async for chunk, _ in response.content.iter_chunks():
                self._check_size(sink.size + len(chunk))  # a body with no (or a false) length
                await sink.write(chunk)
                self._received += len(chunk)
                board.update(sink.size, total)

    async def _verify(self, sink: FileSink) -> None:
        expected = self._rep.sha256
        if expected is None or sink.hexdigest() == expected:
            return
        if self._spliced:
            raise _StartOver("the resumed file does not match its digest")
        self._discard = True
        raise DownloadError(ERR_DOWNLOAD, f"{self._name}: content does not match the server's Repr-Digest")

    # --- starting over -------------------------------------------------------------------------

    async def _start_over(self, sink: FileSink, reason: str) -> None:
        self._restarts += 1
        if self._restarts > self._options.max_restarts:
            self._discard = True
            raise DownloadError(
                ERR_DOWNLOAD, f"{self._name}: gave up after {self._restarts - 1} restarts ({reason})"
            )
        await self._reset(sink)

    async def _reset(self, sink: FileSink) -> None:
        await sink.truncate()
        self._rep = _Representation()
        self._spliced = False
        self._part.remove_sidecar()

    def _save_sidecar(self) -> None:
        if self._rep.etag is None:
            self._part.remove_sidecar()  # nothing could prove a later response is the same version
            return
        sidecar = Sidecar(
            self._source.url, self._rep.etag, self._source.file_id, self._rep.total, self._rep.sha256
        )
        try:
            self._part.write_sidecar(sidecar)
        except OSError as exc:
            raise _io_error(self._part.sidecar.name, exc) from exc

    @property
    def _name(self) -> str:
        return f"{self._target.name} from {public_url(self._source.url)}"


@contextlib.contextmanager
def _larger_reads(response: aiohttp.ClientResponse) -> Iterator[None]:
    """Receive the body in reads of up to `_RECV_SIZE` bytes instead of asyncio's 256 KiB.

    Each read costs a recv, a parser call, a task wake-up and a sink write: on a fast link
    (loopback, a LAN mirror) that per-chunk Python work is a third of a download's CPU. asyncio
    offers no public setting for it; `max_size` is the plain-socket transport's (undocumented)
    recv size, so it is set only where it exists as an int (not TLS, not uvloop) and restored
    before the connection goes back to the pool.
    """
    connection = response.connection
    transport = connection.transport if connection is not None else None
    before = getattr(transport, "max_size", None)
    if type(before) is not int or before >= _RECV_SIZE:
        yield
        return
    transport.max_size = _RECV_SIZE  # type: ignore[union-attr]
    try:
        yield
    finally:
        transport.max_size = before  # type: ignore[union-attr]


def _lock(fd: int, name: str) -> None:
    """One download per target at a time, across processes too (flock on the partial file)."""
    if sys.platform == "win32":
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise error_for(ERR_IN_PROGRESS, f"another download to {name} is in progress") from None


def _describe(exc: BaseException, stall_timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no data for {stall_timeout:g} s"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the body was cut short"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "cannot connect"
    return type(exc).__name__


def _io_error(name: str, exc: OSError) -> TIMError:
    return error_for(ERR_IO, f"cannot write {name}: {exc.strerror or exc}")
