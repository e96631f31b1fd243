"""The C SDK's relationship chain and profile functions, over `tim.friendship` and `tim.profile`.

Same calling convention as the message functions: synchronous checks return a `TIMResult`,
the outcome arrives once through `cb(code, desc, json_params, user_data)`:

    param = {kTIMFriendshipAddFriendParamIdentifier: "bob",
             kTIMFriendshipAddFriendParamAddSource: "AddSource_Type_app"}
    TIMFriendshipAddFriend(json.dumps(param), cb, None)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..client import Client
from ..protocol.validate import check_identifiers
from ..types import coerce
from ..types._base import coerce_list
from ..types.friendship import (
    FriendshipAddFriendParam,
    FriendshipCheckFriendTypeParam,
    FriendshipCreateFriendGroupParam,
    FriendshipDeleteFriendParam,
    FriendshipGetProfileListParam,
    FriendshipModifyFriendProfileParam,
    UserProfileItem,
)
from .functions import Operation, _as_json, _submit
from .runtime import Callback

__all__ = [
    "TIMFriendshipAddFriend",
    "TIMFriendshipAddToBlackList",
    "TIMFriendshipCheckFriendType",
    "TIMFriendshipCreateFriendGroup",
    "TIMFriendshipDeleteFriend",
    "TIMFriendshipDeleteFriendGroup",
    "TIMFriendshipDeleteFromBlackList",
    "TIMFriendshipGetBlackList",
    "TIMFriendshipGetFriendGroupList",
    "TIMFriendshipGetFriendProfileList",
    "TIMFriendshipModifyFriendProfile",
    "TIMProfileGetUserProfileList",
    "TIMProfileModifySelfUserProfile",
]


def _run(work: Callable[[Client], Any], empty: bool = False) -> Operation:
    return lambda tim: _as_json(work(tim), empty=empty)


def TIMFriendshipAddFriend(json_add_friend_param: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.friendship.add_friend`: `cb` gets a JSON array of one `FriendResult`."""

    def check() -> Operation:
        param = coerce(json_add_friend_param, FriendshipAddFriendParam, what="json_add_friend_param")
        check_identifiers([param.identifier], "friendship_add_friend_param_identifier")
        return _run(lambda tim: tim.friendship.add_friend(param))

    return _submit(check, cb, user_data)


def TIMFriendshipDeleteFriend(
    json_delete_friend_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.friendship.delete_friend`: `cb` gets a JSON array of `FriendResult`."""

    def check() -> Operation:
        param = coerce(json_delete_friend_param, FriendshipDeleteFriendParam, what="json_delete_friend_param")
        check_identifiers(param.identifier_array, "friendship_delete_friend_param_identifier_array item")
        return _run(lambda tim: tim.friendship.delete_friend(param))

    return _submit(check, cb, user_data)


def TIMFriendshipModifyFriendProfile(
    json_modify_friend_info_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.friendship.modify_friend_profile`: `cb` gets `""`."""

    def check() -> Operation:
        param = coerce(json_modify_friend_info_param, FriendshipModifyFriendProfileParam,
                       what="json_modify_friend_info_param")  # fmt: skip
        check_identifiers([param.identifier], "friendship_modify_friend_profile_param_identifier")
        return _run(lambda tim: tim.friendship.modify_friend_profile(param), empty=True)

    return _submit(check, cb, user_data)


def TIMFriendshipGetFriendProfileList(cb: Callback | None, user_data: Any = None) -> int:
    """`tim.friendship.get_friend_profile_list`: `cb` gets a JSON array of `FriendProfile`."""
    return _submit(lambda: _run(lambda tim: tim.friendship.get_friend_profile_list()), cb, user_data)


def TIMFriendshipCheckFriendType(
    json_check_friend_list_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.friendship.check_friend_type`: `cb` gets a JSON array of `FriendshipCheckFriendTypeResult`."""

    def check() -> Operation:
        param = coerce(json_check_friend_list_param, FriendshipCheckFriendTypeParam,
                       what="json_check_friend_list_param")  # fmt: skip
        check_identifiers(param.identifier_array, "friendship_check_friendtype_param_identifier_array item")
        return _run(lambda tim: tim.friendship.check_friend_type(param))

    return _submit(check, cb, user_data)


def _identifiers(value: str, what: str) -> list[str]:
    ids = coerce_list(value, str, what=what)
    check_identifiers(ids, f"{what} item")
    return ids


def TIMFriendshipAddToBlackList(
    json_add_to_blacklist_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.friendship.add_to_black_list` (a JSON array of UserIDs): `cb` gets `FriendResult`s."""

    def check() -> Operation:
        ids = _identifiers(json_add_to_blacklist_param, "json_add_to_blacklist_param")
        return _run(lambda tim: tim.friendship.add_to_black_list(ids))

    return _submit(check, cb, user_data)


def TIMFriendshipDeleteFromBlackList(
    json_delete_from_blacklist_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.friendship.delete_from_black_list` (a JSON array of UserIDs): `cb` gets `FriendResult`s."""

    def check() -> Operation:
        ids = _identifiers(json_delete_from_blacklist_param, "json_delete_from_blacklist_param")
        return _run(lambda tim: tim.friendship.delete_from_black_list(ids))

    return _submit(check, cb, user_data)


def TIMFriendshipGetBlackList(cb: Callback | None, user_data: Any = None) -> int:
    """`tim.friendship.get_black_list`: `cb` gets a JSON array of `FriendProfile`."""
    return _submit(lambda: _run(lambda tim: tim.friendship.get_black_list()), cb, user_data)


def TIMFriendshipCreateFriendGroup(
    json_create_friend_group_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.friendship.create_friend_group`: `cb` gets a JSON array of `FriendResult`."""

    def check() -> Operation:
        param = coerce(json_create_friend_group_param, FriendshipCreateFriendGroupParam,
                       what="json_create_friend_group_param")  # fmt: skip
        check_identifiers(
            param.identifier_array or [], "friendship_create_friend_group_param_identifier_array item"
        )
        return _run(lambda tim: tim.friendship.create_friend_group(param))

    return _submit(check, cb, user_data)


def TIMFriendshipDeleteFriendGroup(
    json_delete_friend_group_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.friendship.delete_friend_group` (a JSON array of list names): `cb` gets `""`."""

    def check() -> Operation:
        names = coerce_list(json_delete_friend_group_param, str, what="json_delete_friend_group_param")
        return _run(lambda tim: tim.friendship.delete_friend_group(names), empty=True)

    return _submit(check, cb, user_data)


def TIMFriendshipGetFriendGroupList(
    json_get_friend_group_list_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.friendship.get_friend_group_list` (list names; "" or [] for all): `cb` gets `FriendGroupInfo`s."""

    def check() -> Operation:
        raw = json_get_friend_group_list_param or "[]"
        names = coerce_list(raw, str, what="json_get_friend_group_list_param")
        return _run(lambda tim: tim.friendship.get_friend_group_list(names))

    return _submit(check, cb, user_data)


def TIMProfileGetUserProfileList(
    json_get_user_profile_list_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.profile.get_user_profile_list`: `cb` gets a JSON array of `UserProfile`."""

    def check() -> Operation:
        param = coerce(json_get_user_profile_list_param, FriendshipGetProfileListParam,
                       what="json_get_user_profile_list_param")  # fmt: skip
        check_identifiers(param.identifier_array, "friendship_getprofilelist_param_identifier_array item")
        return _run(lambda tim: tim.profile.get_user_profile_list(param))

    return _submit(check, cb, user_data)


def TIMProfileModifySelfUserProfile(
    json_modify_self_user_profile_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.profile.modify_self_user_profile`: `cb` gets `""`."""

    def check() -> Operation:
        item = coerce(json_modify_self_user_profile_param, UserProfileItem,
                      what="json_modify_self_user_profile_param")  # fmt: skip
        return _run(lambda tim: tim.profile.modify_self_user_profile(item), empty=True)

    return _submit(check, cb, user_data)
