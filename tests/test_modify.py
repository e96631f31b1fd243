"""modify_message (TIMMsgModifyMessage) over loopback HTTP, and the dev server's modify commands:
what the sender's store, the peer's roaming and the group's history hold afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import msgspec
import pytest
from aiohttp import web
from scenario import GROUP, T0, Clock, text

from aio_tim import (
    Client,
    ConvType,
    CustomElem,
    Message,
    MsgLocator,
    MsgStatus,
    NotFoundError,
    TextElem,
    UsageError,
)
from aio_tim.devserver import DevServer
from aio_tim.errors import TIMError
from aio_tim.protocol import MsgBodyItem, Request
from aio_tim.protocol import callbacks as cb
from aio_tim.protocol.edits import ModifyC2CMsg, ModifyGroupMsg
from aio_tim.testing import client_for
from aio_tim.types import GroupTipsElem

# (conversation as alice sees it, as bob sees it)
CONVS = {
    "c2c": (("bob", ConvType.C2C), ("alice", ConvType.C2C)),
    "group": ((GROUP, ConvType.GROUP), (GROUP, ConvType.GROUP)),
}


def locator(msg: Message) -> MsgLocator:
    return MsgLocator(time=msg.server_time, seq=msg.seq, rand=msg.rand)


def edited(msg: Message, content: str, **fields: object) -> Message:
    return msgspec.structs.replace(msg, elem_array=[TextElem(content=content)], **fields)


def texts(msgs: list[Message]) -> list[str]:
    return [e.content for m in msgs for e in m.elem_array if isinstance(e, TextElem)]


async def roaming(server: DevServer, user: str, conv: tuple[str, ConvType], clock: Clock) -> list[Message]:
    """The conversation as a fresh device of `user` reads it from the server."""
    async with client_for(server, user, clock=clock) as device:
        return [m async for m in device.msg.iter_msg_list(*conv, forward=True, remble=True)]


# --- success -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CONVS)
async def test_modify_changes_the_local_copy_and_every_roaming_copy(server, alice, clock, kind):
    """The sender's store, the peer's roaming and the sender's own roaming all show the new content."""
    mine, theirs = CONVS[kind]
    first = await alice.msg.send_new_msg(*mine, text("helo"))
    clock.now += 1
    second = await alice.msg.send_new_msg(*mine, text("two"))
    modified = await alice.msg.modify_message(edited(first, "hello", cloud_custom_str="v2"))
    assert texts([modified]) == ["hello"] and modified.cloud_custom_str == "v2"
    assert (modified.status, modified.msg_id, modified.seq) == (MsgStatus.SEND_SUCC, first.msg_id, first.seq)
    [here] = await alice.msg.find_by_msg_locator_list(*mine, [locator(first)])
    assert texts([here]) == ["hello"] and here.cloud_custom_str == "v2"
    for user, conv in (("bob", theirs), ("alice", mine)):
        there = await roaming(server, user, conv, clock)
        assert texts(there) == ["hello", "two"], user
        assert [m.cloud_custom_str for m in there] == ["v2", second.cloud_custom_str]


@pytest.mark.parametrize("kind", CONVS)
async def test_modify_without_cloud_data_keeps_it(server, alice, clock, kind):
    """A modify that leaves message_cloud_custom_str unset keeps the one the message was sent with."""
    mine, theirs = CONVS[kind]
    sent = await alice.msg.send_new_msg(*mine, text("a", cloud_custom_str="keep"))
    modified = await alice.msg.modify_message(edited(sent, "b", cloud_custom_str=None))
    assert modified.cloud_custom_str == "keep"
    [there] = await roaming(server, "bob", theirs, clock)
    assert (texts([there]), there.cloud_custom_str) == (["b"], "keep")


async def test_the_peer_may_modify_a_message_it_received(server, alice, bob, clock):
    """bob modifies alice's message found in his roaming: the C2C names are the message's own."""
    sent = await alice.msg.send_text("bob", ConvType.C2C, "from alice")
    [received] = await bob.msg.find_by_msg_locator_list("alice", ConvType.C2C, [locator(sent)])
    await bob.msg.modify_message(edited(received, "edited by bob"))
    assert texts(await roaming(server, "alice", ("bob", ConvType.C2C), clock)) == ["edited by bob"]


async def test_modify_of_a_message_not_stored_here_changes_the_server_only(server, alice, clock):
    """A message known only by its JSON (another device sent it) is modified on the server; the
    local store stays without it."""
    async with client_for(server, "alice", clock=clock) as other:
        sent = await other.msg.send_text("bob", ConvType.C2C, "elsewhere")
    await alice.msg.modify_message(msgspec.json.encode(edited(sent, "changed")))
    assert await alice.store.count((int(ConvType.C2C), "bob")) == 0
    assert texts(await roaming(server, "bob", ("alice", ConvType.C2C), clock)) == ["changed"]


# --- TIM's refusals ---------------------------------------------------------------------------------


def unknown(kind: str) -> Message:
    conv_id, conv_type = CONVS[kind][0]
    return Message(
        elem_array=[TextElem(content="x")], conv_id=conv_id, conv_type=int(conv_type),
        server_time=T0, seq=99, rand=4242, msg_id="99_4242_1700000000",
    )  # fmt: skip


@pytest.mark.parametrize("kind", CONVS)
async def test_modifying_a_message_the_server_lacks_raises_20022(alice, kind):
    with pytest.raises(NotFoundError) as caught:
        await alice.msg.modify_message(unknown(kind))
    assert caught.value.code == 20022


@pytest.mark.parametrize("kind", CONVS)
async def test_a_recalled_message_cannot_be_modified(server, alice, clock, kind):
    """20023, and the recalled message stays Revoked here and empty in roaming."""
    mine, theirs = CONVS[kind]
    sent = await alice.msg.send_new_msg(*mine, text("gone"))
    await alice.msg.revoke(*mine, sent)
    with pytest.raises(UsageError) as caught:
        await alice.msg.modify_message(edited(sent, "back"))
    assert caught.value.code == 20023
    [here] = await alice.msg.find_by_msg_locator_list(*mine, [locator(sent)])
    assert (here.status, texts([here])) == (MsgStatus.REVOKED, ["gone"])
    [there] = await roaming(server, "bob", theirs, clock)
    assert there.status == MsgStatus.REVOKED


# --- bad input: refused before any I/O, nothing changed ---------------------------------------------


def _bad_inputs(sent: Message) -> dict[str, object]:
    return {
        "malformed": "{",
        "no-conversation": msgspec.structs.replace(sent, conv_id=None),
        "no-locator": msgspec.structs.replace(sent, seq=None, rand=None, server_time=None, client_time=None),
        "group-without-seq": msgspec.structs.replace(sent, conv_id=GROUP, conv_type=2, seq=0),
        "bad-conv-type": msgspec.structs.replace(sent, conv_type=3),
        "no-elements": msgspec.structs.replace(sent, elem_array=[]),
        "empty-text": edited(sent, ""),
        "server-only-elem": msgspec.structs.replace(sent, elem_array=[GroupTipsElem()]),
        "two-custom": msgspec.structs.replace(sent, elem_array=[CustomElem(data="a"), CustomElem(data="b")]),
    }


@pytest.mark.parametrize("case", list(_bad_inputs(text("x"))))
async def test_modify_bad_input_is_refused_offline(alice, case):
    sent = await alice.msg.send_text("bob", ConvType.C2C, "original")
    calls = alice._connection.calls
    with pytest.raises(UsageError):
        await alice.msg.modify_message(_bad_inputs(sent)[case])  # type: ignore[arg-type]
    assert alice._connection.calls == calls
    [here] = await alice.msg.find_by_msg_locator_list("bob", ConvType.C2C, [locator(sent)])
    assert texts([here]) == ["original"]


# --- the dev server's commands, called as REST ------------------------------------------------------


def body(content: str) -> list[MsgBodyItem]:
    return [MsgBodyItem(MsgType="TIMTextElem", MsgContent={"Text": content})]


async def call(client: Client, request: Request) -> int:
    """The ErrorCode the dev server answers `request` with (0: OK)."""
    try:
        await client._connection.call(request)
    except TIMError as error:
        return error.code
    return 0


async def test_modify_c2c_msg_error_codes(server, alice):
    sent = await alice.msg.send_text("bob", ConvType.C2C, "x")
    key = sent.msg_id or ""
    cases = {
        "no-change": (ModifyC2CMsg(From_Account="alice", To_Account="bob", MsgKey=key), 90001),
        "bad-body": (ModifyC2CMsg("alice", "bob", key, MsgBody=[MsgBodyItem("TIMNoSuchElem", {})]), 90002),
        "empty-body": (ModifyC2CMsg("alice", "bob", key, MsgBody=[]), 90002),
        "bad-key": (ModifyC2CMsg("alice", "bob", "not-a-key", MsgBody=body("y")), 90054),
        "unknown-sender": (ModifyC2CMsg("nobody", "bob", key, MsgBody=body("y")), 20003),
        "unknown-recipient": (ModifyC2CMsg("alice", "nobody", key, MsgBody=body("y")), 20003),
        "wrong-direction": (ModifyC2CMsg("bob", "alice", key, MsgBody=body("y")), 20022),
        "no-such-key": (ModifyC2CMsg("alice", "bob", "1_2_3", MsgBody=body("y")), 20022),
    }
    assert {name: await call(alice, req) for name, (req, _) in cases.items()} == {
        name: code for name, (_, code) in cases.items()
    }
    assert texts(await roaming(server, "bob", ("alice", ConvType.C2C), Clock(T0))) == ["x"]
    assert await call(alice, ModifyC2CMsg("alice", "bob", key, CloudCustomData="only-cloud")) == 0
    [there] = await roaming(server, "bob", ("alice", ConvType.C2C), Clock(T0))
    assert (texts([there]), there.cloud_custom_str) == (["x"], "only-cloud")


async def test_modify_group_msg_error_codes(server, alice):
    sent = await alice.msg.send_text(GROUP, ConvType.GROUP, "x")
    await server.create_group("live", owner="alice", type="AVChatRoom")
    seq = sent.seq or 0
    cases = {
        "no-change": (ModifyGroupMsg(GroupId=GROUP, MsgSeq=seq), 90001),
        "bad-body": (ModifyGroupMsg(GROUP, seq, MsgBody=[MsgBodyItem("TIMNoSuchElem", {})]), 90002),
        "unknown-group": (ModifyGroupMsg("nope", seq, MsgBody=body("y")), 10010),
        "av-chat-room": (ModifyGroupMsg("live", 1, MsgBody=body("y")), 10007),
        "no-such-seq": (ModifyGroupMsg(GROUP, seq + 5, MsgBody=body("y")), 20022),
    }
    assert {name: await call(alice, req) for name, (req, _) in cases.items()} == {
        name: code for name, (_, code) in cases.items()
    }
    assert texts(await roaming(server, "bob", (GROUP, ConvType.GROUP), Clock(T0))) == ["x"]


# --- the webhook ------------------------------------------------------------------------------------


async def test_a_c2c_modify_fires_the_after_modify_webhook(server, alice):
    """C2C.CallbackAfterModifyMsg carries the message's keys and what it reads after the modify
    (a field the modify left out keeps its value); the admin is the operator."""
    hook = Recorder()
    async with hook.serving() as url:
        server.set_webhook(url, commands={cb.C2C_AFTER_MODIFY_MSG})
        sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("helo", cloud_custom_str="kept"))
        await alice.msg.modify_message(edited(sent, "hello", cloud_custom_str=None))
        await server.webhooks_idle()
    [body] = hook.bodies
    assert body["CallbackCommand"] == cb.C2C_AFTER_MODIFY_MSG
    assert (body["From_Account"], body["To_Account"], body["MsgKey"]) == ("alice", "bob", sent.msg_id)
    keys = (body["Operator_Account"], body["MsgSeq"], body["MsgRandom"])
    assert keys == (server.admin, sent.seq, sent.rand)
    assert body["MsgBody"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]
    assert body["CloudCustomData"] == "kept"
    decoded = msgspec.json.decode(msgspec.json.encode(body), type=cb.Callback)
    assert isinstance(decoded, cb.C2CAfterModifyMsg)


class Recorder:
    """An app backend that answers OK and keeps every body it gets."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []

    async def _handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        finally:
            await runner.cleanup()
