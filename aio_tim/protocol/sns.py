"""Relationship chain endpoints of REST v4 (`sns/*`): friends, the blacklist and friend lists.

Shapes from TIM's pages (cloud.tencent.com/document/product/269/1643 friend_add and its
siblings). A friend's data travels as `{"Tag": ..., "Value": ...}` pairs: `Tag_SNS_IM_*` for the
standard relationship fields, `Tag_SNS_Custom_*` for the app's own, `Tag_Profile_*` for the
friend's profile where a command returns it.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .envelope import Envelope, Request

__all__ = [
    "BLACKLIST_MAX",
    "FRIEND_ADD_MAX",
    "FRIEND_GET_LIST_MAX",
    "FRIEND_IMPORT_MAX",
    "FRIEND_PAGE",
    "AddFriendItem",
    "BlackListAdd",
    "BlackListCheck",
    "BlackListCheckResponse",
    "BlackListDelete",
    "BlackListGet",
    "BlackListGetResponse",
    "BlackListItem",
    "CheckItem",
    "FriendAdd",
    "FriendCheck",
    "FriendCheckResponse",
    "FriendData",
    "FriendDelete",
    "FriendDeleteAll",
    "FriendGet",
    "FriendGetList",
    "FriendGetListResponse",
    "FriendGetResponse",
    "FriendImport",
    "FriendUpdate",
    "GroupAdd",
    "GroupAddResponse",
    "GroupDelete",
    "GroupGet",
    "GroupGetResponse",
    "GroupResult",
    "ImportFriendItem",
    "ItemResult",
    "ItemsResponse",
    "SequenceResponse",
    "TagValue",
    "UpdateItem",
    "Value",
]

FRIEND_ADD_MAX = 1000  # friend_add, friend_delete, friend_check, black_list_*: 1000 accounts a call
FRIEND_IMPORT_MAX = 100  # friend_import and friend_update: 100 items a call
FRIEND_GET_LIST_MAX = 100  # friend_get_list: 100 friends a call
FRIEND_PAGE = 100  # friend_get: friends a page
BLACKLIST_MAX = 1000

# A Value is a string, an integer or (Tag_SNS_IM_Group) a list of group names.
Value = str | int | list[str]


class TagValue(msgspec.Struct):
    Tag: str
    Value: Value


class ItemResult(msgspec.Struct):
    To_Account: str
    ResultCode: int = 0
    ResultInfo: str = ""


class ItemsResponse(Envelope):
    """Per-account results; `Fail_Account` lists the accounts whose ResultCode is not 0."""

    ResultItem: list[ItemResult] = msgspec.field(default_factory=list)
    Fail_Account: list[str] | None = None  # only when some failed, as TIM sends it


# --- friends --------------------------------------------------------------------------------------


class AddFriendItem(msgspec.Struct, omit_defaults=True):
    To_Account: str
    AddSource: str | None = None
    Remark: str | None = None
    GroupName: str | None = None  # friend_add allows one list
    AddWording: str | None = None


class FriendAdd(Request):
    endpoint: ClassVar[str] = "sns/friend_add"
    Response: ClassVar[type[Envelope]] = ItemsResponse

    From_Account: str
    AddFriendItem: list[AddFriendItem]
    AddType: str | None = None  # Add_Type_Both (default) or Add_Type_Single
    ForceAddFlags: int | None = None  # 1: add without the peer's approval


class ImportFriendItem(msgspec.Struct, omit_defaults=True):
    To_Account: str
    AddSource: str | None = None
    Remark: str | None = None
    GroupName: list[str] | None = None
    AddWording: str | None = None
    AddTime: int | None = None
    RemarkTime: int | None = None
    CustomItem: list[TagValue] | None = None


class FriendImport(Request):
    endpoint: ClassVar[str] = "sns/friend_import"
    Response: ClassVar[type[Envelope]] = ItemsResponse

    From_Account: str
    AddFriendItem: list[ImportFriendItem]


class UpdateItem(msgspec.Struct):
    To_Account: str
    SnsItem: list[TagValue]


class FriendUpdate(Request):
    endpoint: ClassVar[str] = "sns/friend_update"
    Response: ClassVar[type[Envelope]] = ItemsResponse

    From_Account: str
    UpdateItem: list[UpdateItem]


class FriendDelete(Request):
    endpoint: ClassVar[str] = "sns/friend_delete"
    Response: ClassVar[type[Envelope]] = ItemsResponse

    From_Account: str
    To_Account: list[str]
    DeleteType: str | None = None  # Delete_Type_Single (default) or Delete_Type_Both


class FriendDeleteAll(Request):
    endpoint: ClassVar[str] = "sns/friend_delete_all"

    From_Account: str
    DeleteType: str | None = None


class CheckItem(msgspec.Struct):
    To_Account: str
    Relation: str = ""
    ResultCode: int = 0
    ResultInfo: str = ""


class FriendCheckResponse(Envelope):
    InfoItem: list[CheckItem] = msgspec.field(default_factory=list)
    Fail_Account: list[str] | None = None  # only when some failed, as TIM sends it


class FriendCheck(Request):
    endpoint: ClassVar[str] = "sns/friend_check"
    Response: ClassVar[type[Envelope]] = FriendCheckResponse

    From_Account: str
    To_Account: list[str]
    CheckType: str  # CheckResult_Type_Single or CheckResult_Type_Both


class FriendData(msgspec.Struct, omit_defaults=True):
    To_Account: str
    ValueItem: list[TagValue] | None = None  # friend_get
    SnsProfileItem: list[TagValue] | None = None  # friend_get_list
    ResultCode: int | None = None
    ResultInfo: str | None = None


class FriendGetResponse(Envelope):
    UserDataItem: list[FriendData] = msgspec.field(default_factory=list)
    StandardSequence: int = 0
    CustomSequence: int = 0
    FriendNum: int = 0
    CompleteFlag: int = 0
    NextStartIndex: int = 0


class FriendGet(Request):
    """One page of From_Account's friends (100 a page) from StartIndex."""

    endpoint: ClassVar[str] = "sns/friend_get"
    Response: ClassVar[type[Envelope]] = FriendGetResponse

    From_Account: str
    StartIndex: int = 0
    StandardSequence: int | None = None
    CustomSequence: int | None = None


class FriendGetListResponse(Envelope):
    InfoItem: list[FriendData] = msgspec.field(default_factory=list)
    Fail_Account: list[str] | None = None  # only when some failed, as TIM sends it


class FriendGetList(Request):
    endpoint: ClassVar[str] = "sns/friend_get_list"
    Response: ClassVar[type[Envelope]] = FriendGetListResponse

    From_Account: str
    To_Account: list[str]
    TagList: list[str]


# --- blacklist ------------------------------------------------------------------------------------


class BlackListAdd(Request):
    endpoint: ClassVar[str] = "sns/black_list_add"
    Response: ClassVar[type[Envelope]] = ItemsResponse

    From_Account: str
    To_Account: list[str]


class BlackListDelete(Request):
    endpoint: ClassVar[str] = "sns/black_list_delete"
    Response: ClassVar[type[Envelope]] = ItemsResponse

    From_Account: str
    To_Account: list[str]


class BlackListItem(msgspec.Struct):
    To_Account: str
    AddBlackTimeStamp: int


class BlackListGetResponse(Envelope):
    BlackListItem: list[BlackListItem] = msgspec.field(default_factory=list)
    StartIndex: int = 0  # where the next page starts; 0 once all are read
    CurrentSequence: int = 0


class BlackListGet(Request):
    endpoint: ClassVar[str] = "sns/black_list_get"
    Response: ClassVar[type[Envelope]] = BlackListGetResponse

    From_Account: str
    StartIndex: int
    MaxLimited: int
    LastSequence: int


class BlackListCheckResponse(Envelope):
    BlackListCheckItem: list[CheckItem] = msgspec.field(default_factory=list)
    Fail_Account: list[str] | None = None  # only when some failed, as TIM sends it


class BlackListCheck(Request):
    endpoint: ClassVar[str] = "sns/black_list_check"
    Response: ClassVar[type[Envelope]] = BlackListCheckResponse

    From_Account: str
    To_Account: list[str]
    CheckType: str  # BlackCheckResult_Type_Single or BlackCheckResult_Type_Both


# --- friend lists ("groups" of friends) -----------------------------------------------------------


class SequenceResponse(Envelope):
    CurrentSequence: int = 0


class GroupAddResponse(SequenceResponse):
    ResultItem: list[ItemResult] = msgspec.field(default_factory=list)
    Fail_Account: list[str] | None = None  # only when some failed, as TIM sends it


class GroupAdd(Request):
    endpoint: ClassVar[str] = "sns/group_add"
    Response: ClassVar[type[Envelope]] = GroupAddResponse

    From_Account: str
    GroupName: list[str]
    To_Account: list[str] | None = None  # friends to put in the new lists


class GroupDelete(Request):
    endpoint: ClassVar[str] = "sns/group_delete"
    Response: ClassVar[type[Envelope]] = SequenceResponse

    From_Account: str
    GroupName: list[str]


class GroupResult(msgspec.Struct, omit_defaults=True):
    GroupName: str
    FriendNumber: int = 0
    To_Account: list[str] | None = None


class GroupGetResponse(SequenceResponse):
    ResultItem: list[GroupResult] = msgspec.field(default_factory=list)


class GroupGet(Request):
    endpoint: ClassVar[str] = "sns/group_get"
    Response: ClassVar[type[Envelope]] = GroupGetResponse

    From_Account: str
    LastSequence: int | None = None
    NeedFriend: str | None = None  # Need_Friend_Type_Yes: list each list's friends
    GroupName: list[str] | None = None
