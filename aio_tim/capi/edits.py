"""The C SDK's message functions beyond the ten that change history: modify, list delete, clear.

Same calling convention as the ten: synchronous checks (the conversation, the JSON) return a
`TIMResult`; the outcome arrives once through `cb(code, desc, json_params, user_data)`:

    TIMMsgModifyMessage(json.dumps(edited_msg), cb, None)
"""

from __future__ import annotations

from typing import Any

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol.validate import check_conversation
from ..types import Message, coerce, coerce_list
from .functions import Operation, _as_json, _submit
from .runtime import Callback

__all__ = ["TIMMsgClearHistoryMessage", "TIMMsgListDelete", "TIMMsgModifyMessage"]


def TIMMsgModifyMessage(json_msg_param: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.msg.modify_message`: `cb` gets the modified message's JSON.

    The message names its conversation (`message_conv_id`, `message_conv_type`):

        sent["message_elem_array"] = [{kTIMElemType: kTIMElem_Text, kTIMTextElemContent: "fixed"}]
        TIMMsgModifyMessage(json.dumps(sent), cb, None)
    """

    def check() -> Operation:
        msg = coerce(json_msg_param, Message, what="json_msg_param")
        if not msg.conv_id or msg.conv_type is None:
            raise UsageError(TIM_ERR_PARAM, "the message needs message_conv_id and message_conv_type")
        check_conversation(msg.conv_id, msg.conv_type)
        return lambda tim: _as_json(tim.msg.modify_message(msg))

    return _submit(check, cb, user_data)


def TIMMsgListDelete(
    conv_id: str, conv_type: int, json_msg_array: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.list_delete`: 1 to 50 messages, here and in C2C roaming; `cb` gets `""`.

    TIMMsgListDelete("user2", kTIMConv_C2C, json.dumps([sent]), cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        msgs = coerce_list(json_msg_array, Message, what="json_msg_array")
        return lambda tim: _as_json(tim.msg.list_delete(conv_id, conv_type, msgs))

    return _submit(check, cb, user_data)


def TIMMsgClearHistoryMessage(
    conv_id: str, conv_type: int, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.clear_history_message`: empty the conversation; `cb` gets `""`.

    TIMMsgClearHistoryMessage("user2", kTIMConv_C2C, cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        return lambda tim: _as_json(tim.msg.clear_history_message(conv_id, conv_type))

    return _submit(check, cb, user_data)
