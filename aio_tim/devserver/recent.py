"""Endpoints of the conversation list: `recentcontact/get_list`, `delete`, `top`, `mark_contact`,
and `group_open_http_svc/set_unread_msg_num`.

The list follows the messages (recent_queries.py). Codes from TIM's pages: 50001 for a
From_Account that is not an account, 50002 for any bad parameter (tencentcloud.com/document/
product/1047/43088, 43087, 78304, 53438). get_list pages 100 conversations at a time, the pinned
ones first, with TopStartIndex/StartIndex as the cursors it hands back and CompleteFlag 1 on the
last page; mark_contact takes at most 100 items. set_unread_msg_num (1047/34909): 10010 for a
missing group, 10007 for an account that is not a member; ChatRoom/AVChatRoom groups keep no
unread counts, "no error will be returned" and nothing changes; the count is capped at the
group's message count.
"""

from __future__ import annotations

from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.recentcontact import (
    ContactItem,
    DeleteRecentContact,
    GetRecentContactList,
    GetRecentContactListResponse,
    MarkContact,
    MarkContactResponse,
    MarkResultItem,
    SessionItem,
    SetUnreadMsgNum,
    TopContact,
)
from .accounts import require_account, valid_user_id
from .context import Context, Handler
from .groups import existing_group
from .recent_queries import C2C, GROUP, RecentRow

__all__ = ["HANDLERS"]

ERR_NO_ACCOUNT: Final = 50001
ERR_PARAMS: Final = 50002
ERR_NOT_MEMBER: Final = 10007
PAGE: Final = 100
MAX_MARK_ITEMS: Final = 100
_NO_UNREAD: Final = frozenset({"ChatRoom", "Meeting", "AVChatRoom"})


def _peer(item: ContactItem, group_key: str) -> tuple[int, str]:
    """(type, peer) of a ContactItem, or 50002."""
    if item.Type == C2C and item.To_Account and valid_user_id(item.To_Account):
        return C2C, item.To_Account
    group_id = getattr(item, group_key) or item.GroupId or item.ToGroupId
    if item.Type == GROUP and group_id:
        return GROUP, group_id
    raise error_for(ERR_PARAMS, "a conversation is Type 1 with To_Account or Type 2 with a group id")


# --- recentcontact/get_list -----------------------------------------------------------------------


async def get_list(ctx: Context, req: GetRecentContactList) -> Envelope:
    await require_account(ctx, req.From_Account, ERR_NO_ACCOUNT, "From_Account")
    rows = await ctx.state.recent_list(req.From_Account)
    pinned = [r for r in rows if r.top][req.TopStartIndex :]
    others = [r for r in rows if not r.top][req.StartIndex :]
    page = (pinned + others)[:PAGE]
    taken_top = min(len(pinned), PAGE)
    taken = len(page) - taken_top
    now = ctx.now()
    return GetRecentContactListResponse(
        SessionItem=[_session_item(row) for row in page],
        CompleteFlag=int(len(pinned) + len(others) <= PAGE),
        TimeStamp=now, StartIndex=req.StartIndex + taken,
        TopTimeStamp=now, TopStartIndex=req.TopStartIndex + taken_top,
    )  # fmt: skip


def _session_item(row: RecentRow) -> SessionItem:
    c2c = row.type == C2C
    return SessionItem(
        Type=row.type, To_Account=row.peer if c2c else None, GroupId=None if c2c else row.peer,
        MsgTime=row.msg_time, TopFlag=int(row.top),
        StandardMark=format(row.standard, "b") if row.standard else None, CustomMark=row.custom,
    )  # fmt: skip


# --- recentcontact/delete -------------------------------------------------------------------------


async def delete(ctx: Context, req: DeleteRecentContact) -> Envelope:
    await require_account(ctx, req.From_Account, ERR_NO_ACCOUNT, "From_Account")
    if req.ClearRamble not in (None, 0, 1):
        raise error_for(ERR_PARAMS, "ClearRamble is 0 or 1")
    conv_type, peer = _peer(
        ContactItem(Type=req.Type, To_Account=req.To_Account, GroupId=req.ToGroupid), "GroupId"
    )
    await ctx.state.delete_recent(req.From_Account, conv_type, peer)
    if req.ClearRamble == 1 and conv_type == C2C:
        await ctx.state.hide_c2c_conversation(req.From_Account, peer)
    return Envelope()


# --- recentcontact/top ----------------------------------------------------------------------------


async def top(ctx: Context, req: TopContact) -> Envelope:
    await require_account(ctx, req.From_Account, ERR_NO_ACCOUNT, "From_Account")
    if req.OperationType not in (1, 2):
        raise error_for(ERR_PARAMS, "OperationType is 1 (pin) or 2 (unpin)")
    if not req.RecentContactItem:
        raise error_for(ERR_PARAMS, "RecentContactItem names no conversation")
    peers = [_peer(item, "GroupId") for item in req.RecentContactItem]
    for conv_type, peer in peers:
        await ctx.state.set_top(req.From_Account, conv_type, peer, req.OperationType == 1, ctx.now())
    return Envelope()


# --- recentcontact/mark_contact -------------------------------------------------------------------


async def mark_contact(ctx: Context, req: MarkContact) -> Envelope:
    await require_account(ctx, req.From_Account, ERR_NO_ACCOUNT, "From_Account")
    if not 0 < len(req.MarkItem) <= MAX_MARK_ITEMS:
        raise error_for(ERR_PARAMS, f"MarkItem holds 1 to {MAX_MARK_ITEMS} items")
    changes = []
    for item in req.MarkItem:
        if item.OptType not in (1, 2, 3):
            raise error_for(ERR_PARAMS, "OptType is 1, 2 or 3")
        standard = item.OptType in (1, 3)
        set_bits = _bits(item.SetMark) if standard else 0
        clear_bits = _bits(item.ClearMark) if standard else 0
        custom = item.CustomMark if item.OptType in (2, 3) else None
        changes.append((_peer(item.ContactItem, "ToGroupId"), set_bits, clear_bits, custom))
    for (conv_type, peer), set_bits, clear_bits, custom in changes:
        await ctx.state.set_marks(req.From_Account, conv_type, peer, set_bits, clear_bits, custom)
    return MarkContactResponse(
        ResultItem=[
            MarkResultItem(OptType=item.OptType, ContactItem=item.ContactItem) for item in req.MarkItem
        ]
    )


def _bits(numbers: list[int] | None) -> int:
    mask = 0
    for n in numbers or []:
        if not 0 <= n < 64:
            raise error_for(ERR_PARAMS, "a mark bit is 0 to 63")
        mask |= 1 << n
    return mask & (2**63 - 1)  # SQLite integers are signed: bit 63 is not kept


# --- group_open_http_svc/set_unread_msg_num -------------------------------------------------------


async def set_unread_msg_num(ctx: Context, req: SetUnreadMsgNum) -> Envelope:
    group = await existing_group(ctx, req.GroupId)
    if not await ctx.state.is_member(group.group_id, req.Member_Account):
        raise error_for(ERR_NOT_MEMBER, "Member_Account is not a member of the group")
    if group.type not in _NO_UNREAD:
        await ctx.state.set_group_unread(group.group_id, req.Member_Account, req.UnreadMsgNum)
    return Envelope()


HANDLERS: Final[dict[type[Request], Handler]] = {
    GetRecentContactList: get_list,
    DeleteRecentContact: delete,
    TopContact: top,
    MarkContact: mark_contact,
    SetUnreadMsgNum: set_unread_msg_num,
}
