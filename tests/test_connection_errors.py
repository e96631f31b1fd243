"""aiohttp/asyncio exceptions and HTTP statuses become TIMErrors at the connection boundary, with
`sent` telling whether the request may have reached the server and no secret in the text."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from aio_tim.connection.errors import reply_error, status_error, transport_error
from aio_tim.errors import RateLimitedError, TIMError, TransientError, TransportError

ENDPOINT = "openim/sendmsg"
SECRET = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQ"
SIGNED_URL = (
    f"https://console.tim.qq.com/v4/{ENDPOINT}?sdkappid=1400000000&identifier=admin"
    f"&usersig={SECRET}&random=99&contenttype=json"
)

KEY = ConnectionKey(
    host="console.tim.qq.com",
    port=443,
    is_ssl=True,
    ssl=True,
    proxy=None,
    proxy_auth=None,
    proxy_headers_hash=None,
)

ERR_TRANSPORT, ERR_BAD_REPLY, ERR_TIMEOUT = 9501, 9519, 9520

# (id, exception, sent, code, words the text must contain); asyncio.TimeoutError is TimeoutError
TRANSPORT_CASES: list[tuple[str, BaseException, bool, int, tuple[str, ...]]] = [
    (
        "connect-refused",
        aiohttp.ClientConnectorError(KEY, OSError(111, "Connection refused")),
        False,
        ERR_TRANSPORT,
        ("Connection refused",),
    ),
    (
        "dns-failure",
        aiohttp.ClientConnectorDNSError(KEY, OSError(-2, "Name or service not known")),
        False,
        ERR_TRANSPORT,
        ("Name or service not known",),
    ),
    (
        "tls-certificate",
        aiohttp.ClientConnectorCertificateError(KEY, ValueError("certificate verify failed")),
        False,
        ERR_TRANSPORT,
        (),
    ),
    (
        "connect-timeout",
        aiohttp.ConnectionTimeoutError(f"Connection timeout to {SIGNED_URL}"),
        False,
        ERR_TIMEOUT,
        (),
    ),
    (
        "server-disconnected",
        aiohttp.ServerDisconnectedError(f"closed: {SIGNED_URL}"),
        True,
        ERR_TRANSPORT,
        (),
    ),
    (
        "socket-read-timeout",
        aiohttp.SocketTimeoutError(f"Timeout on reading {SIGNED_URL}"),
        True,
        ERR_TIMEOUT,
        (),
    ),
    (
        "server-timeout",
        aiohttp.ServerTimeoutError("Timeout on reading data from socket"),
        True,
        ERR_TIMEOUT,
        (),
    ),
    ("asyncio-timeout", TimeoutError(), True, ERR_TIMEOUT, ()),
    ("asyncio-timeout-with-url", TimeoutError(SIGNED_URL), True, ERR_TIMEOUT, ()),
    (
        "payload-cut",
        aiohttp.ClientPayloadError(f"Response payload is not completed: {SIGNED_URL}"),
        True,
        ERR_BAD_REPLY,
        (),
    ),
    ("connection-reset", aiohttp.ClientOSError(104, "reset"), True, ERR_TRANSPORT, ("reset",)),
    ("invalid-url", aiohttp.InvalidURL(SIGNED_URL), True, ERR_TRANSPORT, ()),
]


@pytest.mark.parametrize(
    ("name", "exc", "sent", "code", "words"), TRANSPORT_CASES, ids=[case[0] for case in TRANSPORT_CASES]
)
def test_transport_error_maps_aiohttp_exceptions(
    name: str, exc: BaseException, sent: bool, code: int, words: tuple[str, ...]
) -> None:
    """transport_error gives a TransportError with the right code and `sent`, naming only the endpoint."""
    err = transport_error(ENDPOINT, exc)
    assert type(err) is TransportError
    assert err.code == code
    assert err.sent is sent
    assert err.retryable is True
    text = f"{err} {err!r} {err.desc}"
    assert ENDPOINT in str(err)
    for word in words:
        assert word in text
    assert "usersig" not in text.lower()
    assert SECRET not in text


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (429, RateLimitedError, 60007),
        (503, RateLimitedError, 60007),
        (500, TransientError, 60008),
        (502, TransientError, 60008),
        (504, TransientError, 60008),
        (404, TIMError, 60002),
        (400, TIMError, 60002),
        (403, TIMError, 60002),
    ],
)
def test_status_error_maps_http_status(status: int, cls: type[TIMError], code: int) -> None:
    """status_error: 429/503 are rate limits, other 5xx are transient, anything else a plain TIMError."""
    err = status_error(ENDPOINT, status)
    assert type(err) is cls
    assert err.code == code
    assert err.retryable is (cls is not TIMError)
    assert ENDPOINT in str(err)
    assert f"HTTP {status}" in str(err)


def test_reply_error_is_bad_reply_transport_error() -> None:
    """reply_error is a sent TransportError with the bad-reply code, naming the endpoint and detail."""
    err = reply_error(ENDPOINT, "not JSON")
    assert type(err) is TransportError
    assert err.code == ERR_BAD_REPLY
    assert err.sent is True
    assert ENDPOINT in str(err)
    assert "not JSON" in str(err)


# --- a server never reached: one line naming the host, at once ------------------------------------


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("http://nonexistent.invalid", "nonexistent.invalid:80"),  # .invalid never resolves (RFC 6761)
        ("http://127.0.0.1:{port}", "127.0.0.1:{port}"),  # nothing listens: connection refused
    ],
    ids=["name-does-not-resolve", "connection-refused"],
)
async def test_a_server_never_reached_fails_at_once_naming_its_host(base_url: str, host: str) -> None:
    """A client that has never had a reply fails within 10 s, unretried, with the host in the text."""
    import time

    from aio_tim import Client, ConvType, UnreachableError

    port = _closed_port()
    base_url, host = base_url.format(port=port), host.format(port=port)
    started = time.monotonic()
    async with Client(sdk_app_id=1400000000, user_id="alice", secret_key=SECRET, base_url=base_url) as tim:
        with pytest.raises(UnreachableError) as caught:
            await tim.msg.send_text("bob", ConvType.C2C, "hello")
        retried = tim.pipeline.statistics().retried
    elapsed = time.monotonic() - started
    print(f"failed after {elapsed:.2f} s, {retried} retries: {caught.value}")
    assert elapsed < 10 and retried == 0
    assert f"cannot reach {host}" in str(caught.value) and "nothing was sent" in str(caught.value)
    assert caught.value.sent is False
    assert SECRET not in str(caught.value) and caught.value.__cause__ is None


async def test_a_server_that_answered_once_is_retried_when_it_goes_away() -> None:
    """After a reply, a refused connection is a passing failure: a retried TransportError, not final."""
    from aio_tim import ConvType, RetryPolicy, UnreachableError
    from aio_tim.devserver import DevServer
    from aio_tim.testing import client_for

    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, deadline=2.0)
    async with DevServer() as server, client_for(server, "alice", retry=policy) as tim:
        await tim.msg.send_text("bob", ConvType.C2C, "while it runs")
        await server.aclose()
        with pytest.raises(TransportError) as caught:
            await tim.msg.send_text("bob", ConvType.C2C, "after it stopped")
        retried = tim.pipeline.statistics().retried
    assert not isinstance(caught.value, UnreachableError)
    assert retried >= 1


TEXT = {"message_elem_array": [{"elem_type": 0, "text_elem_content": "later"}]}


async def test_the_outbox_keeps_a_message_for_a_server_not_reached_yet(tmp_path: Path) -> None:
    """A queued message waits out a server that is not up yet, then goes out once it is."""
    from aio_tim import Client, ConvType
    from aio_tim.devserver import DevServer

    port = _closed_port()
    async with DevServer(port=port) as probe:
        sdk_app_id, key = probe.sdk_app_id, probe.secret_key
    options = {"sdk_app_id": sdk_app_id, "secret_key": key, "base_url": f"http://127.0.0.1:{port}"}
    async with Client(user_id="alice", store_path=tmp_path / "a.db", outbox=True, **options) as tim:
        await tim.msg.enqueue_new_msg(
            "bob", ConvType.C2C, {"message_elem_array": [{"elem_type": 0, "text_elem_content": "later"}]}
        )
        await asyncio.sleep(0.5)
        early = await tim.outbox_statistics()
        async with DevServer(port=port, sdk_app_id=sdk_app_id, secret_key=key):
            await asyncio.wait_for(tim._outbox.wait_idle(), 30)  # type: ignore[union-attr]
        late = await tim.outbox_statistics()
    print(f"before the server came up: {early}; after: {late}")
    assert early["failed"] == 0 and early["queued"] + early["inflight"] == 1
    assert late == {"queued": 0, "inflight": 0, "sent": 1, "failed": 0}
