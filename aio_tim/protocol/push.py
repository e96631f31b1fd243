"""Push to all users (`all_member_push/*`): the push itself, the app's attribute names, and each
user's attributes and tags that a push's Condition selects by."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from .envelope import Envelope, Request, UInt32
from .msgbody import MsgBodyItem

__all__ = [
    "AddTag",
    "GetAttr",
    "GetAttrName",
    "GetAttrNameResponse",
    "GetAttrResponse",
    "GetTag",
    "GetTagResponse",
    "ImPush",
    "ImPushResponse",
    "PushCondition",
    "RemoveAllTags",
    "RemoveAttr",
    "RemoveTag",
    "SetAttr",
    "SetAttrName",
    "UserAttrNames",
    "UserAttrs",
    "UserTags",
]

ATTR_SLOTS = 10  # attribute names are numbered "0" to "9"
ATTR_NAME_MAX_BYTES = 50
TAG_MAX_BYTES = 50
CONDITION_TAGS_MAX = 10  # tags in TagsAnd or TagsOr
USERS_PER_CALL = 100  # accounts a get/set/add/remove call names
TAGS_PER_USER_MAX = 100


class PushCondition(msgspec.Struct, omit_defaults=True):
    """Who receives a push: tags or attributes (not both), all of them (And) or any (Or)."""

    TagsAnd: list[str] | None = None
    TagsOr: list[str] | None = None
    AttrsAnd: dict[str, Any] | None = None
    AttrsOr: dict[str, Any] | None = None


class ImPushResponse(Envelope):
    TaskId: str = ""


class ImPush(Request):
    endpoint: ClassVar[str] = "all_member_push/im_push"
    Response: ClassVar[type[Envelope]] = ImPushResponse

    MsgRandom: UInt32
    MsgBody: list[MsgBodyItem]
    From_Account: str | None = None
    Condition: PushCondition | None = None
    MsgLifeTime: int | None = None  # seconds kept offline, at most 7 days
    OfflinePushInfo: dict[str, Any] | None = None


class SetAttrName(Request):
    endpoint: ClassVar[str] = "all_member_push/im_set_attr_name"

    AttrNames: dict[str, str]  # "0".."9" -> name


class GetAttrNameResponse(Envelope):
    AttrNames: dict[str, str] = msgspec.field(default_factory=dict)


class GetAttrName(Request):
    endpoint: ClassVar[str] = "all_member_push/im_get_attr_name"
    Response: ClassVar[type[Envelope]] = GetAttrNameResponse


class UserAttrs(msgspec.Struct):
    To_Account: str
    Attrs: dict[str, Any]


class GetAttrResponse(Envelope):
    UserAttrs: list[UserAttrs] = msgspec.field(default_factory=list)


class GetAttr(Request):
    endpoint: ClassVar[str] = "all_member_push/im_get_attr"
    Response: ClassVar[type[Envelope]] = GetAttrResponse

    To_Account: list[str]


class SetAttr(Request):
    endpoint: ClassVar[str] = "all_member_push/im_set_attr"

    UserAttrs: list[UserAttrs]


class UserAttrNames(msgspec.Struct):
    To_Account: str
    Attrs: list[str]


class RemoveAttr(Request):
    endpoint: ClassVar[str] = "all_member_push/im_remove_attr"

    UserAttrs: list[UserAttrNames]


class UserTags(msgspec.Struct):
    To_Account: str
    Tags: list[str]


class GetTagResponse(Envelope):
    UserTags: list[UserTags] = msgspec.field(default_factory=list)


class GetTag(Request):
    endpoint: ClassVar[str] = "all_member_push/im_get_tag"
    Response: ClassVar[type[Envelope]] = GetTagResponse

    To_Account: list[str]


class AddTag(Request):
    endpoint: ClassVar[str] = "all_member_push/im_add_tag"

    UserTags: list[UserTags]


class RemoveTag(Request):
    endpoint: ClassVar[str] = "all_member_push/im_remove_tag"

    UserTags: list[UserTags]


class RemoveAllTags(Request):
    endpoint: ClassVar[str] = "all_member_push/im_remove_all_tags"

    To_Account: list[str]
