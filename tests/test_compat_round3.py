"""Issue 27, fidelity round 3: TIM's own sample requests and answers, replayed over loopback with
the reference signer (see test_compat_replay.py), for what third-party clients found different."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_compat_replay import Caller, serve, text
from test_events_receiver import client as receiver_client
from test_events_receiver import post, take

from aio_tim import ConvType, MsgStatus

GROUP = "group_open_http_svc"


@pytest.fixture
async def tim() -> AsyncIterator[Caller]:
    async with serve() as caller:
        yield caller


# --- 1. create_group: MaxMemberCount and a member's Role (page 269/1615) ---------------------------


def created_as_documented(**changes: Any) -> dict[str, Any]:
    """create_group's sample with its optional fields and initial members."""
    return {
        "Owner_Account": "leckie",
        "Type": "Public",
        "GroupId": "MyFirstGroup",
        "Name": "TestGroup",
        "Introduction": "This is group Introduction",
        "Notification": "This is group Notification",
        "FaceUrl": "http://this.is.face.url",
        "MaxMemberCount": 500,
        "ApplyJoinOption": "FreeAccess",
        "MemberList": [{"Member_Account": "bob", "Role": "Admin"}, {"Member_Account": "peter"}],
        **changes,
    }


async def test_create_group_keeps_max_member_count_and_roles(tim: Caller) -> None:
    """The sample's answer; MaxMemberNum 500 in get_group_info; bob is an Admin, found by role."""
    reply = await tim.ok(f"{GROUP}/create_group", created_as_documented())
    assert reply == {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0, "GroupId": "MyFirstGroup"}
    info = (await tim.ok(f"{GROUP}/get_group_info", {"GroupIdList": ["MyFirstGroup"]}))["GroupInfo"][0]
    assert info["MaxMemberNum"] == 500
    roles = {m["Member_Account"]: m["Role"] for m in info["MemberList"]}
    assert roles == {"leckie": "Owner", "bob": "Admin", "peter": "Member"}
    admins = await tim.ok(
        f"{GROUP}/get_group_member_info", {"GroupId": "MyFirstGroup", "MemberRoleFilter": ["Admin"]}
    )
    assert [m["Member_Account"] for m in admins["MemberList"]] == ["bob"]


async def test_create_group_enforces_the_member_cap(tim: Caller) -> None:
    """Owner plus two members do not fit under MaxMemberCount 2 (10014, the group is full);
    under 3 they do, and add_group_member cannot then add a fourth."""
    await tim.fails(f"{GROUP}/create_group", created_as_documented(MaxMemberCount=2), 10014)
    await tim.ok(f"{GROUP}/create_group", created_as_documented(MaxMemberCount=3))
    await tim.fails(
        f"{GROUP}/add_group_member",
        {"GroupId": "MyFirstGroup", "MemberList": [{"Member_Account": "x"}]},
        10014,
    )
    await tim.fails(
        f"{GROUP}/create_group",
        created_as_documented(GroupId="g2", MemberList=[{"Member_Account": "z", "Role": "Owner"}]),
        10004,
    )


async def test_create_group_reads_the_older_max_member_num(tim: Caller) -> None:
    """What aio_tim and libraries sent before: MaxMemberNum, read as MaxMemberCount."""
    body = created_as_documented()
    body["MaxMemberNum"] = body.pop("MaxMemberCount")
    await tim.ok(f"{GROUP}/create_group", body)
    info = (await tim.ok(f"{GROUP}/get_group_info", {"GroupIdList": ["MyFirstGroup"]}))["GroupInfo"][0]
    assert info["MaxMemberNum"] == 500


# --- 2. modify_group_base_info: MuteAllMember (page 34962) ------------------------------------------


async def test_modify_group_base_info_mutes_all_as_documented(tim: Caller) -> None:
    """The sample's modify request with MuteAllMember; get_group_info answers MuteAllMember; the
    older ShutUpAllMember still switches it (and still asks for it in a filter)."""
    await tim.ok(f"{GROUP}/create_group", {"Type": "Public", "Name": "g", "GroupId": "@TGS#1NVTZEAE4"})
    reply = await tim.ok(
        f"{GROUP}/modify_group_base_info",
        {
            "GroupId": "@TGS#1NVTZEAE4",
            "Name": "NewName",
            "Introduction": "NewIntroduction",
            "Notification": "NewNotification",
            "FaceUrl": "http://this.is.new.face.url",
            "MaxMemberNum": 500,
            "ApplyJoinOption": "NeedPermission",
            "MuteAllMember": "On",
        },
    )
    assert reply == {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}
    ask = {"GroupIdList": ["@TGS#1NVTZEAE4"]}
    info = (await tim.ok(f"{GROUP}/get_group_info", ask))["GroupInfo"][0]
    assert (info["MuteAllMember"], info["MaxMemberNum"], info["Name"]) == ("On", 500, "NewName")
    assert "ShutUpAllMember" not in info
    await tim.ok(f"{GROUP}/modify_group_base_info", {"GroupId": "@TGS#1NVTZEAE4", "ShutUpAllMember": "Off"})
    old_filter = {**ask, "ResponseFilter": {"GroupBaseInfoFilter": ["ShutUpAllMember"]}}
    info = (await tim.ok(f"{GROUP}/get_group_info", old_filter))["GroupInfo"][0]
    assert info["MuteAllMember"] == "Off"
    await tim.fails(
        f"{GROUP}/modify_group_base_info", {"GroupId": "@TGS#1NVTZEAE4", "MuteAllMember": "1"}, 10004
    )


# --- 3. get_joined_group_list: ResponseFilter.SelfInfoFilter (page 34925) ----------------------------


async def test_get_joined_group_list_answers_self_info_as_documented(tim: Caller) -> None:
    """The sample's filtered request: each group carries SelfInfo with Role, JoinTime, MsgFlag and
    UnreadMsgNum (what others sent since leckie joined; recalled messages do not count)."""
    group = {"Type": "Public", "Name": "MyFirstGroup", "GroupId": "@TGS#2J4SZEAEL", "Owner_Account": "leckie"}
    await tim.ok(f"{GROUP}/create_group", {**group, "MemberList": [{"Member_Account": "bob"}]})
    for n, sender in enumerate(("bob", "bob", "leckie", "bob")):
        await tim.ok(
            f"{GROUP}/send_group_msg",
            {"GroupId": "@TGS#2J4SZEAEL", "From_Account": sender, "Random": n, "MsgBody": text(f"m{n}")},
        )
    await tim.ok(f"{GROUP}/group_msg_recall", {"GroupId": "@TGS#2J4SZEAEL", "MsgSeqList": [{"MsgSeq": 4}]})
    reply = await tim.ok(
        f"{GROUP}/get_joined_group_list",
        {
            "Member_Account": "leckie",
            "Limit": 10,
            "Offset": 0,
            "GroupType": "Public",
            "ResponseFilter": {
                "GroupBaseInfoFilter": ["Type", "Name", "Owner_Account", "MemberNum", "MaxMemberNum"],
                "SelfInfoFilter": ["Role", "JoinTime", "MsgFlag", "UnreadMsgNum"],
            },
        },
    )
    assert reply["TotalCount"] == 1
    [listed] = reply["GroupIdList"]
    joined = listed["SelfInfo"].pop("JoinTime")
    assert isinstance(joined, int) and joined > 1_600_000_000
    assert listed == {
        "GroupId": "@TGS#2J4SZEAEL",
        "Type": "Public",
        "Name": "MyFirstGroup",
        "Owner_Account": "leckie",
        "MemberNum": 2,
        "MaxMemberNum": 6000,
        "SelfInfo": {"Role": "Owner", "MsgFlag": "AcceptAndNotify", "UnreadMsgNum": 2},
    }
    only_role = await tim.ok(
        f"{GROUP}/get_joined_group_list",
        {"Member_Account": "bob", "ResponseFilter": {"SelfInfoFilter": ["Role"]}},
    )
    assert only_role["GroupIdList"] == [{"GroupId": "@TGS#2J4SZEAEL", "SelfInfo": {"Role": "Member"}}]


# --- 4. import_group_msg: nothing older than the group (page 269/1635) -------------------------------


IMPORT = f"{GROUP}/import_group_msg"


def imported_as_documented() -> dict[str, Any]:
    """import_group_msg's sample: two messages of May 2021."""
    return {
        "GroupId": "@TGS#2C5SZEAEF",
        "RecentContactFlag": 1,
        "MsgList": [
            {
                "From_Account": "leckie",
                "SendTime": 1620808101,
                "Random": 8912345,
                "MsgBody": [
                    {"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}},
                    {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 6, "Data": "abc\\u0000\\u0001"}},
                ],
            },
            {"From_Account": "peter", "SendTime": 1620892821, "MsgBody": text("red packet")},
        ],
    }


async def test_import_group_msg_refuses_history_older_than_the_group(tim: Caller) -> None:
    """A group created today takes none of the 2021 messages (Result 10004 each); one created before
    them answers as the sample does; the creation second itself is not later than the creation."""
    await tim.ok(f"{GROUP}/create_group", {"Type": "Public", "Name": "g", "GroupId": "@TGS#2C5SZEAEF"})
    reply = await tim.ok(IMPORT, imported_as_documented())
    assert [r["Result"] for r in reply["ImportMsgResult"]] == [10004, 10004]

    await tim.server.create_group("@TGS#OLDGROUP", created=1620800000)
    reply = await tim.ok(
        f"{GROUP}/import_group_msg", {**imported_as_documented(), "GroupId": "@TGS#OLDGROUP"}
    )
    assert reply == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 0,
        "ImportMsgResult": [
            {"MsgSeq": 1, "MsgTime": 1620808101, "Result": 0},
            {"MsgSeq": 2, "MsgTime": 1620892821, "Result": 0},
        ],
    }
    await tim.server.create_group("@TGS#SAMESECOND", created=1620808101)
    same = await tim.ok(
        f"{GROUP}/import_group_msg", {**imported_as_documented(), "GroupId": "@TGS#SAMESECOND"}
    )
    assert [r["Result"] for r in same["ImportMsgResult"]] == [10004, 0]


# --- 10. get_c2c_unread_msg_num with only To_Account (page 41046) ------------------------------------


async def test_c2c_unread_total_answers_only_the_total_as_documented(tim: Caller) -> None:
    """{"To_Account": "dramon1"} answers AllC2CUnreadMsgNum alone; with Peer_Account, the list alone."""
    for n in range(12):
        await tim.ok(
            "openim/sendmsg",
            {"From_Account": "dramon2", "To_Account": "dramon1", "MsgRandom": n, "MsgBody": text(f"m{n}")},
        )
    await tim.ok("im_open_login_svc/account_import", {"UserID": "teacher"})
    total = await tim.ok("openim/get_c2c_unread_msg_num", {"To_Account": "dramon1"})
    assert total == {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0, "AllC2CUnreadMsgNum": 12}
    per_peer = await tim.ok(
        "openim/get_c2c_unread_msg_num", {"To_Account": "dramon1", "Peer_Account": ["dramon2", "teacher"]}
    )
    assert per_peer == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 0,
        "C2CUnreadMsgNumList": [
            {"Peer_Account": "dramon2", "C2CUnreadMsgNum": 12},
            {"Peer_Account": "teacher", "C2CUnreadMsgNum": 0},
        ],
    }


# --- 9. topics: TopicId is the event's conversation (pages 34374, 34375, 46979) ----------------------

TOPIC = "@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic"
SENT_ONLY = frozenset({"MsgId", "MsgSeq", "MsgTime"})  # fields the before-send sample does not have


def topic_message(seq: int, **changes: Any) -> dict[str, Any]:
    """Group.CallbackAfterSendMsg's sample, sent in the before-send sample's topic."""
    return {
        "CallbackCommand": "Group.CallbackAfterSendMsg",
        "GroupId": "@TGS#2J4SZEAEL",
        "Type": "Community",
        "From_Account": "jared",
        "Operator_Account": "admin",
        "Random": 123456,
        "MsgId": "144115233406643804-1727580296-4026038328",
        "MsgSeq": seq,
        "MsgTime": 1490686222,
        "OnlineOnlyFlag": 0,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}}],
        "CloudCustomData": "your cloud custom data",
        "TopicId": TOPIC,
        "EventTime": "1670574414123",
        **changes,
    }


async def test_topic_messages_and_recalls_live_in_the_topics_conversation(tmp_path: Path) -> None:
    """The samples' TopicId becomes the conversation of the event's message (the C SDK's topic
    group ID), of its natural key, of the stored copy and of the recall; the community's own
    conversation, with a message of the same MsgSeq, is left alone."""
    async with receiver_client(tmp_path) as bob:
        url = await bob.listen()
        created = {
            "CallbackCommand": "Group.CallbackAfterCreateGroup",
            "GroupId": "@TGS#2J4SZEAEL",
            "Type": "Community",
            "Owner_Account": "leckie",
            "MemberList": [{"Member_Account": "bob"}],
        }
        before = {key: value for key, value in topic_message(0).items() if key not in SENT_ONLY}
        before |= {"CallbackCommand": "Group.CallbackBeforeSendMsg", "OnlineOnlyFlag": 1}
        plain = {key: value for key, value in topic_message(130, Random=9).items() if key != "TopicId"}
        recalled = {
            "CallbackCommand": "Group.CallbackAfterRecallMsg",
            "Operator_Account": "admin",
            "Type": "Community",
            "GroupId": "@TGS#2J4SZEAEL",
            "MsgSeqList": [{"MsgSeq": 130}],
            "TopicId": TOPIC,
            "EventTime": "1670574414123",
        }
        for body in (created, before, topic_message(130), plain, recalled):
            assert (await post(url, body))[0] == 200
        events = await take(bob, 5, before_send=True)
        assert [e.message.conv_id if e.message else None for e in events[1:4]] == [
            TOPIC,
            TOPIC,
            "@TGS#2J4SZEAEL",
        ]
        assert events[2].id != events[3].id and TOPIC in events[2].id
        assert [(loc.conv_id, loc.seq) for loc in events[4].locators] == [(TOPIC, 130)]
        in_topic = await bob.store.get((ConvType.GROUP, TOPIC), (1490686222, 130, 123456))
        in_group = await bob.store.get((ConvType.GROUP, "@TGS#2J4SZEAEL"), (1490686222, 130, 9))
        assert in_topic is not None and in_topic.status == MsgStatus.REVOKED
        assert in_group is not None and in_group.status == MsgStatus.SEND_SUCC
