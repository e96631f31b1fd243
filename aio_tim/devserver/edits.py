"""Endpoints that change stored history: `openim/modify_c2c_msg`, `openim/modify_group_msg` and
`group_open_http_svc/clear_group_msg`.

A modify overwrites the message's MsgBody and/or CloudCustomData in everyone's roaming; a
field the request leaves out keeps its value (trtc.io/document/47722, 47948). Both commands
live under `openim`, so malformed requests get that family's codes (90001, 90002, 90054).
Codes for the states the pages name: 20003 for an unknown sender or recipient (47722);
10010 for a missing group and 10007 for an AVChatRoom, which keeps no history to modify (47948).
A message that is not there answers 20022 and a recalled one 20023, as admin_msgwithdraw does.
A C2C modify fires C2C.CallbackAfterModifyMsg (269/128224); a group modify fires nothing yet.

clear_group_msg hides messages from the members' SDKs only: "the admin can still pull cleared
historical messages" (65970), and the admin is all a dev server serves, so it changes nothing the
REST API shows; it checks what TIM checks (10010 for a missing group, 10007 for a Community,
which the command does not support).
"""

from __future__ import annotations

from typing import Final

from ..errors import error_for
from ..protocol import Envelope, MsgBodyItem, Request
from ..protocol.callbacks import C2C_AFTER_MODIFY_MSG
from ..protocol.edits import ClearGroupMsg, ModifyC2CMsg, ModifyGroupMsg
from .accounts import require_account
from .c2c_history import MSG_KEY
from .context import Context, Handler
from .groups import existing_group
from .rows import C2CRow, decode_body, encode_body
from .validation import OPENIM, check_msg_body, check_msg_body_size
from .webhooks import c2c_modified

__all__ = ["HANDLERS"]

ERR_UNKNOWN_ACCOUNT: Final = 20003
ERR_NO_MESSAGE: Final = 20022
ERR_RECALLED: Final = 20023
ERR_NO_HISTORY: Final = 10007  # AVChatRoom (modify), Community (clear)


def _new_body(items: list[MsgBodyItem] | None, cloud_custom_data: str | None) -> str | None:
    """The stored form of a modify's MsgBody (None: keep the old one), after TIM's checks."""
    if items is None and cloud_custom_data is None:
        raise error_for(OPENIM.params, "a modify needs MsgBody, CloudCustomData or both")
    if items is None:
        return None
    check_msg_body(items, OPENIM.msg_body_item)
    check_msg_body_size(items)
    return encode_body(items)


# --- openim/modify_c2c_msg ------------------------------------------------------------------------


async def modify_c2c_msg(ctx: Context, req: ModifyC2CMsg) -> Envelope:
    body = _new_body(req.MsgBody, req.CloudCustomData)
    if not MSG_KEY.fullmatch(req.MsgKey):
        raise error_for(90054, "MsgKey is not a MsgKey")
    await require_account(ctx, req.From_Account, ERR_UNKNOWN_ACCOUNT, "From_Account")
    await require_account(ctx, req.To_Account, ERR_UNKNOWN_ACCOUNT, "To_Account")
    row = await ctx.state.c2c_by_key(req.From_Account, req.To_Account, req.MsgKey)
    if row is None:
        raise error_for(ERR_NO_MESSAGE, "no message with this MsgKey between these accounts")
    if row.recalled:
        raise error_for(ERR_RECALLED, "a recalled message cannot be modified")
    await ctx.state.set_c2c_content(row.id, body, req.CloudCustomData)
    _after_modify(ctx, row, req)
    return Envelope()


def _after_modify(ctx: Context, row: C2CRow, req: ModifyC2CMsg) -> None:
    """C2C.CallbackAfterModifyMsg with the message as it now reads (cloud.tencent.com 269/128224);
    the admin is the operator of a REST modify."""
    if ctx.webhooks is None or not ctx.webhooks.enabled(C2C_AFTER_MODIFY_MSG):
        return
    body = decode_body(row.body) if req.MsgBody is None else req.MsgBody
    custom = row.cloud_custom_data if req.CloudCustomData is None else req.CloudCustomData
    ctx.webhooks.after(c2c_modified(ctx.admin, row, body, custom, ctx.now()))


# --- openim/modify_group_msg ----------------------------------------------------------------------


async def modify_group_msg(ctx: Context, req: ModifyGroupMsg) -> Envelope:
    body = _new_body(req.MsgBody, req.CloudCustomData)
    group = await existing_group(ctx, req.GroupId)
    if group.type == "AVChatRoom":
        raise error_for(ERR_NO_HISTORY, "AVChatRoom groups keep no history to modify")
    row = await ctx.state.group_msg(group.group_id, req.MsgSeq)
    if row is None or row.online_only:
        raise error_for(ERR_NO_MESSAGE, f"group {group.group_id!r} has no message with this MsgSeq")
    if row.recalled:
        raise error_for(ERR_RECALLED, "a recalled message cannot be modified")
    await ctx.state.set_group_msg_content(group.group_id, req.MsgSeq, body, req.CloudCustomData)
    return Envelope()


# --- group_open_http_svc/clear_group_msg ----------------------------------------------------------


async def clear_group_msg(ctx: Context, req: ClearGroupMsg) -> Envelope:
    group = await existing_group(ctx, req.GroupId)
    if group.type == "Community":
        raise error_for(ERR_NO_HISTORY, "clear_group_msg does not support Community groups")
    return Envelope()


HANDLERS: Final[dict[type[Request], Handler]] = {
    ModifyC2CMsg: modify_c2c_msg,
    ModifyGroupMsg: modify_group_msg,
    ClearGroupMsg: clear_group_msg,
}
