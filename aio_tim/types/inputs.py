"""What an operation's parameter may be: the Struct itself, a dict of the C SDK's JSON keys, or
the C SDK's JSON text (str or bytes). `coerce` turns any of them into the Struct.

    await tim.msg.send_new_msg("bob", ConvType.C2C, Message(elem_array=[TextElem(content="hi")]))
    await tim.msg.send_new_msg("bob", ConvType.C2C, {"message_elem_array": [
        {"elem_type": 0, "text_elem_content": "hi"}]})
    await tim.msg.send_new_msg("bob", ConvType.C2C, '{"message_elem_array": [...]}')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from .message import Message
from .params import BatchSendParam, DownloadElemParam, GetMsgListParam, MsgDeleteParam

__all__ = [
    "BatchSendInput",
    "DownloadElemInput",
    "GetMsgListInput",
    "JsonInput",
    "MessageInput",
    "MsgDeleteInput",
]

JsonInput: TypeAlias = Mapping[str, Any] | str | bytes
"""A dict with the C SDK's JSON keys, or that JSON as text."""

MessageInput: TypeAlias = Message | JsonInput
BatchSendInput: TypeAlias = BatchSendParam | JsonInput
GetMsgListInput: TypeAlias = GetMsgListParam | JsonInput
MsgDeleteInput: TypeAlias = MsgDeleteParam | JsonInput
DownloadElemInput: TypeAlias = DownloadElemParam | JsonInput
