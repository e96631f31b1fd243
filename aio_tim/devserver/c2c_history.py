"""C2C history endpoints: roaming, recall, read marks, unread counts and one-sided deletion.

Roaming order is (MsgTime, MsgSeq, insertion id). Pages go from the newest messages back in
time; within one page MsgList is oldest first, as in TIM's documented example (1047/35478:
msg 1 then msg 2, LastMsgKey naming msg 1, the oldest, where the next page continues). Paging
resumes strictly before the message named by LastMsgKey, so every message is visited exactly
once even when hundreds share one second.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.callbacks import C2C_AFTER_MSG_REPORT, C2C_AFTER_MSG_WITHDRAW
from ..protocol.openim import (
    MSG_FLAG_RECALLED,
    AdminGetRoamMsg,
    AdminGetRoamMsgResponse,
    AdminMsgWithdraw,
    AdminSetMsgRead,
    DeleteC2CMsgRamble,
    DeleteC2CMsgRambleResponse,
    GetC2CUnreadMsgNum,
    GetC2CUnreadMsgNumResponse,
    PeerError,
    RoamMsg,
    UnreadCount,
)
from .accounts import require_account, valid_user_id
from .context import Context, Handler
from .rows import C2CRow, Cursor, decode_body
from .webhooks import c2c_read, c2c_recalled

__all__ = ["HANDLERS", "MSG_KEY"]

MSG_KEY: Final = re.compile(r"[0-9]{1,20}_[0-9]{1,20}_[0-9]{1,20}")
ROAM_MAX_CNT: Final = 100
ROAM_MAX_BYTES: Final = 13 * 1024  # TIM caps a roaming reply; past it, Complete=0 and page on
UNREAD_MAX_PEERS: Final = 10
DELETE_MAX_KEYS: Final = 100
ERR_ACCOUNT_MISSING: Final = 70107
_UNIX_SECONDS: Final = re.compile(r"[0-9]{1,18}")


def _check_msg_key(msg_key: str, field: str) -> None:
    if not MSG_KEY.fullmatch(msg_key):
        raise error_for(90054, f"{field} is not a MsgKey")


# --- openim/admin_getroammsg ----------------------------------------------------------------------


async def admin_getroammsg(ctx: Context, req: AdminGetRoamMsg) -> Envelope:
    if req.MaxCnt <= 0:
        raise error_for(90001, "MaxCnt must be positive")
    after = await _resume_after(ctx, req)
    limit = min(req.MaxCnt, ROAM_MAX_CNT)
    rows = await ctx.state.roam_page(
        req.Operator_Account, req.Peer_Account, (req.MinTime, req.MaxTime), after, limit + 1
    )
    marks = await _read_marks(ctx, req.Operator_Account, req.Peer_Account)
    # A read receipt (c2c_msg_read_receipt) marks its one message read, whatever the read mark.
    receipted = await ctx.state.c2c_receipted([row.id for row in rows[:limit]])
    page = _fit_reply([_roam_msg(row, marks, row.id in receipted) for row in rows[:limit]])  # newest first
    oldest = page[-1] if page else None
    return AdminGetRoamMsgResponse(
        Complete=int(len(page) == len(rows)),
        MsgCnt=len(page),
        LastMsgTime=oldest.MsgTimeStamp if oldest else 0,
        LastMsgKey=oldest.MsgKey if oldest else "",
        MsgList=page[::-1],
    )


async def _resume_after(ctx: Context, req: AdminGetRoamMsg) -> Cursor | None:
    """Where the previous page stopped: the position of the message named by LastMsgKey."""
    if not req.LastMsgKey:
        return None
    _check_msg_key(req.LastMsgKey, "LastMsgKey")
    cursor = await ctx.state.c2c_cursor(req.Operator_Account, req.Peer_Account, req.LastMsgKey)
    if cursor is None:
        raise error_for(90054, "LastMsgKey names no message of this conversation")
    return cursor


async def _read_marks(ctx: Context, a: str, b: str) -> dict[str, int]:
    """Read mark of each side of the conversation, keyed by the reader."""
    marks = {a: await ctx.state.read_mark(a, b), b: await ctx.state.read_mark(b, a)}
    return {reader: mark for reader, mark in marks.items() if mark is not None}


def _roam_msg(row: C2CRow, read_marks: dict[str, int], receipted: bool = False) -> RoamMsg:
    recalled = bool(row.recalled)
    return RoamMsg(
        From_Account=row.from_account,
        To_Account=row.to_account,
        MsgSeq=row.msg_seq,
        MsgRandom=row.msg_random,
        MsgTimeStamp=row.msg_time,
        MsgKey=row.msg_key,
        MsgBody=[] if recalled else decode_body(row.body),
        MsgFlagBits=MSG_FLAG_RECALLED if recalled else 0,
        IsPeerRead=int(receipted or read_marks.get(row.to_account, -1) >= row.msg_time),
        MsgClientTime=row.client_time,
        CloudCustomData=row.cloud_custom_data,
    )


def _fit_reply(msgs: list[RoamMsg]) -> list[RoamMsg]:
    """The longest prefix within TIM's reply size cap; never empty when msgs is not."""
    total = 0
    for count, msg in enumerate(msgs):
        total += len(msgspec.json.encode(msg))
        if total > ROAM_MAX_BYTES and count > 0:
            return msgs[:count]
    return msgs


# --- openim/admin_msgwithdraw ---------------------------------------------------------------------


async def admin_msgwithdraw(ctx: Context, req: AdminMsgWithdraw) -> Envelope:
    _check_msg_key(req.MsgKey, "MsgKey")
    await require_account(ctx, req.From_Account, 90008, "From_Account")
    await require_account(ctx, req.To_Account, 90003, "To_Account")
    row = await ctx.state.c2c_by_key(req.From_Account, req.To_Account, req.MsgKey)
    if row is None:
        raise error_for(20022, "no message with this MsgKey between these accounts")
    if row.recalled:
        raise error_for(20023, "message already recalled")
    await ctx.state.recall_c2c(row.id)
    if ctx.webhooks is not None and ctx.webhooks.enabled(C2C_AFTER_MSG_WITHDRAW):
        unread = await ctx.state.unread_total(req.To_Account)
        ctx.webhooks.after(c2c_recalled(req.From_Account, req.To_Account, req.MsgKey, unread, ctx.now()))
    return Envelope()


# --- openim/admin_set_msg_read --------------------------------------------------------------------


async def admin_set_msg_read(ctx: Context, req: AdminSetMsgRead) -> Envelope:
    await require_account(ctx, req.Report_Account, 90008, "Report_Account")
    await require_account(ctx, req.Peer_Account, 90003, "Peer_Account")
    read_time = _read_time(req.MsgReadTime, ctx.now())
    await ctx.state.set_read_mark(req.Report_Account, req.Peer_Account, read_time)
    if ctx.webhooks is not None and ctx.webhooks.enabled(C2C_AFTER_MSG_REPORT):
        unread = await ctx.state.unread_total(req.Report_Account)
        ctx.webhooks.after(c2c_read(req.Report_Account, req.Peer_Account, read_time, unread, ctx.now()))
    return Envelope()


def _read_time(value: str | int | None, now: int) -> int:
    """MsgReadTime in unix seconds: TIM documents a string and takes a JSON integer; absent: now."""
    if value is None:
        return now
    if isinstance(value, int):
        if value < 0:
            raise error_for(90001, "MsgReadTime must be unix seconds")
        return value
    if not _UNIX_SECONDS.fullmatch(value):
        raise error_for(90001, "MsgReadTime must be a string of unix seconds")
    return int(value)


# --- openim/get_c2c_unread_msg_num ----------------------------------------------------------------


async def get_c2c_unread_msg_num(ctx: Context, req: GetC2CUnreadMsgNum) -> Envelope:
    await require_account(ctx, req.To_Account, 90003, "To_Account")
    if req.Peer_Account is None:  # the total alone, as TIM's sample answers
        counts = await ctx.state.unread_by_peer(req.To_Account)
        return GetC2CUnreadMsgNumResponse(AllC2CUnreadMsgNum=sum(counts.values()))
    if len(req.Peer_Account) > UNREAD_MAX_PEERS:
        raise error_for(90001, f"Peer_Account holds more than {UNREAD_MAX_PEERS} accounts")
    return await _unread_from_peers(ctx, req.To_Account, req.Peer_Account)


async def _unread_from_peers(ctx: Context, reader: str, peers: list[str]) -> Envelope:
    counts: list[UnreadCount] = []
    errors: list[PeerError] = []
    for peer in dict.fromkeys(peers):
        if valid_user_id(peer) and await ctx.state.account_exists(peer):
            counts.append(UnreadCount(peer, await ctx.state.unread_from(reader, peer)))
        else:
            errors.append(PeerError(peer, ERR_ACCOUNT_MISSING))
    return GetC2CUnreadMsgNumResponse(C2CUnreadMsgNumList=counts, ErrorList=errors or None)


# --- openim/delete_c2c_msg_ramble -----------------------------------------------------------------


async def delete_c2c_msg_ramble(ctx: Context, req: DeleteC2CMsgRamble) -> Envelope:
    if len(req.MsgKeyList) > DELETE_MAX_KEYS:
        raise error_for(90001, f"MsgKeyList holds more than {DELETE_MAX_KEYS} keys")
    invalid: list[str] = []
    for msg_key in dict.fromkeys(req.MsgKeyList):
        if not await _hide_for(ctx, req.Operator_Account, req.Peer_Account, msg_key):
            invalid.append(msg_key)
    return DeleteC2CMsgRambleResponse(InvalidMsgKeyList=invalid)


async def _hide_for(ctx: Context, operator: str, peer: str, msg_key: str) -> bool:
    """Delete the message from `operator`'s roaming only; False if there is no such message."""
    ids = await ctx.state.c2c_ids_by_key(operator, peer, msg_key) if MSG_KEY.fullmatch(msg_key) else []
    for msg_id in ids:
        await ctx.state.hide_c2c(msg_id, operator)
    return bool(ids)


HANDLERS: Final[dict[type[Request], Handler]] = {
    AdminGetRoamMsg: admin_getroammsg,
    AdminMsgWithdraw: admin_msgwithdraw,
    AdminSetMsgRead: admin_set_msg_read,
    GetC2CUnreadMsgNum: get_c2c_unread_msg_num,
    DeleteC2CMsgRamble: delete_c2c_msg_ramble,
}
