"""The dev server, spoken to as a third party would: plain aiohttp over loopback, signed with
Tencent's reference TLSSigAPIv2. Lifecycle, authentication, routing and malformed input."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import json
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import TLSSigAPIv2

from aio_tim.devserver import DevServer
from aio_tim.devserver import authn as devserver_authn
from aio_tim.devserver.schema import MIGRATIONS
from aio_tim.devserver.state import State

# --- helpers ---------------------------------------------------------------------------------------


class FakeClock:
    """Unix seconds that move only when the test says so (starts at the real now, so that
    UserSigs minted by the reference signer with the wall clock are valid)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sign(sdk_app_id: int, key: str, identifier: str, expire: int = 86400) -> str:
    return str(TLSSigAPIv2.TLSSigAPIv2(sdk_app_id, key).gen_sig(identifier, expire=expire))


class Tim:
    """A REST caller that knows nothing of aio_tim: aiohttp plus the reference signer."""

    def __init__(self, server: DevServer, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http
        self.usersig = sign(server.sdk_app_id, server.secret_key, server.admin)

    def query(self, **overrides: Any) -> dict[str, str]:
        query = {
            "sdkappid": str(self.server.sdk_app_id),
            "identifier": self.server.admin,
            "usersig": self.usersig,
            "random": "12345",
            "contenttype": "json",
        }
        query.update({k: str(v) for k, v in overrides.items()})
        return {k: v for k, v in query.items() if v != "<omit>"}

    async def post(
        self, endpoint: str, body: Any = None, *, raw: bytes | None = None, **query: Any
    ) -> dict[str, Any]:
        """POST and return the envelope; whatever happens, it must be HTTP 200 JSON."""
        data = raw if raw is not None else json.dumps(body).encode()
        url = f"{self.server.url}/v4/{endpoint}"
        # BytesIO: aiohttp warns about large raw bytes bodies.
        async with self.http.post(url, params=self.query(**query), data=io.BytesIO(data)) as resp:
            assert resp.status == 200, await resp.text()
            reply: dict[str, Any] = await resp.json()
        assert {"ActionStatus", "ErrorCode", "ErrorInfo"} <= reply.keys(), reply
        return reply

    async def ok(self, endpoint: str, body: Any) -> dict[str, Any]:
        reply = await self.post(endpoint, body)
        assert (reply["ActionStatus"], reply["ErrorCode"]) == ("OK", 0), reply
        return reply

    async def fails(self, endpoint: str, body: Any, code: int, **query: Any) -> dict[str, Any]:
        reply = await self.post(endpoint, body, **query)
        assert (reply["ActionStatus"], reply["ErrorCode"]) == ("FAIL", code), reply
        return reply


@contextlib.asynccontextmanager
async def serve(**options: Any) -> AsyncIterator[Tim]:
    async with DevServer(**options) as server, aiohttp.ClientSession() as http:
        yield Tim(server, http)


def text(content: str = "hi") -> list[dict[str, Any]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": content}}]


def c2c(to: str, random: int, **fields: Any) -> dict[str, Any]:
    return {"To_Account": to, "MsgRandom": random, "MsgBody": text(), **fields}


def roam(operator: str, peer: str, **fields: Any) -> dict[str, Any]:
    return {
        "Operator_Account": operator,
        "Peer_Account": peer,
        "MaxCnt": 100,
        "MinTime": 0,
        "MaxTime": 2**40,
        **fields,
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def tim(clock: FakeClock) -> AsyncIterator[Tim]:
    async with serve(clock=clock) as rest:
        yield rest


# --- lifecycle -------------------------------------------------------------------------------------


async def test_healthz_answers_ok(tim: Tim) -> None:
    """GET /healthz is a plain 200 "ok" for process supervisors."""
    async with tim.http.get(f"{tim.server.url}/healthz") as resp:
        assert (resp.status, await resp.text()) == (200, "ok")


async def test_repr_shows_url_app_and_admin_but_never_the_secret_key() -> None:
    """repr() names url, sdk_app_id and admin; the secret key never appears."""
    server = DevServer(secret_key="s3cr3t-key-value", sdk_app_id=1400000001, admin="boss")
    assert "s3cr3t" not in repr(server) and "url=None" in repr(server)
    async with server:
        shown = repr(server)
        assert server.url in shown and "1400000001" in shown and "'boss'" in shown
        assert "s3cr3t" not in shown
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)


async def test_unclosed_server_warns_resource_warning() -> None:
    """A running server that is garbage-collected warns with ResourceWarning."""
    server = DevServer()
    await server.start()
    with pytest.warns(ResourceWarning, match="unclosed"):
        server.__del__()
    await server.aclose()
    await server.aclose()  # idempotent
    assert not server.running


async def test_serve_forever_runs_until_cancelled_then_closes() -> None:
    """serve_forever() starts the server, serves, and closes it when cancelled."""
    server = DevServer()
    task = asyncio.create_task(server.serve_forever())
    for _ in range(500):
        if server.running:
            break
        await asyncio.sleep(0.01)
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/healthz") as resp:
        assert resp.status == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not server.running


async def test_closed_server_does_not_warn() -> None:
    """A server closed properly is collected silently."""
    async with DevServer() as server:
        pass
    del server
    gc.collect()


@pytest.mark.parametrize(
    "options", [{"c2c_dedup_window": 0}, {"secret_key": ""}, {"admin": ""}, {"admin": "x" * 33}]
)
def test_invalid_settings_are_refused(options: dict[str, Any]) -> None:
    """Nonsense settings fail at construction, not at the first request."""
    with pytest.raises(ValueError):
        DevServer(**options)


async def test_helpers_need_a_running_server() -> None:
    """Helpers and .url before start() raise a clear RuntimeError."""
    server = DevServer()
    with pytest.raises(RuntimeError, match="not running"):
        await server.add_accounts("alice")
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url


async def test_file_backed_state_and_generated_key_survive_restart(tmp_path: Path) -> None:
    """A file db keeps messages and the generated secret key across a restart."""
    db = tmp_path / "tim.sqlite"
    async with serve(db_path=db) as first:
        key = first.server.secret_key
        sent = await first.ok("openim/sendmsg", c2c("bob", 1))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    async with serve(db_path=db) as second:
        assert second.server.secret_key == key
        page = await second.ok("openim/admin_getroammsg", roam("administrator", "bob"))
        assert [m["MsgKey"] for m in page["MsgList"]] == [sent["MsgKey"]]


async def test_explicit_secret_key_replaces_the_stored_one(tmp_path: Path) -> None:
    """Passing a key to a file-backed server uses it, and later runs reuse it."""
    db = tmp_path / "tim.sqlite"
    async with DevServer(db_path=db):
        pass
    async with DevServer(db_path=db, secret_key="chosen") as server:
        assert server.secret_key == "chosen"
    async with DevServer(db_path=db) as server:
        assert server.secret_key == "chosen"


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database from a newer aio_tim is not touched."""
    db = tmp_path / "future.sqlite"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer"):
        await DevServer(db_path=db).start()


# --- authentication --------------------------------------------------------------------------------

QueryFor = Callable[[Tim, FakeClock], dict[str, Any]]


def _expired(tim: Tim, clock: FakeClock) -> dict[str, Any]:
    usersig = sign(tim.server.sdk_app_id, tim.server.secret_key, tim.server.admin, expire=60)
    clock.advance(3600)
    return {"usersig": usersig}


def _signed_by_alice(tim: Tim, clock: FakeClock) -> dict[str, Any]:
    return {"identifier": "alice", "usersig": sign(tim.server.sdk_app_id, tim.server.secret_key, "alice")}


AUTH_FAILURES: list[tuple[str, QueryFor, int]] = [
    ("wrong key", lambda t, c: {"usersig": sign(t.server.sdk_app_id, "other", t.server.admin)}, 70009),
    ("expired", _expired, 70001),
    ("garbage", lambda t, c: {"usersig": "garbage"}, 70003),
    ("truncated", lambda t, c: {"usersig": t.usersig[:40]}, 70003),
    ("missing usersig", lambda t, c: {"usersig": "<omit>"}, 70002),
    ("empty usersig", lambda t, c: {"usersig": ""}, 70002),
    ("not the admin", _signed_by_alice, 60010),
    ("signed for someone else", lambda t, c: {"identifier": "alice"}, 70013),
    ("other app's usersig", lambda t, c: {"usersig": sign(1, t.server.secret_key, t.server.admin)}, 70014),
    ("missing identifier", lambda t, c: {"identifier": "<omit>"}, 60004),
    ("missing sdkappid", lambda t, c: {"sdkappid": "<omit>"}, 60012),
    ("sdkappid not an integer", lambda t, c: {"sdkappid": "14e8"}, 60006),
    ("sdkappid of another app", lambda t, c: {"sdkappid": "1400000009"}, 60006),
]  # fmt: skip


@pytest.mark.parametrize(
    ("query_for", "code"), [(q, c) for _, q, c in AUTH_FAILURES], ids=[n for n, _, _ in AUTH_FAILURES]
)
async def test_bad_credentials_get_tim_codes_never_http_500(
    tim: Tim, clock: FakeClock, query_for: QueryFor, code: int
) -> None:
    """Each credential failure is an HTTP 200 envelope carrying TIM's code."""
    reply = await tim.fails("openim/sendmsg", c2c("bob", 1), code, **query_for(tim, clock))
    assert tim.server.secret_key not in reply["ErrorInfo"]


async def test_verified_usersig_is_cached_until_it_expires(
    tim: Tim, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A UserSig is verified once, reused from cache, and refused once it expires."""
    calls: list[str] = []
    real_verify = devserver_authn.verify_usersig

    def counting_verify(usersig: str, **kwargs: Any) -> Any:
        calls.append(usersig)
        return real_verify(usersig, **kwargs)

    monkeypatch.setattr(devserver_authn, "verify_usersig", counting_verify)
    tim.usersig = sign(tim.server.sdk_app_id, tim.server.secret_key, tim.server.admin, expire=600)
    for random in range(5):
        await tim.ok("openim/sendmsg", c2c("bob", random))
    assert len(calls) == 1
    clock.advance(601)
    await tim.fails("openim/sendmsg", c2c("bob", 9), 70001)


# --- routing and envelopes -------------------------------------------------------------------------


async def test_unknown_command_is_60002_envelope(tim: Tim) -> None:
    """An unknown service or command answers ErrorCode 60002 with HTTP 200."""
    await tim.fails("openim/no_such_command", {}, 60002)
    await tim.fails("no_such_service/sendmsg", {}, 60002)


async def test_get_on_a_rest_path_is_60002_envelope(tim: Tim) -> None:
    """REST is POST-only; other methods still get an envelope."""
    async with tim.http.get(f"{tim.server.url}/v4/openim/sendmsg", params=tim.query()) as resp:
        assert resp.status == 200
        assert (await resp.json())["ErrorCode"] == 60002


async def test_success_envelope_carries_every_key(tim: Tim) -> None:
    """Replies always carry ActionStatus, ErrorCode and ErrorInfo, even at their defaults."""
    reply = await tim.ok("im_open_login_svc/account_import", {"UserID": "alice"})
    assert reply == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


async def test_unexpected_exception_is_70500_with_a_generic_info(
    tim: Tim, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in a handler answers 70500 without details and logs the traceback."""

    async def broken_insert(self: State, msg: Any, since: int) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(State, "send_c2c_once", broken_insert)
    reply = await tim.fails("openim/sendmsg", c2c("bob", 1), 70500)
    assert "fire" not in reply["ErrorInfo"]
    assert any(r.exc_info and "disk on fire" in str(r.exc_info[1]) for r in caplog.records)
    monkeypatch.undo()
    await tim.ok("openim/sendmsg", c2c("bob", 1))  # the transaction was rolled back


async def _logged(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    """Messages of logger `name`, waiting briefly: aiohttp logs after the reply is written."""
    for _ in range(100):
        if any(r.name == name for r in caplog.records):
            break
        await asyncio.sleep(0.01)
    return [r.getMessage() for r in caplog.records if r.name == name]


async def test_access_log_never_shows_the_usersig(tim: Tim, caplog: pytest.LogCaptureFixture) -> None:
    """The access log names path and status but not the query string or the UserSig."""
    caplog.set_level(logging.DEBUG)
    await tim.ok("openim/sendmsg", c2c("bob", 1))
    (line,) = await _logged(caplog, "aiohttp.access")
    assert "/v4/openim/sendmsg" in line and " 200 " in line
    assert "usersig" not in caplog.text and tim.usersig not in caplog.text


async def test_http_parse_errors_are_logged_without_the_usersig(
    tim: Tim, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp quotes an over-long request line in its error log; the UserSig is redacted."""
    caplog.set_level(logging.DEBUG)
    target = f"/v4/openim/sendmsg?usersig={tim.usersig}{'A' * 9000}"
    reader, writer = await asyncio.open_connection("127.0.0.1", tim.server.port)
    writer.write(f"POST {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (await reader.readline()).startswith(b"HTTP/1.0 400")
    writer.close()
    await writer.wait_closed()
    assert await _logged(caplog, "aio_tim.devserver.http")
    assert "usersig=<redacted>" in caplog.text and tim.usersig not in caplog.text


async def test_secret_key_stays_out_of_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Even aiosqlite's DEBUG log of query parameters never shows the stored secret key."""
    caplog.set_level(logging.DEBUG)
    async with DevServer(secret_key="very-secret-key-123"):
        pass
    assert "aiosqlite" in caplog.text and "very-secret-key-123" not in caplog.text


async def test_concurrent_duplicates_store_one_message(tim: Tim) -> None:
    """Twenty simultaneous sends with one MsgRandom store one message and share one answer."""
    replies = await asyncio.gather(*(tim.ok("openim/sendmsg", c2c("bob", 77)) for _ in range(20)))
    assert len({r["MsgKey"] for r in replies}) == 1
    page = await tim.ok("openim/admin_getroammsg", roam("administrator", "bob"))
    assert page["MsgCnt"] == 1


# --- malformed bodies ------------------------------------------------------------------------------

GOOD = {"To_Account": "bob", "MsgRandom": 1, "MsgBody": text()}
DEEP = b"[" * 100_000 + b"]" * 100_000


def _with(**fields: Any) -> bytes:
    return json.dumps({**GOOD, **fields}).encode()


def _items(*items: dict[str, Any]) -> bytes:
    return _with(MsgBody=list(items))


def _elem(msg_type: str, **content: Any) -> dict[str, Any]:
    return {"MsgType": msg_type, "MsgContent": content}


def _without(name: str) -> bytes:
    return json.dumps({k: v for k, v in GOOD.items() if k != name}).encode()


MALFORMED: list[tuple[str, str, bytes, int, str]] = [
    # name, endpoint, body, code, text ErrorInfo must contain
    ("not json", "openim/sendmsg", b"{", 90001, "JSON"),
    ("empty body", "openim/sendmsg", b"", 90001, "JSON"),
    ("invalid utf-8", "openim/sendmsg", b'{"To_Account": "\xff"}', 90001, "JSON"),
    ("NaN", "openim/sendmsg", b'{"To_Account": "bob", "MsgRandom": NaN}', 90001, "JSON"),
    ("array root", "openim/sendmsg", b"[]", 90001, "object"),
    ("huge nesting", "openim/sendmsg", DEEP, 90001, ""),
    ("nesting in content", "openim/sendmsg",
     b'{"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"x": ' + DEEP + b"}}]}", 90001, ""),
    ("MsgRandom string", "openim/sendmsg", _with(MsgRandom="1"), 90005, "MsgRandom"),
    ("MsgRandom missing", "openim/sendmsg", _without("MsgRandom"), 90005, "MsgRandom"),
    ("MsgRandom float", "openim/sendmsg", _with(MsgRandom=1.5), 90005, "MsgRandom"),
    ("MsgRandom bool", "openim/sendmsg", _with(MsgRandom=True), 90005, "MsgRandom"),
    ("MsgRandom over uint32", "openim/sendmsg", _with(MsgRandom=2**32), 90005, "MsgRandom"),
    ("To_Account number", "openim/sendmsg", _with(To_Account=7), 90003, "To_Account"),
    ("To_Account empty", "openim/sendmsg", _with(To_Account=""), 90003, "To_Account"),
    ("From_Account number", "openim/sendmsg", _with(From_Account=7), 90008, "From_Account"),
    ("MsgTimeStamp string", "openim/sendmsg", _with(MsgTimeStamp="1"), 90006, "MsgTimeStamp"),
    ("MsgTimeStamp over int64", "openim/sendmsg", _with(MsgTimeStamp=2**64 - 1), 90006, "MsgTimeStamp"),
    ("MsgBody object", "openim/sendmsg", _with(MsgBody={}), 90007, "MsgBody"),
    ("MsgBody empty", "openim/sendmsg", _with(MsgBody=[]), 90002, "MsgBody"),
    ("MsgBody item no content", "openim/sendmsg", _items({"MsgType": "TIMTextElem"}), 90002, "MsgContent"),
    ("unknown MsgType", "openim/sendmsg", _items(_elem("TIMNopeElem")), 90002, "MsgType"),
    ("Text not a string", "openim/sendmsg", _items(_elem("TIMTextElem", Text=5)), 90002, "Text"),
    ("two custom elems", "openim/sendmsg",
     _items(_elem("TIMCustomElem", Data="x"), _elem("TIMCustomElem", Data="y")), 90002, "TIMCustomElem"),
    ("body over 12 KB", "openim/sendmsg", _with(MsgBody=text("x" * 13000)), 80002, "MsgBody"),
    ("batch To_Account string", "openim/batchsendmsg", _with(To_Account="bob"), 90003, "To_Account"),
    ("group not json", "group_open_http_svc/send_group_msg", b"{", 10011, "JSON"),
    ("group Random string", "group_open_http_svc/send_group_msg",
     json.dumps({"GroupId": "g", "Random": "1", "MsgBody": text()}).encode(), 10004, "Random"),
    ("group MsgBody item", "group_open_http_svc/send_group_msg",
     json.dumps({"GroupId": "g", "Random": 1, "MsgBody": [{"MsgType": 1}]}).encode(), 10004, "MsgType"),
    ("forbid ShutUpTime string", "group_open_http_svc/forbid_send_msg",
     json.dumps({"GroupId": "g", "Members_Account": ["a"], "ShutUpTime": "60"}).encode(),
     10004, "ShutUpTime"),
    ("forbid ShutUpTime over uint32", "group_open_http_svc/forbid_send_msg",
     json.dumps({"GroupId": "g", "Members_Account": ["a"], "ShutUpTime": 2**32}).encode(),
     10004, "ShutUpTime"),
    ("owner missing", "group_open_http_svc/change_group_owner", b'{"GroupId": "g"}',
     10004, "NewOwner_Account"),
    ("roles not a list", "group_open_http_svc/get_role_in_group",
     b'{"GroupId": "g", "User_Account": "a"}', 10004, "User_Account"),
    ("import CreateTime string", "group_open_http_svc/import_group",
     b'{"Type": "Public", "Name": "n", "CreateTime": "1"}', 10004, "CreateTime"),
    ("push not json", "all_member_push/im_push", b"{", 90001, "JSON"),
    ("push MsgRandom string", "all_member_push/im_push",
     json.dumps({"MsgRandom": "1", "MsgBody": text()}).encode(), 90005, "MsgRandom"),
    ("push To_Account string", "all_member_push/im_get_tag", b'{"To_Account": "a"}', 90003, "To_Account"),
    ("attr names not an object", "all_member_push/im_set_attr_name", b'{"AttrNames": ["a"]}',
     90001, "AttrNames"),
    ("receipt C2CMsgInfo object", "openim/c2c_msg_read_receipt",
     b'{"Operator_Account": "a", "Peer_Account": "b", "C2CMsgInfo": {}}', 90001, "C2CMsgInfo"),
    ("receipt detail MsgSeq string", "group_open_http_svc/get_group_msg_receipt_detail",
     b'{"GroupId": "g", "MsgSeq": "1"}', 10004, "MsgSeq"),
    ("ext not json", "openim_msg_ext_http_svc/set_key_values", b"{", 90001, "JSON"),
    ("ext MsgKey number", "openim_msg_ext_http_svc/get_key_values", b'{"To_Account": "b", "MsgKey": 1}',
     90054, "MsgKey"),
    ("group ext MsgSeq over uint32", "openim_msg_ext_http_svc/group_set_key_values",
     json.dumps({"GroupId": "g", "MsgSeq": 2**32, "OperateType": 1}).encode(), 90001, "MsgSeq"),
    ("account not json", "im_open_login_svc/account_import", b"{", 60003, "JSON"),
    ("account UserID number", "im_open_login_svc/account_import", b'{"UserID": 1}', 70402, "UserID"),
    ("recentcontact not json", "recentcontact/get_list", b"{", 60003, "JSON"),
    ("recentcontact From_Account number", "recentcontact/get_list",
     b'{"From_Account": 5}', 50002, "From_Account"),
    ("recentcontact Type string", "recentcontact/delete",
     b'{"From_Account": "a", "Type": "1"}', 50002, "Type"),
    ("recentcontact MarkItem object", "recentcontact/mark_contact",
     b'{"From_Account": "a", "MarkItem": {}}', 50002, "MarkItem"),
    ("recentcontact no items", "recentcontact/top", b'{"From_Account": "a", "OperationType": 1}', 50002,
     "RecentContactItem"),
    ("unread negative", "group_open_http_svc/set_unread_msg_num",
     b'{"GroupId": "g1", "Member_Account": "bob", "UnreadMsgNum": -1}', 10004, "UnreadMsgNum"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("endpoint", "body", "code", "mentions"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
async def test_malformed_bodies_get_the_endpoints_tim_code(
    tim: Tim, endpoint: str, body: bytes, code: int, mentions: str
) -> None:
    """Malformed input is an HTTP 200 envelope with the field's TIM code, never a 500."""
    reply = await tim.post(endpoint, raw=body)
    assert (reply["ActionStatus"], reply["ErrorCode"]) == ("FAIL", code), reply
    assert mentions in reply["ErrorInfo"]
    assert len(reply["ErrorInfo"]) <= 200


async def test_body_over_one_mebibyte_is_93000(tim: Tim) -> None:
    """A request body beyond 1 MiB is refused with 93000, not read into memory."""
    reply = await tim.post("openim/sendmsg", raw=b" " * (1024 * 1024 + 1))
    assert reply["ErrorCode"] == 93000


async def test_unknown_fields_are_ignored(tim: Tim) -> None:
    """Fields the server does not model (OfflinePushInfo, ...) are accepted and ignored."""
    await tim.ok("openim/sendmsg", c2c("bob", 1, OfflinePushInfo={"PushFlag": 0}))


# --- accounts --------------------------------------------------------------------------------------


async def test_imported_accounts_can_receive_when_auto_accounts_is_off() -> None:
    """account_import and multiaccount_import create accounts; unknown ones stay unknown."""
    async with serve(auto_accounts=False) as tim:
        await tim.ok("im_open_login_svc/account_import", {"UserID": "alice", "Nick": "Al"})
        reply = await tim.ok("im_open_login_svc/multiaccount_import", {"Accounts": ["bob", "", "x" * 33]})
        assert reply["FailAccounts"] == ["", "x" * 33]
        await tim.ok("openim/sendmsg", c2c("alice", 1))
        await tim.ok("openim/sendmsg", c2c("bob", 1))
        await tim.fails("openim/sendmsg", c2c("carol", 1), 90012)


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("im_open_login_svc/account_import", {"UserID": ""}),
        ("im_open_login_svc/account_import", {"UserID": "é" * 17}),
        ("im_open_login_svc/multiaccount_import", {"Accounts": [f"u{i}" for i in range(101)]}),
        ("im_open_login_svc/multiaccount_import", {"Accounts": []}),
    ],
)
async def test_bad_account_imports_are_70402(tim: Tim, endpoint: str, body: Any) -> None:
    """Over-long or empty UserIDs and batches beyond 100 are invalid parameters."""
    await tim.fails(endpoint, body, 70402)


async def test_helpers_add_accounts_and_groups() -> None:
    """add_accounts and create_group prepare state without any REST call."""
    async with serve(auto_accounts=False) as tim:
        await tim.server.add_accounts("alice", "bob")
        gid = await tim.server.create_group("team", owner="carol", members=["dave"])
        assert gid == "team"
        await tim.ok("openim/sendmsg", c2c("alice", 1))
        send = {"GroupId": "team", "Random": 1, "MsgBody": text(), "From_Account": "dave"}
        await tim.ok("group_open_http_svc/send_group_msg", send)
        with pytest.raises(ValueError):
            await tim.server.add_accounts("")


# --- openim/sendmsg --------------------------------------------------------------------------------


async def test_sendmsg_answers_server_time_and_msgkey(tim: Tim, clock: FakeClock) -> None:
    """MsgTime is the server clock and MsgKey is "{MsgSeq}_{MsgRandom}_{MsgTime}"."""
    now = int(clock())
    reply = await tim.ok("openim/sendmsg", c2c("bob", 42, MsgSeq=7, MsgTimeStamp=now - 50))
    assert (reply["MsgTime"], reply["MsgKey"]) == (now, f"7_42_{now}")
    omitted = await tim.ok("openim/sendmsg", c2c("bob", 43))
    assert re.fullmatch(rf"\d+_43_{now}", omitted["MsgKey"])
    msgs = (await tim.ok("openim/admin_getroammsg", roam("bob", "administrator")))["MsgList"]
    msg = next(m for m in msgs if m["MsgKey"] == reply["MsgKey"])
    assert (msg["MsgTimeStamp"], msg["MsgClientTime"]) == (now, now - 50)


async def test_sendmsg_creates_unknown_accounts_under_auto_accounts(tim: Tim) -> None:
    """With auto_accounts (the default) unknown senders and recipients are created on first use."""
    await tim.ok("openim/sendmsg", c2c("newcomer", 1, From_Account="stranger"))
    page = await tim.ok("openim/admin_getroammsg", roam("newcomer", "stranger"))
    assert page["MsgCnt"] == 1


async def test_sendmsg_accounts_must_exist_without_auto_accounts() -> None:
    """With auto_accounts=False an unknown sender is 90008 and an unknown recipient 90012."""
    async with serve(auto_accounts=False) as tim:
        await tim.server.add_accounts("bob")
        await tim.fails("openim/sendmsg", c2c("bob", 1, From_Account="ghost"), 90008)
        await tim.fails("openim/sendmsg", c2c("carol", 1), 90012)
        await tim.ok("openim/sendmsg", c2c("bob", 1))


async def test_sendmsg_dedup_replays_the_first_answer_within_the_second(tim: Tim, clock: FakeClock) -> None:
    """Same (From, To, MsgRandom) in the same second: stored once, first answer replayed."""
    first = await tim.ok("openim/sendmsg", c2c("bob", 5))
    clock.advance(0.5)
    again = await tim.ok("openim/sendmsg", c2c("bob", 5, MsgSeq=999))
    assert (again["MsgTime"], again["MsgKey"]) == (first["MsgTime"], first["MsgKey"])
    clock.advance(1)
    later = await tim.ok("openim/sendmsg", c2c("bob", 5))
    assert later["MsgKey"] != first["MsgKey"]
    page = await tim.ok("openim/admin_getroammsg", roam("administrator", "bob"))
    assert page["MsgCnt"] == 2


async def test_sendmsg_dedup_window_is_configurable(clock: FakeClock) -> None:
    """c2c_dedup_window=5 treats a resend 4 s later as the same message."""
    async with serve(clock=clock, c2c_dedup_window=5) as tim:
        first = await tim.ok("openim/sendmsg", c2c("bob", 5))
        clock.advance(4)
        assert (await tim.ok("openim/sendmsg", c2c("bob", 5)))["MsgKey"] == first["MsgKey"]
        clock.advance(1)
        assert (await tim.ok("openim/sendmsg", c2c("bob", 5)))["MsgKey"] != first["MsgKey"]


@pytest.mark.parametrize(
    ("fields", "sender_sees", "recipient_sees"),
    [({}, 1, 1), ({"SyncOtherMachine": 2}, 0, 1), ({"OnlineOnlyFlag": 1}, 0, 0)],
)
async def test_sendmsg_roaming_visibility(
    tim: Tim, fields: dict[str, int], sender_sees: int, recipient_sees: int
) -> None:
    """Both parties roam a message, unless SyncOtherMachine=2 or OnlineOnlyFlag=1 says no."""
    await tim.ok("openim/sendmsg", c2c("bob", 1, From_Account="administrator", **fields))
    mine = await tim.ok("openim/admin_getroammsg", roam("administrator", "bob"))
    theirs = await tim.ok("openim/admin_getroammsg", roam("bob", "administrator"))
    assert (mine["MsgCnt"], theirs["MsgCnt"]) == (sender_sees, recipient_sees)


# --- openim/batchsendmsg ---------------------------------------------------------------------------


def batch(to: list[str], random: int = 1) -> dict[str, Any]:
    return {"To_Account": to, "MsgRandom": random, "MsgBody": text()}


async def test_batchsendmsg_limits_recipients(tim: Tim) -> None:
    """More than 500 recipients is 90011; none at all is 90003."""
    await tim.fails("openim/batchsendmsg", batch([f"u{i}" for i in range(501)]), 90011)
    await tim.fails("openim/batchsendmsg", batch([]), 90003)


async def test_batchsendmsg_lists_unknown_recipients_and_delivers_the_rest() -> None:
    """Unknown recipients appear in ErrorList with 70107; the others get the one MsgKey."""
    async with serve(auto_accounts=False) as tim:
        await tim.server.add_accounts("alice", "bob")
        reply = await tim.ok("openim/batchsendmsg", batch(["alice", "ghost", "bob", ""]))
        assert reply["ErrorList"] == [
            {"To_Account": "ghost", "ErrorCode": 70107},
            {"To_Account": "", "ErrorCode": 70107},
        ]
        for user in ("alice", "bob"):
            page = await tim.ok("openim/admin_getroammsg", roam(user, "administrator"))
            assert [m["MsgKey"] for m in page["MsgList"]] == [reply["MsgKey"]]


async def test_batchsendmsg_all_delivered_has_an_empty_error_list(tim: Tim) -> None:
    """A fully delivered batch says so explicitly: ErrorList is [] rather than absent."""
    reply = await tim.ok("openim/batchsendmsg", batch([f"u{i}" for i in range(500)]))
    assert reply["ErrorList"] == []


async def test_batchsendmsg_retry_is_deduplicated_per_recipient(tim: Tim) -> None:
    """A retried batch in the same second stores nothing new and answers the same MsgKey."""
    first = await tim.ok("openim/batchsendmsg", batch(["alice", "bob"], random=9))
    retry = await tim.ok("openim/batchsendmsg", batch(["alice", "bob", "carol"], random=9))
    assert retry["MsgKey"] == first["MsgKey"]
    for user in ("alice", "bob", "carol"):
        page = await tim.ok("openim/admin_getroammsg", roam(user, "administrator"))
        assert [m["MsgKey"] for m in page["MsgList"]] == [first["MsgKey"]]


@pytest.mark.parametrize(("fields", "sender_sees"), [({}, 1), ({"SyncOtherMachine": 2}, 0)])
async def test_batchsendmsg_roams_for_the_sender_unless_told_not_to(
    tim: Tim, fields: dict[str, int], sender_sees: int
) -> None:
    """The sender roams each recipient's copy, unless SyncOtherMachine=2; recipients always do."""
    await tim.ok("openim/batchsendmsg", {**batch(["bob", "carol"]), "From_Account": "alice", **fields})
    seen = [
        (await tim.ok("openim/admin_getroammsg", roam(a, b)))["MsgCnt"]
        for a, b in [("alice", "bob"), ("alice", "carol"), ("bob", "alice"), ("carol", "alice")]
    ]
    assert seen == [sender_sees, sender_sees, 1, 1]


# --- openim/importmsg ------------------------------------------------------------------------------


def imported(frm: str, to: str, random: int, at: int, seq: int = 1, sync: int = 2) -> dict[str, Any]:
    return {
        "SyncFromOldSystem": sync,
        "From_Account": frm,
        "To_Account": to,
        "MsgSeq": seq,
        "MsgRandom": random,
        "MsgTimeStamp": at,
        "MsgBody": text(f"{frm}->{to} #{random}"),
    }


async def test_importmsg_keeps_the_given_time_and_dedups_in_either_direction(tim: Tim) -> None:
    """MsgTime = MsgTimeStamp; the same (seq, random, time) again, even reversed, is ignored."""
    await tim.ok("openim/importmsg", imported("alice", "bob", 3, at=1_600_000_000))
    await tim.ok("openim/importmsg", imported("alice", "bob", 3, at=1_600_000_000))
    await tim.ok("openim/importmsg", imported("bob", "alice", 3, at=1_600_000_000))
    page = await tim.ok("openim/admin_getroammsg", roam("alice", "bob"))
    assert [(m["MsgTimeStamp"], m["MsgKey"]) for m in page["MsgList"]] == [(1_600_000_000, "1_3_1600000000")]


@pytest.mark.parametrize(("sync", "code"), [(0, 90001), (3, 90001), ("2", 90001)])
async def test_importmsg_sync_from_old_system_must_be_1_or_2(tim: Tim, sync: Any, code: int) -> None:
    """SyncFromOldSystem outside TIM's values is refused."""
    await tim.fails("openim/importmsg", imported("alice", "bob", 1, at=1, sync=sync), code)


# --- openim/admin_getroammsg -----------------------------------------------------------------------


async def roam_all(tim: Tim, operator: str, peer: str, max_cnt: int = 100) -> list[list[str]]:
    """Page through the roaming history as TIM documents it; the MsgKeys of each page."""
    pages: list[list[str]] = []
    query = roam(operator, peer, MaxCnt=max_cnt)
    while True:
        reply = await tim.ok("openim/admin_getroammsg", query)
        page = reply["MsgList"]
        # TIM's documented page: oldest first, LastMsgKey naming the oldest (where paging goes on).
        assert [m["MsgTimeStamp"] for m in page] == sorted(m["MsgTimeStamp"] for m in page)
        assert not page or reply["LastMsgKey"] == page[0]["MsgKey"]
        pages.append([m["MsgKey"] for m in reversed(page)])  # newest first, as the walk goes
        assert reply["MsgCnt"] == len(reply["MsgList"]) <= min(max_cnt, 100)
        if reply["Complete"] == 1:
            return pages
        query = {**query, "MaxTime": reply["LastMsgTime"], "LastMsgKey": reply["LastMsgKey"]}


async def test_roaming_pages_visit_every_same_second_message_exactly_once(clock: FakeClock) -> None:
    """250 messages in one second with one MsgSeq page out (pages newest first), each exactly once."""
    # 250 imports in one frozen second is over TIM's 200/s: this test is about paging, not limits.
    async with serve(clock=clock, enforce_limits=False) as tim:
        await _page_same_second_messages(tim)


async def _page_same_second_messages(tim: Tim) -> None:
    at = 1_650_000_000
    for random in range(250):
        frm, to = ("alice", "bob") if random % 2 else ("bob", "alice")
        await tim.ok("openim/importmsg", imported(frm, to, random, at=at, seq=7))
    await tim.ok("openim/importmsg", imported("alice", "bob", 999, at=at - 1, seq=99))
    await tim.ok("openim/importmsg", imported("alice", "bob", 998, at=at + 1, seq=1))
    pages = await roam_all(tim, "alice", "bob", max_cnt=40)
    keys = [key for page in pages for key in page]
    assert len(keys) == len(set(keys)) == 252
    assert len(pages) >= 7
    assert keys[0] == f"1_998_{at + 1}" and keys[-1] == f"99_999_{at - 1}"
    # Ties are broken by insertion order, newest first.
    assert keys[1:-1] == [f"7_{r}_{at}" for r in reversed(range(250))]


async def test_roaming_reply_is_capped_in_bytes(tim: Tim) -> None:
    """Large messages make shorter pages (Complete=0) even below MaxCnt."""
    for random in range(4):
        await tim.ok("openim/sendmsg", c2c("bob", random, MsgBody=text("x" * 6000)))
    pages = await roam_all(tim, "administrator", "bob")
    assert [len(p) for p in pages] == [2, 2]


async def test_roaming_filters_by_time_range(tim: Tim) -> None:
    """Only messages with MinTime <= MsgTimeStamp <= MaxTime are returned."""
    for at in (100, 200, 300):
        await tim.ok("openim/importmsg", imported("alice", "bob", at, at=at))
    page = await tim.ok("openim/admin_getroammsg", roam("alice", "bob", MinTime=150, MaxTime=300))
    assert [m["MsgTimeStamp"] for m in page["MsgList"]] == [200, 300]


@pytest.mark.parametrize(
    ("fields", "code"),
    [({"LastMsgKey": "not-a-key"}, 90054), ({"LastMsgKey": "1_2_3"}, 90054), ({"MaxCnt": 0}, 90001)],
)
async def test_roaming_rejects_bad_paging_input(tim: Tim, fields: dict[str, Any], code: int) -> None:
    """A malformed or unknown LastMsgKey, or a MaxCnt below 1, is refused."""
    await tim.fails("openim/admin_getroammsg", roam("alice", "bob", **fields), code)


# --- openim/admin_msgwithdraw ----------------------------------------------------------------------


async def test_recalled_message_roams_with_flag_8_and_no_body(tim: Tim) -> None:
    """After a recall the message stays in roaming with MsgFlagBits 8 and an empty MsgBody."""
    sent = await tim.ok("openim/sendmsg", c2c("bob", 1, From_Account="administrator"))
    recall = {"From_Account": "administrator", "To_Account": "bob", "MsgKey": sent["MsgKey"]}
    await tim.ok("openim/admin_msgwithdraw", recall)
    for operator, peer in (("administrator", "bob"), ("bob", "administrator")):
        (msg,) = (await tim.ok("openim/admin_getroammsg", roam(operator, peer)))["MsgList"]
        assert (msg["MsgFlagBits"], msg["MsgBody"], msg["MsgKey"]) == (8, [], sent["MsgKey"])
    await tim.fails("openim/admin_msgwithdraw", recall, 20023)


@pytest.mark.parametrize(
    ("recall", "code"),
    [
        ({"From_Account": "administrator", "To_Account": "bob", "MsgKey": "1_2_3"}, 20022),
        ({"From_Account": "bob", "To_Account": "administrator", "MsgKey": "KEY"}, 20022),
        ({"From_Account": "administrator", "To_Account": "bob", "MsgKey": "junk"}, 90054),
        ({"From_Account": "ghost", "To_Account": "bob", "MsgKey": "1_2_3"}, 90008),
        ({"From_Account": "administrator", "To_Account": "ghost", "MsgKey": "1_2_3"}, 90003),
    ],
)
async def test_withdraw_errors(tim: Tim, recall: dict[str, str], code: int) -> None:
    """Unknown key 20022 (also in the wrong direction), bad key 90054, unknown accounts."""
    sent = await tim.ok("openim/sendmsg", c2c("bob", 1))
    recall = {k: sent["MsgKey"] if v == "KEY" else v for k, v in recall.items()}
    await tim.fails("openim/admin_msgwithdraw", recall, code)


# --- read marks and unread counts ------------------------------------------------------------------


def unread(to: str, peers: list[str] | None = None) -> dict[str, Any]:
    return {"To_Account": to} | ({} if peers is None else {"Peer_Account": peers})


def mark_read(reader: str, peer: str, **fields: Any) -> dict[str, Any]:
    return {"Report_Account": reader, "Peer_Account": peer, **fields}


async def test_unread_counts_before_and_after_set_msg_read(tim: Tim, clock: FakeClock) -> None:
    """Unread counts messages newer than the read mark; recalled ones do not count."""
    await tim.server.add_accounts("alice", "bob", "carol")
    sent = [await tim.ok("openim/sendmsg", c2c("alice", r, From_Account="bob")) for r in range(3)]
    await tim.ok("openim/sendmsg", c2c("alice", 9, From_Account="carol"))
    reply = await tim.ok("openim/get_c2c_unread_msg_num", unread("alice"))
    assert reply["AllC2CUnreadMsgNum"] == 4 and "C2CUnreadMsgNumList" not in reply
    reply = await tim.ok("openim/get_c2c_unread_msg_num", unread("alice", ["bob", "carol"]))
    assert reply["C2CUnreadMsgNumList"] == [
        {"Peer_Account": "bob", "C2CUnreadMsgNum": 3},
        {"Peer_Account": "carol", "C2CUnreadMsgNum": 1},
    ]
    recall = {"From_Account": "bob", "To_Account": "alice", "MsgKey": sent[0]["MsgKey"]}
    await tim.ok("openim/admin_msgwithdraw", recall)
    reply = await tim.ok("openim/get_c2c_unread_msg_num", unread("alice", ["bob", "ghost"]))
    assert reply["C2CUnreadMsgNumList"] == [{"Peer_Account": "bob", "C2CUnreadMsgNum": 2}]
    assert reply["ErrorList"] == [{"Peer_Account": "ghost", "ErrorCode": 70107}]

    await tim.ok("openim/admin_set_msg_read", {"Report_Account": "alice", "Peer_Account": "bob"})
    reply = await tim.ok("openim/get_c2c_unread_msg_num", unread("alice", ["bob", "carol"]))
    assert [d["C2CUnreadMsgNum"] for d in reply["C2CUnreadMsgNumList"]] == [0, 1]
    clock.advance(1)
    await tim.ok("openim/sendmsg", c2c("alice", 5, From_Account="bob"))
    reply = await tim.ok("openim/get_c2c_unread_msg_num", unread("alice", ["bob"]))
    assert reply["C2CUnreadMsgNumList"][0]["C2CUnreadMsgNum"] == 1


async def test_read_mark_sets_is_peer_read_in_roaming(tim: Tim, clock: FakeClock) -> None:
    """MsgReadTime (a string of seconds) marks messages up to it read: IsPeerRead 1."""
    now = int(clock())
    await tim.ok("openim/sendmsg", c2c("bob", 1))
    clock.advance(10)
    await tim.ok("openim/sendmsg", c2c("bob", 2))
    mark = {"Report_Account": "bob", "Peer_Account": "administrator", "MsgReadTime": str(now)}
    await tim.ok("openim/admin_set_msg_read", mark)
    page = await tim.ok("openim/admin_getroammsg", roam("administrator", "bob"))
    assert [m["IsPeerRead"] for m in page["MsgList"]] == [1, 0]  # oldest first


async def test_imported_history_does_not_count_as_unread(tim: Tim) -> None:
    """SyncFromOldSystem 2 imports history without unread; 1 counts as unread."""
    await tim.ok("openim/importmsg", imported("bob", "alice", 1, at=100, sync=2))
    await tim.ok("openim/importmsg", imported("bob", "alice", 2, at=101, sync=1))
    reply = await tim.ok("openim/get_c2c_unread_msg_num", unread("alice"))
    assert reply["AllC2CUnreadMsgNum"] == 1


@pytest.mark.parametrize(
    ("endpoint", "body", "code"),
    [
        ("openim/admin_set_msg_read", mark_read("ghost", "bob"), 90008),
        ("openim/admin_set_msg_read", mark_read("bob", "ghost"), 90003),
        ("openim/admin_set_msg_read", mark_read("bob", "administrator", MsgReadTime="soon"), 90001),
        ("openim/admin_set_msg_read", mark_read("bob", "administrator", MsgReadTime=-5), 90001),
        ("openim/admin_set_msg_read", mark_read("bob", "administrator", MsgReadTime=5.5), 90001),
        ("openim/get_c2c_unread_msg_num", unread("ghost"), 90003),
        ("openim/get_c2c_unread_msg_num", unread("bob", [f"u{i}" for i in range(11)]), 90001),
    ],
)  # fmt: skip
async def test_read_and_unread_errors(tim: Tim, endpoint: str, body: Any, code: int) -> None:
    """Unknown accounts, a MsgReadTime that is not a string of seconds, too many peers."""
    await tim.server.add_accounts("bob")
    await tim.fails(endpoint, body, code)


# --- openim/delete_c2c_msg_ramble ------------------------------------------------------------------


async def test_delete_ramble_hides_messages_for_the_operator_only(tim: Tim) -> None:
    """A one-sided delete removes the message from the operator's roaming, not the peer's."""
    kept = await tim.ok("openim/sendmsg", c2c("bob", 1))
    gone = await tim.ok("openim/sendmsg", c2c("bob", 2))
    delete = {
        "Operator_Account": "bob",
        "Peer_Account": "administrator",
        "MsgKeyList": [gone["MsgKey"], "1_1_1", "junk"],
    }
    reply = await tim.ok("openim/delete_c2c_msg_ramble", delete)
    assert reply["InvalidMsgKeyList"] == ["1_1_1", "junk"]
    bobs = await tim.ok("openim/admin_getroammsg", roam("bob", "administrator"))
    assert [m["MsgKey"] for m in bobs["MsgList"]] == [kept["MsgKey"]]
    admins = await tim.ok("openim/admin_getroammsg", roam("administrator", "bob"))
    assert admins["MsgCnt"] == 2


# --- groups ----------------------------------------------------------------------------------------


def group_send(group_id: str, random: int, **fields: Any) -> dict[str, Any]:
    return {"GroupId": group_id, "Random": random, "MsgBody": text(f"#{random}"), **fields}


async def test_create_group_with_and_without_an_id(tim: Tim) -> None:
    """A given GroupId is kept, a missing one becomes "@TGS#...", a taken one is 10021."""
    named = await tim.ok(
        "group_open_http_svc/create_group",
        {"Type": "Public", "Name": "Team", "GroupId": "team", "Owner_Account": "alice"},
    )
    assert named["GroupId"] == "team"
    generated = await tim.ok("group_open_http_svc/create_group", {"Type": "Work", "Name": "x"})
    assert generated["GroupId"].startswith("@TGS#")
    taken = {"Type": "Public", "Name": "again", "GroupId": "team"}
    await tim.fails("group_open_http_svc/create_group", taken, 10021)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Type": "Secret", "Name": "x"}, 10004),
        ({"Type": "Public", "Name": ""}, 10004),
        ({"Type": "Public", "Name": "x", "GroupId": "g" * 49}, 10015),
        ({"Type": "Public"}, 10004),
    ],
)
async def test_create_group_errors(tim: Tim, body: dict[str, Any], code: int) -> None:
    """Unknown Type, missing Name or an over-long GroupId are refused."""
    await tim.fails("group_open_http_svc/create_group", body, code)


async def test_add_group_member_reports_each_member() -> None:
    """Result 1 added, 2 already a member, 0 unknown account; 10010 for a missing group."""
    async with serve(auto_accounts=False) as tim:
        await tim.server.create_group("team", owner="alice", members=["bob"])
        await tim.server.add_accounts("carol")
        members = [{"Member_Account": m} for m in ("carol", "bob", "ghost")]
        reply = await tim.ok(
            "group_open_http_svc/add_group_member", {"GroupId": "team", "MemberList": members}
        )
        assert [m["Result"] for m in reply["MemberList"]] == [1, 2, 0]
        missing = {"GroupId": "nope", "MemberList": members}
        await tim.fails("group_open_http_svc/add_group_member", missing, 10010)


async def test_group_seq_increments_per_group(tim: Tim, clock: FakeClock) -> None:
    """Each group numbers its messages 1, 2, 3 ...; MsgTime is the server clock."""
    for gid in ("a", "b"):
        await tim.server.create_group(gid, owner="alice")
    seqs = [
        (await tim.ok("group_open_http_svc/send_group_msg", group_send(g, r)))["MsgSeq"]
        for g, r in (("a", 1), ("a", 2), ("b", 3), ("a", 4))
    ]
    assert seqs == [1, 2, 1, 3]
    reply = await tim.ok("group_open_http_svc/send_group_msg", group_send("b", 5))
    assert (reply["MsgSeq"], reply["MsgTime"]) == (2, int(clock()))


async def test_group_send_dedups_random_for_five_minutes(tim: Tim, clock: FakeClock) -> None:
    """The same Random within 5 minutes replays the first answer; after that it is new."""
    await tim.server.create_group("team", owner="alice")
    first = await tim.ok("group_open_http_svc/send_group_msg", group_send("team", 7))
    clock.advance(299)
    again = await tim.ok("group_open_http_svc/send_group_msg", group_send("team", 7))
    assert (again["MsgSeq"], again["MsgTime"]) == (first["MsgSeq"], first["MsgTime"])
    clock.advance(1)
    later = await tim.ok("group_open_http_svc/send_group_msg", group_send("team", 7))
    assert later["MsgSeq"] == first["MsgSeq"] + 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (group_send("nope", 1), 10010),
        (group_send("team", 1, From_Account="outsider"), 10007),
        (group_send("team", 1, MsgPriority="Urgent"), 10004),
        (group_send("team", 1, MsgBody=[{"MsgType": "TIMFaceElem", "MsgContent": {}}]), 10004),
        (group_send("team", 1, MsgBody=text("x" * 13000)), 80002),
    ],
)
async def test_group_send_errors(tim: Tim, body: dict[str, Any], code: int) -> None:
    """Missing group 10010, non-member sender 10007, bad priority or body 10004, long 80002."""
    await tim.server.create_group("team", owner="alice")
    await tim.server.add_accounts("outsider")
    await tim.fails("group_open_http_svc/send_group_msg", body, code)


async def test_group_members_and_the_admin_may_send(tim: Tim) -> None:
    """Members send as themselves; the admin sends without being a member."""
    await tim.server.create_group("team", owner="alice", members=["bob"])
    for sender in ("alice", "bob", None):
        fields = {} if sender is None else {"From_Account": sender}
        await tim.ok("group_open_http_svc/send_group_msg", group_send("team", 1, **fields))


def recall_seqs(group_id: str, *seqs: int) -> dict[str, Any]:
    return {"GroupId": group_id, "MsgSeqList": [{"MsgSeq": s} for s in seqs]}


def history(group_id: str, number: int, seq: int | None = None) -> dict[str, Any]:
    return {"GroupId": group_id, "ReqMsgNumber": number} | ({} if seq is None else {"ReqMsgSeq": seq})


async def test_group_history_pages_newest_first_20_at_most(tim: Tim) -> None:
    """group_msg_get_simple returns at most 20, newest first, IsFinished 0 when cut short."""
    await tim.server.create_group("team", owner="alice")
    for random in range(25):
        await tim.ok("group_open_http_svc/send_group_msg", group_send("team", random))
    first = await tim.ok("group_open_http_svc/group_msg_get_simple", history("team", 30))
    assert [m["MsgSeq"] for m in first["RspMsgList"]] == list(range(25, 5, -1))
    assert first["IsFinished"] == 0
    rest = await tim.ok("group_open_http_svc/group_msg_get_simple", history("team", 30, seq=5))
    assert [m["MsgSeq"] for m in rest["RspMsgList"]] == [5, 4, 3, 2, 1]
    assert rest["IsFinished"] == 1
    exact = await tim.ok("group_open_http_svc/group_msg_get_simple", history("team", 3, seq=10))
    assert ([m["MsgSeq"] for m in exact["RspMsgList"]], exact["IsFinished"]) == ([10, 9, 8], 1)
    assert exact["RspMsgList"][0]["MsgBody"] == text("#9")


async def test_group_recall_marks_place_messages(tim: Tim) -> None:
    """Recall answers per seq (0 ok, 10032 again, 10030 unknown); history shows IsPlaceMsg 2."""
    await tim.server.create_group("team", owner="alice")
    for random in range(3):
        await tim.ok("group_open_http_svc/send_group_msg", group_send("team", random))
    reply = await tim.ok("group_open_http_svc/group_msg_recall", recall_seqs("team", 2, 2, 9))
    assert [(r["MsgSeq"], r["RetCode"]) for r in reply["RecallRetList"]] == [
        (2, 0),
        (2, 10032),
        (9, 10030),
    ]
    page = await tim.ok("group_open_http_svc/group_msg_get_simple", history("team", 3))
    assert [(m["MsgSeq"], m["IsPlaceMsg"], m["MsgBody"] == []) for m in page["RspMsgList"]] == [
        (3, 0, False),
        (2, 2, True),
        (1, 0, False),
    ]


@pytest.mark.parametrize(
    ("endpoint", "body", "code"),
    [
        ("group_open_http_svc/group_msg_recall", recall_seqs("team", *[1] * 11), 10004),
        ("group_open_http_svc/group_msg_recall", recall_seqs("team"), 10004),
        ("group_open_http_svc/group_msg_recall", recall_seqs("nope", 1), 10010),
        ("group_open_http_svc/group_msg_get_simple", {"GroupId": "nope", "ReqMsgNumber": 1}, 10010),
        ("group_open_http_svc/group_msg_get_simple", {"GroupId": "team", "ReqMsgNumber": 0}, 10004),
    ],
)  # fmt: skip
async def test_group_history_and_recall_errors(
    tim: Tim, endpoint: str, body: dict[str, Any], code: int
) -> None:
    """Unknown groups are 10010; empty or oversized requests are 10004."""
    await tim.server.create_group("team", owner="alice")
    await tim.fails(endpoint, body, code)


def group_import(group_id: str, *items: tuple[str, int, int]) -> dict[str, Any]:
    msgs = [
        {"From_Account": frm, "SendTime": at, "Random": random, "MsgBody": text(f"{frm}@{at}")}
        for frm, at, random in items
    ]
    return {"GroupId": group_id, "MsgList": msgs}


async def test_import_group_msg_assigns_seqs_and_dedups(tim: Tim, clock: FakeClock) -> None:
    """Imported messages get seqs in order; a retried import answers the same seqs."""
    now = int(clock())
    await tim.server.create_group("team", owner="alice", created=now - 3600)
    body = group_import("team", ("alice", now - 30, 1), ("bob", now - 20, 2), ("alice", now - 20, 3))
    first = await tim.ok("group_open_http_svc/import_group_msg", body)
    assert [(r["MsgSeq"], r["MsgTime"], r["Result"]) for r in first["ImportMsgResult"]] == [
        (1, now - 30, 0),
        (2, now - 20, 0),
        (3, now - 20, 0),
    ]
    again = await tim.ok("group_open_http_svc/import_group_msg", body)
    assert again["ImportMsgResult"] == first["ImportMsgResult"]
    sent = await tim.ok("group_open_http_svc/send_group_msg", group_send("team", 1))
    assert sent["MsgSeq"] == 4


async def test_import_group_msg_names_the_item_whose_number_sqlite_cannot_hold(tim: Tim) -> None:
    """An integer past int64 deep in a list is refused, and the error says which item holds it."""
    await tim.server.create_group("team", owner="alice")
    body = group_import("team", ("alice", 1_700_000_000, 1), ("bob", 2**64 - 1, 2))
    reply = await tim.fails("group_open_http_svc/import_group_msg", body, 10004)
    assert "$.MsgList[1].SendTime" in reply["ErrorInfo"], reply


async def test_import_group_msg_refuses_bad_times_per_message(tim: Tim, clock: FakeClock) -> None:
    """Out-of-order or future SendTime gives Result 10004 for that message only."""
    now = int(clock())
    await tim.server.create_group("team", owner="alice", created=now - 3600)
    body = group_import("team", ("alice", now - 10, 1), ("alice", now - 20, 2), ("alice", now + 60, 3))
    reply = await tim.ok("group_open_http_svc/import_group_msg", body)
    assert [r["Result"] for r in reply["ImportMsgResult"]] == [0, 10004, 10004]
    many = group_import("team", *[("alice", now - 100 + i, i) for i in range(8)])
    await tim.fails("group_open_http_svc/import_group_msg", many, 10004)
