"""Issue 33: profiles, global mutes, the app's own data and kick on the dev server over loopback,
from the sample requests on TIM's pages; muted senders refused by the send paths (20012 C2C,
10017 group) without the before-send webhook; the friend, blacklist, profile and kick webhooks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_devserver import FakeClock, Tim, serve

from aio_tim.protocol.profile import MUTED_FOREVER

MSG: dict[str, Any] = {"MsgRandom": 1, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}


@pytest.fixture
async def tim() -> AsyncIterator[Tim]:
    async with serve(auto_accounts=False) as tim:
        await tim.server.add_accounts("id", "id1", "id2")
        yield tim


# --- portrait_set / portrait_get (269/1640, 269/1639) ---------------------------------------------


async def test_portrait_set_then_get_page_samples(tim: Tim) -> None:
    await tim.ok(
        "profile/portrait_set",
        {
            "From_Account": "id",
            "ProfileItem": [
                {"Tag": "Tag_Profile_IM_Nick", "Value": "MyNickName"},
                {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Male"},
                {"Tag": "Tag_Profile_IM_Language", "Value": 20},
                {"Tag": "Tag_Profile_Custom_Test", "Value": "custom"},
            ],
        },
    )
    reply = await tim.ok(
        "profile/portrait_get",
        {
            "To_Account": ["id", "ghost"],
            "TagList": [
                "Tag_Profile_IM_Nick",
                "Tag_Profile_IM_Gender",
                "Tag_Profile_IM_BirthDay",
                "Tag_Profile_IM_Language",
                "Tag_Profile_Custom_Test",
            ],
        },
    )
    mine, ghost = reply["UserProfileItem"]
    assert mine == {
        "To_Account": "id",
        "ResultCode": 0,
        "ResultInfo": "",
        "ProfileItem": [
            {"Tag": "Tag_Profile_IM_Nick", "Value": "MyNickName"},
            {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Male"},
            {"Tag": "Tag_Profile_IM_Language", "Value": 20},
            {"Tag": "Tag_Profile_Custom_Test", "Value": "custom"},
        ],
    }
    assert (ghost["ResultCode"], reply["Fail_Account"]) == (40003, ["ghost"])


@pytest.mark.parametrize(
    ("item", "code"),
    [
        ({"Tag": "Tag_Profile_IM_Nope", "Value": "x"}, 40008),
        ({"Tag": "Tag_Profile_IM_Gender", "Value": "Male"}, 40605),
        ({"Tag": "Tag_Profile_IM_Language", "Value": "20"}, 40610),
        ({"Tag": "Tag_Profile_IM_Nick", "Value": 5}, 40610),
        ({"Tag": "Tag_Profile_IM_SelfSignature", "Value": "x" * 501}, 40601),
        ({"Tag": "Tag_Profile_IM_Level", "Value": -1}, 40605),
    ],
)
async def test_portrait_set_refuses_bad_fields_and_stores_nothing(
    tim: Tim, item: dict[str, Any], code: int
) -> None:
    good = {"Tag": "Tag_Profile_IM_Nick", "Value": "kept?"}
    await tim.fails("profile/portrait_set", {"From_Account": "id", "ProfileItem": [good, item]}, code)
    reply = await tim.ok("profile/portrait_get", {"To_Account": ["id"], "TagList": ["Tag_Profile_IM_Nick"]})
    assert reply["UserProfileItem"][0]["ProfileItem"] == []


async def test_portrait_whole_call_refusals(tim: Tim) -> None:
    await tim.fails(
        "profile/portrait_set",
        {"From_Account": "ghost", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "x"}]},
        40003,
    )
    await tim.fails(
        "profile/portrait_get",
        {"To_Account": [f"u{i}" for i in range(101)], "TagList": ["Tag_Profile_IM_Nick"]},
        40001,
    )
    await tim.fails("profile/portrait_get", {"To_Account": ["id"], "TagList": []}, 40001)
    await tim.fails("profile/portrait_get", {"To_Account": "id", "TagList": []}, 40001)


async def test_nick_from_portrait_set_is_the_accounts_nick(tim: Tim) -> None:
    """Nick and Image are the account's (account_import sets them too)."""
    await tim.ok(
        "im_open_login_svc/account_import", {"UserID": "id9", "Nick": "Nine", "FaceUrl": "http://x/9.png"}
    )
    reply = await tim.ok(
        "profile/portrait_get",
        {"To_Account": ["id9"], "TagList": ["Tag_Profile_IM_Image", "Tag_Profile_IM_Nick"]},
    )
    assert reply["UserProfileItem"][0]["ProfileItem"] == [
        {"Tag": "Tag_Profile_IM_Image", "Value": "http://x/9.png"},
        {"Tag": "Tag_Profile_IM_Nick", "Value": "Nine"},
    ]


# --- setnospeaking / getnospeaking (intl 1047/34923, 34924) and the send paths ---------------------


async def test_setnospeaking_page_sample_and_expiry() -> None:
    clock = FakeClock()
    async with serve(clock=clock) as tim:
        await tim.server.add_accounts("id", "id1")
        await tim.ok(
            "openconfigsvr/setnospeaking",
            {"Set_Account": "id", "C2CmsgNospeakingTime": 4294967295, "GroupmsgNospeakingTime": 7200},
        )
        got = await tim.ok("openconfigsvr/getnospeaking", {"Get_Account": "id"})
        assert (got["C2CmsgNospeakingTime"], got["GroupmsgNospeakingTime"]) == (MUTED_FOREVER, 7200)
        # The REST C2C sends check no mute (openim/sendmsg's page); 20012 is the client SDKs'.
        await tim.ok("openim/sendmsg", {"From_Account": "id", "To_Account": "id1", **MSG})
        await tim.ok("openim/batchsendmsg", {"From_Account": "id", "To_Account": ["id1"], **MSG})
        gid = await tim.server.create_group("team", owner="id1", members=["id"])
        group_msg = {"GroupId": gid, "From_Account": "id", "Random": 1, "MsgBody": MSG["MsgBody"]}
        await tim.fails("group_open_http_svc/send_group_msg", group_msg, 10017)
        clock.advance(7201)
        await tim.ok("group_open_http_svc/send_group_msg", group_msg)
        await tim.ok("openconfigsvr/setnospeaking", {"Set_Account": "id", "C2CmsgNospeakingTime": 0})
        got = await tim.ok("openconfigsvr/getnospeaking", {"Get_Account": "id"})
        assert (got["C2CmsgNospeakingTime"], got["GroupmsgNospeakingTime"]) == (0, 0)


async def test_nospeaking_refusals(tim: Tim) -> None:
    await tim.fails("openconfigsvr/setnospeaking", {"Set_Account": "ghost", "C2CmsgNospeakingTime": 5}, 70107)
    await tim.fails("openconfigsvr/setnospeaking", {"Set_Account": "id"}, 90001)
    await tim.fails(
        "openconfigsvr/setnospeaking", {"Set_Account": "id", "C2CmsgNospeakingTime": 2**32}, 90001
    )
    await tim.fails("openconfigsvr/getnospeaking", {"Get_Account": "ghost"}, 70107)


async def test_a_mute_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "dev.sqlite3"
    async with serve(db_path=db) as tim:
        await tim.server.add_accounts("id", "id1")
        await tim.ok("openconfigsvr/setnospeaking", {"Set_Account": "id", "GroupmsgNospeakingTime": 3600})
        gid = await tim.server.create_group("team", owner="id1", members=["id"])
    async with serve(db_path=db) as tim:
        group_msg = {"GroupId": gid, "From_Account": "id", "Random": 1, "MsgBody": MSG["MsgBody"]}
        await tim.fails("group_open_http_svc/send_group_msg", group_msg, 10017)
        got = await tim.ok("openconfigsvr/getnospeaking", {"Get_Account": "id"})
        assert 0 < got["GroupmsgNospeakingTime"] <= 3600


# --- getappinfo / get_history / GetIPList / kick -------------------------------------------------


async def test_getappinfo_page_sample(tim: Tim) -> None:
    await tim.ok("openim/sendmsg", {"From_Account": "id", "To_Account": "id1", **MSG})
    every = await tim.ok("openconfigsvr/getappinfo", {})
    (today,) = every["Result"]
    assert today["AppId"] == str(tim.server.sdk_app_id)
    assert today["C2CUpMsgNum"] == "1" and today["RegistUserNumTotal"] == "4"  # the admin too
    some = await tim.ok("openconfigsvr/getappinfo", {"RequestField": ["ChainIncrease", "ChainDecrease"]})
    assert some["Result"] == [{"ChainIncrease": "0", "ChainDecrease": "0"}]
    await tim.fails("openconfigsvr/getappinfo", {"RequestField": ["Nope"]}, 90001)


async def test_get_history_page_sample(tim: Tim) -> None:
    reply = await tim.ok("open_msg_svc/get_history", {"ChatType": "C2C", "MsgTime": "2015120121"})
    assert reply["File"] == []
    await tim.fails("open_msg_svc/get_history", {"ChatType": "c2c", "MsgTime": "2015120121"}, 90001)
    await tim.fails("open_msg_svc/get_history", {"ChatType": "Group", "MsgTime": "20151201"}, 90001)
    await tim.fails("open_msg_svc/get_history", {"ChatType": "Group", "MsgTime": "2015120125"}, 90001)


async def test_get_ip_list(tim: Tim) -> None:
    assert (await tim.ok("ConfigSvc/GetIPList", {}))["IPList"] == ["127.0.0.1"]


async def test_kick_takes_the_account_offline(tim: Tim) -> None:
    tim.server.set_online_state("id1")
    await tim.ok("im_open_login_svc/kick", {"UserID": "id1"})
    state = await tim.ok("openim/query_online_status", {"To_Account": ["id1"]})
    assert state["QueryResult"][0]["State"] == "Offline"
    await tim.ok("im_open_login_svc/kick", {"Identifier": "gone"})  # the older spelling; no session: OK
    await tim.fails("im_open_login_svc/kick", {"UserID": ""}, 70402)


# --- webhooks ------------------------------------------------------------------------------------


@pytest.fixture
async def hooked() -> AsyncIterator[tuple[Tim, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        bodies.append(json.loads(await request.read()))
        return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with serve(webhook_url=f"http://127.0.0.1:{runner.addresses[0][1]}/hook") as tim:
            await tim.server.add_accounts("id", "id1")
            yield tim, bodies
    finally:
        await runner.cleanup()


async def test_friend_blacklist_profile_and_kick_webhooks(hooked: tuple[Tim, list[dict[str, Any]]]) -> None:
    tim, bodies = hooked
    item = {"To_Account": "id1", "AddSource": "AddSource_Type_X"}
    await tim.ok("sns/friend_add", {"From_Account": "id", "AddFriendItem": [item], "ForceAddFlags": 1})
    await tim.ok(
        "sns/friend_import", {"From_Account": "id1", "AddFriendItem": [{**item, "To_Account": "id"}]}
    )
    await tim.ok("sns/friend_delete", {"From_Account": "id", "To_Account": ["id1"]})
    await tim.ok("sns/black_list_add", {"From_Account": "id", "To_Account": ["id1"]})
    await tim.ok("sns/black_list_delete", {"From_Account": "id", "To_Account": ["id1"]})
    await tim.ok(
        "profile/portrait_set",
        {"From_Account": "id", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "N"}]},
    )
    tim.server.set_online_state("id1")
    await tim.ok("im_open_login_svc/kick", {"UserID": "id1"})
    await tim.server.webhooks_idle()
    commands = [body["CallbackCommand"] for body in bodies]
    assert commands.count("Sns.CallbackFriendAdd") == 1  # friend_add fires it, friend_import does not
    by_command = {body["CallbackCommand"]: body for body in bodies}
    added = by_command["Sns.CallbackFriendAdd"]
    assert added["PairList"] == [
        {"From_Account": "id", "To_Account": "id1", "Initiator_Account": "id"},
        {"From_Account": "id1", "To_Account": "id", "Initiator_Account": "id"},
    ]
    assert (added["ClientCmd"], added["ForceFlag"], added["Admin_Account"]) == (
        "friend_add",
        1,
        "administrator",
    )
    assert by_command["Sns.CallbackFriendDelete"]["PairList"] == [{"From_Account": "id", "To_Account": "id1"}]
    assert by_command["Sns.CallbackBlackListAdd"]["ClientCmd"] == "black_list_add"
    assert by_command["Sns.CallbackBlackListDelete"]["PairList"] == [
        {"From_Account": "id", "To_Account": "id1"}
    ]
    assert by_command["Profile.CallbackPortraitSet"]["ProfileItem"] == [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "N"}
    ]
    assert by_command["State.StateChange"]["Info"] == {
        "Action": "Logout",
        "To_Account": "id1",
        "Reason": "Unregister",
    }


async def test_muted_sender_fires_no_before_send_webhook(hooked: tuple[Tim, list[dict[str, Any]]]) -> None:
    tim, bodies = hooked
    gid = await tim.server.create_group("team", owner="id1", members=["id"])
    group_msg = {"GroupId": gid, "From_Account": "id", "Random": 1, "MsgBody": MSG["MsgBody"]}
    await tim.ok("group_open_http_svc/send_group_msg", group_msg)
    await tim.server.webhooks_idle()
    assert "Group.CallbackBeforeSendMsg" in [b["CallbackCommand"] for b in bodies]
    bodies.clear()
    await tim.ok("openconfigsvr/setnospeaking", {"Set_Account": "id", "GroupmsgNospeakingTime": 60})
    await tim.fails("group_open_http_svc/send_group_msg", {**group_msg, "Random": 2}, 10017)
    await tim.server.webhooks_idle()
    assert [b["CallbackCommand"] for b in bodies if "SendMsg" in b["CallbackCommand"]] == []
