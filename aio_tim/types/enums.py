"""The C SDK's enums, as IntEnums whose values are the wire integers (TIMCloudDef.h)."""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "Conv",
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
    """The synchronous result of every C SDK call; aio_tim raises `UsageError` for the failures.

    `aio_tim.capi` returns these values as they are:

        assert capi.TIMMsgSendNewMsg("bob", 7, "{}", cb, None) == TIMResult.ERR_CONV   # -5
    """

    SUCC = 0
    ERR_SDKUNINIT = -1
    ERR_NOTLOGIN = -2
    ERR_JSON = -3
    ERR_PARAM = -4
    ERR_CONV = -5
    ERR_GROUP = -6


class ConvType(IntEnum):
    """`TIMConvType`: the kind of conversation an operation addresses.

    For C2C the `conv_id` is the peer's UserID, for a group the group id:

        await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
        await tim.msg.send_new_msg("team", ConvType.GROUP, msg)
    """

    INVALID = 0
    C2C = 1
    GROUP = 2
    SYSTEM = 3


Conv = tuple[int, str]
"""A conversation as the store and the outbox key it: `(conv_type, conv_id)`."""


class MsgStatus(IntEnum):
    """`TIMMsgStatus`: a message's `message_status`.

    DELETED marks a tombstone in the local store; REVOKED a recalled message:

        sent = await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
        assert sent.status == MsgStatus.SEND_SUCC
    """

    SENDING = 1
    SEND_SUCC = 2
    SEND_FAIL = 3
    DELETED = 4
    LOCAL_IMPORTED = 5
    REVOKED = 6
    CANCEL = 7


class MsgPriority(IntEnum):
    """`TIMMsgPriority` (bigger is lower): `message_priority`.

    Group sends pass it on as the REST `MsgPriority` (High, Normal, Low):

        Message(elem_array=[TextElem(content="fire drill")], priority=MsgPriority.HIGH)
    """

    HIGH = 0
    NORMAL = 1
    LOW = 2
    LOWEST = 3


class Platform(IntEnum):
    """`TIMPlatform`: the platform a message was sent from (`message_platform`).

    For example:

        Platform(msg.platform or 0).name   # "OTHER", "WINDOWS", "ANDROID", ...
    """

    OTHER = 0
    WINDOWS = 1
    ANDROID = 2
    IOS = 3
    MAC = 4
    SIMULATOR = 5


class ElemType(IntEnum):
    """`TIMElemType`: the `elem_type` tag of each element Struct.

    GROUP_TIPS, GROUP_REPORT, FRIEND_CHANGE and PROFILE_CHANGE come from the server only:

        >>> ElemType(1).name
        'IMAGE'
        >>> int(ElemType.MERGE)
        12
    """

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
    """`TIMImageLevel`: how an image is sent (`image_elem_level`).

    COMPRESSION is the C SDK's default:

        ImageElem(orig_path="photo.jpg", level=ImageLevel.ORIG)
    """

    ORIG = 0
    COMPRESSION = 1
    HD = 2


class DownloadType(IntEnum):
    """`TIMDownloadType`: which file of an element to download (`msg_download_elem_param_type`).

    Images have no value: they are fetched by URL alone.

        DownloadElemParam(type=DownloadType.FILE, id=elem.file_id, url=elem.url)
    """

    VIDEO_THUMB = 0
    FILE = 1
    VIDEO = 2
    SOUND = 3
