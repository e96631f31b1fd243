"""The conversation list on the server (`recentcontact`) and a group member's unread count.

- `recentcontact/get_list` pages a user's conversations, pinned ones in a list of their own
  (TimeStamp/StartIndex and TopTimeStamp/TopStartIndex are the cursors the reply hands back;
  CompleteFlag 1 on the last page): tencentcloud.com/document/product/1047/43087.
- `recentcontact/delete` deletes one conversation, its roaming messages too with ClearRamble=1
  (1047/43088); `recentcontact/top` pins (OperationType 1) or unpins (2) conversations (1047/78304);
  `recentcontact/mark_contact` sets or clears standard mark bits and the custom mark, up to 100
  items (1047/53438). Their own codes: 50001 UserID not imported, 50002 bad parameter.
- `group_open_http_svc/set_unread_msg_num` sets one member's unread
  count in a group (GroupId, Member_Account, UnreadMsgNum).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .envelope import Envelope, Request, UInt32

__all__ = [
    "ContactItem",
    "DeleteRecentContact",
    "GetRecentContactList",
    "GetRecentContactListResponse",
    "MarkContact",
    "MarkContactResponse",
    "MarkItem",
    "MarkResultItem",
    "SessionItem",
    "SetUnreadMsgNum",
    "TopContact",
]


class ContactItem(msgspec.Struct, omit_defaults=True):
    """One conversation: Type 1 (C2C, To_Account) or 2 (group, GroupId; ToGroupId in marks)."""

    Type: int
    To_Account: str | None = None
    GroupId: str | None = None
    ToGroupId: str | None = None


class SessionItem(msgspec.Struct, omit_defaults=True):
    Type: int
    To_Account: str | None = None
    GroupId: str | None = None
    MsgTime: int = 0
    TopFlag: int = 0
    StandardMark: str | None = None  # bit n is the n-th character from the right, "1" or "0"
    CustomMark: str | None = None
    ContactGroupId: list[int] | None = None


class GetRecentContactListResponse(Envelope):
    SessionItem: list[SessionItem] = msgspec.field(default_factory=list)
    CompleteFlag: int = 1
    TimeStamp: int = 0
    StartIndex: int = 0
    TopTimeStamp: int = 0
    TopStartIndex: int = 0


class GetRecentContactList(Request):
    endpoint: ClassVar[str] = "recentcontact/get_list"
    Response: ClassVar[type[Envelope]] = GetRecentContactListResponse

    From_Account: str
    TimeStamp: UInt32 = 0
    StartIndex: UInt32 = 0
    TopTimeStamp: UInt32 = 0
    TopStartIndex: UInt32 = 0
    AssistFlags: UInt32 = 0


class DeleteRecentContact(Request):
    endpoint: ClassVar[str] = "recentcontact/delete"

    From_Account: str
    Type: int
    To_Account: str | None = None
    ToGroupid: str | None = None
    ClearRamble: int | None = None


class TopContact(Request):
    endpoint: ClassVar[str] = "recentcontact/top"

    From_Account: str
    OperationType: int  # 1 pin, 2 unpin
    RecentContactItem: list[ContactItem]


class MarkItem(msgspec.Struct, omit_defaults=True):
    OptType: int  # 1 standard marks, 2 the custom mark, 3 both
    ContactItem: ContactItem
    SetMark: list[int] | None = None
    ClearMark: list[int] | None = None
    CustomMark: str | None = None


class MarkResultItem(msgspec.Struct, omit_defaults=True):
    OptType: int
    ContactItem: ContactItem
    ResultCode: int = 0
    ResultInfo: str = ""


class MarkContactResponse(Envelope):
    ResultItem: list[MarkResultItem] = msgspec.field(default_factory=list)


class MarkContact(Request):
    endpoint: ClassVar[str] = "recentcontact/mark_contact"
    Response: ClassVar[type[Envelope]] = MarkContactResponse

    From_Account: str
    MarkItem: list[MarkItem]


class SetUnreadMsgNum(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/set_unread_msg_num"

    GroupId: str
    Member_Account: str
    UnreadMsgNum: UInt32
