"""The C SDK's enums, as IntEnums whose values are the wire integers (TIMCloudDef.h)."""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ConvType",
    "DownloadType",
    "ElemType",
    "ImageLevel",
    "MsgPriority",
    "MsgStatus",
    "Platform",
    "TIMResult",
]


class TIMResult(IntEnum):
    """The synchronous result of every C SDK call; aio_tim raises `UsageError` for the failures."""

    SUCC = 0
    ERR_SDKUNINIT = -1
    ERR_NOTLOGIN = -2
    ERR_JSON = -3
    ERR_PARAM = -4
    ERR_CONV = -5
    ERR_GROUP = -6


class ConvType(IntEnum):
    INVALID = 0
    C2C = 1
    GROUP = 2
    SYSTEM = 3


class MsgStatus(IntEnum):
    SENDING = 1
    SEND_SUCC = 2
    SEND_FAIL = 3
    DELETED = 4
    LOCAL_IMPORTED = 5
    REVOKED = 6
    CANCEL = 7


class MsgPriority(IntEnum):
    HIGH = 0
    NORMAL = 1
    LOW = 2
    LOWEST = 3


class Platform(IntEnum):
    OTHER = 0
    WINDOWS = 1
    ANDROID = 2
    IOS = 3
    MAC = 4
    SIMULATOR = 5


class ElemType(IntEnum):
    TEXT = 0
    IMAGE = 1
    SOUND = 2
    CUSTOM = 3
    FILE = 4
    GROUP_TIPS = 5
    FACE = 6
    LOCATION = 7
    GROUP_REPORT = 8
    VIDEO = 9
    FRIEND_CHANGE = 10
    PROFILE_CHANGE = 11
    MERGE = 12
    INVALID = -1


class ImageLevel(IntEnum):
    ORIG = 0
    COMPRESSION = 1
    HD = 2


class DownloadType(IntEnum):
    VIDEO_THUMB = 0
    FILE = 1
    VIDEO = 2
    SOUND = 3
