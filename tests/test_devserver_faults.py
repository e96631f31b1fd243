"""Fault switches: a dev server that answers TIM error codes, adds latency, fails webhook
deliveries and switches its rate limits, on purpose, through the Python and the HTTP API."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from aio_tim import Client, ConvType, Message, MsgStatus, TextElem
from aio_tim.auth import UserSigCache, mint_usersig
from aio_tim.connection import ConnectionManager
from aio_tim.devserver import DevServer
from aio_tim.devserver.faults import FaultSwitches
from aio_tim.errors import AuthError, NotFoundError, TIMError, UsageError
from aio_tim.protocol import callbacks as cb
from aio_tim.protocol.msgbody import to_msg_body
from aio_tim.protocol.openim import SendMsg
from aio_tim.testing import client_for

SEND = "openim/sendmsg"
BODY = to_msg_body([TextElem(content="hi")])


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


@pytest_asyncio.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(rng=random.Random(7)) as srv:
        yield srv


@pytest_asyncio.fixture
async def alice(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "alice") as client:
        yield client


@pytest_asyncio.fixture
async def raw(server: DevServer) -> AsyncIterator[ConnectionManager]:
    """One REST connection with no retries: every call's own answer is seen."""
    signer = UserSigCache(server.sdk_app_id, server.secret_key, server.admin)
    connection = ConnectionManager(server.url, server.sdk_app_id, signer)
    await connection.open()
    yield connection
    await connection.aclose()


async def code_of(connection: ConnectionManager, n: int) -> int:
    """The ErrorCode one C2C send ends with (0: sent)."""
    try:
        await connection.call(SendMsg(To_Account="bob", From_Account="alice", MsgRandom=n, MsgBody=BODY))
    except TIMError as error:
        return error.code
    return 0


# --- REST faults, as the client sees them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"), [(70001, AuthError), (20003, NotFoundError), (90011, UsageError)]
)  # fmt: skip
async def test_a_fatal_code_fails_the_next_send_in_the_client(
    server: DevServer, alice: Client, code: int, kind: type[TIMError]
) -> None:
    """The pipeline does not retry auth, not-found or usage codes: the send fails with the chosen
    code and TIM's ErrorInfo; the fault is used up, so the send after it goes through."""
    server.faults.add(SEND, error_code=code, count=1)
    with pytest.raises(kind) as caught:
        await alice.msg.send_new_msg("bob", ConvType.C2C, text("one"))
    assert caught.value.code == code and caught.value.desc not in ("", "unknown error")
    assert server.faults.list() == []
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("two"))
    page = await alice.msg.get_msg_list("bob", ConvType.C2C, {"msg_getmsglist_param_is_remble": True})
    sent = [m.elem_array[0].content for m in page if m.status == MsgStatus.SEND_SUCC]  # type: ignore[union-attr]
    assert sent == ["two"]  # the refused one never reached the server


async def test_a_throttled_code_is_waited_out_and_retried(server: DevServer, alice: Client) -> None:
    """60018 is a frequency code: the pipeline waits and retries, so two refusals in a row still end
    in one sent message (and the fault has picked exactly two calls)."""
    server.faults.add(SEND, error_code=60018, count=2)
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("eventually"))
    assert sent.msg_id and server.faults.list() == []


async def test_a_transient_code_is_retried_with_the_same_keys(server: DevServer, alice: Client) -> None:
    """70500 may mean the server acted: the retry reuses MsgRandom, and one message is stored."""
    server.faults.add(SEND, error_code=70500, count=1)
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("once"))
    page = await alice.msg.get_msg_list("bob", ConvType.C2C, {"msg_getmsglist_param_is_remble": True})
    assert len(page) == 1


async def test_count_picks_exactly_the_next_n_calls(server: DevServer, raw: ConnectionManager) -> None:
    fault = server.faults.add(SEND, error_code=20003, count=3)
    assert [f.remaining for f in server.faults.list()] == [3]
    codes = [await code_of(raw, n) for n in range(5)]
    assert codes == [20003, 20003, 20003, 0, 0]
    assert not server.faults.remove(fault)  # used up: gone


async def test_a_fault_names_its_endpoint_or_every_one(server: DevServer, raw: ConnectionManager) -> None:
    server.faults.add("openim/query_online_status", error_code=20003, count=1)
    assert await code_of(raw, 1) == 0  # another endpoint: untouched
    server.faults.add("*", error_code=90011)
    assert [await code_of(raw, n) for n in (2, 3)] == [90011, 90011]  # no count: until removed
    server.faults.clear()
    assert await code_of(raw, 4) == 0


async def share_run(seed: int, share: float, calls: int, count: int | None = None) -> list[int]:
    async with DevServer(rng=random.Random(seed)) as srv:
        signer = UserSigCache(srv.sdk_app_id, srv.secret_key, srv.admin)
        connection = ConnectionManager(srv.url, srv.sdk_app_id, signer)
        await connection.open()
        try:
            srv.faults.add(SEND, error_code=20003, share=share, count=count)
            return [await code_of(connection, n) for n in range(calls)]
        finally:
            await connection.aclose()


async def test_share_picks_that_share_of_calls_the_same_way_for_a_seed() -> None:
    first = await share_run(11, 0.3, 200)
    assert 30 < first.count(20003) < 90 and set(first) == {0, 20003}
    assert await share_run(11, 0.3, 200) == first  # a seeded server picks the same calls
    bounded = await share_run(12, 0.5, 60, count=4)
    assert bounded.count(20003) == 4 and bounded[-20:] == [0] * 20


async def test_latency_holds_the_answer_back(server: DevServer, raw: ConnectionManager) -> None:
    server.faults.add(SEND, latency_ms=300, count=1)
    started = time.monotonic()
    assert await code_of(raw, 1) == 0  # slow, but answered
    assert time.monotonic() - started >= 0.3
    server.faults.add(SEND, latency_ms=100, error_code=60018, count=1)
    assert await code_of(raw, 2) == 60018


def test_bad_faults_are_refused_naming_the_field() -> None:
    from aio_tim.devserver.limits import RateLimiter

    switches = FaultSwitches(RateLimiter(None, time.time), random.Random(), [SEND], cb.KNOWN_COMMANDS)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"endpoint": "openim/nope", "error_code": 1}, "endpoint"),
        ({"endpoint": SEND}, "error_code or latency_ms"),
        ({"endpoint": SEND, "error_code": -1}, "error_code"),
        ({"endpoint": SEND, "error_code": 1, "count": 0}, "count"),
        ({"endpoint": SEND, "error_code": 1, "share": 1.5}, "share"),
        ({"endpoint": SEND, "latency_ms": 10**9}, "latency_ms"),
        ({"endpoint": SEND, "error_code": 1, "webhook": True}, "endpoint"),
        ({"endpoint": cb.C2C_AFTER_SEND_MSG, "error_code": 60018, "webhook": True}, "error_code"),
    ]
    for fields, named in cases:
        with pytest.raises(ValueError, match=named):
            switches.add(**fields)
    assert switches.list() == []


# --- webhook faults ---------------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(json.loads(await request.read()))
        return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})


@pytest_asyncio.fixture
async def hook(server: DevServer) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/hook", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    recorder.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    server.set_webhook(recorder.url, commands={cb.C2C_AFTER_SEND_MSG})
    yield recorder
    await runner.cleanup()


async def test_a_webhook_delivery_fails_then_the_next_succeeds(
    server: DevServer, alice: Client, hook: Recorder
) -> None:
    server.faults.add(cb.C2C_AFTER_SEND_MSG, webhook=True, error_code=503, count=1)
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("lost"))
    await server.webhooks_idle()
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("arrives"))
    await server.webhooks_idle()
    assert [b["MsgBody"][0]["MsgContent"]["Text"] for b in hook.bodies] == ["arrives"]
    assert server.webhook_statistics() == {"delivered": 1, "failed": 1, "pending": 0}


async def test_a_slow_webhook_arrives_late_and_past_its_timeout_fails(
    server: DevServer, alice: Client, hook: Recorder
) -> None:
    server.faults.add("*", webhook=True, latency_ms=200, count=1)
    started = time.monotonic()
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("slow"))
    await server.webhooks_idle()
    assert time.monotonic() - started >= 0.2 and len(hook.bodies) == 1
    # A before-send held back past TIM's 2 s fails as a timeout: the message goes through unseen.
    server.set_webhook(hook.url, commands={cb.C2C_BEFORE_SEND_MSG})
    server.faults.add(cb.C2C_BEFORE_SEND_MSG, webhook=True, latency_ms=2100, count=1)
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("unchecked"))
    assert sent.msg_id and len(hook.bodies) == 1
    assert server.webhook_statistics()["failed"] == 0  # before-send failures are not queued ones


# --- rate limits --------------------------------------------------------------------------------------------


async def test_rate_limits_switch_off_and_on() -> None:
    async with DevServer(limits={"*": 2}) as srv:
        signer = UserSigCache(srv.sdk_app_id, srv.secret_key, srv.admin)
        connection = ConnectionManager(srv.url, srv.sdk_app_id, signer)
        await connection.open()
        try:
            assert 60007 in [await code_of(connection, n) for n in range(6)]
            srv.faults.limits_enabled = False
            assert [await code_of(connection, 100 + n) for n in range(20)] == [0] * 20
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"{srv.url}/_dev/limits", json={"enabled": True}) as response,
            ):
                assert await response.json() == {"enabled": True}
            assert srv.faults.limits_enabled
            assert 60007 in [await code_of(connection, 200 + n) for n in range(6)]
        finally:
            await connection.aclose()


# --- the HTTP API --------------------------------------------------------------------------------------


async def test_http_api_adds_lists_and_removes_faults(server: DevServer, raw: ConnectionManager) -> None:
    base = f"{server.url}/_dev/faults"
    async with aiohttp.ClientSession() as http:
        body = {
            "endpoint": SEND,
            "error_code": 70001,
            "count": 2,
            "share": None,
            "latency_ms": 0,
            "webhook": False,
        }
        async with http.post(base, json=body) as response:
            assert response.status == 200
            fault_id = (await response.json())["id"]
        async with http.get(base) as response:
            listed = await response.json()
        assert listed == {"faults": [{**body, "id": fault_id, "remaining": 2}]}
        assert await code_of(raw, 1) == 70001
        async with http.get(base) as response:
            assert (await response.json())["faults"][0]["remaining"] == 1
        async with http.delete(f"{base}/{fault_id}") as response:
            assert response.status == 200
        async with http.delete(f"{base}/{fault_id}") as response:
            assert response.status == 404
        for endpoint in ("*", SEND):
            async with http.post(base, json={"endpoint": endpoint, "latency_ms": 5}) as response:
                assert response.status == 200
        async with http.delete(base) as response:
            assert await response.json() == {"removed": 2}
        assert server.faults.list() == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"endpoint": SEND, "error_code": "60018"}, "error_code"),
        ({"endpoint": SEND, "error_code": 1, "count": -2}, "count"),
        ({"endpoint": SEND, "error_code": 1, "share": 0}, "share"),
        ({"endpoint": SEND, "latency_ms": 1.5}, "latency_ms"),
        ({"endpoint": SEND, "error_code": 1, "webhook": "yes"}, "webhook"),
        ({"endpoint": 5, "error_code": 1}, "endpoint"),
        ({"endpoint": SEND, "error_code": 1, "typo": 1}, "typo"),
        ([1, 2], "JSON object"),
    ],
)
async def test_http_api_refuses_bad_bodies_naming_the_field(server: DevServer, body: Any, named: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/_dev/faults", json=body) as response:
            assert response.status == 400
            assert named in (await response.json())["error"]
        async with http.post(f"{server.url}/_dev/faults", data=b"{}") as response:
            assert response.status == 415  # not declared JSON: a cross-site form cannot post it
        async with http.post(f"{server.url}/_dev/limits", json={"enabled": "no"}) as response:
            assert response.status == 400 and "enabled" in (await response.json())["error"]
    assert server.faults.list() == []


async def test_a_loopback_server_refuses_a_foreign_host_header(server: DevServer) -> None:
    """A page on another site that rebinds its name to 127.0.0.1 still sends its own Host."""
    headers = {"Host": "evil.example"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/_dev/faults", headers=headers) as response,
    ):
        assert response.status == 403


async def test_a_server_bound_elsewhere_wants_the_admins_credentials() -> None:
    async with DevServer(host="0.0.0.0") as srv:
        url = f"http://127.0.0.1:{srv.port}/_dev/faults"
        usersig = mint_usersig(srv.sdk_app_id, srv.secret_key, srv.admin, expire=3600)
        signed = {"sdkappid": str(srv.sdk_app_id), "identifier": srv.admin, "usersig": usersig}
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 401
                assert usersig not in await response.text()
            wrong = {**signed, "identifier": "mallory"}
            async with http.get(url, params=wrong) as response:
                assert response.status == 401
            async with http.get(url, params=signed) as response:
                assert response.status == 200 and await response.json() == {"faults": []}


async def test_faults_on_a_stopped_server_wait_for_it(tmp_path: Any) -> None:
    """Faults may be set before start(); they apply once it runs."""
    srv = DevServer()
    srv.faults.add(SEND, error_code=20003, count=1)
    async with srv:
        signer = UserSigCache(srv.sdk_app_id, srv.secret_key, srv.admin)
        connection = ConnectionManager(srv.url, srv.sdk_app_id, signer)
        await connection.open()
        try:
            assert [await code_of(connection, n) for n in (1, 2)] == [20003, 0]
        finally:
            await connection.aclose()
    await asyncio.sleep(0)


async def test_the_dev_faults_fixture_sets_faults_from_a_test(tim: Client, dev_faults: FaultSwitches) -> None:
    """`aio_tim.testing`'s fixture: the switches of the `dev_server` that `tim` talks to."""
    dev_faults.add(SEND, error_code=70001, count=1)
    with pytest.raises(AuthError):
        await tim.msg.send_new_msg("bob", ConvType.C2C, text("expired"))
    dev_faults.limits_enabled = False  # the fixture switches them back on afterwards
    assert (await tim.msg.send_new_msg("bob", ConvType.C2C, text("fine"))).msg_id


async def test_http_api_sets_a_webhook_fault(server: DevServer, alice: Client, hook: Recorder) -> None:
    body = {"endpoint": cb.C2C_AFTER_SEND_MSG, "error_code": 500, "count": 1, "webhook": True}
    async with aiohttp.ClientSession() as http, http.post(f"{server.url}/_dev/faults", json=body) as response:
        assert response.status == 200
    [fault] = server.faults.list()
    assert (fault.webhook, fault.latency_ms, fault.share) == (True, 0, None)
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("lost"))
    await server.webhooks_idle()
    assert hook.bodies == [] and server.webhook_statistics()["failed"] == 1


async def test_listeners_hear_every_change(server: DevServer, raw: ConnectionManager) -> None:
    heard: list[list[int | None]] = []
    server.faults.on_change(lambda: heard.append([f.remaining for f in server.faults.list()]))
    fault = server.faults.add(SEND, error_code=20003, count=2)
    server.faults.add("*", latency_ms=1)  # no count: picks change nothing to show
    await code_of(raw, 1)
    await code_of(raw, 2)
    server.faults.remove(fault)  # used up already: nothing removed, nothing heard
    server.faults.limits_enabled = False
    server.faults.clear()
    assert heard == [[2], [2, None], [1, None], [None], [None], []]
