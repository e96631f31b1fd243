"""Read receipts: a recipient acknowledges messages that asked for one, the sender reads who did.

- `openim/c2c_msg_read_receipt` (trtc.io/document/77776): `Operator_Account` (the reader, the
  messages' recipient) acknowledges messages `Peer_Account` sent, each named by its MsgKey.
- `group_open_http_svc/group_msg_receipt`: a member acknowledges group messages by MsgSeq. TIM's
  public pages do not show this command's fields; they follow its `get_` siblings (GroupId,
  MsgSeqList of {MsgSeq}) with the reader as `Operator_Account`, and a per-seq result list.
- `group_open_http_svc/get_group_msg_receipt` (trtc.io/document/49439): read and unread counts per
  MsgSeq, each with its own `Code` (10062: the message asked for no receipt).
- `group_open_http_svc/get_group_msg_receipt_detail` (trtc.io/document/49438): who has (Filter 0)
  or has not (Filter 1) read one message, `Count` (at most 200) at a time from `Cursor`.
"""

from __future__ import annotations

from typing import ClassVar, Final

import msgspec

from .envelope import Envelope, Request, UInt32

__all__ = [
    "DETAIL_MAX_COUNT",
    "RECEIPT_MAX_MSGS",
    "C2CMsgInfo",
    "C2CMsgReadReceipt",
    "GetGroupMsgReceipt",
    "GetGroupMsgReceiptDetail",
    "GetGroupMsgReceiptDetailResponse",
    "GetGroupMsgReceiptResponse",
    "GroupMsgReceipt",
    "GroupMsgReceiptResponse",
    "ReceiptCount",
    "ReceiptMember",
    "ReceiptResult",
    "ReceiptSeq",
]

DETAIL_MAX_COUNT: Final = 200  # members per get_group_msg_receipt_detail page (49438)
RECEIPT_MAX_MSGS: Final = 100  # messages per receipt command: the C SDK's cap on one call's array


class C2CMsgInfo(msgspec.Struct):
    From_Account: str
    To_Account: str
    MsgKey: str


class C2CMsgReadReceipt(Request):
    endpoint: ClassVar[str] = "openim/c2c_msg_read_receipt"

    Operator_Account: str
    Peer_Account: str
    C2CMsgInfo: list[C2CMsgInfo]


class ReceiptSeq(msgspec.Struct):
    MsgSeq: UInt32


class ReceiptResult(msgspec.Struct, omit_defaults=True):
    MsgSeq: int
    Code: int = 0


class GroupMsgReceiptResponse(Envelope):
    MsgSeqList: list[ReceiptResult] = msgspec.field(default_factory=list)


class GroupMsgReceipt(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/group_msg_receipt"
    Response: ClassVar[type[Envelope]] = GroupMsgReceiptResponse

    GroupId: str
    Operator_Account: str
    MsgSeqList: list[ReceiptSeq]


class ReceiptCount(msgspec.Struct, omit_defaults=True):
    MsgSeq: int
    Code: int = 0
    ReadNum: int = 0
    UnreadNum: int = 0


class GetGroupMsgReceiptResponse(Envelope):
    GroupMsgReceiptList: list[ReceiptCount] = msgspec.field(default_factory=list)


class GetGroupMsgReceipt(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/get_group_msg_receipt"
    Response: ClassVar[type[Envelope]] = GetGroupMsgReceiptResponse

    GroupId: str
    MsgSeqList: list[ReceiptSeq]


class ReceiptMember(msgspec.Struct):
    Member_Account: str


class GetGroupMsgReceiptDetailResponse(Envelope):
    IsFinished: int = 1
    Cursor: str = ""
    ReadList: list[ReceiptMember] = msgspec.field(default_factory=list)
    UnreadList: list[ReceiptMember] = msgspec.field(default_factory=list)


class GetGroupMsgReceiptDetail(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/get_group_msg_receipt_detail"
    Response: ClassVar[type[Envelope]] = GetGroupMsgReceiptDetailResponse

    GroupId: str
    MsgSeq: UInt32
    Count: int = DETAIL_MAX_COUNT
    Cursor: str = ""
    Filter: int = 0  # 0: who read it, 1: who has not
