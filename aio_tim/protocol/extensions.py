"""Message extensions: a key-value set on one sent message, under `openim_msg_ext_http_svc`.

C2C messages are named by MsgKey (set_key_values trtc.io/document/51195, get_key_values 51194),
group messages by GroupId + MsgSeq (group_set_key_values 52170, group_get_key_values 52169).
Only a message sent with `SupportMessageExtension` = 1 takes extensions.

`OperateType` 1 sets, 2 deletes the listed keys, 3 clears them all. Every key carries the `Seq`
it was last written at: a write names the Seq it read (0 for a new key) and TIM refuses it with
23001 when the key has moved since, answering the key as it now is, so the writer may retry
(the C SDK's setMessageExtensions: "only the first user succeeds, the others receive 23001 and
the updated extension"). A message's `LatestSeq` grows with each write; `ClearSeq` is where the
last clear left it. Keys are up to 100 bytes, values 1 KB, 20 per request, 300 per message.
"""

from __future__ import annotations

from typing import ClassVar, Final

import msgspec

from .envelope import Envelope, Request, UInt32

__all__ = [
    "EXT_CONFLICT",
    "EXT_MAX_KEY_BYTES",
    "EXT_MAX_PER_MESSAGE",
    "EXT_MAX_PER_REQUEST",
    "EXT_MAX_VALUE_BYTES",
    "OP_CLEAR",
    "OP_DELETE",
    "OP_SET",
    "ExtItem",
    "ExtResult",
    "GetKeyValues",
    "GetKeyValuesResponse",
    "GroupGetKeyValues",
    "GroupSetKeyValues",
    "SetKeyValues",
    "SetKeyValuesResponse",
]

OP_SET: Final = 1
OP_DELETE: Final = 2
OP_CLEAR: Final = 3
EXT_CONFLICT: Final = 23001  # the key was written since the Seq the request names
EXT_MAX_KEY_BYTES: Final = 100
EXT_MAX_VALUE_BYTES: Final = 1024
EXT_MAX_PER_REQUEST: Final = 20
EXT_MAX_PER_MESSAGE: Final = 300


class ExtItem(msgspec.Struct):
    Key: str
    Value: str = ""
    Seq: int = 0


class ExtResult(msgspec.Struct, omit_defaults=True):
    """One key's outcome: ErrorCode 0 and the key as written, or 23001 and the key as it is."""

    ErrorCode: int
    Extension: ExtItem


class SetKeyValuesResponse(Envelope):
    ResultList: list[ExtResult] = msgspec.field(default_factory=list)


class SetKeyValues(Request):
    endpoint: ClassVar[str] = "openim_msg_ext_http_svc/set_key_values"
    Response: ClassVar[type[Envelope]] = SetKeyValuesResponse

    To_Account: str
    MsgKey: str
    OperateType: int
    From_Account: str | None = None
    ExtensionList: list[ExtItem] | None = None


class GroupSetKeyValues(Request):
    endpoint: ClassVar[str] = "openim_msg_ext_http_svc/group_set_key_values"
    Response: ClassVar[type[Envelope]] = SetKeyValuesResponse

    GroupId: str
    MsgSeq: UInt32
    OperateType: int
    ExtensionList: list[ExtItem] | None = None


class GetKeyValuesResponse(Envelope):
    CompleteFlag: int = 1
    LatestSeq: int = 0
    ClearSeq: int = 0
    ExtensionList: list[ExtItem] = msgspec.field(default_factory=list)


class GetKeyValues(Request):
    endpoint: ClassVar[str] = "openim_msg_ext_http_svc/get_key_values"
    Response: ClassVar[type[Envelope]] = GetKeyValuesResponse

    To_Account: str
    MsgKey: str
    From_Account: str | None = None
    StartSeq: int = 0


class GroupGetKeyValues(Request):
    endpoint: ClassVar[str] = "openim_msg_ext_http_svc/group_get_key_values"
    Response: ClassVar[type[Envelope]] = GetKeyValuesResponse

    GroupId: str
    MsgSeq: UInt32
    StartSeq: int = 0
