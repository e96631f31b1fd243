"""ConnectionManager: the one aiohttp session and the only place aio_tim does HTTP.

It signs every call as the app admin (UserSig minted from the secret key and renewed before it
expires), posts the request Struct as JSON and decodes the envelope into the request's `Response`
type; a failed envelope becomes the matching `TIMError` (`errors.error_for`).

    async with ConnectionManager(endpoint_url, signer) as conn:
        reply = await conn.call(SendMsg(...))
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
from yarl import URL

from ..errors import TIMError, error_for
from ..protocol import Envelope, Request
from ..telemetry import RestRecord, Telemetry
from .errors import parse_retry_after, reply_error, status_error, transport_error, unreachable_error

__all__ = ["MAX_REPLY_SIZE", "ConnectionManager", "Signer", "Timeouts"]

MAX_REPLY_SIZE: Final = 16 * 1024 * 1024
"""The largest REST reply accepted (bytes). TIM's answers are small: a roaming page of 100
messages of 12 KB is ~1.2 MB; a larger reply is refused as a bad reply, not held in memory."""
_READ_CHUNK: Final = 256 * 1024

R = TypeVar("R", bound=Envelope)

# Sent explicitly: aiohttp's `skip_auto_headers` rebuilds a header dict on every request.
USER_AGENT: Final = "aio_tim"
_ENCODER: Final = msgspec.json.Encoder()
# What a garbled reply can raise: msgspec decodes strings lazily (invalid UTF-8 surfaces as
# UnicodeDecodeError) and deep nesting exhausts the recursion limit.
_GARBLED: Final = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)


@dataclass(frozen=True)
class Timeouts:
    """Split timeouts in seconds: `connect` to open a socket, `read` without a byte (a stall),
    `total` for one attempt. `read=None` leaves stalls to `total` and saves aiohttp a timer
    reschedule per response chunk (~8% of a loopback call's client CPU).

        Client(..., timeouts=Timeouts(connect=2.0, read=10.0, total=20.0))
    """

    connect: float = 5.0
    read: float | None = 15.0
    total: float = 30.0

    def client_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.total, sock_connect=self.connect, sock_read=self.read)


class Signer(Protocol):
    """The admin identity: its `identifier` and a currently valid UserSig from `current()`
    (`auth.UserSigCache` mints and renews one from the secret key)."""

    identifier: str

    def current(self) -> str: ...


class ConnectionManager:
    """One aiohttp session per client; signs, posts and decodes REST calls."""

    def __init__(
        self,
        base_url: str,
        sdk_app_id: int,
        signer: Signer,
        *,
        timeouts: Timeouts = Timeouts(),
        max_connections: int = 100,
        max_reply_size: int = MAX_REPLY_SIZE,
        rng: random.Random | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        if max_reply_size < 1:
            raise ValueError("max_reply_size must be positive")
        self._base_url = base_url.rstrip("/")
        base = URL(self._base_url)
        self._scheme, self._authority = base.scheme, base.raw_authority
        self._host = f"{base.host}:{base.port}"  # for error texts: no user info, no query
        self._path_prefix = base.raw_path.rstrip("/")
        # What a span may say about where calls go: never the query (it holds the UserSig).
        self._server = (base.host or "", base.port or 0, f"{self._scheme}://{base.host_port_subcomponent}")
        self._telemetry = telemetry or Telemetry(enabled=False)
        self._sdk_app_id = sdk_app_id
        self._signer = signer
        self._timeouts = timeouts
        self._max_connections = max_connections
        self.max_reply_size = max_reply_size
        """Replies larger than this many bytes are refused (ERR_BAD_REPLY) without being kept."""
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._signed_for = ""
        self._signed_query = ""
        self.calls = 0
        self.reached = False  # any HTTP reply from the server since we opened

    async def __aenter__(self) -> ConnectionManager:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Create the session inside the running loop."""
        if self._session is not None:
            return
        # Idle connections are dropped before a server drops them (the dev server: after 15 s), so
        # a request is rarely sent on a connection the server is closing at that moment.
        connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300, keepalive_timeout=10)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeouts.client_timeout(),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def closed(self) -> bool:
        return self._session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session, shared with transfer/ (one session per client)."""
        return self._require_session()

    def __repr__(self) -> str:
        return (
            f"<ConnectionManager {self._base_url} sdk_app_id={self._sdk_app_id} "
            f"admin={self._signer.identifier!r} calls={self.calls} closed={self.closed}>"
        )

    def __del__(self, _warn: Callable[..., Any] = warnings.warn) -> None:
        if self._session is not None:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=1)

    async def call(self, request: Request) -> Envelope:
        """Post `request` to its endpoint and return its decoded, successful reply."""
        if self._telemetry.active:
            return await self._traced_call(request)
        return await self._call(request)

    async def _call(self, request: Request, record: RestRecord | None = None) -> Envelope:
        raw = await self._post(request.endpoint, _ENCODER.encode(request), record)
        reply = _decode_reply(request.endpoint, raw, request.Response)
        if reply.failed:
            if record is not None:
                record.error_code = reply.ErrorCode
            raise error_for(reply.ErrorCode, f"{request.endpoint}: {reply.ErrorInfo}")
        return reply

    async def _traced_call(self, request: Request) -> Envelope:
        """`call` inside a CLIENT span; its `url.full` is the path alone, never the signed query."""
        address, port, origin = self._server
        url = f"{origin}{self._path_prefix}/v4/{request.endpoint}"
        with self._telemetry.rest_call(request.endpoint, address, port, url) as record:
            return await self._call(request, record)

    async def _post(self, endpoint: str, body: bytes, record: RestRecord | None = None) -> bytes:
        session = self._require_session()
        self.calls += 1
        try:
            # Never follow a redirect: it would re-send the signed request to wherever it points.
            headers = record.headers if record is not None else None
            async with session.post(
                self._url(endpoint), data=body, headers=headers, allow_redirects=False
            ) as response:
                self.reached = True
                if record is not None:
                    record.status = response.status
                if response.status != 200:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    raise status_error(endpoint, response.status, retry_after)
                return await _read_capped(endpoint, response, self.max_reply_size)
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = self._failure(endpoint, exc)
        # Raised here, outside the except block: no __context__ chains aiohttp's exception,
        # which may carry the signed URL.
        raise failure

    def _failure(self, endpoint: str, exc: BaseException) -> TIMError:
        if self.reached:
            return transport_error(endpoint, exc)
        # Never answered since we opened: a wrong base_url or no network, not a passing blip.
        return unreachable_error(endpoint, self._host, exc)

    def _url(self, endpoint: str) -> URL:
        return self._build_url(f"{self._path_prefix}/v4/{endpoint}")

    def signed_url(self, path: str) -> URL:
        """`base_url/path` with the admin's signed query (it holds the UserSig: never log it).
        Used by transfer/ to upload to the dev server's file service."""
        return self._build_url(f"{self._path_prefix}/{path}")

    def _build_url(self, path: str) -> URL:
        # Signing costs ~12% of a loopback request, parsing a URL string ~3%: the signed query
        # is built once per UserSig, the URL from parts (already encoded), and only the
        # per-request random is new each time.
        query = f"{self._query()}{self._rng.getrandbits(32)}"
        return URL.build(
            scheme=self._scheme, authority=self._authority, path=path, query_string=query, encoded=True
        )

    def _query(self) -> str:
        usersig = self._signer.current()
        if usersig != self._signed_for:
            self._signed_for = usersig
            self._signed_query = (
                f"sdkappid={self._sdk_app_id}&identifier={quote(self._signer.identifier)}"
                f"&usersig={quote(usersig, safe='*-_')}&contenttype=json&random="
            )
        return self._signed_query

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("ConnectionManager is not open: use `async with`")
        return self._session


async def _read_capped(endpoint: str, response: aiohttp.ClientResponse, cap: int) -> bytes:
    """The reply body, refused once it exceeds `cap` bytes (declared or streamed)."""
    declared = response.content_length
    if declared is not None:
        if declared > cap:
            raise reply_error(endpoint, f"reply of {declared} bytes exceeds the {cap}-byte limit")
        return await response.read()
    body = bytearray()
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        body += chunk
        if len(body) > cap:
            response.close()  # drop the connection rather than drain the rest
            raise reply_error(endpoint, f"reply exceeds the {cap}-byte limit")
    return bytes(body)


def _decode_reply(endpoint: str, raw: bytes, reply_type: type[R]) -> R:
    try:
        return msgspec.json.decode(raw, type=reply_type)
    except _GARBLED as exc:
        detail = str(exc)
    # A failed call may omit fields the success shape requires: read the bare envelope.
    envelope = _bare_envelope(raw)
    if envelope is not None and envelope.failed:
        return reply_type(ActionStatus="FAIL", ErrorCode=envelope.ErrorCode, ErrorInfo=envelope.ErrorInfo)
    raise reply_error(endpoint, detail)


def _bare_envelope(raw: bytes) -> Envelope | None:
    try:
        return msgspec.json.decode(raw, type=Envelope)
    except _GARBLED:
        return None
