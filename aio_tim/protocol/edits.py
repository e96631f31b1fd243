"""Requests that change history already stored on the server: modifying a message's content,
clearing a group's history.

Both modify commands overwrite `MsgBody` and/or `CloudCustomData` of one stored message; a
field left out keeps its value (trtc.io/document/47722 for C2C by MsgKey, 47948 for groups by
MsgSeq; both are under the `openim` service). `clear_group_msg` hides a group's messages up to
`MsgSeq` (all without it) from every member's SDK; the admin still reads them (65970).
"""

from __future__ import annotations

from typing import ClassVar

from .envelope import Request, UInt32
from .msgbody import MsgBodyItem

__all__ = ["ClearGroupMsg", "ModifyC2CMsg", "ModifyGroupMsg"]


class ModifyC2CMsg(Request):
    endpoint: ClassVar[str] = "openim/modify_c2c_msg"

    From_Account: str
    To_Account: str
    MsgKey: str
    MsgBody: list[MsgBodyItem] | None = None
    CloudCustomData: str | None = None


class ModifyGroupMsg(Request):
    endpoint: ClassVar[str] = "openim/modify_group_msg"

    GroupId: str
    MsgSeq: UInt32
    MsgBody: list[MsgBodyItem] | None = None
    CloudCustomData: str | None = None
    TopicId: str | None = None


class ClearGroupMsg(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/clear_group_msg"

    GroupId: str
    MsgSeq: UInt32 | None = None
