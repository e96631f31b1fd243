"""The C SDK's local search functions: find by msg_id, keyword search, local custom data.

Same calling convention as the ten: synchronous checks (the JSON, the search's limits) return a
`TIMResult`; the outcome arrives once through `cb(code, desc, json_params, user_data)`:

    TIMMsgSearchLocalMessages(json.dumps({kTIMMsgSearchParamKeywordArray: ["invoice"]}), cb, None)
"""

from __future__ import annotations

from typing import Any

from ..msg.search import query_of
from ..types import Message, MsgSearchParam, coerce, coerce_list
from .functions import Operation, _as_json, _submit
from .runtime import Callback

__all__ = ["TIMMsgFindMessages", "TIMMsgSearchLocalMessages", "TIMMsgSetLocalCustomData"]


def TIMMsgFindMessages(json_message_id_array: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.msg.find_messages`: `cb` gets the JSON array of the stored messages with those ids.

    TIMMsgFindMessages(json.dumps([sent["message_msg_id"]]), cb, None)
    """

    def check() -> Operation:
        msg_ids = coerce_list(json_message_id_array, str, what="json_message_id_array")
        return lambda tim: _as_json(tim.msg.find_messages(msg_ids))

    return _submit(check, cb, user_data)


def TIMMsgSearchLocalMessages(
    json_search_message_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.search_local_messages`: `cb` gets the `MessageSearchResult` JSON.

    TIMMsgSearchLocalMessages(json.dumps({kTIMMsgSearchParamKeywordArray: ["invoice"],
                                          kTIMMsgSearchParamPageSize: 20}), cb, None)
    """

    def check() -> Operation:
        param = coerce(json_search_message_param, MsgSearchParam, what="json_search_message_param")
        query_of(param, 0)  # the search's own limits, refused synchronously
        return lambda tim: _as_json(tim.msg.search_local_messages(param))

    return _submit(check, cb, user_data)


def TIMMsgSetLocalCustomData(json_msg_param: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.msg.set_local_custom_data`: keep `message_custom_int`/`_str` on the stored copy; `cb`
    gets `""`.

    sent[kTIMMsgCustomStr] = "starred"
    TIMMsgSetLocalCustomData(json.dumps(sent), cb, None)
    """

    def check() -> Operation:
        msg = coerce(json_msg_param, Message, what="json_msg_param")
        return lambda tim: _as_json(tim.msg.set_local_custom_data(msg))

    return _submit(check, cb, user_data)
