"""Read receipt endpoints: `openim/c2c_msg_read_receipt`, `group_open_http_svc/group_msg_receipt`,
`get_group_msg_receipt` and `get_group_msg_receipt_detail`.

Only a message that asked for receipts when it was sent (IsNeedReadReceipt / NeedReadReceipt)
takes one. TIM's pages name these codes: 10062 for a group message without receipt information
(trtc.io/document/49439, a per-message `Code`), 10010 for a missing group and 10007 for the group
types the commands do not support, AVChatRoom and Community (49438, 49439). Where the pages name
none: a C2C message that asked for no receipt is 90001 (invalid parameters), an unknown one 20022
(as admin_msgwithdraw answers); a group message that is not there is 10030 (as group_msg_recall).
A C2C receipt fires C2C.CallbackAfterMsgReadReceipt (cloud.tencent.com/document/product/269/128223).
A receipt is given once: sending it again changes nothing.
"""

from __future__ import annotations

from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.callbacks import C2C_AFTER_MSG_READ_RECEIPT
from ..protocol.receipts import (
    DETAIL_MAX_COUNT,
    RECEIPT_MAX_MSGS,
    C2CMsgReadReceipt,
    GetGroupMsgReceipt,
    GetGroupMsgReceiptDetail,
    GetGroupMsgReceiptDetailResponse,
    GetGroupMsgReceiptResponse,
    GroupMsgReceipt,
    GroupMsgReceiptResponse,
    ReceiptCount,
    ReceiptMember,
    ReceiptResult,
)
from .accounts import require_account
from .c2c_history import MSG_KEY
from .context import Context, Handler
from .feature_queries import c2c_ref, group_ref
from .groups import existing_group
from .rows import C2CRow, GroupRow
from .webhooks import c2c_receipted

__all__ = ["HANDLERS", "receipt_group"]

ERR_NO_MESSAGE: Final = 20022
ERR_GROUP_MSG_MISSING: Final = 10030
ERR_NO_RECEIPT: Final = 10062
ERR_UNSUPPORTED: Final = 10007
ERR_GROUP_PARAMS: Final = 10004
_UNSUPPORTED_TYPES: Final = frozenset({"AVChatRoom", "Community"})


# --- openim/c2c_msg_read_receipt -----------------------------------------------------------------


async def c2c_msg_read_receipt(ctx: Context, req: C2CMsgReadReceipt) -> Envelope:
    if not 0 < len(req.C2CMsgInfo) <= RECEIPT_MAX_MSGS:
        raise error_for(90001, f"C2CMsgInfo must hold 1 to {RECEIPT_MAX_MSGS} messages")
    for info in req.C2CMsgInfo:
        # The reader is the messages' recipient (77776): From must be the peer, To the operator.
        if (info.From_Account, info.To_Account) != (req.Peer_Account, req.Operator_Account):
            raise error_for(90001, "each message must go from Peer_Account to Operator_Account")
        if not MSG_KEY.fullmatch(info.MsgKey):
            raise error_for(90054, "MsgKey is not a MsgKey")
    await require_account(ctx, req.Operator_Account, 90008, "Operator_Account")
    await require_account(ctx, req.Peer_Account, 90003, "Peer_Account")
    rows = [await _receipted_row(ctx, req, info.MsgKey) for info in req.C2CMsgInfo]
    reader, now = req.Operator_Account, ctx.now()
    fresh = [row for row in rows if await ctx.state.add_receipt(c2c_ref(row.id), reader, now)]
    if fresh and ctx.webhooks is not None and ctx.webhooks.enabled(C2C_AFTER_MSG_READ_RECEIPT):
        ctx.webhooks.after(c2c_receipted(req.Operator_Account, req.Peer_Account, fresh, ctx.now()))
    return Envelope()


async def _receipted_row(ctx: Context, req: C2CMsgReadReceipt, msg_key: str) -> C2CRow:
    row = await ctx.state.c2c_by_key(req.Peer_Account, req.Operator_Account, msg_key)
    if row is None or row.recalled:
        raise error_for(ERR_NO_MESSAGE, "no message with this MsgKey from Peer_Account to Operator_Account")
    if not (await ctx.state.features(c2c_ref(row.id))).need_receipt:
        raise error_for(90001, f"message {msg_key} asked for no read receipt")
    return row


# --- group_open_http_svc/group_msg_receipt -------------------------------------------------------


async def receipt_group(ctx: Context, group_id: str) -> GroupRow:
    """The group, if it is of a type that keeps receipts (and extensions)."""
    group = await existing_group(ctx, group_id)
    if group.type in _UNSUPPORTED_TYPES:
        raise error_for(ERR_UNSUPPORTED, f"{group.type} groups do not support this command")
    return group


def _check_seq_count(count: int) -> None:
    if not 0 < count <= RECEIPT_MAX_MSGS:
        raise error_for(ERR_GROUP_PARAMS, f"MsgSeqList must hold 1 to {RECEIPT_MAX_MSGS} messages")


async def group_msg_receipt(ctx: Context, req: GroupMsgReceipt) -> Envelope:
    _check_seq_count(len(req.MsgSeqList))
    group = await receipt_group(ctx, req.GroupId)
    if not await ctx.state.is_member(group.group_id, req.Operator_Account):
        raise error_for(ERR_UNSUPPORTED, "Operator_Account is not a member of the group")
    results = []
    for item in req.MsgSeqList:
        code = await _receipt_code(ctx, group.group_id, item.MsgSeq)
        if code == 0:
            ref = group_ref(group.group_id, item.MsgSeq)
            await ctx.state.add_receipt(ref, req.Operator_Account, ctx.now())
        results.append(ReceiptResult(MsgSeq=item.MsgSeq, Code=code))
    return GroupMsgReceiptResponse(MsgSeqList=results)


async def _receipt_code(ctx: Context, group_id: str, msg_seq: int) -> int:
    """0 if the message takes receipts, else the per-message code."""
    row = await ctx.state.group_msg(group_id, msg_seq)
    if row is None or row.online_only or row.recalled:
        return ERR_GROUP_MSG_MISSING
    if not (await ctx.state.features(group_ref(group_id, msg_seq))).need_receipt:
        return ERR_NO_RECEIPT
    return 0


# --- group_open_http_svc/get_group_msg_receipt ---------------------------------------------------


async def get_group_msg_receipt(ctx: Context, req: GetGroupMsgReceipt) -> Envelope:
    _check_seq_count(len(req.MsgSeqList))
    group = await receipt_group(ctx, req.GroupId)
    counts = [await _count(ctx, group.group_id, item.MsgSeq) for item in req.MsgSeqList]
    return GetGroupMsgReceiptResponse(GroupMsgReceiptList=counts)


async def _count(ctx: Context, group_id: str, msg_seq: int) -> ReceiptCount:
    code = await _receipt_code(ctx, group_id, msg_seq)
    if code:
        return ReceiptCount(MsgSeq=msg_seq, Code=code)
    read, unread = await _split(ctx, group_id, msg_seq)
    return ReceiptCount(MsgSeq=msg_seq, ReadNum=len(read), UnreadNum=len(unread))


async def _split(ctx: Context, group_id: str, msg_seq: int) -> tuple[list[str], list[str]]:
    """The members other than the sender who read the message, and those who have not, each in
    the group's member order."""
    row = await ctx.state.group_msg(group_id, msg_seq)
    assert row is not None  # checked by _receipt_code
    readers = await ctx.state.readers(group_ref(group_id, msg_seq))
    members = [m.account for m in await ctx.state.members(group_id) if m.account != row.from_account]
    return [m for m in members if m in readers], [m for m in members if m not in readers]


# --- group_open_http_svc/get_group_msg_receipt_detail --------------------------------------------


async def get_group_msg_receipt_detail(ctx: Context, req: GetGroupMsgReceiptDetail) -> Envelope:
    if not 0 < req.Count <= DETAIL_MAX_COUNT:
        raise error_for(ERR_GROUP_PARAMS, f"Count must be 1 to {DETAIL_MAX_COUNT}")
    if req.Filter not in (0, 1):
        raise error_for(ERR_GROUP_PARAMS, "Filter must be 0 (read) or 1 (unread)")
    if req.Cursor and not req.Cursor.isdigit():
        raise error_for(ERR_GROUP_PARAMS, "Cursor is not one this command returned")
    group = await receipt_group(ctx, req.GroupId)
    code = await _receipt_code(ctx, group.group_id, req.MsgSeq)
    if code:
        raise error_for(code, f"message {req.MsgSeq} has no read receipts to list")
    read, unread = await _split(ctx, group.group_id, req.MsgSeq)
    # The cursor is the position in the member list; members who join later land at its end.
    start = int(req.Cursor or 0)
    chosen = read if req.Filter == 0 else unread
    page = [ReceiptMember(m) for m in chosen[start : start + req.Count]]
    finished = start + req.Count >= len(chosen)
    return GetGroupMsgReceiptDetailResponse(
        IsFinished=int(finished),
        Cursor="" if finished else str(start + req.Count),
        ReadList=page if req.Filter == 0 else [],
        UnreadList=page if req.Filter == 1 else [],
    )


HANDLERS: Final[dict[type[Request], Handler]] = {
    C2CMsgReadReceipt: c2c_msg_read_receipt,
    GroupMsgReceipt: group_msg_receipt,
    GetGroupMsgReceipt: get_group_msg_receipt,
    GetGroupMsgReceiptDetail: get_group_msg_receipt_detail,
}
