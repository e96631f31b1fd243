"""The C SDK's relationship chain and profile objects (TIMCloudDef.h) for `tim.friendship` and
`tim.profile`: friends, the blacklist, friend lists, one's own profile.

JSON keys are the C SDK's, so parameters written for `TIMFriendshipAddFriend` & co. work as they are:

    >>> from aio_tim.types import encode
    >>> encode(FriendshipAddFriendParam(identifier="bob", add_source="AddSource_Type_app"))
    b'{"friendship_add_friend_param_identifier":"bob","friendship_add_friend_param_add_source":"AddSource_Type_app"}'
"""

from __future__ import annotations

from enum import IntEnum

from ._base import TIMStruct, UInt, prefixed
from .message import UserProfile

__all__ = [
    "FriendCheckRelation",
    "FriendGroupInfo",
    "FriendProfile",
    "FriendProfileCustomStringInfo",
    "FriendProfileItem",
    "FriendResult",
    "FriendType",
    "FriendshipAddFriendParam",
    "FriendshipCheckFriendTypeParam",
    "FriendshipCheckFriendTypeResult",
    "FriendshipCreateFriendGroupParam",
    "FriendshipDeleteFriendParam",
    "FriendshipGetProfileListParam",
    "FriendshipModifyFriendProfileParam",
    "GenderType",
    "ProfileAddPermission",
    "UserProfileCustomStringInfo",
    "UserProfileItem",
]


class FriendType(IntEnum):
    """`TIMFriendType`: one-way (only my list) or both ways."""

    SINGLE = 0
    BOTH = 1


class FriendCheckRelation(IntEnum):
    """`TIMFriendCheckRelation`."""

    NO_RELATION = 0
    IN_MY_LIST = 1  # the other is in my list only
    IN_OTHER_LIST = 2  # I am in the other's list only
    BOTH_WAY = 3


class GenderType(IntEnum):
    """`TIMGenderType`."""

    UNKNOWN = 0
    FEMALE = 1
    MALE = 2


class ProfileAddPermission(IntEnum):
    """`TIMProfileAddPermission`: how others may befriend the user."""

    UNKNOWN = 0
    ALLOW_ANY = 1
    NEED_CONFIRM = 2
    DENY_ANY = 3


class FriendResult(TIMStruct, rename=prefixed("friend_result_")):
    """One account's outcome: `code` 0, or TIM's sns code (30001, 30539 ...); always all three keys."""

    identifier: str
    code: int
    desc: str


class FriendshipAddFriendParam(TIMStruct, rename=prefixed("friendship_add_friend_param_")):
    identifier: str
    friend_type: FriendType = FriendType.BOTH
    remark: str | None = None
    group_name: str | None = None
    add_source: str | None = None  # "AddSource_Type_" + up to 8 bytes
    add_wording: str | None = None


class FriendshipDeleteFriendParam(TIMStruct, rename=prefixed("friendship_delete_friend_param_")):
    identifier_array: list[str]
    friend_type: FriendType = FriendType.SINGLE


class FriendProfileCustomStringInfo(TIMStruct, rename=prefixed("friend_profile_custom_string_info_")):
    key: str
    value: str


class FriendProfileItem(TIMStruct, rename=prefixed("friend_profile_item_")):
    """What `TIMFriendshipModifyFriendProfile` changes: the remark, the lists, custom fields."""

    remark: str | None = None
    group_name_array: list[str] | None = None
    custom_string_array: list[FriendProfileCustomStringInfo] | None = None


class FriendshipModifyFriendProfileParam(
    TIMStruct, rename=prefixed("friendship_modify_friend_profile_param_")
):
    identifier: str
    item: FriendProfileItem


class FriendProfile(TIMStruct, rename=prefixed("friend_profile_")):
    identifier: str
    group_name_array: list[str] | None = None
    remark: str | None = None
    add_wording: str | None = None
    add_source: str | None = None
    add_time: UInt | None = None
    user_profile: UserProfile | None = None
    custom_string_array: list[FriendProfileCustomStringInfo] | None = None


class FriendshipCheckFriendTypeParam(TIMStruct, rename=prefixed("friendship_check_friendtype_param_")):
    identifier_array: list[str]
    check_type: FriendType = FriendType.BOTH


class FriendshipCheckFriendTypeResult(TIMStruct, rename=prefixed("friendship_check_friendtype_result_")):
    identifier: str
    relation: FriendCheckRelation
    code: int
    desc: str


class FriendshipCreateFriendGroupParam(TIMStruct, rename=prefixed("friendship_create_friend_group_param_")):
    name_array: list[str]
    identifier_array: list[str] | None = None


class FriendGroupInfo(TIMStruct, rename=prefixed("friend_group_info_")):
    name: str
    count: UInt
    identifier_array: list[str] | None = None


class FriendshipGetProfileListParam(TIMStruct, rename=prefixed("friendship_getprofilelist_param_")):
    """`TIMProfileGetUserProfileList`'s parameter (force_update: the server is always asked)."""

    identifier_array: list[str]
    force_update: bool | None = None


class UserProfileCustomStringInfo(TIMStruct, rename=prefixed("user_profile_custom_string_info_")):
    key: str  # without the Tag_Profile_Custom_ prefix
    value: str


class UserProfileItem(TIMStruct, rename=prefixed("user_profile_item_")):
    """`TIMProfileModifySelfUserProfile`'s parameter: only the fields given change."""

    nick_name: str | None = None
    gender: GenderType | None = None
    face_url: str | None = None
    self_signature: str | None = None
    add_permission: ProfileAddPermission | None = None
    location: str | None = None
    language: UInt | None = None
    birthday: UInt | None = None
    level: UInt | None = None
    role: UInt | None = None
    custom_string_array: list[UserProfileCustomStringInfo] | None = None
