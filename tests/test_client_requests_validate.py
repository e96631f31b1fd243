"""Every REST request the client sends validates against the request schema the dev server
publishes at /openapi.json: recorded on the wire by a real HTTP hop between the two."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jsonschema_rs
import pytest
from aiohttp import web
from scenario import GROUP, text

from aio_tim import Client, ConvType
from aio_tim.devserver import DevServer
from aio_tim.protocol.group_admin import ImportedMember, ImportGroup


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer() as server:
        await server.create_group(GROUP, owner="alice", members=["bob"])
        yield server


@pytest.fixture
async def recorder(server: DevServer) -> AsyncIterator[tuple[str, list[tuple[str, Any]]]]:
    """A forwarding hop that records (endpoint, JSON body) of every REST call it passes on."""
    seen: list[tuple[str, Any]] = []

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((request.path.removeprefix("/v4/"), json.loads(body)))
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{server.url}{request.path}", params=request.query, data=body) as upstream,
        ):
            return web.Response(body=await upstream.read(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/v4/{service}/{command}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()


def client(server: DevServer, user_id: str, base_url: str) -> Client:
    return Client(sdk_app_id=server.sdk_app_id, user_id=user_id, secret_key=server.secret_key,
                  base_url=base_url, admin=server.admin, store_path=":memory:")  # fmt: skip


async def drive_every_operation(alice: Client) -> None:
    """Each client operation that talks REST, once."""
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("hi"))
    group_sent = await alice.msg.send_new_msg(GROUP, ConvType.GROUP, text("hi all"))
    await alice.msg.batch_send({"msg_batch_send_param_identifier_array": ["bob", "carol"],
                                "msg_batch_send_param_msg": {"message_elem_array": [
                                    {"elem_type": 0, "text_elem_content": "x"}]}})  # fmt: skip
    await alice.msg.import_msg_list("bob", ConvType.C2C, [text("old")], cloud=True)
    await alice.msg.get_msg_list("bob", ConvType.C2C, {"msg_getmsglist_param_is_remble": True})
    await alice.msg.get_msg_list(GROUP, ConvType.GROUP, {"msg_getmsglist_param_is_remble": True})
    await alice.msg.report_readed("bob", ConvType.C2C)
    await alice.msg.revoke("bob", ConvType.C2C, sent)
    await alice.msg.revoke(GROUP, ConvType.GROUP, group_sent)
    await alice.msg.delete("bob", ConvType.C2C, {"msg_delete_param_is_remble": True})

    created = await alice.group.create({"create_group_param_group_name": "team",
                                        "create_group_param_introduction": "about",
                                        "create_group_param_group_member_array": [
                                            {"group_member_info_identifier": "bob"}]})  # fmt: skip
    gid = created.groupid
    await alice.group.invite_member({"group_invite_member_param_group_id": gid,
                                     "group_invite_member_param_identifier_array": ["carol"]})  # fmt: skip
    await alice.group.delete_member({"group_delete_member_param_group_id": gid,
                                     "group_delete_member_param_identifier_array": ["carol"]})  # fmt: skip
    await alice.group.info([gid])
    await alice.group.members(gid)
    await alice.group.modify(gid, Name="renamed")
    await alice.group.joined()
    await drive_group_admin(alice, gid)
    await alice.group.delete(gid)

    await alice.account.import_account("dave", nick="Dave")
    await alice.account.import_accounts(["erin", "frank"])
    await alice.account.check(["dave", "nobody"])
    await alice.account.online_status(["dave"])
    await alice.account.delete(["frank"])

    friend = {
        "friendship_add_friend_param_identifier": "bob",
        "friendship_add_friend_param_add_source": "AddSource_Type_x",
    }
    await alice.profile.modify_self_user_profile({"user_profile_item_nick_name": "Alice",
                                                  "user_profile_item_add_permission": 1})  # fmt: skip
    await alice.profile.get_user_profile_list({"friendship_getprofilelist_param_identifier_array": ["alice"]})
    await alice.friendship.add_friend(friend)
    await alice.friendship.check_friend_type({"friendship_check_friendtype_param_identifier_array": ["bob"]})
    await alice.friendship.create_friend_group({"friendship_create_friend_group_param_name_array": ["pals"]})
    await alice.friendship.modify_friend_profile({"friendship_modify_friend_profile_param_identifier": "bob",
                                                  "friendship_modify_friend_profile_param_item": {
                                                      "friend_profile_item_remark": "B"}})  # fmt: skip
    await alice.friendship.get_friend_profile_list()
    await alice.friendship.get_friend_group_list()
    await alice.friendship.delete_friend_group(["pals"])
    await alice.friendship.delete_friend({"friendship_delete_friend_param_identifier_array": ["bob"]})
    await alice.friendship.add_to_black_list(["bob"])
    await alice.friendship.get_black_list()
    await alice.friendship.delete_from_black_list(["bob"])


async def drive_group_admin(alice: Client, gid: str) -> None:
    """tim.group's administration calls (issue 33), each once."""
    await alice.group.modify_member_info({"group_modify_member_info_group_id": gid,
                                          "group_modify_member_info_identifier": "bob",
                                          "group_modify_member_info_modify_flag": 0x0F,
                                          "group_modify_member_info_msg_flag": 2,
                                          "group_modify_member_info_member_role": 1,
                                          "group_modify_member_info_shutup_time": 60,
                                          "group_modify_member_info_name_card": "B"})  # fmt: skip
    await alice.group.get_member_info_list({"group_get_members_info_list_param_group_id": gid})
    await alice.group.roles(gid, ["alice", "bob"])
    await alice.group.mute(gid, ["bob"], 0)
    await alice.group.muted(gid)
    await alice.group.app_group_ids("Public")
    await alice.group.send_system_notification(gid, "notice", ["bob"])
    await alice.group.delete_messages_by_sender(gid, "bob")
    old = await alice.group.import_group(ImportGroup(Type="Public", Name="old", CreateTime=1448357837))
    await alice.group.import_members(old, [ImportedMember("carol", "Admin", 1448357900, 3)])
    await alice.group.change_owner(gid, "bob")


async def test_every_request_the_client_sends_matches_the_published_schema(
    server: DevServer, recorder: tuple[str, list[tuple[str, Any]]]
) -> None:
    """Bodies of 20+ endpoints, as sent, validate against /openapi.json's request schemas."""
    url, seen = recorder
    async with client(server, "bob", url) as bob:  # bob lets anyone befriend him
        await bob.profile.modify_self_user_profile({"user_profile_item_add_permission": 1})
    async with client(server, "alice", url) as alice:
        await drive_every_operation(alice)
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/openapi.json") as resp:
        document = await resp.json()
    invalid = []
    for endpoint, body in seen:
        ref = document["paths"][f"/v4/{endpoint}"]["post"]["requestBody"]["content"]["application/json"]
        schema = {**ref["schema"], "components": document["components"]}
        errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(body)]
        if errors:
            invalid.append((endpoint, body, errors))
    assert invalid == []
    endpoints = {endpoint for endpoint, _ in seen}
    assert len(endpoints) >= 20, sorted(endpoints)
    assert {
        "openim/sendmsg",
        "group_open_http_svc/create_group",
        "im_open_login_svc/account_delete",
        "sns/friend_add",
        "sns/black_list_get",
        "profile/portrait_set",
    } <= endpoints
