"""tim.group and tim.account against the dev server over loopback: C SDK JSON where the C SDK has
the function, REST shapes otherwise; and the client's history not caring about in-page order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from scenario import text

from aio_tim import Client, ConvType, UsageError, capi
from aio_tim.auth import mint_usersig
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for
from aio_tim.types.group import CreateGroupParam, GroupType, HandleGroupMemberResult


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(auto_accounts=False) as server:
        await server.add_accounts("alice", "bob", "carol", "dave")
        yield server


@pytest.fixture
async def alice(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "alice") as tim:
        yield tim


# --- tim.group: the C SDK's functions --------------------------------------------------------------


async def test_create_takes_tim_group_create_json_and_makes_the_caller_owner(alice: Client) -> None:
    """create_group_param_* keys in, create_group_result_groupid out; the Client's user owns it."""
    created = await alice.group.create(
        {
            "create_group_param_group_name": "team",
            "create_group_param_group_type": int(GroupType.PRIVATE),
            "create_group_param_group_member_array": [
                {"group_member_info_identifier": "bob"},
                {"group_member_info_identifier": "carol", "group_member_info_member_role": 1},
            ],
            "create_group_param_introduction": "about",
            "create_group_param_add_option": 0,
        }
    )
    assert created.groupid.startswith("@TGS#")
    (info,) = await alice.group.info([created.groupid])
    assert (info.Type, info.Name, info.Owner_Account, info.Introduction) == (
        "Private",
        "team",
        "alice",
        "about",
    )
    assert info.ApplyJoinOption == "DisableApply"
    assert [m.Member_Account for m in info.MemberList or ()] == ["alice", "bob", "carol"]


async def test_create_with_an_id_then_delete_dismisses_it(alice: Client) -> None:
    """A chosen group id is returned as is; TIMGroupDelete dismisses (info then says 10010)."""
    created = await alice.group.create(CreateGroupParam(group_name="g", group_id="room-1"))
    assert created.groupid == "room-1"
    assert [g.GroupId for g in await alice.group.joined()] == ["room-1"]
    await alice.group.delete("room-1")
    (info,) = await alice.group.info(["room-1"])
    assert info.ErrorCode == 10010 and await alice.group.joined() == []


async def test_invite_and_delete_member_results_use_handle_group_member_result(alice: Client) -> None:
    """Invite: HANDLED_SUC, INCLUDED for a member, HANDLED_ERR for no account; delete removes."""
    await alice.group.create('{"create_group_param_group_name": "g", "create_group_param_group_id": "g"}')
    results = await alice.group.invite_member(
        {
            "group_invite_member_param_group_id": "g",
            "group_invite_member_param_identifier_array": ["bob", "alice", "ghost"],
        }
    )
    assert [(r.identifier, r.result) for r in results] == [
        ("bob", HandleGroupMemberResult.HANDLED_SUC),
        ("alice", HandleGroupMemberResult.INCLUDED),
        ("ghost", HandleGroupMemberResult.HANDLED_ERR),
    ]
    removed = await alice.group.delete_member(
        {"group_delete_member_param_group_id": "g", "group_delete_member_param_identifier_array": ["bob"]}
    )
    assert [(r.identifier, r.result) for r in removed] == [("bob", HandleGroupMemberResult.HANDLED_SUC)]
    assert [m.Member_Account for m in await alice.group.members("g")] == ["alice"]


async def test_modify_and_members_speak_rest_shapes(alice: Client) -> None:
    """modify(Name=..., Notification=...) changes the profile; members() gives roles and join times."""
    await alice.group.create(
        {
            "create_group_param_group_name": "g",
            "create_group_param_group_id": "g",
            "create_group_param_group_member_array": [{"group_member_info_identifier": "bob"}],
        }
    )
    await alice.group.modify("g", Name="renamed", Notification="read me")
    (info,) = await alice.group.info(["g"])
    assert (info.Name, info.Notification, info.InfoSeq) == ("renamed", "read me", 1)
    assert [(m.Member_Account, m.Role) for m in await alice.group.members("g")] == [
        ("alice", "Owner"),
        ("bob", "Member"),
    ]


async def test_bad_parameters_are_usage_errors_before_any_call(alice: Client) -> None:
    """A missing group name or a BChatRoom type fails locally with the C SDK's codes."""
    with pytest.raises(UsageError) as missing:
        await alice.group.create({"create_group_param_group_id": "x"})
    assert "create_group_param_group_name" in str(missing.value)
    with pytest.raises(UsageError, match="BCHATROOM"):
        await alice.group.create({"create_group_param_group_name": "x", "create_group_param_group_type": 3})
    assert alice.pipeline.statistics().sent == 0


# --- tim.account ---------------------------------------------------------------------------------


async def test_account_import_check_delete_in_chunks(server: DevServer, alice: Client) -> None:
    """150 ids import in two calls of 100 and 50; check and delete report per account."""
    ids = [f"user{n:03}" for n in range(150)]
    calls = alice.pipeline.statistics().sent
    assert await alice.account.import_accounts([*ids, "x" * 33]) == ["x" * 33]
    assert alice.pipeline.statistics().sent - calls == 2
    found = await alice.account.check([*ids, "nobody"])
    assert found["nobody"] is False and all(found[i] for i in ids)
    codes = await alice.account.delete(["user000", "nobody"])
    assert codes == {"user000": 0, "nobody": 70107}
    assert await alice.account.check(["user000"]) == {"user000": False}
    await alice.account.import_account("user000", nick="back")
    assert await alice.account.check(["user000"]) == {"user000": True}


async def test_online_status_is_offline_unless_the_server_says(server: DevServer, alice: Client) -> None:
    """query_online_status: Offline by default; set_online_state changes it; no account: absent."""
    server.set_online_state("bob")
    assert await alice.account.online_status(["bob", "carol", "ghost"]) == {
        "bob": "Online",
        "carol": "Offline",
    }
    server.set_online_state("bob", "Offline")
    assert await alice.account.online_status(["bob"]) == {"bob": "Offline"}


# --- history does not depend on the order inside a roaming page -------------------------------------


@pytest.fixture
async def reversing_proxy(server: DevServer) -> AsyncIterator[tuple[str, list[int]]]:
    """A real HTTP hop in front of the dev server that reverses every roaming page's MsgList;
    its URL, and the sizes of the pages it reversed."""
    flipped: list[int] = []

    async def forward(request: web.Request) -> web.Response:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{server.url}{request.path}", params=request.query, data=await request.read()
            ) as upstream,
        ):
            reply: dict[str, Any] = json.loads(await upstream.read())
        if request.path.endswith("/admin_getroammsg") and "MsgList" in reply:
            reply["MsgList"].reverse()
            flipped.append(len(reply["MsgList"]))
        return web.json_response(reply)

    app = web.Application()
    app.router.add_post("/v4/{service}/{command}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", flipped
    finally:
        await runner.cleanup()


async def test_c2c_history_is_the_same_whatever_the_in_page_order(
    server: DevServer, reversing_proxy: tuple[str, list[int]]
) -> None:
    """Roaming history read through a proxy that flips each page equals the direct read."""
    proxy_url, flipped = reversing_proxy
    async with client_for(server, "alice") as alice:
        for n in range(45):
            await alice.msg.send_new_msg("bob", ConvType.C2C, text(f"m{n}"))
    histories = []
    for base_url in (server.url, proxy_url):
        async with Client(
            sdk_app_id=server.sdk_app_id,
            user_id="bob",
            secret_key=server.secret_key,
            base_url=base_url,
            admin=server.admin,
            store_path=":memory:",
        ) as bob:
            msgs = [m async for m in bob.msg.iter_msg_list("alice", ConvType.C2C, page_size=7, remble=True)]
        histories.append([m.elem_array[0].content for m in msgs])  # type: ignore[union-attr]
    assert histories[0] == histories[1] == [f"m{n}" for n in reversed(range(45))]
    assert sum(flipped) >= 45 and max(flipped) > 1  # the pages really came through flipped


# --- the same through aio_tim.capi (the C SDK's calling convention) ----------------------------------


async def test_capi_group_functions_call_back_with_c_sdk_json(server: DevServer) -> None:
    """TIMGroupCreate / InviteMember / DeleteMember / Delete: TIM_SUCC, then one callback each."""
    results: asyncio.Queue[tuple[int, str]] = asyncio.Queue()

    def cb(code: int, desc: str, json_params: str, user_data: object) -> None:
        results.put_nowait((code, json_params))

    async def outcome() -> tuple[int, str]:
        return await asyncio.wait_for(results.get(), 10)

    config = json.dumps({"aio_tim_base_url": server.url, "aio_tim_secret_key": server.secret_key})
    assert capi.TIMInit(server.sdk_app_id, config) == capi.TIM_SUCC
    try:
        sig = mint_usersig(server.sdk_app_id, server.secret_key, "alice")
        assert capi.TIMLogin("alice", sig, cb, None) == capi.TIM_SUCC
        assert (await outcome())[0] == 0
        assert capi.TIMGroupCreate("{}", cb, None) == capi.TIM_ERR_JSON  # the name is required
        param = {capi.kTIMCreateGroupParamGroupName: "team", capi.kTIMCreateGroupParamGroupId: "team"}
        assert capi.TIMGroupCreate(json.dumps(param), cb, None) == capi.TIM_SUCC
        assert await outcome() == (0, '{"create_group_result_groupid":"team"}')
        invite = {
            "group_invite_member_param_group_id": "team",
            "group_invite_member_param_identifier_array": ["bob"],
        }
        assert capi.TIMGroupInviteMember(json.dumps(invite), cb, None) == capi.TIM_SUCC
        code, invited = await outcome()
        assert code == 0
        assert json.loads(invited) == [
            {"group_invite_member_result_identifier": "bob", "group_invite_member_result_result": 1}
        ]
        delete = {
            "group_delete_member_param_group_id": "team",
            "group_delete_member_param_identifier_array": ["bob"],
        }
        assert capi.TIMGroupDeleteMember(json.dumps(delete), cb, None) == capi.TIM_SUCC
        assert json.loads((await outcome())[1])[0]["group_delete_member_result_result"] == 1
        assert capi.TIMGroupDelete("", cb, None) == capi.TIM_ERR_PARAM
        assert capi.TIMGroupDelete("team", cb, None) == capi.TIM_SUCC
        assert await outcome() == (0, "")
        assert capi.TIMGroupDelete("team", cb, None) == capi.TIM_SUCC
        assert (await outcome())[0] == 10010  # gone
    finally:
        assert capi.TIMUninit() == capi.TIM_SUCC
