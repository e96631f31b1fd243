"""The C SDK's read receipt and message extension functions.

Same calling convention as the ten: synchronous checks (the JSON, the parameters) return a
`TIMResult`; the outcome arrives once through `cb(code, desc, json_params, user_data)`, except
`TIMMsgGetGroupMessageReadMemberList`, whose callback is the C SDK's
`TIMMsgGroupMessageReadMemberListCallback(json_group_member_array, next_seq, is_finished,
user_data)`:

    TIMMsgSendMessageReadReceipts(json.dumps([received]), cb, None)
    TIMMsgGetGroupMessageReadMemberList(json.dumps(sent), kTIMGroupMessageReadMembersFilter_READ, 0, 100,
                                        on_members, None)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec

from ..errors import TIM_ERR_PARAM, UsageError
from ..msg.receipts import check_read_members
from ..types import Message, MessageExtension, coerce, coerce_list
from .functions import Operation, _as_json, _json, _submit
from .runtime import Callback, invoke

__all__ = [
    "TIMMsgDeleteMessageExtensions",
    "TIMMsgGetGroupMessageReadMemberList",
    "TIMMsgGetMessageExtensions",
    "TIMMsgGetMessageReadReceipts",
    "TIMMsgSendMessageReadReceipts",
    "TIMMsgSetMessageExtensions",
]

log = logging.getLogger("aio_tim.capi")

ReadMemberListCallback = Callable[[str, int, bool, Any], None]


class _MemberPage(msgspec.Struct):
    members: str
    next_seq: int
    is_finished: bool


# --- read receipts -------------------------------------------------------------------------------


def TIMMsgSendMessageReadReceipts(json_msg_array: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.msg.send_message_read_receipts`: 1 to 100 received messages of one conversation;
    `cb` gets `""`."""

    def check() -> Operation:
        msgs = coerce_list(json_msg_array, Message, what="json_msg_array")
        return lambda tim: _as_json(tim.msg.send_message_read_receipts(msgs))

    return _submit(check, cb, user_data)


def TIMMsgGetMessageReadReceipts(json_msg_array: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.msg.get_message_read_receipts`: `cb` gets a JSON array of MessageReceipt."""

    def check() -> Operation:
        msgs = coerce_list(json_msg_array, Message, what="json_msg_array")
        return lambda tim: _as_json(tim.msg.get_message_read_receipts(msgs))

    return _submit(check, cb, user_data)


def TIMMsgGetGroupMessageReadMemberList(
    json_msg: str,
    filter: int,
    next_seq: int,
    count: int,
    cb: ReadMemberListCallback | None,
    user_data: Any = None,
) -> int:
    """One page of the members who read (filter 0) or have not read (1) a group message: `cb`
    gets `(json_group_member_array, next_seq, is_finished, user_data)`; pass `next_seq` back for
    the next page (0 for the first). `count` is 1 to 100.

    The C callback carries no error code: a page that fails is logged and answered as an empty,
    finished page."""

    def check() -> Operation:
        msg = coerce(json_msg, Message, what="json_msg")
        check_read_members(msg, filter, count)
        if not isinstance(next_seq, int) or next_seq < 0:
            raise UsageError(TIM_ERR_PARAM, "next_seq must be a non-negative int")

        async def page(tim: Any) -> str:
            members, following, finished = await tim.msg.get_group_message_read_member_page(
                msg, filter, next_seq, count
            )
            return msgspec.json.encode(_MemberPage(_json(members), following, finished)).decode()

        return page

    return _submit(check, _member_list_adapter(cb), user_data)


def _member_list_adapter(cb: ReadMemberListCallback | None) -> Callback | None:
    if cb is None:
        return None

    def adapted(code: int, desc: str, json_params: str, user_data: Any) -> None:
        if code:
            log.warning("TIMMsgGetGroupMessageReadMemberList failed: [%d] %s", code, desc)
            _call(cb, "[]", 0, True, user_data)
            return
        page = msgspec.json.decode(json_params, type=_MemberPage)
        _call(cb, page.members, page.next_seq, page.is_finished, user_data)

    return adapted


def _call(cb: ReadMemberListCallback, members: str, next_seq: int, finished: bool, user_data: Any) -> None:
    # invoke() guards a TIMCommCallback; this one has another shape, guarded the same way.
    invoke(lambda _c, _d, _j, ud: cb(members, next_seq, finished, ud), 0, "", "", user_data)


# --- extensions ----------------------------------------------------------------------------------


def TIMMsgSetMessageExtensions(
    json_msg: str, json_extension_array: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.set_message_extensions`: `cb` gets a JSON array of MessageExtensionResult."""

    def check() -> Operation:
        msg = coerce(json_msg, Message, what="json_msg")
        exts = coerce_list(json_extension_array, MessageExtension, what="json_extension_array")
        return lambda tim: _as_json(tim.msg.set_message_extensions(msg, exts))

    return _submit(check, cb, user_data)


def TIMMsgGetMessageExtensions(json_msg: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.msg.get_message_extensions`: `cb` gets a JSON array of MessageExtension."""

    def check() -> Operation:
        msg = coerce(json_msg, Message, what="json_msg")
        return lambda tim: _as_json(tim.msg.get_message_extensions(msg))

    return _submit(check, cb, user_data)


def TIMMsgDeleteMessageExtensions(
    json_msg: str, json_extension_key_array: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.delete_message_extensions`: the keys (an empty array: all); `cb` gets a JSON
    array of MessageExtensionResult."""

    def check() -> Operation:
        msg = coerce(json_msg, Message, what="json_msg")
        keys = coerce_list(json_extension_key_array or "[]", str, what="json_extension_key_array")
        return lambda tim: _as_json(tim.msg.delete_message_extensions(msg, keys))

    return _submit(check, cb, user_data)
