"""Issue 33: `tim.friendship`, `tim.profile` and their `aio_tim.capi` functions against the dev
server over loopback, in the C SDK's JSON (TIMFriendship* / TIMProfile*)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from aio_tim import Client, TIMError, UsageError, capi
from aio_tim.auth import mint_usersig
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for
from aio_tim.types.friendship import FriendCheckRelation, GenderType, ProfileAddPermission, UserProfileItem

SOURCE = "AddSource_Type_app"


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(auto_accounts=False) as server:
        await server.add_accounts("alice", "bob", "carol")
        yield server


@pytest.fixture
async def alice(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "alice") as tim:
        yield tim


@pytest.fixture
async def bob(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "bob") as tim:
        yield tim


async def test_add_friend_waits_for_approval_then_goes_through(alice: Client, bob: Client) -> None:
    """bob's default AllowType needs approval (30539); once he allows anyone, the add succeeds."""
    add = {"friendship_add_friend_param_identifier": "bob", "friendship_add_friend_param_add_source": SOURCE}
    (pending,) = await alice.friendship.add_friend(add)
    assert (pending.identifier, pending.code) == ("bob", 30539)
    await bob.profile.modify_self_user_profile({"user_profile_item_add_permission": 1})
    (done,) = await alice.friendship.add_friend(add)
    assert done.code == 0
    (check,) = await alice.friendship.check_friend_type(
        {"friendship_check_friendtype_param_identifier_array": ["bob"]}
    )
    assert check.relation == FriendCheckRelation.BOTH_WAY


async def test_friend_profile_list_carries_remark_lists_and_user_profile(alice: Client, bob: Client) -> None:
    await bob.profile.modify_self_user_profile(
        UserProfileItem(
            nick_name="Bob", gender=GenderType.MALE, add_permission=ProfileAddPermission.ALLOW_ANY
        )
    )
    await alice.friendship.add_friend(
        {
            "friendship_add_friend_param_identifier": "bob",
            "friendship_add_friend_param_add_source": SOURCE,
            "friendship_add_friend_param_remark": "B",
            "friendship_add_friend_param_group_name": "work",
        }
    )
    await alice.friendship.modify_friend_profile(
        {
            "friendship_modify_friend_profile_param_identifier": "bob",
            "friendship_modify_friend_profile_param_item": {
                "friend_profile_item_group_name_array": ["work", "pals"]
            },
        }
    )
    (friend,) = await alice.friendship.get_friend_profile_list()
    assert (friend.identifier, friend.remark, friend.group_name_array) == ("bob", "B", ["work", "pals"])
    assert friend.user_profile is not None
    assert (friend.user_profile.nick_name, friend.user_profile.gender) == ("Bob", int(GenderType.MALE))
    groups = await alice.friendship.get_friend_group_list()
    assert {(g.name, g.count) for g in groups} == {("work", 1), ("pals", 1)}
    with pytest.raises(TIMError) as caught:
        await alice.friendship.modify_friend_profile(
            {
                "friendship_modify_friend_profile_param_identifier": "carol",
                "friendship_modify_friend_profile_param_item": {"friend_profile_item_remark": "C"},
            }
        )
    assert caught.value.code == 30001  # carol is not a friend


async def test_blacklist_and_friend_lists_round_trip(alice: Client) -> None:
    results = await alice.friendship.add_to_black_list(["bob", "nobody"])
    assert [(r.identifier, r.code) for r in results] == [("bob", 0), ("nobody", 30003)]
    assert [p.identifier for p in await alice.friendship.get_black_list()] == ["bob"]
    await alice.friendship.delete_from_black_list(json.dumps(["bob"]))
    assert await alice.friendship.get_black_list() == []
    created = await alice.friendship.create_friend_group(
        {"friendship_create_friend_group_param_name_array": ["a"]}
    )
    assert created == []
    await alice.friendship.delete_friend_group(["a"])
    assert await alice.friendship.get_friend_group_list(["a"]) == []


async def test_delete_friend_one_way(server: DevServer, alice: Client) -> None:
    async with client_for(server, "carol") as carol:
        await carol.profile.modify_self_user_profile({"user_profile_item_add_permission": 1})
    await alice.friendship.add_friend(
        {"friendship_add_friend_param_identifier": "carol", "friendship_add_friend_param_add_source": SOURCE}
    )
    results = await alice.friendship.delete_friend(
        {"friendship_delete_friend_param_identifier_array": ["carol", "bob"]}
    )
    assert [(r.identifier, r.code) for r in results] == [("carol", 0), ("bob", 30001)]
    (check,) = await alice.friendship.check_friend_type(
        {"friendship_check_friendtype_param_identifier_array": ["carol"]}
    )
    assert check.relation == FriendCheckRelation.IN_OTHER_LIST  # a one-way delete by default
    await alice.profile.modify_self_user_profile({"user_profile_item_nick_name": "Alice"})
    (me,) = await alice.profile.get_user_profile_list(
        {"friendship_getprofilelist_param_identifier_array": ["alice"]}
    )
    assert me.nick_name == "Alice"
    with pytest.raises(UsageError):
        await alice.profile.modify_self_user_profile({})


async def test_capi_friendship_functions_call_back_with_c_sdk_json(server: DevServer) -> None:
    results: asyncio.Queue[tuple[int, str]] = asyncio.Queue()

    def cb(code: int, desc: str, json_params: str, user_data: object) -> None:
        results.put_nowait((code, json_params))

    async def outcome() -> tuple[int, str]:
        return await asyncio.wait_for(results.get(), 10)

    config = json.dumps({"aio_tim_base_url": server.url, "aio_tim_secret_key": server.secret_key})
    assert capi.TIMInit(server.sdk_app_id, config) == capi.TIM_SUCC
    try:
        assert (
            capi.TIMLogin("alice", mint_usersig(server.sdk_app_id, server.secret_key, "alice"), cb, None) == 0
        )
        assert (await outcome())[0] == 0
        assert capi.TIMFriendshipAddFriend("{}", cb, None) == capi.TIM_ERR_JSON
        bad = {
            capi.kTIMFriendshipAddFriendParamIdentifier: "",
            capi.kTIMFriendshipAddFriendParamAddSource: SOURCE,
        }
        assert capi.TIMFriendshipAddFriend(json.dumps(bad), cb, None) == capi.TIM_ERR_PARAM
        add = {
            capi.kTIMFriendshipAddFriendParamIdentifier: "bob",
            capi.kTIMFriendshipAddFriendParamAddSource: SOURCE,
        }
        assert capi.TIMFriendshipAddFriend(json.dumps(add), cb, None) == capi.TIM_SUCC
        assert json.loads((await outcome())[1]) == [
            {
                "friend_result_identifier": "bob",
                "friend_result_code": 30539,
                "friend_result_desc": "the request waits for To_Account's approval",
            }
        ]
        assert capi.TIMFriendshipAddToBlackList('["carol"]', cb, None) == capi.TIM_SUCC
        assert json.loads((await outcome())[1])[0]["friend_result_code"] == 0
        assert capi.TIMFriendshipGetBlackList(cb, None) == capi.TIM_SUCC
        assert [p["friend_profile_identifier"] for p in json.loads((await outcome())[1])] == ["carol"]
        profile = {capi.kTIMUserProfileItemNickName: "Alice"}
        assert capi.TIMProfileModifySelfUserProfile(json.dumps(profile), cb, None) == capi.TIM_SUCC
        assert await outcome() == (0, "")
        ask = {capi.kTIMFriendshipGetProfileListParamIdentifierArray: ["alice"]}
        assert capi.TIMProfileGetUserProfileList(json.dumps(ask), cb, None) == capi.TIM_SUCC
        (me,) = json.loads((await outcome())[1])
        assert me["user_profile_nick_name"] == "Alice"
        assert capi.TIMFriendshipGetFriendProfileList(cb, None) == capi.TIM_SUCC
        assert await outcome() == (0, "[]")
        assert capi.TIMLogout(cb, None) == capi.TIM_SUCC
        await outcome()
    finally:
        assert capi.TIMUninit() == capi.TIM_SUCC
