"""Issue 33: the relationship chain (`sns/*`) on the dev server over loopback, one test per command
built from the sample request on its TIM page (cloud.tencent.com/document/product/269/...), with
the refusals TIM documents: caps, not a friend, blacklisted, an AllowType that needs approval.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_devserver import Tim, serve

FRIENDS = ("id", "id1", "id2", "id3")


@pytest.fixture
async def tim() -> AsyncIterator[Tim]:
    async with serve(auto_accounts=False) as tim:
        await tim.server.add_accounts(*FRIENDS)
        yield tim


def results(reply: dict[str, Any], key: str = "ResultItem") -> dict[str, int]:
    return {item["To_Account"]: item["ResultCode"] for item in reply[key]}


async def befriend(tim: Tim, owner: str, *others: str, **fields: Any) -> dict[str, Any]:
    items = [{"To_Account": other, "AddSource": "AddSource_Type_Test"} for other in others]
    return await tim.ok(
        "sns/friend_add", {"From_Account": owner, "AddFriendItem": items, "ForceAddFlags": 1, **fields}
    )


async def relation(tim: Tim, owner: str, other: str) -> str:
    body = {"From_Account": owner, "To_Account": [other], "CheckType": "CheckResult_Type_Both"}
    reply = await tim.ok("sns/friend_check", body)
    return str(reply["InfoItem"][0]["Relation"])


# --- friend_add (269/1643) ------------------------------------------------------------------------


async def test_friend_add_page_sample_forced_both_ways(tim: Tim) -> None:
    """The page's complete form: Add_Type_Both with ForceAddFlags 1 makes both sides friends."""
    reply = await tim.ok(
        "sns/friend_add",
        {
            "From_Account": "id",
            "AddFriendItem": [
                {
                    "To_Account": "id1",
                    "Remark": "remark1",
                    "GroupName": "同学",
                    "AddSource": "AddSource_Type_XXXXXXXX",
                    "AddWording": "I'm Test1",
                }
            ],
            "AddType": "Add_Type_Both",
            "ForceAddFlags": 1,
        },
    )
    assert reply["ResultItem"] == [{"To_Account": "id1", "ResultCode": 0, "ResultInfo": ""}]
    assert "Fail_Account" not in reply  # TIM sends it only when some account failed
    assert await relation(tim, "id", "id1") == "CheckResult_Type_BothWay"
    got = await tim.ok(
        "sns/friend_get_list",
        {"From_Account": "id", "To_Account": ["id1"], "TagList": ["Tag_SNS_IM_Remark", "Tag_SNS_IM_Group"]},
    )
    assert got["InfoItem"][0]["SnsProfileItem"] == [
        {"Tag": "Tag_SNS_IM_Remark", "Value": "remark1"},
        {"Tag": "Tag_SNS_IM_Group", "Value": ["同学"]},
    ]


async def test_friend_add_waits_for_approval_unless_forced_or_allow_any(tim: Tim) -> None:
    """AllowType_Type_NeedConfirm (every account's default) answers 30539 per item; AllowAny adds;
    DenyAny refuses with 30516."""
    basic = {
        "From_Account": "id",
        "AddFriendItem": [{"To_Account": "id1", "AddSource": "AddSource_Type_XXXXXXXX"}],
    }
    assert results(await tim.ok("sns/friend_add", basic)) == {"id1": 30539}
    assert await relation(tim, "id", "id1") == "CheckResult_Type_NoRelation"
    for user, allow in (("id1", "AllowType_Type_AllowAny"), ("id2", "AllowType_Type_DenyAny")):
        await tim.ok(
            "profile/portrait_set",
            {"From_Account": user, "ProfileItem": [{"Tag": "Tag_Profile_IM_AllowType", "Value": allow}]},
        )
    batch = {
        "From_Account": "id",
        "AddFriendItem": [
            {"To_Account": "id1", "AddSource": "AddSource_Type_XXXXXXXX"},
            {"To_Account": "id2", "AddSource": "AddSource_Type_XXXXXXXX"},
        ],
    }
    reply = await tim.ok("sns/friend_add", batch)
    assert results(reply) == {"id1": 0, "id2": 30516}
    assert reply["Fail_Account"] == ["id2"]


async def test_a_one_way_add_needs_no_approval(tim: Tim) -> None:
    """Add_Type_Single changes only From_Account's list: no 30539 (TIM's Sns.CallbackFriendAdd page)."""
    item = {"To_Account": "id1", "AddSource": "AddSource_Type_XXXXXXXX"}
    reply = await tim.ok(
        "sns/friend_add", {"From_Account": "id", "AddFriendItem": [item], "AddType": "Add_Type_Single"}
    )
    assert results(reply) == {"id1": 0}
    assert await relation(tim, "id", "id1") == "CheckResult_Type_AWithB"


async def test_friend_add_per_item_refusals(tim: Tim) -> None:
    """Already a friend, oneself, no such account, a bad AddSource: 30001 / 30003 per item."""
    await befriend(tim, "id", "id1")
    items = [
        {"To_Account": "id1", "AddSource": "AddSource_Type_XXXXXXXX"},
        {"To_Account": "id", "AddSource": "AddSource_Type_XXXXXXXX"},
        {"To_Account": "ghost", "AddSource": "AddSource_Type_XXXXXXXX"},
        {"To_Account": "id2", "AddSource": "android"},
    ]
    reply = await tim.ok("sns/friend_add", {"From_Account": "id", "AddFriendItem": items, "ForceAddFlags": 1})
    assert results(reply) == {"id1": 30001, "id": 30001, "ghost": 30003, "id2": 30001}
    assert reply["ResultItem"][0]["ResultInfo"] == "Err_SNS_FriendAdd_Friend_Exist"  # what TUIKit compares


async def test_friend_add_refuses_blacklisted_pairs(tim: Tim) -> None:
    """30515: To_Account is in From_Account's blacklist; 30525: the other way round."""
    await tim.ok("sns/black_list_add", {"From_Account": "id", "To_Account": ["id1"]})
    await tim.ok("sns/black_list_add", {"From_Account": "id2", "To_Account": ["id"]})
    reply = await befriend(tim, "id", "id1", "id2")
    assert results(reply) == {"id1": 30515, "id2": 30525}


async def test_friend_add_whole_call_refusals(tim: Tim) -> None:
    await tim.fails(
        "sns/friend_add", {"From_Account": "ghost", "AddFriendItem": [{"To_Account": "id1"}]}, 30003
    )
    await tim.fails("sns/friend_add", {"From_Account": "id", "AddFriendItem": []}, 30001)
    too_many = [{"To_Account": f"u{i}", "AddSource": "AddSource_Type_X"} for i in range(1001)]
    await tim.fails("sns/friend_add", {"From_Account": "id", "AddFriendItem": too_many}, 30001)
    await tim.fails("sns/friend_add", {"From_Account": "id", "AddFriendItem": [], "AddType": "Both"}, 30001)
    await tim.fails("sns/friend_add", {"From_Account": 7, "AddFriendItem": []}, 30001)
    await tim.fails("sns/friend_add", None, 30001, raw=b"{not json")


async def test_friend_cap_is_3000(tmp_path: Path) -> None:
    """30010 once From_Account has 3000 friends (filled in sqlite to keep the test quick)."""
    db = tmp_path / "dev.sqlite3"
    async with serve(db_path=db) as tim:
        await befriend(tim, "id", "id1")
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO friends (owner, friend, add_time) VALUES ('id', ?, 0)",
            [(f"f{i}",) for i in range(2999)],
        )
    async with serve(db_path=db) as tim:
        assert results(await befriend(tim, "id", "id2")) == {"id2": 30010}
        assert results(await befriend(tim, "id2", "id")) == {"id": 30014}


# --- friend_import / friend_update (269/8301, 269/12525) ------------------------------------------


async def test_friend_import_page_sample_one_way_with_its_data(tim: Tim) -> None:
    reply = await tim.ok(
        "sns/friend_import",
        {
            "From_Account": "id",
            "AddFriendItem": [
                {
                    "To_Account": "id1",
                    "Remark": "remark1",
                    "RemarkTime": 1604325868,
                    "GroupName": ["同学"],
                    "AddSource": "AddSource_Type_XXXXXXXX",
                    "AddWording": "I'm Test1",
                    "AddTime": 1604325868,
                    "CustomItem": [
                        {"Tag": "Tag_SNS_Custom_testTag", "Value": "Test"},
                        {"Tag": "Tag_SNS_Custom_testTagNum", "Value": 100},
                    ],
                }
            ],
        },
    )
    assert results(reply) == {"id1": 0}
    assert await relation(tim, "id", "id1") == "CheckResult_Type_AWithB"
    page = await tim.ok("sns/friend_get", {"From_Account": "id", "StartIndex": 0})
    values = {v["Tag"]: v["Value"] for v in page["UserDataItem"][0]["ValueItem"]}
    assert values["Tag_SNS_IM_AddTime"] == 1604325868
    assert values["Tag_SNS_Custom_testTagNum"] == 100
    assert values["Tag_SNS_IM_Group"] == ["同学"]


async def test_friend_import_caps_and_refusals(tim: Tim) -> None:
    items = [{"To_Account": f"u{i}", "AddSource": "AddSource_Type_X"} for i in range(101)]
    await tim.fails("sns/friend_import", {"From_Account": "id", "AddFriendItem": items}, 30001)
    bad_custom = {
        "To_Account": "id2",
        "AddSource": "AddSource_Type_X",
        "CustomItem": [{"Tag": "Nope", "Value": 1}],
    }
    reply = await tim.ok("sns/friend_import", {"From_Account": "id", "AddFriendItem": [bad_custom]})
    assert results(reply) == {"id2": 30001}


async def test_friend_update_page_sample_and_not_a_friend(tim: Tim) -> None:
    await befriend(tim, "id", "id1")
    reply = await tim.ok(
        "sns/friend_update",
        {
            "From_Account": "id",
            "UpdateItem": [
                {
                    "To_Account": "id1",
                    "SnsItem": [
                        {"Tag": "Tag_SNS_IM_Remark", "Value": "remark1"},
                        {"Tag": "Tag_SNS_IM_Group", "Value": ["friend1", "friend2"]},
                    ],
                },
                {"To_Account": "id2", "SnsItem": [{"Tag": "Tag_SNS_IM_Remark", "Value": "remark2"}]},
                {"To_Account": "id1", "SnsItem": [{"Tag": "Tag_SNS_IM_AddTime", "Value": 1}]},
            ],
        },
    )
    assert [item["ResultCode"] for item in reply["ResultItem"]] == [0, 30001, 30001]
    got = await tim.ok("sns/group_get", {"From_Account": "id", "NeedFriend": "Need_Friend_Type_Yes"})
    assert {g["GroupName"]: g["To_Account"] for g in got["ResultItem"]} == {
        "friend1": ["id1"],
        "friend2": ["id1"],
    }


# --- friend_delete / friend_delete_all / friend_check (269/1644, 1645, 1646) ----------------------


async def test_friend_delete_single_then_both(tim: Tim) -> None:
    await befriend(tim, "id", "id1", "id2")
    reply = await tim.ok(
        "sns/friend_delete",
        {"From_Account": "id", "To_Account": ["id1", "id3"], "DeleteType": "Delete_Type_Single"},
    )
    assert results(reply) == {"id1": 0, "id3": 30001}
    assert await relation(tim, "id", "id1") == "CheckResult_Type_BWithA"
    await tim.ok(
        "sns/friend_delete", {"From_Account": "id", "To_Account": ["id2"], "DeleteType": "Delete_Type_Both"}
    )
    assert await relation(tim, "id", "id2") == "CheckResult_Type_NoRelation"


async def test_friend_delete_all_page_sample(tim: Tim) -> None:
    await befriend(tim, "id", "id1", "id2")
    await tim.ok("sns/friend_delete_all", {"From_Account": "id", "DeleteType": "Delete_Type_Both"})
    page = await tim.ok("sns/friend_get", {"From_Account": "id1", "StartIndex": 0})
    assert page["FriendNum"] == 0
    await tim.fails("sns/friend_delete_all", {"From_Account": "id", "DeleteType": "nope"}, 30001)


async def test_friend_check_page_sample_single(tim: Tim) -> None:
    await tim.ok(
        "sns/friend_import",
        {"From_Account": "id", "AddFriendItem": [{"To_Account": "id1", "AddSource": "AddSource_Type_X"}]},
    )
    reply = await tim.ok(
        "sns/friend_check",
        {"From_Account": "id", "To_Account": ["id1", "id2"], "CheckType": "CheckResult_Type_Single"},
    )
    assert [(i["To_Account"], i["Relation"]) for i in reply["InfoItem"]] == [
        ("id1", "CheckResult_Type_AWithB"),
        ("id2", "CheckResult_Type_NoRelation"),
    ]
    await tim.fails(
        "sns/friend_check", {"From_Account": "id", "To_Account": ["id1"], "CheckType": "x"}, 30001
    )


# --- friend_get / friend_get_list (269/1647, 269/8609) --------------------------------------------


async def test_friend_get_pages_by_100(tim: Tim) -> None:
    await tim.server.add_accounts(*(f"u{i:03}" for i in range(150)))
    for start in (0, 100):
        items = [
            {"To_Account": f"u{i:03}", "AddSource": "AddSource_Type_X"}
            for i in range(start, min(start + 100, 150))
        ]
        await tim.ok("sns/friend_import", {"From_Account": "id", "AddFriendItem": items})
    first = await tim.ok("sns/friend_get", {"From_Account": "id", "StartIndex": 0, "StandardSequence": 0})
    assert (
        len(first["UserDataItem"]),
        first["FriendNum"],
        first["CompleteFlag"],
        first["NextStartIndex"],
    ) == (100, 150, 0, 100)
    second = await tim.ok("sns/friend_get", {"From_Account": "id", "StartIndex": 100})
    assert (len(second["UserDataItem"]), second["CompleteFlag"], second["NextStartIndex"]) == (50, 1, 0)
    assert second["StandardSequence"] == first["StandardSequence"] > 0


async def test_friend_get_list_profile_and_sns_tags(tim: Tim) -> None:
    await tim.ok(
        "profile/portrait_set",
        {"From_Account": "id1", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "One"}]},
    )
    await befriend(tim, "id", "id1")
    reply = await tim.ok(
        "sns/friend_get_list",
        {
            "From_Account": "id",
            "To_Account": ["id1", "id2"],
            "TagList": ["Tag_Profile_IM_Nick", "Tag_Profile_IM_BirthDay", "Tag_SNS_IM_AddSource"],
        },
    )
    one, two = reply["InfoItem"]
    assert one["SnsProfileItem"] == [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "One"},
        {"Tag": "Tag_SNS_IM_AddSource", "Value": "AddSource_Type_Test"},
    ]
    assert (two["To_Account"], two["ResultCode"]) == ("id2", 30001)
    assert reply["Fail_Account"] == ["id2"]
    many = {
        "From_Account": "id",
        "To_Account": [f"u{i}" for i in range(101)],
        "TagList": ["Tag_SNS_IM_Remark"],
    }
    await tim.fails("sns/friend_get_list", many, 30001)


# --- black_list_* (269/3718, 3719, 3722, 3725) ----------------------------------------------------


async def test_black_list_add_ends_the_friendship_and_refuses_repeats(tim: Tim) -> None:
    await befriend(tim, "id", "id1")
    reply = await tim.ok("sns/black_list_add", {"From_Account": "id", "To_Account": ["id1", "id2", "ghost"]})
    assert results(reply) == {"id1": 0, "id2": 0, "ghost": 30003}
    assert await relation(tim, "id", "id1") == "CheckResult_Type_NoRelation"
    again = await tim.ok("sns/black_list_add", {"From_Account": "id", "To_Account": ["id1"]})
    assert results(again) == {"id1": 30001}


async def test_black_list_delete_page_sample(tim: Tim) -> None:
    await tim.ok("sns/black_list_add", {"From_Account": "id", "To_Account": ["id1"]})
    reply = await tim.ok("sns/black_list_delete", {"From_Account": "id", "To_Account": ["id1", "id2"]})
    assert results(reply) == {"id1": 0, "id2": 30001}


async def test_black_list_get_pages(tim: Tim) -> None:
    await tim.ok("sns/black_list_add", {"From_Account": "id", "To_Account": ["id1", "id2", "id3"]})
    first = await tim.ok(
        "sns/black_list_get", {"From_Account": "id", "StartIndex": 0, "MaxLimited": 2, "LastSequence": 0}
    )
    assert [i["To_Account"] for i in first["BlackListItem"]] == ["id1", "id2"]
    assert first["StartIndex"] == 2 and first["CurrentSequence"] > 0
    rest = await tim.ok(
        "sns/black_list_get",
        {"From_Account": "id", "StartIndex": 2, "MaxLimited": 2, "LastSequence": first["CurrentSequence"]},
    )
    assert [i["To_Account"] for i in rest["BlackListItem"]] == ["id3"] and rest["StartIndex"] == 0
    whole = await tim.ok(
        "sns/black_list_get", {"From_Account": "id", "StartIndex": 0, "MaxLimited": 0, "LastSequence": 0}
    )
    assert len(whole["BlackListItem"]) == 3 and whole["StartIndex"] == 0  # 0: no size asked, the largest page
    await tim.fails(
        "sns/black_list_get",
        {"From_Account": "id", "StartIndex": 0, "MaxLimited": 1001, "LastSequence": 0},
        30001,
    )


async def test_black_list_check_both(tim: Tim) -> None:
    await tim.ok("sns/black_list_add", {"From_Account": "id", "To_Account": ["id1", "id2"]})
    await tim.ok("sns/black_list_add", {"From_Account": "id1", "To_Account": ["id"]})
    await tim.ok("sns/black_list_add", {"From_Account": "id3", "To_Account": ["id"]})
    reply = await tim.ok(
        "sns/black_list_check",
        {
            "From_Account": "id",
            "To_Account": ["id1", "id2", "id3"],
            "CheckType": "BlackCheckResult_Type_Both",
        },
    )
    assert [i["Relation"] for i in reply["BlackListCheckItem"]] == [
        "BlackCheckResult_Type_BothWay",
        "BlackCheckResult_Type_AWithB",
        "BlackCheckResult_Type_BWithA",
    ]


async def test_rest_c2c_sends_ignore_the_blacklist(tim: Tim) -> None:
    """openim/sendmsg's page: the REST send checks no friendship and no blacklist (20007 is the
    client SDKs' refusal), so a blacklisted sender's REST message goes through."""
    await tim.ok("sns/black_list_add", {"From_Account": "id1", "To_Account": ["id"]})
    msg = {"MsgRandom": 1, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}
    await tim.ok("openim/sendmsg", {"From_Account": "id", "To_Account": "id1", **msg})


# --- group_add / group_delete / group_get (269/10107, 10108, 54763) -------------------------------


async def test_friend_lists_add_delete_get(tim: Tim) -> None:
    await befriend(tim, "id", "id1")
    added = await tim.ok(
        "sns/group_add",
        {"From_Account": "id", "GroupName": ["group1", "group2"], "To_Account": ["id1", "id2"]},
    )
    assert results(added) == {"id1": 0, "id2": 30001} and added["CurrentSequence"] > 0
    got = await tim.ok(
        "sns/group_get",
        {
            "From_Account": "id",
            "LastSequence": 0,
            "NeedFriend": "Need_Friend_Type_Yes",
            "GroupName": ["group1", "nope"],
        },
    )
    assert got["ResultItem"] == [{"GroupName": "group1", "FriendNumber": 1, "To_Account": ["id1"]}]
    deleted = await tim.ok("sns/group_delete", {"From_Account": "id", "GroupName": ["group1", "never"]})
    assert deleted["CurrentSequence"] > added["CurrentSequence"]
    left = await tim.ok("sns/group_get", {"From_Account": "id"})
    assert [g["GroupName"] for g in left["ResultItem"]] == ["group2"]
    await tim.fails("sns/group_add", {"From_Account": "id", "GroupName": ["x" * 31]}, 30001)
    await tim.fails("sns/group_add", {"From_Account": "id", "GroupName": [f"g{i}" for i in range(30)]}, 30011)


async def test_chain_survives_a_restart_and_account_delete(tmp_path: Path) -> None:
    db = tmp_path / "dev.sqlite3"
    async with serve(db_path=db) as tim:
        await befriend(tim, "id", "id1", "id2")
        await tim.ok("sns/black_list_add", {"From_Account": "id", "To_Account": ["id3"]})
    async with serve(db_path=db) as tim:
        assert await relation(tim, "id", "id1") == "CheckResult_Type_BothWay"
        await tim.ok("im_open_login_svc/account_delete", {"DeleteItem": [{"UserID": "id1"}]})
        page = await tim.ok("sns/friend_get", {"From_Account": "id", "StartIndex": 0})
        assert [i["To_Account"] for i in page["UserDataItem"]] == ["id2"]
        check = await tim.ok(
            "sns/black_list_check",
            {"From_Account": "id", "To_Account": ["id3"], "CheckType": "BlackCheckResult_Type_Single"},
        )
        assert check["BlackListCheckItem"][0]["Relation"] == "BlackCheckResult_Type_AWithB"


async def test_dobyte_spells_the_conversation_type_in_lower_case(tim: Tim) -> None:
    """recentcontact/delete reads `type` as `Type` (dobyte/tencent-im's DeleteSession sends it so)."""
    msg = {"MsgRandom": 1, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}
    await tim.ok("openim/sendmsg", {"From_Account": "id", "To_Account": "id1", **msg})
    await tim.ok(
        "recentcontact/delete", {"From_Account": "id", "type": 1, "To_Account": "id1", "ClearRamble": 1}
    )
    await tim.fails("recentcontact/delete", {"From_Account": "id", "To_Account": "id1"}, 50002)
