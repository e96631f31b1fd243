"""aiohttp/asyncio exceptions and HTTP statuses become TIMErrors at the connection boundary, with
`sent` telling whether the request may have reached the server and no secret in the text."""

from __future__ import annotations

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
