"""Conversation groups on the server (`recentcontact/*_contact_group`): a user's named groups of
conversations, independent of the recent-contact list.

- `create_contact_group` creates one group (GroupContactItem holds exactly one) with its
  conversations and answers its numeric GroupId and a result per conversation
  (tencentcloud.com/document/product/1047/53437).
- `update_contact_group` (UpdateType 1) renames a group (UpdateGroupType 1: OldGroupName ->
  NewGroupName) or adds (ContactOptType 1) and removes (2) conversations (UpdateGroupType 2)
  (1047/53439). The page's request is certain; its answer is modelled as TIM's other
  per-conversation answers (ContactItem, ResultCode, ResultInfo) under UpdateGroupResult.
- `get_contact_group` pages the groups and the grouped (or marked) conversations, each with its
  ContactGroupId list; StartIndex/NextStartIndex and CompleteFlag (1047/53440).
- `del_contact_group` deletes groups by name, one at a time today (1047/53441).

Caps (every page above): 20 groups per user, 1000 conversations per group; over a cap is 51008.
A group name is at most 32 bytes (create; update says 64 for the new name: the smaller is kept).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .envelope import Envelope, Request, UInt32
from .recentcontact import ContactItem

__all__ = [
    "ContactGroupEntry",
    "ContactResultItem",
    "ContactUpdateItem",
    "CreateContactGroup",
    "CreateContactGroupResponse",
    "DeleteContactGroup",
    "DeleteContactGroupResponse",
    "GetContactGroup",
    "GetContactGroupResponse",
    "GroupContactItem",
    "GroupItem",
    "GroupResultItem",
    "UpdateContactGroup",
    "UpdateContactGroupResponse",
    "UpdateGroup",
    "UpdateGroupResult",
]


class GroupItem(msgspec.Struct, omit_defaults=True):
    GroupName: str
    GroupId: int = 0


class ContactResultItem(msgspec.Struct, omit_defaults=True):
    ContactItem: ContactItem
    ContactOptType: int | None = None  # in update_contact_group's answer
    ResultCode: int = 0
    ResultInfo: str = ""


class GroupContactItem(msgspec.Struct, omit_defaults=True):
    GroupName: str
    ContactItem: list[ContactItem]


class GroupResultItem(msgspec.Struct, omit_defaults=True):
    GroupItem: GroupItem
    ResultItem: list[ContactResultItem] = msgspec.field(default_factory=list)


class CreateContactGroupResponse(Envelope):
    GroupResultItem: list[GroupResultItem] = msgspec.field(default_factory=list)


class CreateContactGroup(Request):
    endpoint: ClassVar[str] = "recentcontact/create_contact_group"
    Response: ClassVar[type[Envelope]] = CreateContactGroupResponse

    From_Account: str
    GroupContactItem: list[GroupContactItem]


class ContactUpdateItem(msgspec.Struct, omit_defaults=True):
    ContactOptType: int  # 1 add to the group, 2 remove from it
    ContactItem: ContactItem


class UpdateGroup(msgspec.Struct, omit_defaults=True):
    UpdateGroupType: int  # 1 rename, 2 change the conversations
    OldGroupName: str
    NewGroupName: str | None = None
    ContactUpdateItem: list[ContactUpdateItem] | None = None


class UpdateGroupResult(msgspec.Struct, omit_defaults=True):
    UpdateGroupType: int
    OldGroupName: str
    NewGroupName: str | None = None
    GroupId: int = 0
    ContactResultItem: list[ContactResultItem] | None = None


class UpdateContactGroupResponse(Envelope):
    UpdateGroupResult: UpdateGroupResult | None = None


class UpdateContactGroup(Request):
    endpoint: ClassVar[str] = "recentcontact/update_contact_group"
    Response: ClassVar[type[Envelope]] = UpdateContactGroupResponse

    From_Account: str
    UpdateType: int  # 1: the group (its name or its conversations)
    UpdateGroup: UpdateGroup | None = None


class ContactGroupEntry(msgspec.Struct, omit_defaults=True):
    """One grouped conversation in get_contact_group's answer."""

    Type: int
    To_Account: str | None = None
    ToGroupId: str | None = None
    StandardMark: str | None = None
    CustomMark: str | None = None
    ContactGroupId: list[int] | None = None
    Timestamp: int = 0


class GetContactGroupResponse(Envelope):
    ContactItem: list[ContactGroupEntry] = msgspec.field(default_factory=list)
    GroupItem: list[GroupItem] = msgspec.field(default_factory=list)
    CompleteFlag: int = 1
    NextStartIndex: int = 0


class GetContactGroup(Request):
    endpoint: ClassVar[str] = "recentcontact/get_contact_group"
    Response: ClassVar[type[Envelope]] = GetContactGroupResponse

    From_Account: str
    StartIndex: UInt32 = 0


class DeleteContactGroupResponse(Envelope):
    GroupItem: list[GroupItem] = msgspec.field(default_factory=list)


class DeleteContactGroup(Request):
    endpoint: ClassVar[str] = "recentcontact/del_contact_group"
    Response: ClassVar[type[Envelope]] = DeleteContactGroupResponse

    From_Account: str
    GroupName: list[str]
