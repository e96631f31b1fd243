"""Issue 6, part 2: request hardening of the dev server, and text that must survive byte-exactly.

Hostile bodies (numbers past 2**64, NaN and Infinity tokens, nesting bombs, wrong types, lists and
bodies over TIM's limits, undecodable Content-Encoding) each get TIM's code in an HTTP 200
envelope, and the server stays healthy afterwards. The cases in test_devserver's MALFORMED table
are not repeated here. SQL only ever carries values as bound parameters.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiosqlite
import pytest

from aio_tim import ConvType
from aio_tim.auth import mint_usersig
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

# --- helpers -----------------------------------------------------------------------------------


def text(content: str = "hi") -> list[dict[str, Any]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": content}}]


GOOD: dict[str, Any] = {"To_Account": "bob", "MsgRandom": 1, "MsgBody": text()}


def send(**fields: Any) -> bytes:
    return json.dumps({**GOOD, **fields}).encode()


def send_with(name: str, token: bytes) -> bytes:
    """A good sendmsg body with field `name` spelled as raw JSON (tokens json.dumps cannot write)."""
    rest = json.dumps({k: v for k, v in GOOD.items() if k != name}).encode()
    return rest[:-1] + b', "' + name.encode() + b'": ' + token + b"}"


def body_with(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode()


def roam(operator: Any, peer: Any, **fields: Any) -> dict[str, Any]:
    return {"Operator_Account": operator, "Peer_Account": peer, "MaxCnt": 100, "MinTime": 0,
            "MaxTime": 2**40, **fields}  # fmt: skip


def group_send(**fields: Any) -> bytes:
    return body_with({"GroupId": "team", "Random": 1, "MsgBody": text(), **fields})


DEEP_OBJECT = b'{"a": ' * 50_000 + b"1" + b"}" * 50_000
DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
BIG_DIGITS = b"9" * 100_000  # past Python's 4300-digit int parsing limit
TOO_BIG = 13 * 1024  # past TIM's 12 KB MsgBody limit


class Rest:
    def __init__(self, server: DevServer, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http
        self.query = {
            "sdkappid": str(server.sdk_app_id),
            "identifier": server.admin,
            "usersig": mint_usersig(server.sdk_app_id, server.secret_key, server.admin),
            "random": "99",
            "contenttype": "json",
        }

    async def post(self, endpoint: str, raw: bytes, headers: dict[str, str] | None = None) -> dict[str, Any]:
        url = f"{self.server.url}/v4/{endpoint}"
        # BytesIO: aiohttp warns about large raw bytes bodies.
        async with self.http.post(url, params=self.query, data=io.BytesIO(raw), headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            reply: dict[str, Any] = await resp.json()
        assert {"ActionStatus", "ErrorCode", "ErrorInfo"} <= reply.keys()
        assert reply["ActionStatus"] == ("OK" if reply["ErrorCode"] == 0 else "FAIL"), reply
        return reply

    async def ok(self, endpoint: str, body: Any) -> dict[str, Any]:
        reply = await self.post(endpoint, body_with(body))
        assert reply["ErrorCode"] == 0, reply
        return reply

    async def assert_healthy(self) -> None:
        """/healthz answers and a valid send is stored: the bad request left nothing broken."""
        async with self.http.get(f"{self.server.url}/healthz") as resp:
            assert (resp.status, await resp.text()) == (200, "ok")
        await self.ok("openim/sendmsg", {**GOOD, "MsgRandom": 424242})


@pytest.fixture
async def rest() -> AsyncIterator[Rest]:
    async with DevServer() as server, aiohttp.ClientSession() as http:
        await server.create_group("team", owner="alice")
        yield Rest(server, http)


# --- the table of hostile requests --------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    endpoint: str
    body: bytes
    code: int
    headers: dict[str, str] = field(default_factory=dict)


OPENIM = "openim/sendmsg"
GROUP = "group_open_http_svc/send_group_msg"
ACCOUNT = "im_open_login_svc/account_import"

HOSTILE: list[Case] = [
    # numbers beyond what the field or sqlite can hold
    Case("MsgRandom 2**64", OPENIM, send(MsgRandom=2**64), 90005),
    Case("MsgRandom 10**30", OPENIM, send(MsgRandom=10**30), 90005),
    Case("MsgRandom 100k digits", OPENIM, send_with("MsgRandom", BIG_DIGITS), 90005),
    Case("MsgRandom negative", OPENIM, send(MsgRandom=-1), 90005),
    Case("MsgRandom below int64", OPENIM, send(MsgRandom=-(2**63) - 1), 90005),
    Case("MsgRandom 1e400", OPENIM, send_with("MsgRandom", b"1e400"), 90005),
    Case("MsgSeq over uint32", OPENIM, send(MsgSeq=2**32), 90001),
    Case("MsgTimeStamp 10**30", OPENIM, send(MsgTimeStamp=10**30), 90006),
    Case("MsgTimeStamp negative", OPENIM, send(MsgTimeStamp=-1), 90006),
    Case("MsgLifeTime 10**30", OPENIM, send(MsgLifeTime=10**30), 90044),
    Case("SyncOtherMachine 10**30", OPENIM, send(SyncOtherMachine=10**30), 90031),
    Case("100k digits in MsgContent", OPENIM,
         send_with("MsgBody", b'[{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "x", "N": '
                   + BIG_DIGITS + b"}}]"), 90002),
    Case("1e400 in MsgContent", OPENIM,
         send_with("MsgBody", b'[{"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1e400}}]'), 90002),
    Case("MaxCnt 2**64", "openim/admin_getroammsg", body_with(roam("a", "b", MaxCnt=2**64)), 90001),
    Case("MinTime below int64", "openim/admin_getroammsg", body_with(roam("a", "b", MinTime=-(2**63) - 1)),
         90001),
    Case("group Random 2**32", GROUP, group_send(Random=2**32), 10004),
    Case("group Random negative", GROUP, group_send(Random=-1), 10004),
    Case("group ReqMsgSeq 2**70", "group_open_http_svc/group_msg_get_simple",
         body_with({"GroupId": "team", "ReqMsgNumber": 5, "ReqMsgSeq": 2**70}), 10004),
    # tokens that are not JSON
    Case("Infinity", OPENIM, send_with("MsgRandom", b"Infinity"), 90001),
    Case("-Infinity", OPENIM, send_with("MsgTimeStamp", b"-Infinity"), 90001),
    Case("NaN in MsgContent", OPENIM,
         send_with("MsgBody", b'[{"MsgType": "TIMFaceElem", "MsgContent": {"Index": NaN}}]'), 90001),
    Case("group NaN", GROUP, b'{"GroupId": "team", "Random": NaN, "MsgBody": []}', 10011),
    Case("account Infinity", ACCOUNT, b'{"UserID": Infinity}', 60003),
    Case("lone surrogate escape", OPENIM, send_with("CloudCustomData", b'"\\ud800"'), 90001),
    Case("UTF-8 BOM", OPENIM, b"\xef\xbb\xbf" + send(), 90001),
    Case("UTF-16 body", OPENIM, json.dumps(GOOD).encode("utf-16"), 90001),
    Case("trailing garbage", OPENIM, send() + b" x", 90001),
    Case("two documents", OPENIM, send() + send(), 90001),
    # nesting bombs, per error family
    Case("deep objects", OPENIM, DEEP_OBJECT, 90001),
    Case("deep objects in an unknown field", OPENIM, send_with("Ext", DEEP_OBJECT), 90001),
    Case("group deep arrays", GROUP, DEEP_ARRAY, 10011),
    Case("group deep in MsgContent", GROUP,
         group_send()[:-1] + b', "X": {"y": ' + DEEP_ARRAY + b"}}", 10011),
    Case("account deep arrays", ACCOUNT, DEEP_ARRAY, 60003),
    # wrong types
    Case("root null", OPENIM, b"null", 90001),
    Case("root number", OPENIM, b"1", 90001),
    Case("To_Account null", OPENIM, send(To_Account=None), 90003),
    Case("To_Account a list", OPENIM, send(To_Account=["bob"]), 90003),
    Case("MsgBody null", OPENIM, send(MsgBody=None), 90007),
    Case("MsgBody a string", OPENIM, send(MsgBody="hi"), 90007),
    Case("Operator_Account a number", "openim/admin_getroammsg", body_with(roam(7, "b")), 90008),
    Case("MsgKey a number", "openim/admin_msgwithdraw",
         body_with({"From_Account": "a", "To_Account": "b", "MsgKey": 7}), 90054),
    Case("GroupId a number", GROUP, group_send(GroupId=7), 10004),
    Case("UserID null", ACCOUNT, b'{"UserID": null}', 70402),
    # over-long lists
    Case("batch of 10,000", "openim/batchsendmsg",
         body_with({**GOOD, "To_Account": [f"u{i}" for i in range(10_000)]}), 90011),
    Case("unread peers 10,000", "openim/get_c2c_unread_msg_num",
         body_with({"To_Account": "administrator", "Peer_Account": [f"u{i}" for i in range(10_000)]}), 90001),
    Case("101 MsgKeys to delete", "openim/delete_c2c_msg_ramble",
         body_with({"Operator_Account": "a", "Peer_Account": "b", "MsgKeyList": ["1_1_1"] * 101}), 90001),
    Case("10,000 accounts to import", "im_open_login_svc/multiaccount_import",
         body_with({"Accounts": [f"u{i}" for i in range(10_000)]}), 70402),
    Case("501 members to add", "group_open_http_svc/add_group_member",
         body_with({"GroupId": "team", "MemberList": [{"Member_Account": f"u{i}"} for i in range(501)]}),
         10004),
    Case("10,000 seqs to recall", "group_open_http_svc/group_msg_recall",
         body_with({"GroupId": "team", "MsgSeqList": [{"MsgSeq": i} for i in range(10_000)]}), 10004),
    # message bodies over TIM's 12 KB
    Case("batch body over 12 KB", "openim/batchsendmsg",
         body_with({**GOOD, "To_Account": ["bob"], "MsgBody": text("x" * TOO_BIG)}), 80002),
    Case("imported body over 12 KB", "openim/importmsg",
         body_with({"SyncFromOldSystem": 1, "From_Account": "a", "To_Account": "b", "MsgRandom": 1,
                    "MsgTimeStamp": 1, "MsgBody": text("x" * TOO_BIG)}), 80002),
    Case("many small elements over 12 KB", OPENIM, send(MsgBody=text("x" * 20) * 700), 80002),
    Case("multi-byte text over 12 KB", OPENIM, send(MsgBody=text("好" * 4500)), 80002),
    # the request body itself
    Case("body over 1 MiB, group", GROUP, b" " * (1024 * 1024 + 1), 93000),
    Case("body over 1 MiB, account", ACCOUNT, b" " * (1024 * 1024 + 1), 93000),
    Case("gzip bomb", OPENIM, gzip.compress(b" " * (64 * 1024 * 1024)), 93000, {"Content-Encoding": "gzip"}),
    Case("gzip that is not gzip", OPENIM, b"not gzip at all", 90001, {"Content-Encoding": "gzip"}),
    Case("group deflate that is not deflate", GROUP, b"nope", 10011, {"Content-Encoding": "deflate"}),
]  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE, ids=[case.name for case in HOSTILE])
async def test_hostile_requests_get_tim_codes_and_leave_the_server_healthy(rest: Rest, case: Case) -> None:
    """Each hostile request is an HTTP 200 envelope with TIM's code; then all still works."""
    reply = await rest.post(case.endpoint, case.body, case.headers)
    assert reply["ErrorCode"] == case.code, reply
    assert len(reply["ErrorInfo"]) <= 200
    await rest.assert_healthy()


async def test_gzip_request_bodies_are_accepted(rest: Rest) -> None:
    """A well-formed gzip body decodes like a plain one (the cap applies after inflating)."""
    reply = await rest.post(OPENIM, gzip.compress(send(MsgRandom=7)), {"Content-Encoding": "gzip"})
    assert reply["ErrorCode"] == 0


async def test_a_chunked_body_over_the_cap_is_93000(rest: Rest) -> None:
    """Without Content-Length the cap still applies while reading."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(48):
            yield b" " * 65536

    url = f"{rest.server.url}/v4/{OPENIM}"
    async with rest.http.post(url, params=rest.query, data=chunks()) as resp:
        assert resp.status == 200
        assert (await resp.json())["ErrorCode"] == 93000
    await rest.assert_healthy()


async def test_an_undecodable_brotli_body_is_never_a_500(rest: Rest) -> None:
    """Without the Brotli package aiohttp refuses `br` before any handler runs (HTTP 400); with
    it, the garbage fails to decode (90001). Either way: no 500, and the server stays healthy."""
    url = f"{rest.server.url}/v4/{OPENIM}"
    async with rest.http.post(
        url, params=rest.query, data=b"xxxx", headers={"Content-Encoding": "br"}
    ) as resp:
        if resp.status == 200:
            assert (await resp.json())["ErrorCode"] == 90001
        else:
            assert 400 <= resp.status < 500
    await rest.assert_healthy()


async def test_many_hostile_requests_at_once_leave_the_server_healthy(rest: Rest) -> None:
    """The hostile table fired concurrently: no crash, no deadlock, no lost valid send."""
    small = [case for case in HOSTILE if len(case.body) < 200_000]
    await asyncio.gather(*(rest.post(c.endpoint, c.body, c.headers) for c in small))
    await rest.assert_healthy()


# --- byte-exact text -------------------------------------------------------------------------------

TRICKY_TEXTS = [
    'it\'s "quoted" \\ back\\slash',
    "nul\x00inside\x00",
    "100% of _all_ LIKE wildcards: % _ %% __ [a-z] \\%",
    "astral 😀 𝄞 𠜎 and ZWJ 👩‍👩‍👧",
    "'; DROP TABLE c2c_msgs; --",
    "\u2028line\u2029separators\r\n\t",
    "  leading and trailing spaces  ",
]
TRICKY_USERS = ["o'b\"%_x", "a%", "a_", "😀user"]


async def test_tricky_text_round_trips_through_the_server(rest: Rest) -> None:
    """Text goes in with sendmsg and comes back from admin_getroammsg unchanged, byte for byte."""
    for random, content in enumerate(TRICKY_TEXTS, start=1):
        body = {**GOOD, "MsgRandom": random, "MsgBody": text(content), "CloudCustomData": content}
        await rest.ok(OPENIM, body)
    page = await rest.ok("openim/admin_getroammsg", roam("administrator", "bob"))
    # One second, random MsgSeqs: the order is arbitrary, the content is not.
    got = sorted(m["MsgBody"][0]["MsgContent"]["Text"].encode() for m in page["MsgList"])
    assert got == sorted(t.encode() for t in TRICKY_TEXTS)
    assert all(m["CloudCustomData"] == m["MsgBody"][0]["MsgContent"]["Text"] for m in page["MsgList"])


async def test_tricky_account_ids_are_matched_exactly_not_as_patterns(rest: Rest) -> None:
    """ "a%" and "a_" are accounts of their own: no LIKE matching, no quoting trouble."""
    for random, user in enumerate([*TRICKY_USERS, "ab"], start=1):
        await rest.ok(OPENIM, {**GOOD, "To_Account": user, "MsgRandom": random, "MsgBody": text(user)})
    for user in [*TRICKY_USERS, "ab"]:
        page = await rest.ok("openim/admin_getroammsg", roam(user, "administrator"))
        assert [m["MsgBody"][0]["MsgContent"]["Text"] for m in page["MsgList"]] == [user]
        assert page["MsgList"][0]["To_Account"] == user


async def test_tricky_text_round_trips_through_the_client_store(dev_server: DevServer) -> None:
    """send_new_msg then get_msg_list: the local store returns every text unchanged."""
    async with client_for(dev_server, "alice") as tim:
        for content in TRICKY_TEXTS:
            msg = {"message_elem_array": [{"elem_type": 0, "text_elem_content": content}],
                   "message_cloud_custom_str": content}  # fmt: skip
            await tim.msg.send_new_msg("o'b%_😀", ConvType.C2C, msg)
        page = await tim.msg.get_msg_list("o'b%_😀", ConvType.C2C, {"msg_getmsglist_param_count": 100})
    got = sorted(m.elem_array[0].content for m in page)  # type: ignore[union-attr]
    assert [t.encode() for t in got] == sorted(t.encode() for t in TRICKY_TEXTS)
    assert sorted(m.cloud_custom_str or "" for m in page) == sorted(TRICKY_TEXTS)


# --- SQL carries values only as bound parameters ----------------------------------------------------

MARKER = "zq'\"%_marker😀"


@pytest.fixture
def executed_sql(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement any aiosqlite connection runs (server and client store alike)."""
    seen: list[str] = []
    real = aiosqlite.Connection._execute

    async def spy(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], str):
            seen.append(args[0])
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", spy)
    yield seen


async def test_values_never_reach_sql_text(executed_sql: list[str]) -> None:
    """Accounts, texts, keys and group ids chosen by callers travel as parameters, never as SQL."""
    async with DevServer() as server, aiohttp.ClientSession() as http:
        rest = Rest(server, http)
        await server.create_group(MARKER[:20], owner=MARKER[:10])
        sent = await rest.ok(OPENIM, {**GOOD, "To_Account": MARKER, "MsgBody": text(MARKER),
                                      "CloudCustomData": MARKER})  # fmt: skip
        await rest.ok("openim/admin_getroammsg", roam(MARKER, "administrator", LastMsgKey=sent["MsgKey"]))
        await rest.post("openim/admin_msgwithdraw", body_with({"From_Account": MARKER, "To_Account": MARKER,
                                                               "MsgKey": sent["MsgKey"]}))  # fmt: skip
        await rest.post(GROUP, group_send(GroupId=MARKER[:20], MsgBody=text(MARKER)))
        async with client_for(server, "alice") as tim:
            msg = {"message_elem_array": [{"elem_type": 0, "text_elem_content": MARKER}]}
            await tim.msg.send_new_msg(MARKER, ConvType.C2C, msg)
            await tim.msg.get_msg_list(MARKER, ConvType.C2C, {"msg_getmsglist_param_count": 5})
    assert len(executed_sql) > 20
    for fragment in ("zq", "marker", "😀"):
        assert not [sql for sql in executed_sql if fragment in sql]
