"""Issue 33: group administration over loopback, as a third party calls it (aiohttp and Tencent's
reference signer): each command from its TIM page's sample request and answer, then the refusals
(muted members, caps, non-members, group types the page excludes) and what survives a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_callback_fidelity import ThirdParty
from test_compat_replay import Caller, serve, text

from aio_tim.devserver import group_ops

G = "group_open_http_svc"
GID = "@TGS#2C5SZEAEF"


@pytest.fixture
async def tim() -> AsyncIterator[Caller]:
    async with serve() as caller:
        yield caller


async def group(
    tim: Caller, kind: str = "Public", gid: str = GID, members: tuple[str, ...] = ("peter",)
) -> str:
    body = {"Owner_Account": "leckie", "Type": kind, "Name": "TestGroup", "GroupId": gid,
            "MemberList": [{"Member_Account": m} for m in members]}  # fmt: skip
    return str((await tim.ok(f"{G}/create_group", body))["GroupId"])


async def send(tim: Caller, sender: str, random: int, gid: str = GID) -> dict[str, Any]:
    body = {"GroupId": gid, "From_Account": sender, "Random": random, "MsgBody": text("hi")}
    return await tim.post(f"{G}/send_group_msg", body)


async def roles(tim: Caller, *accounts: str, gid: str = GID) -> dict[str, str]:
    reply = await tim.ok(f"{G}/get_role_in_group", {"GroupId": gid, "User_Account": list(accounts)})
    return {item["Member_Account"]: item["Role"] for item in reply["UserIdList"]}


# --- the pages' samples ----------------------------------------------------------------------------


async def test_change_group_owner_sample(tim: Caller) -> None:
    """trtc.io/document/34966: the new owner must be a member; the old one stays as a member."""
    await group(tim)
    await tim.ok(f"{G}/change_group_owner", {"GroupId": GID, "NewOwner_Account": "peter"})
    assert await roles(tim, "leckie", "peter") == {"leckie": "Member", "peter": "Owner"}
    info = await tim.ok(f"{G}/get_group_info", {"GroupIdList": [GID]})
    assert info["GroupInfo"][0]["Owner_Account"] == "peter"


async def test_get_role_in_group_sample(tim: Caller) -> None:
    """Owner, Admin, Member, and NotMember for an account outside the group."""
    await group(tim, members=("peter", "wesley"))
    await tim.ok(
        f"{G}/modify_group_member_info", {"GroupId": GID, "Member_Account": "peter", "Role": "Admin"}
    )
    assert await roles(tim, "leckie", "peter", "wesley", "jared") == {
        "leckie": "Owner", "peter": "Admin", "wesley": "Member", "jared": "NotMember"}  # fmt: skip


async def test_get_appid_group_list_pages_and_filters(tim: Caller) -> None:
    """Limit and Next page through every group; GroupType (or the Go client's Type) filters and
    TotalCount then counts that type only."""
    ids = [await group(tim, "Public", f"g{i}") for i in range(3)] + [await group(tim, "Work", "w")]
    first = await tim.ok(f"{G}/get_appid_group_list", {"Limit": 2, "Next": 0})
    assert (first["TotalCount"], len(first["GroupIdList"]), first["Next"]) == (4, 2, 2)
    rest = await tim.ok(f"{G}/get_appid_group_list", {"Limit": 2, "Next": first["Next"]})
    seen = [g["GroupId"] for g in first["GroupIdList"] + rest["GroupIdList"]]
    assert sorted(seen) == sorted([*ids]) and rest["Next"] == 0
    public = await tim.ok(f"{G}/get_appid_group_list", {"GroupType": "Public"})
    assert public["TotalCount"] == 3 and "w" not in [g["GroupId"] for g in public["GroupIdList"]]
    private = await tim.ok(f"{G}/get_appid_group_list", {"Type": "Private"})  # Work's old name
    assert [g["GroupId"] for g in private["GroupIdList"]] == ["w"]
    await tim.fails(f"{G}/get_appid_group_list", {"Limit": 10001}, 10004)
    await tim.fails(f"{G}/get_appid_group_list", {"GroupType": "Nope"}, 10004)


async def test_modify_group_member_info_samples(tim: Caller) -> None:
    """trtc.io/document/34900: Role, MsgFlag, NameCard and ShutUpTime show in get_group_member_info."""
    await group(tim)
    member = {"GroupId": GID, "Member_Account": "peter"}
    await tim.ok(f"{G}/modify_group_member_info", {**member, "Role": "Admin"})
    await tim.ok(f"{G}/modify_group_member_info", {**member, "MsgFlag": "AcceptNotNotify"})
    await tim.ok(f"{G}/modify_group_member_info", {**member, "NameCard": "bob"})
    await tim.ok(f"{G}/modify_group_member_info", {**member, "ShutUpTime": 60})
    reply = await tim.ok(f"{G}/get_group_member_info", {"GroupId": GID})
    peter = next(m for m in reply["MemberList"] if m["Member_Account"] == "peter")
    assert (peter["Role"], peter["MsgFlag"], peter["NameCard"]) == ("Admin", "AcceptNotNotify", "bob")
    assert peter["ShutUpUntil"] > 0
    await tim.ok(f"{G}/modify_group_member_info", {**member, "Role": "Member", "ShutUpTime": 0})
    assert await roles(tim, "peter") == {"peter": "Member"}
    reply = await tim.ok(f"{G}/get_group_shutted_uin", {"GroupId": GID})
    assert reply["ShuttedUinList"] == []


async def test_forbid_send_msg_and_get_group_shutted_uin_samples(tim: Caller) -> None:
    """trtc.io/document/34951: mute for ShutUpTime seconds, 0 lifts; the list says until when."""
    await group(tim, members=("peter", "bob"))
    await tim.ok(
        f"{G}/forbid_send_msg", {"GroupId": GID, "Members_Account": ["peter", "leckie"], "ShutUpTime": 60}
    )
    reply = await tim.ok(f"{G}/get_group_shutted_uin", {"GroupId": GID})
    muted = {m["Member_Account"]: m["ShuttedUntil"] for m in reply["ShuttedUinList"]}
    assert reply["GroupId"] == GID and set(muted) == {"peter", "leckie"}
    assert len(set(muted.values())) == 1 and min(muted.values()) > 60
    await tim.ok(f"{G}/forbid_send_msg", {"GroupId": GID, "Members_Account": ["peter"], "ShutUpTime": 0})
    reply = await tim.ok(f"{G}/get_group_shutted_uin", {"GroupId": GID})
    assert [m["Member_Account"] for m in reply["ShuttedUinList"]] == ["leckie"]


async def test_delete_group_msg_by_sender_sample(tim: Caller) -> None:
    """trtc.io/document/34970: the sender's messages are recalled silently (IsPlaceMsg 2 in
    roaming, a second recall answers 10032); the others' stay."""
    await group(tim)
    for random, sender in enumerate(["leckie", "peter", "leckie"], start=1):
        assert (await send(tim, sender, random))["ErrorCode"] == 0
    await tim.ok(f"{G}/delete_group_msg_by_sender", {"GroupId": GID, "Sender_Account": "leckie"})
    history = await tim.ok(f"{G}/group_msg_get_simple", {"GroupId": GID, "ReqMsgNumber": 10})
    places = {m["MsgSeq"]: m["IsPlaceMsg"] for m in history["RspMsgList"]}
    assert places == {3: 2, 2: 0, 1: 2}
    recall = await tim.ok(f"{G}/group_msg_recall", {"GroupId": GID, "MsgSeqList": [{"MsgSeq": 1}]})
    assert recall["RecallRetList"][0]["RetCode"] == 10032


async def test_delete_group_msg_by_sender_reaches_back_only_so_far(
    tim: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the last 1,000 messages are looked at (a window of 3 here, to keep the test small); in
    an AVChatRoom nothing happens, without error."""
    monkeypatch.setattr(group_ops, "RECALL_BY_SENDER_WINDOW", 3)
    await group(tim)
    await tim.server.create_group("live", owner="leckie", members=["peter"], type="AVChatRoom")
    for random in range(1, 6):
        assert (await send(tim, "peter" if random <= 3 else "leckie", random))["ErrorCode"] == 0
    await tim.ok(f"{G}/delete_group_msg_by_sender", {"GroupId": GID, "Sender_Account": "peter"})
    # 5 messages: the last 3 are seqs 3 to 5, so of peter's 1, 2 and 3 only 3 goes.
    first = await tim.ok(f"{G}/group_msg_get_simple", {"GroupId": GID, "ReqMsgNumber": 3, "ReqMsgSeq": 3})
    assert {m["MsgSeq"]: m["IsPlaceMsg"] for m in first["RspMsgList"]} == {3: 2, 2: 0, 1: 0}
    await tim.ok(f"{G}/delete_group_msg_by_sender", {"GroupId": "live", "Sender_Account": "peter"})


async def test_send_group_system_notification_sample(tim: Caller) -> None:
    """To the members named, or every member; recorded, and never in the group's history."""
    await group(tim)
    body = {"GroupId": GID, "ToMembers_Account": ["peter", "leckie"], "Content": "Hello World"}
    await tim.ok(f"{G}/send_group_system_notification", body)
    await tim.ok(f"{G}/send_group_system_notification", {"GroupId": GID, "Content": "to all"})
    notices = await tim.server.group_notices(GID)
    assert [(c, sorted(to)) for c, to, _ in notices] == [
        ("Hello World", ["leckie", "peter"]), ("to all", ["leckie", "peter"])]  # fmt: skip
    history = await tim.ok(f"{G}/group_msg_get_simple", {"GroupId": GID, "ReqMsgNumber": 10})
    assert history["RspMsgList"] == []
    await tim.fails(f"{G}/send_group_system_notification", {**body, "ToMembers_Account": ["jared"]}, 10007)
    await tim.fails(f"{G}/send_group_system_notification", {"GroupId": GID, "Content": ""}, 10004)


async def test_import_group_and_members_samples(tim: Caller) -> None:
    """trtc.io/document/34967 and 34969: CreateTime and JoinTime are kept; a second import of a
    member answers Result 2; imported history must be later than the group's creation."""
    body = {"Owner_Account": "leckie", "Type": "Public", "Name": "TestGroup", "CreateTime": 1448357837}
    gid = (await tim.ok(f"{G}/import_group", body))["GroupId"]
    info = (await tim.ok(f"{G}/get_group_info", {"GroupIdList": [gid]}))["GroupInfo"][0]
    assert (info["CreateTime"], info["Owner_Account"]) == (1448357837, "leckie")
    members = [{"Member_Account": "tommy", "Role": "Admin", "JoinTime": 1448357837, "UnreadMsgNum": 5},
               {"Member_Account": "jared", "JoinTime": 1448357857, "UnreadMsgNum": 2}]  # fmt: skip
    reply = await tim.ok(f"{G}/import_group_member", {"GroupId": gid, "MemberList": members})
    assert reply["MemberList"] == [
        {"Member_Account": "tommy", "Result": 1},
        {"Member_Account": "jared", "Result": 1},
    ]
    again = await tim.ok(f"{G}/import_group_member", {"GroupId": gid, "MemberList": members[:1]})
    assert again["MemberList"] == [{"Member_Account": "tommy", "Result": 2}]
    listed = await tim.ok(f"{G}/get_group_member_info", {"GroupId": gid})
    joined = {m["Member_Account"]: (m["Role"], m["JoinTime"]) for m in listed["MemberList"]}
    assert joined["tommy"] == ("Admin", 1448357837) and joined["jared"] == ("Member", 1448357857)
    early = [{"Member_Account": "zoe", "JoinTime": 1448357836}]
    await tim.fails(f"{G}/import_group_member", {"GroupId": gid, "MemberList": early}, 10004)
    msg = {"From_Account": "tommy", "SendTime": 1448357900, "MsgBody": text("old"), "Random": 1}
    imported = await tim.ok(f"{G}/import_group_msg", {"GroupId": gid, "MsgList": [msg]})
    assert imported["ImportMsgResult"][0]["Result"] == 0


# --- refusals ----------------------------------------------------------------------------------


async def test_a_muted_member_cannot_send_until_the_mute_ends(tim: Caller) -> None:
    """TIM answers 10017 to a muted sender; the admin still sends; unmuting lets the member speak."""
    await group(tim)
    await tim.ok(
        f"{G}/forbid_send_msg", {"GroupId": GID, "Members_Account": ["peter"], "ShutUpTime": 4294967295}
    )
    assert (await send(tim, "peter", 1))["ErrorCode"] == 10017
    admin_send = {"GroupId": GID, "Random": 2, "MsgBody": text("from the admin")}
    await tim.ok(f"{G}/send_group_msg", admin_send)
    reply = await tim.ok(f"{G}/get_group_shutted_uin", {"GroupId": GID})
    assert reply["ShuttedUinList"] == [{"Member_Account": "peter", "ShuttedUntil": 4294967295}]
    await tim.ok(f"{G}/forbid_send_msg", {"GroupId": GID, "Members_Account": ["peter"], "ShutUpTime": 0})
    assert (await send(tim, "peter", 3))["ErrorCode"] == 0


async def test_a_mute_outlives_leaving_and_rejoining(tim: Caller) -> None:
    """trtc.io/document/34951: muted users who leave and come back are still muted."""
    await group(tim)
    await tim.ok(f"{G}/forbid_send_msg", {"GroupId": GID, "Members_Account": ["peter"], "ShutUpTime": 600})
    await tim.ok(f"{G}/delete_group_member", {"GroupId": GID, "MemberToDel_Account": ["peter"]})
    assert (await tim.ok(f"{G}/get_group_shutted_uin", {"GroupId": GID}))["ShuttedUinList"] == []
    await tim.ok(f"{G}/add_group_member", {"GroupId": GID, "MemberList": [{"Member_Account": "peter"}]})
    assert (await send(tim, "peter", 1))["ErrorCode"] == 10017


async def test_mute_all_members_silences_members_but_not_owner_or_admins(tim: Caller) -> None:
    """MuteAllMember (or the old ShutUpAllMember): plain members get 10017, owner and admins send."""
    await group(tim, members=("peter", "bob"))
    await tim.ok(f"{G}/modify_group_member_info", {"GroupId": GID, "Member_Account": "bob", "Role": "Admin"})
    await tim.ok(f"{G}/modify_group_base_info", {"GroupId": GID, "ShutUpAllMember": "On"})
    assert (await send(tim, "peter", 1))["ErrorCode"] == 10017
    assert (await send(tim, "bob", 2))["ErrorCode"] == 0
    assert (await send(tim, "leckie", 3))["ErrorCode"] == 0
    await tim.ok(f"{G}/modify_group_base_info", {"GroupId": GID, "MuteAllMember": "Off"})
    assert (await send(tim, "peter", 4))["ErrorCode"] == 0


@pytest.mark.parametrize(
    ("kind", "endpoint", "body"),
    [
        ("AVChatRoom", "change_group_owner", {"NewOwner_Account": "peter"}),
        ("AVChatRoom", "modify_group_member_info", {"Member_Account": "peter", "NameCard": "x"}),
        ("AVChatRoom", "import_group_member", {"MemberList": [{"Member_Account": "tommy"}]}),
        ("Private", "forbid_send_msg", {"Members_Account": ["peter"], "ShutUpTime": 60}),
        ("Work", "modify_group_member_info", {"Member_Account": "peter", "ShutUpTime": 60}),
        ("AVChatRoom", "send_group_system_notification", {"Content": "x", "ToMembers_Account": ["peter"]}),
    ],
)
async def test_group_types_the_pages_exclude_answer_10007(
    tim: Caller, kind: str, endpoint: str, body: dict[str, Any]
) -> None:
    await group(tim, kind)
    await tim.fails(f"{G}/{endpoint}", {"GroupId": GID, **body}, 10007)


async def test_avchatroom_and_community_differences(tim: Caller) -> None:
    """AVChatRoom cannot be imported (10007) but mutes its members; Community does everything."""
    await tim.fails(f"{G}/import_group", {"Type": "AVChatRoom", "Name": "live"}, 10007)
    await group(tim, "AVChatRoom", "live")
    await tim.ok(f"{G}/forbid_send_msg", {"GroupId": "live", "Members_Account": ["peter"], "ShutUpTime": 60})
    await tim.ok(f"{G}/send_group_system_notification", {"GroupId": "live", "Content": "to everyone"})
    await group(tim, "Community", "@TGS#_community")
    await tim.ok(f"{G}/change_group_owner", {"GroupId": "@TGS#_community", "NewOwner_Account": "peter"})
    await tim.ok(f"{G}/import_group", {"Type": "Community", "Name": "c2", "GroupId": "@TGS#_c2"})


async def test_owner_and_membership_refusals(tim: Caller) -> None:
    """A non-member cannot become owner or be modified; the owner's role moves only by transfer."""
    await group(tim)
    await tim.fails(f"{G}/change_group_owner", {"GroupId": GID, "NewOwner_Account": "jared"}, 10007)
    await tim.fails(
        f"{G}/modify_group_member_info", {"GroupId": GID, "Member_Account": "jared", "NameCard": "j"}, 10007
    )
    await tim.fails(
        f"{G}/modify_group_member_info", {"GroupId": GID, "Member_Account": "leckie", "Role": "Admin"}, 10007
    )
    await tim.fails(f"{G}/change_group_owner", {"GroupId": "@TGS#none", "NewOwner_Account": "peter"}, 10010)
    await tim.fails(
        f"{G}/modify_group_member_info", {"GroupId": GID, "Member_Account": "peter", "Role": "Owner"}, 10004
    )
    await tim.fails(
        f"{G}/modify_group_member_info", {"GroupId": GID, "Member_Account": "peter", "MsgFlag": "Loud"}, 10004
    )
    await tim.fails(
        f"{G}/modify_group_member_info",
        {"GroupId": GID, "Member_Account": "peter", "NameCard": "x" * 51},
        10004,
    )
    assert await roles(tim, "leckie", "peter") == {"leckie": "Owner", "peter": "Member"}  # nothing changed


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("get_role_in_group", {"User_Account": [f"u{i}" for i in range(501)]}),
        ("get_role_in_group", {"User_Account": []}),
        ("forbid_send_msg", {"Members_Account": [f"u{i}" for i in range(501)], "ShutUpTime": 60}),
        ("import_group_member", {"MemberList": [{"Member_Account": f"u{i}"} for i in range(301)]}),
        ("import_group_member", {"MemberList": [{"Member_Account": "u", "Role": "Owner"}]}),
        (
            "send_group_system_notification",
            {"Content": "x", "ToMembers_Account": [f"u{i}" for i in range(501)]},
        ),
    ],
)
async def test_caps_answer_10004_and_store_nothing(tim: Caller, endpoint: str, body: dict[str, Any]) -> None:
    await group(tim)
    await tim.fails(f"{G}/{endpoint}", {"GroupId": GID, **body}, 10004)
    members = await tim.ok(f"{G}/get_group_member_info", {"GroupId": GID})
    assert members["MemberNum"] == 2
    assert (await tim.ok(f"{G}/get_group_shutted_uin", {"GroupId": GID}))["ShuttedUinList"] == []


async def test_import_group_refuses_a_future_create_time_and_bad_types(tim: Caller) -> None:
    await tim.fails(f"{G}/import_group", {"Type": "Public", "Name": "x", "CreateTime": 2**40}, 10004)
    await tim.fails(f"{G}/import_group", {"Type": "Club", "Name": "x"}, 10004)
    assert (await tim.ok(f"{G}/get_appid_group_list", {}))["TotalCount"] == 0


async def test_admin_state_survives_a_restart(tmp_path: Path) -> None:
    """Owners, roles, name cards and mutes are in the database file."""
    db = tmp_path / "tim.sqlite3"
    async with serve(db_path=db) as tim:
        await group(tim, members=("peter", "bob"))
        await tim.ok(f"{G}/change_group_owner", {"GroupId": GID, "NewOwner_Account": "peter"})
        await tim.ok(
            f"{G}/modify_group_member_info", {"GroupId": GID, "Member_Account": "bob", "NameCard": "B"}
        )
        await tim.ok(f"{G}/forbid_send_msg", {"GroupId": GID, "Members_Account": ["bob"], "ShutUpTime": 3600})
    async with serve(db_path=db) as tim:
        assert await roles(tim, "leckie", "peter") == {"leckie": "Member", "peter": "Owner"}
        listed = await tim.ok(f"{G}/get_group_member_info", {"GroupId": GID})
        bob = next(m for m in listed["MemberList"] if m["Member_Account"] == "bob")
        assert bob["NameCard"] == "B" and bob["ShutUpUntil"] > 0
        assert (await send(tim, "bob", 1))["ErrorCode"] == 10017


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[ThirdParty, str]]:
    """An app backend that is not aio_tim (test_callback_fidelity's), and its callback URL."""
    receiver = ThirdParty()
    server = web.Application()
    server.router.add_post("/im/callback", receiver.handle)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield receiver, f"http://127.0.0.1:{runner.addresses[0][1]}/im/callback"
    await runner.cleanup()


async def test_webhooks_fire_where_tim_documents_them(hooks: tuple[ThirdParty, str]) -> None:
    """Imports fire nothing (trtc.io/document/34967); a MsgFlag or mute change fires nothing; a
    NameCard change fires Group.CallbackAfterMemberFieldChanged with the member as it now is."""
    receiver, url = hooks
    async with serve(webhook_url=url) as tim:
        await tim.ok(
            f"{G}/import_group", {"Type": "Public", "Name": "old", "GroupId": "old", "CreateTime": 1448357837}
        )
        members = [{"Member_Account": "tommy", "JoinTime": 1448357900}]
        await tim.ok(f"{G}/import_group_member", {"GroupId": "old", "MemberList": members})
        member = {"GroupId": "old", "Member_Account": "tommy"}
        await tim.ok(f"{G}/modify_group_member_info", {**member, "MsgFlag": "Discard", "ShutUpTime": 60})
        await tim.ok(f"{G}/change_group_owner", {"GroupId": "old", "NewOwner_Account": "tommy"})
        await tim.ok(f"{G}/group_msg_get_simple", {"GroupId": "old", "ReqMsgNumber": 1})
        await tim.ok(
            f"{G}/modify_group_member_info", {"GroupId": "old", "Member_Account": "tommy", "NameCard": "T"}
        )
        await tim.server.webhooks_idle()
    assert [b["CallbackCommand"] for b in receiver.bodies] == ["Group.CallbackAfterMemberFieldChanged"]
    (body,) = receiver.bodies
    assert (body["Member_Account"], body["Role"], body["NameCard"], body["Type"]) == (
        "tommy",
        "Owner",
        "T",
        "Public",
    )
