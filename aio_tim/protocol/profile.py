"""Profiles, global mutes and the app's own data in REST v4: `profile/portrait_*`,
`openconfigsvr/*`, `open_msg_svc/get_history`, `ConfigSvc/GetIPList`, `im_open_login_svc/kick`.

Shapes from TIM's pages (cloud.tencent.com/document/product/269/1640 portrait_set, 1639
portrait_get, 4230 setnospeaking, 4229 getnospeaking, 4193 getappinfo, 1650 get_history,
45438 GetIPList, 3853 kick).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from ..types.friendship import UserProfileItem
from ..types.message import UserProfile as SdkUserProfile
from .envelope import Envelope, Request, UInt32
from .sns import TagValue

__all__ = [
    "MUTED_FOREVER",
    "PORTRAIT_GET_MAX",
    "PROFILE_TAGS",
    "AppInfo",
    "GetAppInfo",
    "GetAppInfoResponse",
    "GetHistory",
    "GetHistoryResponse",
    "GetIPList",
    "GetIPListResponse",
    "GetNoSpeaking",
    "GetNoSpeakingResponse",
    "HistoryFile",
    "Kick",
    "PortraitGet",
    "PortraitGetResponse",
    "PortraitSet",
    "SetNoSpeaking",
    "UserProfile",
    "profile_of",
    "tags_of",
]

PORTRAIT_GET_MAX = 100  # portrait_get: 100 accounts a call
MUTED_FOREVER = 2**32 - 1  # setnospeaking: 0xFFFFFFFF mutes for good, 0 lifts the mute


class PortraitSet(Request):
    endpoint: ClassVar[str] = "profile/portrait_set"

    From_Account: str
    ProfileItem: list[TagValue]


class UserProfile(msgspec.Struct):
    To_Account: str
    ProfileItem: list[TagValue] = msgspec.field(default_factory=list)
    ResultCode: int = 0
    ResultInfo: str = ""


class PortraitGetResponse(Envelope):
    UserProfileItem: list[UserProfile] = msgspec.field(default_factory=list)
    Fail_Account: list[str] | None = None  # only when some failed, as TIM sends it


class PortraitGet(Request):
    endpoint: ClassVar[str] = "profile/portrait_get"
    Response: ClassVar[type[Envelope]] = PortraitGetResponse

    To_Account: list[str]
    TagList: list[str]


class SetNoSpeaking(Request):
    endpoint: ClassVar[str] = "openconfigsvr/setnospeaking"

    Set_Account: str
    C2CmsgNospeakingTime: UInt32 | None = None  # seconds
    GroupmsgNospeakingTime: UInt32 | None = None


class GetNoSpeakingResponse(Envelope):
    C2CmsgNospeakingTime: int = 0
    GroupmsgNospeakingTime: int = 0


class GetNoSpeaking(Request):
    endpoint: ClassVar[str] = "openconfigsvr/getnospeaking"
    Response: ClassVar[type[Envelope]] = GetNoSpeakingResponse

    Get_Account: str


class AppInfo(msgspec.Struct, omit_defaults=True):
    """One day of the app's operating figures; TIM sends every number as a string."""

    AppId: str | None = None
    AppName: str | None = None
    Company: str | None = None
    ActiveUserNum: str | None = None
    RegistUserNumOneDay: str | None = None
    RegistUserNumTotal: str | None = None
    LoginTimes: str | None = None
    LoginUserNum: str | None = None
    UpMsgNum: str | None = None
    DownMsgNum: str | None = None
    SendMsgUserNum: str | None = None
    APNSMsgNum: str | None = None
    C2CUpMsgNum: str | None = None
    C2CDownMsgNum: str | None = None
    C2CSendMsgUserNum: str | None = None
    C2CAPNSMsgNum: str | None = None
    MaxOnlineNum: str | None = None
    ChainIncrease: str | None = None
    ChainDecrease: str | None = None
    GroupUpMsgNum: str | None = None
    GroupDownMsgNum: str | None = None
    GroupSendMsgUserNum: str | None = None
    GroupAPNSMsgNum: str | None = None
    GroupSendMsgGroupNum: str | None = None
    GroupJoinGroupTimes: str | None = None
    GroupQuitGroupTimes: str | None = None
    GroupNewGroupNum: str | None = None
    GroupAllGroupNum: str | None = None
    GroupDestroyGroupNum: str | None = None
    CallBackReq: str | None = None
    CallBackRsp: str | None = None
    Date: str | None = None


class GetAppInfoResponse(Envelope):
    Result: list[AppInfo] = msgspec.field(default_factory=list)


class GetAppInfo(Request):
    endpoint: ClassVar[str] = "openconfigsvr/getappinfo"
    Response: ClassVar[type[Envelope]] = GetAppInfoResponse

    RequestField: list[str] | None = None  # the AppInfo fields wanted (default: all)


class HistoryFile(msgspec.Struct):
    URL: str
    ExpireTime: str
    FileSize: int
    FileMD5: str
    GzipSize: int
    GzipMD5: str


class GetHistoryResponse(Envelope):
    File: list[HistoryFile] = msgspec.field(default_factory=list)


class GetHistory(Request):
    endpoint: ClassVar[str] = "open_msg_svc/get_history"
    Response: ClassVar[type[Envelope]] = GetHistoryResponse

    ChatType: str  # "C2C" or "Group"
    MsgTime: str  # the hour, YYYYMMDDHH


class GetIPListResponse(Envelope):
    IPList: list[str] = msgspec.field(default_factory=list)


class GetIPList(Request):
    endpoint: ClassVar[str] = "ConfigSvc/GetIPList"
    Response: ClassVar[type[Envelope]] = GetIPListResponse


class Kick(Request):
    endpoint: ClassVar[str] = "im_open_login_svc/kick"

    UserID: str


# --- the C SDK's profile JSON <-> TIM's profile tags ----------------------------------------------

CUSTOM_TAG = "Tag_Profile_Custom_"
# The C SDK's UserProfile / UserProfileItem attribute -> the REST tag; enums travel as TIM's strings.
STANDARD_TAGS = {
    "nick_name": "Tag_Profile_IM_Nick",
    "gender": "Tag_Profile_IM_Gender",
    "face_url": "Tag_Profile_IM_Image",
    "self_signature": "Tag_Profile_IM_SelfSignature",
    "add_permission": "Tag_Profile_IM_AllowType",
    "location": "Tag_Profile_IM_Location",
    "language": "Tag_Profile_IM_Language",
    "birthday": "Tag_Profile_IM_BirthDay",
    "level": "Tag_Profile_IM_Level",
    "role": "Tag_Profile_IM_Role",
}
GENDERS = ("Gender_Type_Unknown", "Gender_Type_Female", "Gender_Type_Male")
ALLOW_TYPES = (None, "AllowType_Type_AllowAny", "AllowType_Type_NeedConfirm", "AllowType_Type_DenyAny")


def tags_of(item: UserProfileItem) -> list[TagValue]:
    """`TIMProfileModifySelfUserProfile`'s fields as portrait_set's ProfileItem."""
    pairs: list[TagValue] = []
    for name, tag in STANDARD_TAGS.items():
        value = getattr(item, name)
        if value is None:
            continue
        if name == "gender":
            value = GENDERS[value]
        elif name == "add_permission":
            value = ALLOW_TYPES[value] or "AllowType_Type_NeedConfirm"
        pairs.append(TagValue(Tag=tag, Value=value))
    for custom in item.custom_string_array or []:
        pairs.append(TagValue(Tag=CUSTOM_TAG + custom.key, Value=custom.value))
    return pairs


def profile_of(user_id: str, pairs: list[TagValue]) -> SdkUserProfile:
    """portrait_get's ProfileItem of one account as the C SDK's `UserProfile`."""
    by_tag = {pair.Tag: pair.Value for pair in pairs}
    fields: dict[str, object] = {"user_profile_identifier": user_id}
    for name, tag in STANDARD_TAGS.items():
        value = by_tag.get(tag)
        if value is None:
            continue
        if name == "gender" and value in GENDERS:
            value = GENDERS.index(str(value))
        elif name == "add_permission" and value in ALLOW_TYPES:
            value = ALLOW_TYPES.index(str(value))
        fields["user_profile_" + name] = value
    custom = [
        {"user_profile_custom_string_info_key": tag.removeprefix(CUSTOM_TAG),
         "user_profile_custom_string_info_value": str(value)}
        for tag, value in by_tag.items() if tag.startswith(CUSTOM_TAG)
    ]  # fmt: skip
    if custom:
        fields["user_profile_custom_string_array"] = custom
    return msgspec.convert(fields, SdkUserProfile)


PROFILE_TAGS = [*STANDARD_TAGS.values()]
