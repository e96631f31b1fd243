"""The dev server fires TIM's webhooks: which ones, with what query and body, and only after commit.

A plain aiohttp app records what arrives, so these tests check the wire, not aio_tim's receiver.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from aio_tim import BatchSendParam, Client, ConvType, Message, TextElem, TIMError
from aio_tim.auth import mint_usersig
from aio_tim.devserver import DevServer
from aio_tim.protocol import callbacks as cb
from aio_tim.testing import client_for


class Recorder:
    """An app backend that answers OK and keeps every (query, body) it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], dict[str, Any]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.query), json.loads(await request.read())))
        return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})

    def commands(self) -> list[str]:
        return [query["CallbackCommand"] for query, _ in self.calls]


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    rec = Recorder()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield rec, f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    await runner.cleanup()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer() as srv:
        yield srv


@pytest_asyncio.fixture
async def alice(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "alice") as client:
        yield client


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


async def test_queries_carry_tims_parameters_and_a_valid_sign(
    server: DevServer, alice: Client, recorder: tuple[Recorder, str]
) -> None:
    """SdkAppid, CallbackCommand, contenttype, ClientIP, OptPlatform, and Sign over RequestTime."""
    rec, url = recorder
    server.set_webhook(url, token="tok", commands={cb.C2C_AFTER_SEND_MSG})
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("hi"))
    await server.webhooks_idle()
    [(query, body)] = rec.calls
    assert query["SdkAppid"] == str(server.sdk_app_id) and query["CallbackCommand"] == cb.C2C_AFTER_SEND_MSG
    assert (query["contenttype"], query["OptPlatform"]) == ("json", "RESTAPI") and query["ClientIP"]
    assert cb.sign_matches("tok", query["RequestTime"], query["Sign"])
    assert body["CallbackCommand"] == cb.C2C_AFTER_SEND_MSG
    assert (body["From_Account"], body["To_Account"], body["MsgKey"]) == ("alice", "bob", sent.msg_id)
    assert body["MsgBody"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]


async def test_batch_send_fires_no_callback_unless_switched_on(
    server: DevServer, alice: Client, recorder: tuple[Recorder, str]
) -> None:
    """batchsendmsg fires nothing, as TIM's page says; with webhook_batch_sends=True, one
    C2C.CallbackAfterSendMsg per recipient."""
    rec, url = recorder
    server.set_webhook(url)
    await alice.msg.batch_send(BatchSendParam(identifier_array=["u1", "u2", "u3"], msg=text("notice")))
    await alice.msg.send_new_msg("u1", ConvType.C2C, text("single"))  # fires, so the hooks are on
    await server.webhooks_idle()
    assert [(c, body["To_Account"]) for c, (_, body) in zip(rec.commands(), rec.calls, strict=True)] == [
        (cb.C2C_BEFORE_SEND_MSG, "u1"),
        (cb.C2C_AFTER_SEND_MSG, "u1"),
    ]
    async with (
        DevServer(webhook_url=url, webhook_batch_sends=True) as switched,
        client_for(switched, "alice") as sender,
    ):
        rec.calls.clear()
        await sender.msg.batch_send(BatchSendParam(identifier_array=["u1", "u2", "u3"], msg=text("notice")))
        await switched.webhooks_idle()
    assert rec.commands() == [cb.C2C_AFTER_SEND_MSG] * 3
    assert sorted(body["To_Account"] for _, body in rec.calls) == ["u1", "u2", "u3"]


async def test_group_events_fire(server: DevServer, alice: Client, recorder: tuple[Recorder, str]) -> None:
    """Creating a group, sending to it and recalling fire their group webhooks, with the group's type."""
    rec, url = recorder
    server.set_webhook(url)
    await server.create_group("team", owner="alice", members=["bob"], type="Work")
    sent = await alice.msg.send_new_msg("team", ConvType.GROUP, text("hi team"))
    await alice.msg.revoke("team", ConvType.GROUP, sent)
    await server.webhooks_idle()
    fired = dict(zip(rec.commands(), (body for _, body in rec.calls), strict=True))
    assert set(fired) == {cb.AFTER_CREATE_GROUP, cb.GROUP_BEFORE_SEND_MSG, cb.GROUP_AFTER_SEND_MSG,
                          cb.GROUP_AFTER_RECALL_MSG}  # fmt: skip
    assert fired[cb.AFTER_CREATE_GROUP]["MemberList"] == [{"Member_Account": "bob"}]
    assert (fired[cb.GROUP_AFTER_SEND_MSG]["MsgSeq"], fired[cb.GROUP_AFTER_SEND_MSG]["Type"]) == (
        sent.seq,
        "Work",
    )
    assert fired[cb.GROUP_AFTER_RECALL_MSG]["MsgSeqList"] == [{"MsgSeq": sent.seq}]


async def test_a_refused_group_send_fires_the_exception_callback_only(
    server: DevServer, alice: Client, recorder: tuple[Recorder, str]
) -> None:
    """A group send the server refuses (unknown group) fires Group.CallbackSendMsgException with its
    code, and no after-send callback."""
    rec, url = recorder
    server.set_webhook(url, commands={cb.GROUP_AFTER_SEND_MSG, cb.GROUP_SEND_MSG_EXCEPTION})
    with pytest.raises(TIMError) as caught:
        await alice.msg.send_new_msg("no-such-group", ConvType.GROUP, text("x"))
    await server.webhooks_idle()
    [(query, body)] = rec.calls
    assert query["CallbackCommand"] == cb.GROUP_SEND_MSG_EXCEPTION
    assert (body["GroupId"], body["ErrorCode"]) == ("no-such-group", caught.value.code)


async def test_set_webhook_none_stops_firing(
    server: DevServer, alice: Client, recorder: tuple[Recorder, str]
) -> None:
    """After set_webhook(None) nothing is called."""
    rec, url = recorder
    server.set_webhook(url)
    server.set_webhook(None)
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("quiet"))
    await server.webhooks_idle()
    assert rec.calls == []


async def rest(server: DevServer, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """A raw REST call signed as the admin (for fields aio_tim's client does not send)."""
    usersig = mint_usersig(server.sdk_app_id, server.secret_key, server.admin)
    query = {"sdkappid": str(server.sdk_app_id), "identifier": server.admin, "random": "7",
             "contenttype": "json", "usersig": usersig}  # fmt: skip
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/v4/{endpoint}", params=query, json=body) as r,
    ):
        reply: dict[str, Any] = await r.json()
    return reply


@pytest.mark.parametrize(
    ("forbid", "fired"),
    [
        ([], [cb.C2C_BEFORE_SEND_MSG, cb.C2C_AFTER_SEND_MSG]),
        (["ForbidBeforeSendMsgCallback"], [cb.C2C_AFTER_SEND_MSG]),
        (["ForbidAfterSendMsgCallback"], [cb.C2C_BEFORE_SEND_MSG]),
        (["ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"], []),
    ],
)
async def test_forbid_callback_control_switches_callbacks_off_per_message(
    server: DevServer, recorder: tuple[Recorder, str], forbid: list[str], fired: list[str]
) -> None:
    """sendmsg's ForbidCallbackControl keeps that message's before- and/or after-send callback from firing."""
    rec, url = recorder
    server.set_webhook(url)
    body = {"To_Account": "bob", "MsgRandom": 5, "ForbidCallbackControl": forbid,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}  # fmt: skip
    assert (await rest(server, "openim/sendmsg", body))["ErrorCode"] == 0
    await server.webhooks_idle()
    assert rec.commands() == fired
