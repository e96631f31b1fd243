"""Issue 27: the dev server's webhooks as a third party receives them.

`ThirdParty` is a plain aiohttp.web handler, not aio_tim's receiver: it checks every callback body
the dev server fires against the field table of the command's TIM page (every documented field
present, with its documented type), and the REST calls that make the server fire are raw ones
(aiohttp plus Tencent's reference signer, see test_compat_replay.py). The tests after it replay
the pages' own samples for what round 3 found different (items 5 to 8).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from aiohttp import web
from test_compat_replay import Caller, serve, text

from aio_tim.protocol import callbacks as cb

S, N, A = str, int, list  # the pages' String, Integer (a number) and Array

# The field tables of TIM's callback pages (product 1047 on tencentcloud.com). EventTime is listed
# where the page's table lists it.
DOCUMENTED: dict[str, dict[str, type]] = {
    cb.C2C_BEFORE_SEND_MSG: {  # 34364
        "CallbackCommand": S, "From_Account": S, "To_Account": S, "MsgSeq": N, "MsgRandom": N,
        "MsgTime": N, "MsgKey": S, "MsgId": S, "OnlineOnlyFlag": N, "MsgBody": A, "CloudCustomData": S,
    },
    cb.C2C_AFTER_SEND_MSG: {  # 34365
        "CallbackCommand": S, "From_Account": S, "To_Account": S, "MsgSeq": N, "MsgRandom": N,
        "MsgTime": N, "MsgKey": S, "MsgId": S, "OnlineOnlyFlag": N, "SendMsgResult": N, "ErrorInfo": S,
        "UnreadMsgNum": N, "MsgBody": A, "CloudCustomData": S,
    },
    cb.C2C_AFTER_MSG_WITHDRAW: {  # 43466
        "CallbackCommand": S, "From_Account": S, "To_Account": S, "MsgKey": S, "UnreadMsgNum": N,
    },
    cb.C2C_AFTER_MSG_REPORT: {  # 43465
        "CallbackCommand": S, "Report_Account": S, "Peer_Account": S, "LastReadTime": N, "UnreadMsgNum": N,
    },
    cb.C2C_AFTER_MODIFY_MSG: {  # cloud.tencent.com 269/128224
        "CallbackCommand": S, "Operator_Account": S, "From_Account": S, "To_Account": S, "MsgRandom": N,
        "MsgSeq": N, "MsgTime": N, "MsgKey": S, "MsgBody": A, "CloudCustomData": S, "EventTime": N,
    },
    cb.C2C_AFTER_MSG_READ_RECEIPT: {  # cloud.tencent.com 269/128223
        "CallbackCommand": S, "Operator_Account": S, "Peer_Account": S, "C2CMsgInfo": A, "EventTime": N,
    },
    cb.GROUP_BEFORE_SEND_MSG: {  # 34374
        "CallbackCommand": S, "GroupId": S, "Type": S, "From_Account": S, "Operator_Account": S,
        "Random": N, "OnlineOnlyFlag": N, "MsgBody": A, "CloudCustomData": S, "TopicId": S, "EventTime": N,
    },
    cb.GROUP_AFTER_SEND_MSG: {  # 34375
        "CallbackCommand": S, "GroupId": S, "Type": S, "From_Account": S, "Operator_Account": S,
        "Random": N, "MsgId": S, "MsgSeq": N, "MsgTime": N, "OnlineOnlyFlag": N, "MsgBody": A,
        "CloudCustomData": S, "TopicId": S, "EventTime": N,
    },
    cb.GROUP_SEND_MSG_EXCEPTION: {  # 49462
        "CallbackCommand": S, "GroupId": S, "Type": S, "From_Account": S, "Operator_Account": S,
        "Random": N, "OnlineOnlyFlag": N, "MsgBody": A, "CloudCustomData": S, "ErrorCode": N,
        "ErrorInfo": S, "EventTime": N,
    },
    cb.GROUP_AFTER_RECALL_MSG: {  # 46979
        "CallbackCommand": S, "Operator_Account": S, "Type": S, "GroupId": S, "MsgSeqList": A,
        "TopicId": S, "EventTime": N,
    },
    cb.AFTER_CREATE_GROUP: {  # 34369
        "CallbackCommand": S, "GroupId": S, "Operator_Account": S, "Owner_Account": S, "Type": S,
        "Name": S, "MemberList": A, "UserDefinedDataList": A,
    },
    cb.AFTER_NEW_MEMBER_JOIN: {  # 34372
        "CallbackCommand": S, "GroupId": S, "Type": S, "JoinType": S, "Operator_Account": S,
        "NewMemberList": A,
    },
    cb.AFTER_MEMBER_EXIT: {  # 34373
        "CallbackCommand": S, "GroupId": S, "Type": S, "ExitType": S, "Operator_Account": S,
        "ExitMemberList": A,
    },
    cb.AFTER_GROUP_DESTROYED: {  # 34377
        "CallbackCommand": S, "GroupId": S, "Type": S, "Owner_Account": S, "MemberList": A, "EventTime": N,
    },
    cb.AFTER_MEMBER_FIELD_CHANGED: {  # trtc.io 60393
        "CallbackCommand": S, "GroupId": S, "Type": S, "Operator_Account": S, "Member_Account": S,
        "Role": S, "NameCard": S, "EventTime": N,
    },
}  # fmt: skip

# Fields the pages document for some bodies only: TopicId for topic-enabled communities, and
# CloudCustomData when the message carries one.
CONDITIONAL = frozenset({"TopicId", "CloudCustomData"})


def mismatches(body: dict[str, Any]) -> list[str]:
    """What in `body` differs from its command's field table (missing fields, wrong types)."""
    command = body.get("CallbackCommand")
    table = DOCUMENTED.get(str(command))
    if table is None:
        return [f"{command}: no TIM page documents this command"]
    found = []
    for name, kind in table.items():
        if name not in body:
            if name not in CONDITIONAL:
                found.append(f"{command}: {name} missing")
        elif not isinstance(body[name], kind) or (kind is int and isinstance(body[name], bool)):
            found.append(f"{command}: {name} is {type(body[name]).__name__}, the page says {kind.__name__}")
    return found


class ThirdParty:
    """An app backend that is not aio_tim: it answers every callback OK and checks each body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.problems: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if request.query.get("CallbackCommand") != body.get("CallbackCommand"):
            self.problems.append(f"query and body name different commands: {request.query}")
        self.problems += mismatches(body)
        self.bodies.append(body)
        return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})

    def of(self, command: str) -> list[dict[str, Any]]:
        return [body for body in self.bodies if body["CallbackCommand"] == command]


@pytest_asyncio.fixture
async def app() -> AsyncIterator[tuple[ThirdParty, str]]:
    receiver = ThirdParty()
    server = web.Application()
    server.router.add_post("/im/callback", receiver.handle)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield receiver, f"http://127.0.0.1:{runner.addresses[0][1]}/im/callback"
    await runner.cleanup()


@pytest_asyncio.fixture
async def tim(app: tuple[ThirdParty, str]) -> AsyncIterator[Caller]:
    async with serve(webhook_url=app[1]) as caller:
        yield caller


G = "group_open_http_svc"


async def fire_everything(tim: Caller) -> None:
    """Raw REST calls that make the dev server fire each of its callback commands."""
    group = {"Owner_Account": "leckie", "Type": "Public", "Name": "TestGroup", "GroupId": "@TGS#2J4SZEAEL"}
    await tim.ok(f"{G}/create_group", {**group, "MemberList": [{"Member_Account": "bob"}]})
    await tim.ok(
        f"{G}/add_group_member", {"GroupId": "@TGS#2J4SZEAEL", "MemberList": [{"Member_Account": "peter"}]}
    )
    c2c = {"From_Account": "jared", "To_Account": "Jonh", "MsgBody": text("red packet")}
    sent = await tim.ok("openim/sendmsg", {**c2c, "MsgRandom": 2837546})
    custom = {**c2c, "MsgRandom": 7, "CloudCustomData": "your cloud custom data"}
    edited = await tim.ok("openim/sendmsg", custom)
    edit = {"From_Account": "jared", "To_Account": "Jonh", "MsgKey": edited["MsgKey"], "MsgBody": text("new")}
    await tim.ok("openim/modify_c2c_msg", edit)
    await tim.ok(
        "openim/admin_msgwithdraw", {"From_Account": "jared", "To_Account": "Jonh", "MsgKey": sent["MsgKey"]}
    )
    await tim.ok("openim/admin_set_msg_read", {"Report_Account": "Jonh", "Peer_Account": "jared"})
    asked = await tim.ok("openim/sendmsg", {**c2c, "MsgRandom": 8, "IsNeedReadReceipt": 1})
    info = {"From_Account": "jared", "To_Account": "Jonh", "MsgKey": asked["MsgKey"]}
    await tim.ok("openim/c2c_msg_read_receipt", {"Operator_Account": "Jonh", "Peer_Account": "jared",
                                                  "C2CMsgInfo": [info]})  # fmt: skip
    send = {"GroupId": "@TGS#2J4SZEAEL", "MsgBody": text("red packet")}
    reply = await tim.ok(f"{G}/send_group_msg", {**send, "From_Account": "bob", "Random": 123456})
    await tim.fails(f"{G}/send_group_msg", {**send, "From_Account": "stranger", "Random": 1}, 10007)
    await tim.ok(
        f"{G}/group_msg_recall", {"GroupId": "@TGS#2J4SZEAEL", "MsgSeqList": [{"MsgSeq": reply["MsgSeq"]}]}
    )
    member = {"GroupId": "@TGS#2J4SZEAEL", "Member_Account": "bob", "Role": "Admin", "NameCard": "jacky"}
    await tim.ok(f"{G}/modify_group_member_info", member)
    await tim.ok(f"{G}/delete_group_member", {"GroupId": "@TGS#2J4SZEAEL", "MemberToDel_Account": ["peter"]})
    await tim.ok(f"{G}/destroy_group", {"GroupId": "@TGS#2J4SZEAEL"})
    await tim.server.webhooks_idle()


async def test_every_callback_body_matches_its_tim_page(tim: Caller, app: tuple[ThirdParty, str]) -> None:
    """Each of the thirteen commands the dev server fires arrives with every field its page documents,
    of the documented type."""
    receiver, _ = app
    await fire_everything(tim)
    assert {body["CallbackCommand"] for body in receiver.bodies} == set(cb.KNOWN_COMMANDS) == set(DOCUMENTED)
    assert receiver.problems == []


def test_the_checker_catches_what_round_3_found() -> None:
    """The bodies issue 27 reported fail the check: zeros left out, no UnreadMsgNum, no Type."""
    old_after_send = {"CallbackCommand": cb.C2C_AFTER_SEND_MSG, "From_Account": "a", "To_Account": "b",
                      "MsgSeq": 1, "MsgRandom": 2, "MsgTime": 3, "MsgKey": "1_2_3", "ErrorInfo": "ok",
                      "MsgBody": []}  # fmt: skip
    assert mismatches(old_after_send) == [
        f"{cb.C2C_AFTER_SEND_MSG}: {name} missing"
        for name in ("MsgId", "OnlineOnlyFlag", "SendMsgResult", "UnreadMsgNum")
    ]
    old_group_before = {"CallbackCommand": cb.GROUP_BEFORE_SEND_MSG, "GroupId": "g", "From_Account": "a",
                        "Operator_Account": "x", "Random": 1, "OnlineOnlyFlag": "0"}  # fmt: skip
    old_group_before["MsgBody"] = []
    assert mismatches(old_group_before) == [
        f"{cb.GROUP_BEFORE_SEND_MSG}: Type missing",
        f"{cb.GROUP_BEFORE_SEND_MSG}: OnlineOnlyFlag is str, the page says int",
        f"{cb.GROUP_BEFORE_SEND_MSG}: EventTime missing",
    ]
    assert mismatches({"CallbackCommand": "Group.CallbackNothing"}) == [
        "Group.CallbackNothing: no TIM page documents this command"
    ]


# --- 5. batchsendmsg fires no callback (page 34920) --------------------------------------------------


async def test_batchsendmsg_as_documented_fires_no_callback(tim: Caller, app: tuple[ThirdParty, str]) -> None:
    """The page's sample batch answers OK and fires nothing; a sendmsg after it does fire."""
    receiver, _ = app
    reply = await tim.ok(
        "openim/batchsendmsg",
        {
            "SyncOtherMachine": 2,
            "To_Account": ["bonnie", "rong"],
            "MsgRandom": 19901224,
            "MsgBody": text("hi, beauty"),
        },
    )
    assert reply["MsgKey"].split("_")[1] == "19901224" and reply.get("ErrorList", []) == []
    await tim.ok("openim/sendmsg", {"To_Account": "rong", "MsgRandom": 1, "MsgBody": text("single")})
    await tim.server.webhooks_idle()
    assert [(b["CallbackCommand"], b["To_Account"]) for b in receiver.bodies] == [
        (cb.C2C_BEFORE_SEND_MSG, "rong"),
        (cb.C2C_AFTER_SEND_MSG, "rong"),
    ]


# --- 6 and 7. zeros are sent; UnreadMsgNum (pages 34365, 43466, 43465) -------------------------------


async def test_c2c_callbacks_carry_zeros_and_unread_counts_as_documented(
    tim: Caller, app: tuple[ThirdParty, str]
) -> None:
    """jared sends Jonh seven messages: the seventh's after-send has the sample's keys, OnlineOnlyFlag 0,
    SendMsgResult 0 and UnreadMsgNum 7; a recall leaves 6; Jonh's read report leaves 0."""
    receiver, _ = app
    keys = []
    for n in range(7):
        body = {
            "From_Account": "jared",
            "To_Account": "Jonh",
            "MsgRandom": 2837546 + n,
            "MsgBody": text("red packet"),
        }
        keys.append((await tim.ok("openim/sendmsg", body))["MsgKey"])
    await tim.ok(
        "openim/admin_msgwithdraw", {"From_Account": "jared", "To_Account": "Jonh", "MsgKey": keys[0]}
    )
    await tim.ok("openim/admin_set_msg_read", {"Report_Account": "Jonh", "Peer_Account": "jared"})
    await tim.server.webhooks_idle()
    sample = {"CallbackCommand", "From_Account", "To_Account", "MsgSeq", "MsgRandom", "MsgTime", "MsgKey",
              "OnlineOnlyFlag", "SendMsgResult", "ErrorInfo", "UnreadMsgNum", "MsgBody"}  # fmt: skip
    seventh = receiver.of(cb.C2C_AFTER_SEND_MSG)[-1]
    assert sample <= set(seventh)
    assert (seventh["OnlineOnlyFlag"], seventh["SendMsgResult"], seventh["UnreadMsgNum"]) == (0, 0, 7)
    assert seventh["ErrorInfo"] == "send msg succeed"
    assert receiver.of(cb.C2C_BEFORE_SEND_MSG)[-1]["OnlineOnlyFlag"] == 0
    [withdraw] = receiver.of(cb.C2C_AFTER_MSG_WITHDRAW)
    assert withdraw == {
        **withdraw,
        "From_Account": "jared",
        "To_Account": "Jonh",
        "MsgKey": keys[0],
        "UnreadMsgNum": 6,
    }
    [report] = receiver.of(cb.C2C_AFTER_MSG_REPORT)
    assert (report["Report_Account"], report["Peer_Account"], report["UnreadMsgNum"]) == ("Jonh", "jared", 0)
    assert isinstance(report["LastReadTime"], int)


# --- 8. Type and EventTime in group send callbacks (pages 34374, 49462) -------------------------------


async def test_group_send_callbacks_carry_type_and_event_time_as_documented(
    tim: Caller, app: tuple[ThirdParty, str]
) -> None:
    """Before-send names the group's Type and the EventTime in milliseconds; the exception for a
    sender outside the group names the Type too."""
    receiver, _ = app
    community = {"Type": "Community", "Name": "c", "GroupId": "@TGS#_2J4SZEAEL"}
    await tim.ok(f"{G}/create_group", {**community, "MemberList": [{"Member_Account": "jared"}]})
    send = {
        "GroupId": "@TGS#_2J4SZEAEL",
        "Random": 123456,
        "MsgBody": text("red packet"),
        "OnlineOnlyFlag": 1,
    }
    send["CloudCustomData"] = "your cloud custom data"
    await tim.ok(f"{G}/send_group_msg", {**send, "From_Account": "jared"})
    await tim.fails(f"{G}/send_group_msg", {**send, "From_Account": "nobody", "Random": 2}, 10007)
    await tim.server.webhooks_idle()
    [before] = [b for b in receiver.of(cb.GROUP_BEFORE_SEND_MSG) if b["From_Account"] == "jared"]
    assert (before["Type"], before["Operator_Account"], before["OnlineOnlyFlag"]) == (
        "Community",
        "administrator",
        1,
    )
    assert isinstance(before["EventTime"], int) and before["EventTime"] > 1_600_000_000_000
    assert before["CloudCustomData"] == "your cloud custom data"
    [failed] = receiver.of(cb.GROUP_SEND_MSG_EXCEPTION)
    assert (failed["Type"], failed["ErrorCode"], failed["Random"]) == ("Community", 10007, 2)
    assert receiver.problems == []


@pytest.mark.parametrize("command", sorted(DOCUMENTED))
def test_the_decoder_still_reads_what_the_server_sends(command: str) -> None:
    """aio_tim's own receiver types (lenient) decode each documented field set."""
    fields: dict[str, Any] = {name: kind() for name, kind in DOCUMENTED[command].items()}
    fields["CallbackCommand"] = command
    decoded = msgspec.json.decode(json.dumps(fields).encode(), type=cb.Callback)
    assert decoded.__struct_config__.tag == command
