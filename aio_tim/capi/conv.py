"""The C SDK's conversation functions (`TIMConv*`) over `tim.conv`.

Same calling convention as the message functions: synchronous checks (the conversation, the
JSON) return a `TIMResult`; the outcome arrives once through `cb(code, desc, json_params,
user_data)`. Conversation-id arrays are JSON text of `c2c_<UserID>`/`group_<GroupID>` strings:

    TIMConvGetConvList(cb, None)                       # cb gets the ConvInfo array
    TIMConvPinConversation("user2", kTIMConv_C2C, True, cb, None)
    TIMConvMarkConversation(json.dumps(["c2c_user2"]), 0x1, True, cb, None)

`TIMConvSetDraft` and `TIMConvCancelDraft` take no callback in the C SDK: they return at once and
the draft is written right after.
"""

from __future__ import annotations

from typing import Any

from ..conv.context import checked_conv
from ..conv.filters import checked_filter
from ..errors import TIM_ERR_PARAM, UsageError
from ..types import coerce
from ..types.conv import Draft, GetConvInfoParam, parse_conversation_id
from .functions import Operation, _as_json, _submit
from .runtime import Callback

__all__ = [
    "TIMConvAddConversationsToGroup",
    "TIMConvCancelDraft",
    "TIMConvCleanConversationUnreadMessageCount",
    "TIMConvCreateConversationGroup",
    "TIMConvDelete",
    "TIMConvDeleteConversationGroup",
    "TIMConvDeleteConversationList",
    "TIMConvDeleteConversationsFromGroup",
    "TIMConvGetConvInfo",
    "TIMConvGetConvList",
    "TIMConvGetConversationGroupList",
    "TIMConvGetConversationListByFilter",
    "TIMConvGetTotalUnreadMessageCount",
    "TIMConvGetUnreadMessageCountByFilter",
    "TIMConvMarkConversation",
    "TIMConvPinConversation",
    "TIMConvRenameConversationGroup",
    "TIMConvSetConversationCustomData",
    "TIMConvSetDraft",
]


def _ids(json_ids: str) -> list[str]:
    """A conversation-id array (JSON text), each id checked (TIM_ERR_JSON / TIM_ERR_CONV)."""
    ids = coerce(json_ids, list[str], what="conversation_id_array")
    for conversation_id in ids:
        parse_conversation_id(conversation_id)
    return ids


def TIMConvGetConvList(cb: Callback | None, user_data: Any = None) -> int:
    """`tim.conv.get_conv_list`: `cb` gets the ConvInfo array, pinned first."""
    return _submit(lambda: lambda tim: _as_json(tim.conv.get_conv_list()), cb, user_data)


def TIMConvGetConvInfo(json_get_conv_list_param: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.conv.get_conv_info`: `cb` gets the ConvInfo of each listed conversation asked for."""

    def check() -> Operation:
        params = coerce(json_get_conv_list_param, list[GetConvInfoParam], what="json_get_conv_list_param")
        return lambda tim: _as_json(tim.conv.get_conv_info(params))

    return _submit(check, cb, user_data)


def TIMConvGetConversationListByFilter(
    filter: str, next_seq: int, count: int, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.conv.get_conversation_list_by_filter`: `cb` gets the page (ConversationListResult)."""

    def check() -> Operation:
        wanted = checked_filter(filter)
        return lambda tim: _as_json(tim.conv.get_conversation_list_by_filter(next_seq, count, wanted))

    return _submit(check, cb, user_data)


def TIMConvGetUnreadMessageCountByFilter(filter: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.conv.get_unread_message_count_by_filter`: `cb` gets the unread count of the matches."""

    def check() -> Operation:
        wanted = checked_filter(filter)
        return lambda tim: _as_json(tim.conv.get_unread_message_count_by_filter(wanted))

    return _submit(check, cb, user_data)


def TIMConvGetTotalUnreadMessageCount(cb: Callback | None, user_data: Any = None) -> int:
    """`tim.conv.get_total_unread_message_count`."""
    return _submit(lambda: lambda tim: _as_json(tim.conv.get_total_unread_message_count()), cb, user_data)


def TIMConvDelete(conv_id: str, conv_type: int, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.conv.delete_conversation`: `cb` gets `""`."""
    return _submit(_conv_op(conv_id, conv_type, "delete_conversation"), cb, user_data)


def TIMConvDeleteConversationList(
    conversation_id_array: str, clear_message: bool, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.conv.delete_conversation_list`: `cb` gets one result per conversation."""

    def check() -> Operation:
        ids = _ids(conversation_id_array)
        return lambda tim: _as_json(tim.conv.delete_conversation_list(ids, clear_message))

    return _submit(check, cb, user_data)


def TIMConvPinConversation(
    conv_id: str, conv_type: int, is_pinned: bool, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.conv.pin_conversation`: `cb` gets `""`."""
    return _submit(_conv_op(conv_id, conv_type, "pin_conversation", is_pinned), cb, user_data)


def TIMConvMarkConversation(
    conversation_id_array: str, mark_type: int, enable_mark: bool, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.conv.mark_conversation`: `cb` gets one result per conversation."""

    def check() -> Operation:
        ids = _ids(conversation_id_array)
        return lambda tim: _as_json(tim.conv.mark_conversation(ids, mark_type, enable_mark))

    return _submit(check, cb, user_data)


def TIMConvCleanConversationUnreadMessageCount(
    conversation_id: str,
    clean_timestamp: int,
    clean_sequence: int,
    cb: Callback | None,
    user_data: Any = None,
) -> int:
    """`tim.conv.clean_conversation_unread_message_count`: `cb` gets `""`."""

    def check() -> Operation:
        if conversation_id not in ("", "c2c", "group"):
            parse_conversation_id(conversation_id)
        return lambda tim: _as_json(
            tim.conv.clean_conversation_unread_message_count(conversation_id, clean_timestamp, clean_sequence)
        )

    return _submit(check, cb, user_data)


def TIMConvSetDraft(conv_id: str, conv_type: int, json_draft_param: str) -> int:
    """`tim.conv.set_draft`; the C SDK's signature has no callback."""

    def check() -> Operation:
        draft = coerce(json_draft_param, Draft, what="json_draft_param")
        operation: Operation = _conv_op(conv_id, conv_type, "set_draft", draft)()
        return operation

    return _submit(check, None, None)


def TIMConvCancelDraft(conv_id: str, conv_type: int) -> int:
    """`tim.conv.cancel_draft`; the C SDK's signature has no callback."""
    return _submit(_conv_op(conv_id, conv_type, "cancel_draft"), None, None)


def TIMConvSetConversationCustomData(
    conversation_id_array: str, custom_data: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.conv.set_conversation_custom_data`: `cb` gets one result per conversation."""

    def check() -> Operation:
        ids = _ids(conversation_id_array)
        return lambda tim: _as_json(tim.conv.set_conversation_custom_data(ids, custom_data))

    return _submit(check, cb, user_data)


# --- conversation groups ---------------------------------------------------------------------------


def TIMConvCreateConversationGroup(
    group_name: str, conversation_id_array: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.conv.create_conversation_group`: `cb` gets one result per conversation."""
    return _submit(_group_op("create_conversation_group", group_name, conversation_id_array), cb, user_data)


def TIMConvGetConversationGroupList(cb: Callback | None, user_data: Any = None) -> int:
    """`tim.conv.get_conversation_group_list`: `cb` gets the names."""
    return _submit(lambda: lambda tim: _as_json(tim.conv.get_conversation_group_list()), cb, user_data)


def TIMConvDeleteConversationGroup(group_name: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.conv.delete_conversation_group`: `cb` gets `""`."""
    return _submit(_group_op("delete_conversation_group", group_name), cb, user_data)


def TIMConvRenameConversationGroup(
    old_name: str, new_name: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.conv.rename_conversation_group`: `cb` gets `""`."""

    def check() -> Operation:
        _name(old_name)
        _name(new_name)
        return lambda tim: _as_json(tim.conv.rename_conversation_group(old_name, new_name))

    return _submit(check, cb, user_data)


def TIMConvAddConversationsToGroup(
    group_name: str, conversation_id_array: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.conv.add_conversations_to_group`: `cb` gets one result per conversation."""
    return _submit(_group_op("add_conversations_to_group", group_name, conversation_id_array), cb, user_data)


def TIMConvDeleteConversationsFromGroup(
    group_name: str, conversation_id_array: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.conv.delete_conversations_from_group`: `cb` gets one result per conversation."""
    return _submit(
        _group_op("delete_conversations_from_group", group_name, conversation_id_array), cb, user_data
    )


# --- shared shapes ---------------------------------------------------------------------------------


def _conv_op(conv_id: str, conv_type: int, method: str, *args: Any) -> Any:
    """The check of a (conv_id, conv_type) function: TIM_ERR_CONV now, the call later."""

    def check() -> Operation:
        checked_conv(conv_id, conv_type)
        return lambda tim: _as_json(getattr(tim.conv, method)(conv_id, conv_type, *args))

    return check


def _group_op(method: str, group_name: str, json_ids: str | None = None) -> Any:
    def check() -> Operation:
        _name(group_name)
        args = () if json_ids is None else (_ids(json_ids),)
        return lambda tim: _as_json(getattr(tim.conv, method)(group_name, *args))

    return check


def _name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise UsageError(TIM_ERR_PARAM, f"a conversation group name is a non-empty string, not {name!r}")
