"""Issue 33: `tim.group`'s administration calls against the dev server over loopback: the C SDK's
JSON for TIMGroupModifyMemberInfo and TIMGroupGetMemberInfoList (also through aio_tim.capi), REST
shapes for the rest; bad input is a UsageError before any request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aio_tim import Client, UsageError, capi
from aio_tim.auth import mint_usersig
from aio_tim.devserver import DevServer
from aio_tim.protocol.group_admin import ImportedMember, ImportGroup
from aio_tim.testing import client_for
from aio_tim.types.group import (
    GroupGetMemberInfoListParam,
    GroupMemberModifyInfoFlag,
    GroupMemberRole,
    GroupModifyMemberInfoParam,
    GroupReceiveMessageOpt,
)

GID = "team"
BOB = {"group_modify_member_info_group_id": GID, "group_modify_member_info_identifier": "bob"}


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(auto_accounts=False) as server:
        await server.add_accounts("alice", "bob", "carol", "dave")
        await server.create_group(GID, owner="alice", members=["bob", "carol"])
        yield server


@pytest.fixture
async def alice(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "alice") as tim:
        yield tim


async def test_modify_member_info_sets_only_what_the_flag_names(alice: Client) -> None:
    """modify_flag picks the fields: name card and role set here, msg_flag given but not flagged."""
    flags = GroupMemberModifyInfoFlag.NAME_CARD | GroupMemberModifyInfoFlag.MEMBER_ROLE
    await alice.group.modify_member_info({
        "group_modify_member_info_group_id": GID, "group_modify_member_info_identifier": "bob",
        "group_modify_member_info_modify_flag": int(flags),
        "group_modify_member_info_member_role": int(GroupMemberRole.ADMIN),
        "group_modify_member_info_name_card": "Bobby",
        "group_modify_member_info_msg_flag": int(GroupReceiveMessageOpt.NOT_RECEIVE),
    })  # fmt: skip
    listed = await alice.group.get_member_info_list(
        GroupGetMemberInfoListParam(group_id=GID, identifier_array=["bob"])
    )
    (bob,) = listed.info_array
    assert (bob.member_role, bob.name_card, bob.msg_flag) == (
        GroupMemberRole.ADMIN, "Bobby", GroupReceiveMessageOpt.RECEIVE_AND_NOTIFY)  # fmt: skip
    await alice.group.modify_member_info(
        GroupModifyMemberInfoParam(
            group_id=GID,
            identifier="carol",
            modify_flag=GroupMemberModifyInfoFlag.SHUTUP_TIME,
            shutup_time=600,
        )
    )
    assert [m.Member_Account for m in await alice.group.muted(GID)] == ["carol"]


async def test_get_member_info_list_pages_every_member_with_next_seq(
    alice: Client, server: DevServer
) -> None:
    """Without identifiers the list pages 100 at a time; next_seq 0 ends it; role_flag filters."""
    await server.add_accounts(*(f"u{i:03}" for i in range(150)))
    await alice.group.invite_member(
        {
            "group_invite_member_param_group_id": GID,
            "group_invite_member_param_identifier_array": [f"u{i:03}" for i in range(150)],
        }
    )
    first = await alice.group.get_member_info_list({"group_get_members_info_list_param_group_id": GID})
    assert (len(first.info_array), first.next_seq) == (100, 100)
    rest = await alice.group.get_member_info_list(
        GroupGetMemberInfoListParam(group_id=GID, next_seq=first.next_seq)
    )
    assert (len(rest.info_array), rest.next_seq) == (53, 0)
    owners = await alice.group.get_member_info_list(
        {
            "group_get_members_info_list_param_group_id": GID,
            "group_get_members_info_list_param_option": {"group_member_get_info_option_role_flag": 1},
        }
    )
    assert [(m.identifier, m.member_role) for m in owners.info_array] == [
        ("alice", GroupMemberRole.SUPER_ADMIN)
    ]


async def test_rest_shaped_admin_calls(alice: Client, server: DevServer) -> None:
    """change_owner, roles, mute/muted, app_group_ids, send_system_notification,
    delete_messages_by_sender, import_group and import_members, each one REST command."""
    await alice.group.change_owner(GID, "bob")
    assert await alice.group.roles(GID, ["alice", "bob", "dave"]) == {
        "alice": "Member", "bob": "Owner", "dave": "NotMember"}  # fmt: skip
    await alice.group.mute(GID, ["carol"], 60)
    assert [m.Member_Account for m in await alice.group.muted(GID)] == ["carol"]
    await alice.group.mute(GID, ["carol"], 0)
    assert await alice.group.muted(GID) == []
    await alice.group.send_system_notification(GID, "maintenance at noon", ["bob"])
    assert [(c, to) for c, to, _ in await server.group_notices(GID)] == [("maintenance at noon", ["bob"])]
    await alice.group.delete_messages_by_sender(GID, "bob")
    imported = await alice.group.import_group(
        ImportGroup(Type="Public", Name="old", GroupId="old", Owner_Account="alice", CreateTime=1448357837)
    )
    assert imported == "old"
    results = await alice.group.import_members("old", [ImportedMember("dave", "Admin", 1448357900)])
    assert [(r.Member_Account, r.Result) for r in results] == [("dave", 1)]
    assert sorted(await alice.group.app_group_ids()) == ["old", GID]
    assert await alice.group.app_group_ids("Work") == []


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("change_owner", ("", "bob")),
        ("change_owner", (GID, "x" * 33)),
        ("roles", (GID, [])),
        ("mute", (GID, ["bob"], -1)),
        ("mute", (GID, ["bob"], 2**32)),
        ("send_system_notification", (GID, "")),
        ("modify_member_info", ({**BOB, "group_modify_member_info_modify_flag": 8},)),  # no name card given
        ("modify_member_info", (BOB,)),  # no flag: nothing to modify
        ("modify_member_info", ({**BOB, "group_modify_member_info_modify_flag": 2,
                                 "group_modify_member_info_member_role": 2},)),  # the owner's role
    ],
)  # fmt: skip
async def test_bad_input_is_a_usage_error_before_any_request(
    alice: Client, server: DevServer, call: str, args: tuple[Any, ...]
) -> None:
    with pytest.raises(UsageError):
        await getattr(alice.group, call)(*args)
    assert await alice.group.roles(GID, ["alice"]) == {"alice": "Owner"}  # nothing changed


async def test_server_refusals_reach_the_caller_as_tim_errors(alice: Client) -> None:
    """10007 for a non-member owner, as the dev server answers it."""
    with pytest.raises(Exception) as raised:
        await alice.group.change_owner(GID, "dave")
    assert getattr(raised.value, "code", None) == 10007


async def test_capi_modify_member_info_and_get_member_info_list(server: DevServer) -> None:
    """The C SDK's calling convention: TIM_SUCC, then one callback with the C SDK's JSON."""
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
        modify = {capi.kTIMGroupModifyMemberInfoParamGroupId: GID,
                  capi.kTIMGroupModifyMemberInfoParamIdentifier: "bob",
                  capi.kTIMGroupModifyMemberInfoParamModifyFlag: capi.kTIMGroupMemberModifyFlag_NameCard,
                  capi.kTIMGroupModifyMemberInfoParamNameCard: "B"}  # fmt: skip
        assert capi.TIMGroupModifyMemberInfo(json.dumps(modify), cb, None) == capi.TIM_SUCC
        assert await outcome() == (0, "")
        bad = {**modify, capi.kTIMGroupModifyMemberInfoParamGroupId: ""}
        assert capi.TIMGroupModifyMemberInfo(json.dumps(bad), cb, None) == capi.TIM_ERR_PARAM
        query = {capi.kTIMGroupGetMemberInfoListParamGroupId: GID,
                 capi.kTIMGroupGetMemberInfoListParamIdentifierArray: ["bob"]}  # fmt: skip
        assert capi.TIMGroupGetMemberInfoList(json.dumps(query), cb, None) == capi.TIM_SUCC
        code, listed = await outcome()
        result = json.loads(listed)
        assert code == 0 and result[capi.kTIMGroupGetMemberInfoListResultNexSeq] == 0
        (bob,) = result["group_get_memeber_info_list_result_info_array"]
        assert (bob[capi.kTIMGroupMemberInfoIdentifier], bob[capi.kTIMGroupMemberInfoNameCard]) == (
            "bob",
            "B",
        )
    finally:
        assert capi.TIMUninit() == capi.TIM_SUCC
