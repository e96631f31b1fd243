"""The C SDK's group functions a service needs to set up conversations, over `tim.group`.

Same calling convention as the message functions: synchronous checks return a `TIMResult`,
the outcome arrives once through `cb(code, desc, json_params, user_data)`:

    TIMGroupCreate(json.dumps({kTIMCreateGroupParamGroupName: "team"}), cb, None)
"""

from __future__ import annotations

from typing import Any

from ..protocol.validate import check_group_id, check_identifiers
from ..types import coerce
from ..types.group import (
    CreateGroupParam,
    GroupDeleteMemberParam,
    GroupGetMemberInfoListParam,
    GroupInviteMemberParam,
    GroupModifyMemberInfoParam,
)
from .functions import Operation, _as_json, _submit
from .runtime import Callback

__all__ = [
    "TIMGroupCreate",
    "TIMGroupDelete",
    "TIMGroupDeleteMember",
    "TIMGroupGetMemberInfoList",
    "TIMGroupInviteMember",
    "TIMGroupModifyMemberInfo",
]


def TIMGroupCreate(json_group_create_param: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.group.create`: `cb` gets `{"create_group_result_groupid": ...}`."""

    def check() -> Operation:
        param = coerce(json_group_create_param, CreateGroupParam, what="json_group_create_param")
        if param.group_id is not None:
            check_group_id(param.group_id, "create_group_param_group_id")
        members = [member.identifier for member in param.group_member_array or []]
        check_identifiers(members, "create_group_param_group_member_array item")
        return lambda tim: _as_json(tim.group.create(param))

    return _submit(check, cb, user_data)


def TIMGroupDelete(group_id: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.group.delete`: dismiss the group; `cb` gets `""`."""

    def check() -> Operation:
        check_group_id(group_id, "group_id")
        return lambda tim: _as_json(tim.group.delete(group_id))

    return _submit(check, cb, user_data)


def TIMGroupInviteMember(json_group_invite_param: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.group.invite_member`: `cb` gets a JSON array of `GroupInviteMemberResult`."""

    def check() -> Operation:
        param = coerce(json_group_invite_param, GroupInviteMemberParam, what="json_group_invite_param")
        check_group_id(param.group_id, "group_invite_member_param_group_id")
        check_identifiers(param.identifier_array, "group_invite_member_param_identifier_array item")
        return lambda tim: _as_json(tim.group.invite_member(param))

    return _submit(check, cb, user_data)


def TIMGroupDeleteMember(json_group_delete_param: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.group.delete_member`: `cb` gets a JSON array of `GroupDeleteMemberResult`."""

    def check() -> Operation:
        param = coerce(json_group_delete_param, GroupDeleteMemberParam, what="json_group_delete_param")
        check_group_id(param.group_id, "group_delete_member_param_group_id")
        check_identifiers(param.identifier_array, "group_delete_member_param_identifier_array item")
        return lambda tim: _as_json(tim.group.delete_member(param))

    return _submit(check, cb, user_data)


def TIMGroupModifyMemberInfo(
    json_group_modifymeminfo_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.group.modify_member_info`: the fields `group_modify_member_info_modify_flag` names;
    `cb` gets `""`."""

    def check() -> Operation:
        what = "json_group_modifymeminfo_param"
        param = coerce(json_group_modifymeminfo_param, GroupModifyMemberInfoParam, what=what)
        check_group_id(param.group_id, "group_modify_member_info_group_id")
        check_identifiers([param.identifier], "group_modify_member_info_identifier")
        return lambda tim: _as_json(tim.group.modify_member_info(param), empty=True)

    return _submit(check, cb, user_data)


def TIMGroupGetMemberInfoList(
    json_group_getmeminfos_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.group.get_member_info_list`: `cb` gets a `GroupGetMemberInfoListResult`
    (`group_get_memeber_info_list_result_next_seq`, `..._info_array`)."""

    def check() -> Operation:
        what = "json_group_getmeminfos_param"
        param = coerce(json_group_getmeminfos_param, GroupGetMemberInfoListParam, what=what)
        check_group_id(param.group_id, "group_get_members_info_list_param_group_id")
        named = param.identifier_array or []
        check_identifiers(named, "group_get_members_info_list_param_identifier_array item")
        return lambda tim: _as_json(tim.group.get_member_info_list(param))

    return _submit(check, cb, user_data)
