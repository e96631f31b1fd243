"""Issue 6, part 1: the dev server's UserSig checks over the whole matrix of broken credentials,
each answered with TIM's code in an HTTP 200 envelope (never a 500), and TIM's 70050 lockout
after repeated failures for one identifier.

UserSigs are built here from the UserSig v2 format itself (not with aio_tim.auth), so every field
can be edited before or after signing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import inspect
import json
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from aio_tim import auth
from aio_tim.devserver import DevServer
from aio_tim.devserver.authn import FailureThrottle
from aio_tim.devserver.rest import default_routes
from aio_tim.errors import TIMError

SDK_APP_ID = 1400000000
KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
ADMIN = "administrator"


class FakeClock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- UserSig construction (the v2 format) ------------------------------------------------------------


def hmac_sig(key: str, identifier: str, sdk_app_id: int, issued: int, expire: int) -> str:
    content = (
        f"TLS.identifier:{identifier}\nTLS.sdkappid:{sdk_app_id}\nTLS.time:{issued}\nTLS.expire:{expire}\n"
    )
    return base64.b64encode(hmac.new(key.encode(), content.encode(), hashlib.sha256).digest()).decode()


def signed_doc(
    now: int,
    *,
    key: str = KEY,
    identifier: str = ADMIN,
    sdk_app_id: int = SDK_APP_ID,
    issued: int | None = None,
    expire: int = 86400,
) -> dict[str, Any]:
    issued = now if issued is None else issued
    return {
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdk_app_id,
        "TLS.expire": expire,
        "TLS.time": issued,
        "TLS.sig": hmac_sig(key, identifier, sdk_app_id, issued, expire),
    }


def wrap(raw: bytes) -> str:
    """zlib bytes -> UserSig text (standard base64 with TIM's URL-safe character map)."""
    return base64.b64encode(raw).decode().translate(str.maketrans("+/=", "*-_"))


def pack(doc: dict[str, Any] | bytes) -> str:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return wrap(zlib.compress(data))


def edited(now: int, **changes: Any) -> str:
    """A UserSig signed correctly, then with fields changed (None removes the field)."""
    doc = signed_doc(now)
    for name, value in changes.items():
        field = f"TLS.{name}"
        if value is None:
            del doc[field]
        else:
            doc[field] = value
    return pack(doc)


def flip_sig_byte(now: int) -> str:
    doc = signed_doc(now)
    raw = bytearray(base64.b64decode(doc["TLS.sig"]))
    raw[7] ^= 0x01
    doc["TLS.sig"] = base64.b64encode(bytes(raw)).decode()
    return pack(doc)


def flip_text_char(now: int) -> str:
    usersig = pack(signed_doc(now))
    middle = len(usersig) // 2
    swapped = "A" if usersig[middle] != "A" else "B"
    return usersig[:middle] + swapped + usersig[middle + 1 :]


def bomb(now: int) -> str:
    """A valid document behind a mebibyte of JSON whitespace: tiny compressed, huge inflated."""
    return pack(b" " * (1024 * 1024) + json.dumps(signed_doc(now)).encode())


# --- the table ---------------------------------------------------------------------------------

# A row builds the query overrides from the server's "now"; identifier defaults to the admin.
Query = dict[str, str]


@dataclass(frozen=True)
class Row:
    name: str
    query: Callable[[int], Query]
    code: int


def sig(build: Callable[[int], str]) -> Callable[[int], Query]:
    return lambda now: {"usersig": build(now)}


MATRIX: list[Row] = [
    Row("valid", sig(lambda n: pack(signed_doc(n))), 0),
    Row("valid, issued within the clock skew", sig(lambda n: pack(signed_doc(n, issued=n + 299))), 0),
    Row("valid until this very second", sig(lambda n: pack(signed_doc(n, issued=n - 60, expire=60))), 0),
    Row("valid without TLS.ver", sig(lambda n: edited(n, ver=None)), 0),
    Row("expired", sig(lambda n: pack(signed_doc(n, issued=n - 61, expire=60))), 70001),
    Row("issued in the future beyond the skew", sig(lambda n: pack(signed_doc(n, issued=n + 3600))), 70003),
    Row("wrong key", sig(lambda n: pack(signed_doc(n, key="not-the-key"))), 70009),
    Row("identifier differs from the URL's",
        lambda n: {"identifier": "alice", "usersig": pack(signed_doc(n))}, 70013),
    Row("wrong sdkappid inside", sig(lambda n: pack(signed_doc(n, sdk_app_id=1400000001))), 70014),
    Row("wrong sdkappid in the URL",
        lambda n: {"sdkappid": "1400000001", "usersig": pack(signed_doc(n))}, 60006),
    Row("flipped signature byte", sig(flip_sig_byte), 70009),
    Row("empty signature", sig(lambda n: edited(n, sig="")), 70009),
    Row("signature not base64", sig(lambda n: edited(n, sig="!!not base64!!")), 70009),
    Row("signature with non-ASCII text", sig(lambda n: edited(n, sig="é" * 44)), 70009),
    Row("expire extended after signing", sig(lambda n: edited(n, expire=10**9)), 70009),
    Row("time edited after signing", sig(lambda n: edited(n, time=n - 5)), 70009),
    Row("identifier edited to the URL's after signing",
        lambda n: {"identifier": "alice", "usersig": edited(n, identifier="alice")}, 70009),
    Row("sdkappid edited to ours after signing",
        sig(lambda n: pack({**signed_doc(n, sdk_app_id=1400000001), "TLS.sdkappid": SDK_APP_ID})), 70009),
    Row("wrong version", sig(lambda n: edited(n, ver="3.0")), 70003),
    Row("empty version", sig(lambda n: edited(n, ver="")), 70003),
    Row("version a number", sig(lambda n: edited(n, ver=2)), 70003),
    Row("truncated to half", sig(lambda n: pack(signed_doc(n))[:60]), 70003),
    Row("truncated by one character", sig(lambda n: pack(signed_doc(n))[:-1]), 70003),
    Row("not base64 at all", sig(lambda n: "this is not a UserSig!"), 70003),
    Row("standard base64 alphabet", sig(lambda n: pack(signed_doc(n)).translate(str.maketrans("*-_", "+/="))),
        70003),
    Row("a character changed", sig(flip_text_char), 70003),
    Row("trailing data after the zlib stream", sig(lambda n: wrap(zlib.compress(b"{}") + b"tail")), 70003),
    Row("raw deflate without zlib header", sig(lambda n: wrap(zlib.compress(b"{}")[2:])), 70003),
    Row("zlib of non-JSON", sig(lambda n: pack(b"TLS.identifier:administrator")), 70003),
    Row("zlib of nothing", sig(lambda n: pack(b"")), 70003),
    Row("JSON array", sig(lambda n: pack(b"[1, 2, 3]")), 70003),
    Row("JSON string", sig(lambda n: pack(b'"administrator"')), 70003),
    Row("sdkappid a string", sig(lambda n: edited(n, sdkappid=str(SDK_APP_ID))), 70003),
    Row("time a float", sig(lambda n: edited(n, time=n + 0.5)), 70003),
    Row("time a bool", sig(lambda n: edited(n, time=True)), 70003),
    Row("expire negative", sig(lambda n: edited(n, expire=-1)), 70003),
    Row("expire beyond int64", sig(lambda n: edited(n, expire=2**64)), 70003),
    Row("identifier a number", sig(lambda n: edited(n, identifier=7)), 70003),
    Row("signature missing", sig(lambda n: edited(n, sig=None)), 70003),
    Row("version null", sig(lambda n: pack({**signed_doc(n), "TLS.ver": None})), 70003),
    Row("userbuf not base64", sig(lambda n: edited(n, userbuf="***")), 70003),
    Row("invalid UTF-8 in a string",
        sig(lambda n: pack(json.dumps(signed_doc(n)).encode().replace(b'"2.0"', b'"2.0\xff"'))), 70003),
    Row("deeply nested unknown field",
        sig(lambda n: pack(b'{"x": ' + b"[" * 3000 + b"]" * 3000 + b"}")), 70003),
    Row("decompression bomb", sig(bomb), 70003),
    Row("valid, but not an admin",
        lambda n: {"identifier": "alice", "usersig": pack(signed_doc(n, identifier="alice"))}, 60010),
]  # fmt: skip


class Rest:
    """Raw REST calls over loopback: aiohttp and a query we build ourselves."""

    def __init__(self, server: DevServer, http: aiohttp.ClientSession, clock: FakeClock) -> None:
        self.server = server
        self.http = http
        self.clock = clock

    @property
    def now(self) -> int:
        return int(self.clock())

    def query(self, **overrides: str) -> Query:
        base = {
            "sdkappid": str(SDK_APP_ID),
            "identifier": ADMIN,
            "usersig": pack(signed_doc(self.now)),
            "random": "7",
            "contenttype": "json",
        }
        return base | overrides

    async def send(self, query: Query, random: int = 1) -> dict[str, Any]:
        body = {"To_Account": "bob", "MsgRandom": random, "MsgBody": [{"MsgType": "TIMTextElem",
                "MsgContent": {"Text": "hi"}}]}  # fmt: skip
        url = f"{self.server.url}/v4/openim/sendmsg"
        async with self.http.post(url, params=query, json=body) as resp:
            assert resp.status == 200, await resp.text()
            reply: dict[str, Any] = await resp.json()
        assert reply["ActionStatus"] == ("OK" if reply["ErrorCode"] == 0 else "FAIL"), reply
        return reply

    async def code(self, **overrides: str) -> int:
        return int((await self.send(self.query(**overrides)))["ErrorCode"])


@contextlib.asynccontextmanager
async def rest_server(clock: FakeClock) -> AsyncIterator[Rest]:
    async with (
        DevServer(sdk_app_id=SDK_APP_ID, secret_key=KEY, admin=ADMIN, clock=clock) as server,
        aiohttp.ClientSession() as http,
    ):
        yield Rest(server, http, clock)


@pytest.fixture
async def rest() -> AsyncIterator[Rest]:
    async with rest_server(FakeClock()) as rest:
        yield rest


@pytest.mark.parametrize("row", MATRIX, ids=[row.name for row in MATRIX])
async def test_usersig_matrix_answers_tims_code(rest: Rest, row: Row) -> None:
    """Every UserSig case is an HTTP 200 envelope with TIM's code; ErrorInfo quotes no secret."""
    query = rest.query(**row.query(rest.now))
    reply = await rest.send(query)
    assert reply["ErrorCode"] == row.code, reply
    assert query["usersig"] not in reply["ErrorInfo"] and KEY not in reply["ErrorInfo"]
    assert len(reply["ErrorInfo"]) <= 200


def test_the_matrix_covers_the_issue_list() -> None:
    """Each case the issue names has a row (a guard against rows silently dropped)."""
    codes = {row.code for row in MATRIX}
    assert {0, 70001, 70003, 70009, 70013, 70014, 60006, 60010} <= codes
    assert len({row.name for row in MATRIX}) == len(MATRIX)


async def test_every_rest_endpoint_is_admin_only(rest: Rest) -> None:
    """A valid UserSig of a non-admin gets 60010 on every REST endpoint, before its body is read."""
    alice = rest.query(identifier="alice", usersig=pack(signed_doc(rest.now, identifier="alice")))
    for endpoint in sorted(default_routes()):
        async with rest.http.post(f"{rest.server.url}/v4/{endpoint}", params=alice, data=b"{") as resp:
            assert (resp.status, (await resp.json())["ErrorCode"]) == (200, 60010), endpoint


def test_signatures_are_compared_in_constant_time() -> None:
    """The HMAC comparison is hmac.compare_digest, not ==."""
    source = inspect.getsource(auth._check_signature)
    assert "hmac.compare_digest(" in source and "==" not in source


# --- 70050: repeated failures ------------------------------------------------------------------


async def fail_times(rest: Rest, times: int, identifier: str = ADMIN) -> list[int]:
    bad = pack(signed_doc(rest.now, key="wrong", identifier=identifier))
    return [await rest.code(identifier=identifier, usersig=bad) for _ in range(times)]


async def test_ten_failures_lock_the_identifier_for_a_minute() -> None:
    """After 10 failures within a minute every failing attempt is 70050 for 60 s (a UserSig that
    verifies is still served: a lockout is not a denial of service)."""
    clock = FakeClock()
    async with rest_server(clock) as rest:
        assert await fail_times(rest, 10) == [70009] * 10
        assert await rest.code() == 0  # a valid UserSig is served
        assert await fail_times(rest, 3) == [70050] * 3  # attempts meanwhile do not count
        clock.advance(59)
        assert await fail_times(rest, 1) == [70050]
        clock.advance(1)
        assert await fail_times(rest, 1) == [70009]  # a fresh allowance after the lockout


async def test_a_valid_usersig_is_never_locked_out() -> None:
    """A lockout refuses failing UserSigs only: one verified earlier (cached) and a new one pass."""
    async with rest_server(FakeClock()) as rest:
        good = pack(signed_doc(rest.now))
        assert await rest.code(usersig=good) == 0
        await fail_times(rest, 10)
        assert await fail_times(rest, 1) == [70050]
        assert await rest.code(usersig=good) == 0
        assert await rest.code() == 0


async def test_failures_spread_beyond_the_window_do_not_lock() -> None:
    """Nine failures, a minute's pause, nine more: never 10 within one window."""
    clock = FakeClock()
    async with rest_server(clock) as rest:
        assert await fail_times(rest, 9) == [70009] * 9
        clock.advance(60)
        assert await fail_times(rest, 9) == [70009] * 9
        assert await rest.code() == 0


async def test_a_lockout_is_per_identifier() -> None:
    """Locking "mallory" affects neither the admin nor another identifier."""
    async with rest_server(FakeClock()) as rest:
        assert await fail_times(rest, 10, identifier="mallory") == [70009] * 10
        assert await fail_times(rest, 1, identifier="mallory") == [70050]
        assert await rest.code() == 0
        alice = pack(signed_doc(rest.now, identifier="alice"))
        assert await rest.code(identifier="alice", usersig=alice) == 60010
        assert await fail_times(rest, 9, identifier="alice") == [70009] * 9


@pytest.mark.parametrize("usersig", ["", "garbage", "eJy"], ids=["empty", "garbage", "truncated"])
async def test_every_kind_of_failure_counts(rest: Rest, usersig: str) -> None:
    """Malformed and missing UserSigs count toward the lockout like bad signatures."""
    codes = [await rest.code(usersig=usersig) for _ in range(10)]
    assert 70050 not in codes
    assert await rest.code(usersig=usersig) == 70050


async def test_non_admin_with_a_valid_usersig_is_not_a_failure(rest: Rest) -> None:
    """60010 is a permission answer, not a guess at the key: it never locks anyone out."""
    alice = pack(signed_doc(rest.now, identifier="alice"))
    assert [await rest.code(identifier="alice", usersig=alice) for _ in range(12)] == [60010] * 12


def test_throttle_memory_is_bounded() -> None:
    """A flood of identifiers keeps at most max_tracked entries, each of fixed size."""
    throttle = FailureThrottle(max_failures=2, max_tracked=8)
    for i in range(1000):
        throttle.record_failure(f"user{i}" * 100, now=0)
        throttle.record_failure(f"other{i}", now=0)
        throttle.record_failure(f"other{i}", now=0)
    assert len(throttle._failures) <= 8 and len(throttle._locked_until) <= 8
    with pytest.raises(TIMError) as locked:
        throttle.check("other999", now=1)
    assert locked.value.code == 70050
    assert "other999" not in str(locked.value) and "other999" not in repr(throttle)


@pytest.mark.parametrize("option", ["max_failures", "window", "lockout", "max_tracked"])
def test_throttle_settings_must_be_positive(option: str) -> None:
    with pytest.raises(ValueError):
        FailureThrottle(**{option: 0})
