"""Message extension endpoints under `openim_msg_ext_http_svc`: `set_key_values` and
`get_key_values` (C2C, by MsgKey: trtc.io/document/51195, 51194), `group_set_key_values` and
`group_get_key_values` (by GroupId + MsgSeq: 52170, 52169).

Only a message sent with SupportMessageExtension = 1 takes extensions. A write names, per key, the
Seq it read (0 for a key it believes new); a key that has moved since is refused with 23001 and
answered as it now is (the C SDK's "only the first writer succeeds"), the others are written. A
request's successful writes share one Seq, the message's LatestSeq + 1 (52169's example: two keys
at Seq 1, a third at Seq 2, LatestSeq 2). A clear leaves ClearSeq at LatestSeq. Caps (51195):
20 keys a request, keys up to 100 bytes, values up to 1 KB, 300 keys a message.

TIM's pages name no codes for the ways a request can be wrong here; the service is answered like
`openim` (90001 invalid parameters, 90054 a bad MsgKey, 20022 no such message), groups as the
group service (10010, 10007 for AVChatRoom and Community, which the commands do not support,
10030 no such message). A message that was not sent extensible is 90001.
"""

from __future__ import annotations

from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.extensions import (
    EXT_CONFLICT,
    EXT_MAX_KEY_BYTES,
    EXT_MAX_PER_MESSAGE,
    EXT_MAX_PER_REQUEST,
    EXT_MAX_VALUE_BYTES,
    OP_CLEAR,
    OP_DELETE,
    OP_SET,
    ExtItem,
    ExtResult,
    GetKeyValues,
    GetKeyValuesResponse,
    GroupGetKeyValues,
    GroupSetKeyValues,
    SetKeyValues,
    SetKeyValuesResponse,
)
from .c2c_history import MSG_KEY
from .context import Context, Handler
from .feature_queries import ExtRow, c2c_ref, group_ref
from .receipts import receipt_group

__all__ = ["HANDLERS"]

ERR_PARAMS: Final = 90001
ERR_NO_MESSAGE: Final = 20022
ERR_GROUP_MSG_MISSING: Final = 10030
GET_PAGE: Final = 200  # key-value pairs a get answers at most (52169)


def _check_items(op: int, items: list[ExtItem] | None) -> list[ExtItem]:
    if op not in (OP_SET, OP_DELETE, OP_CLEAR):
        raise error_for(ERR_PARAMS, "OperateType must be 1 (set), 2 (delete) or 3 (clear)")
    if op == OP_CLEAR:
        return []
    if not items or len(items) > EXT_MAX_PER_REQUEST:
        raise error_for(ERR_PARAMS, f"ExtensionList must hold 1 to {EXT_MAX_PER_REQUEST} keys")
    if len({item.Key for item in items}) != len(items):
        raise error_for(ERR_PARAMS, "ExtensionList names a key twice")
    for item in items:
        if not item.Key or len(item.Key.encode()) > EXT_MAX_KEY_BYTES:
            raise error_for(ERR_PARAMS, f"an extension key must be 1 to {EXT_MAX_KEY_BYTES} bytes")
        if len(item.Value.encode()) > EXT_MAX_VALUE_BYTES:
            raise error_for(ERR_PARAMS, f"an extension value must be at most {EXT_MAX_VALUE_BYTES} bytes")
        if item.Seq < 0:
            raise error_for(ERR_PARAMS, "an extension's Seq cannot be negative")
    return items


async def _c2c_ref(ctx: Context, from_account: str | None, to_account: str, msg_key: str) -> str:
    if not MSG_KEY.fullmatch(msg_key):
        raise error_for(90054, "MsgKey is not a MsgKey")
    row = await ctx.state.c2c_by_key(from_account or ctx.admin, to_account, msg_key)
    if row is None or row.recalled:
        raise error_for(ERR_NO_MESSAGE, "no message with this MsgKey between these accounts")
    return await _extensible(ctx, c2c_ref(row.id))


async def _group_ref(ctx: Context, group_id: str, msg_seq: int) -> str:
    group = await receipt_group(ctx, group_id)
    row = await ctx.state.group_msg(group.group_id, msg_seq)
    if row is None or row.online_only or row.recalled:
        raise error_for(ERR_GROUP_MSG_MISSING, f"group {group.group_id!r} has no message with this MsgSeq")
    return await _extensible(ctx, group_ref(group.group_id, msg_seq))


async def _extensible(ctx: Context, ref: str) -> str:
    if not (await ctx.state.features(ref)).extensible:
        raise error_for(ERR_PARAMS, "the message was not sent with SupportMessageExtension")
    return ref


# --- writing -------------------------------------------------------------------------------------


async def _write(ctx: Context, ref: str, op: int, items: list[ExtItem]) -> Envelope:
    if op == OP_CLEAR:
        await ctx.state.clear_extensions(ref)
        return SetKeyValuesResponse()
    current = {row.key: row for row in await ctx.state.extensions(ref)}
    results: list[ExtResult | None] = [_conflict(item, current.get(item.Key)) for item in items]
    writable = [item for item, result in zip(items, results, strict=True) if result is None]
    if op == OP_SET:
        added = sum(1 for item in writable if item.Key not in current)
        if len(current) + added > EXT_MAX_PER_MESSAGE:
            raise error_for(ERR_PARAMS, f"a message holds at most {EXT_MAX_PER_MESSAGE} extensions")
    seq = await ctx.state.next_ext_seq(ref) if writable else 0
    for item in writable:
        if op == OP_SET:
            await ctx.state.put_extension(ref, ExtRow(item.Key, item.Value, seq))
        else:
            await ctx.state.drop_extension(ref, item.Key)
    done = iter(ExtResult(0, ExtItem(i.Key, i.Value if op == OP_SET else "", seq)) for i in writable)
    return SetKeyValuesResponse(ResultList=[r if r is not None else next(done) for r in results])


def _conflict(item: ExtItem, current: ExtRow | None) -> ExtResult | None:
    """None if `item` read the key as it is; else 23001 and the key as it is now."""
    seen = 0 if current is None else current.seq
    if item.Seq == seen:
        return None
    now = ExtItem(item.Key, "", 0) if current is None else ExtItem(current.key, current.value, current.seq)
    return ExtResult(EXT_CONFLICT, now)


async def set_key_values(ctx: Context, req: SetKeyValues) -> Envelope:
    items = _check_items(req.OperateType, req.ExtensionList)
    ref = await _c2c_ref(ctx, req.From_Account, req.To_Account, req.MsgKey)
    return await _write(ctx, ref, req.OperateType, items)


async def group_set_key_values(ctx: Context, req: GroupSetKeyValues) -> Envelope:
    items = _check_items(req.OperateType, req.ExtensionList)
    ref = await _group_ref(ctx, req.GroupId, req.MsgSeq)
    return await _write(ctx, ref, req.OperateType, items)


# --- reading -------------------------------------------------------------------------------------


async def _read(ctx: Context, ref: str, start_seq: int) -> Envelope:
    if start_seq < 0:
        raise error_for(ERR_PARAMS, "StartSeq cannot be negative")
    rows = await ctx.state.extensions(ref, start_seq)
    features = await ctx.state.features(ref)
    return GetKeyValuesResponse(
        CompleteFlag=int(len(rows) <= GET_PAGE),
        LatestSeq=features.latest_seq,
        ClearSeq=features.clear_seq,
        ExtensionList=[ExtItem(r.key, r.value, r.seq) for r in rows[:GET_PAGE]],
    )


async def get_key_values(ctx: Context, req: GetKeyValues) -> Envelope:
    ref = await _c2c_ref(ctx, req.From_Account, req.To_Account, req.MsgKey)
    return await _read(ctx, ref, req.StartSeq)


async def group_get_key_values(ctx: Context, req: GroupGetKeyValues) -> Envelope:
    ref = await _group_ref(ctx, req.GroupId, req.MsgSeq)
    return await _read(ctx, ref, req.StartSeq)


HANDLERS: Final[dict[type[Request], Handler]] = {
    SetKeyValues: set_key_values,
    GetKeyValues: get_key_values,
    GroupSetKeyValues: group_set_key_values,
    GroupGetKeyValues: group_get_key_values,
}
