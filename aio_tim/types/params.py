"""The parameter and result objects of the ten TIMMsg functions (the docs' mapping page has examples).

Both the seed's `..._is_remble` and v7's `..._is_ramble` spellings decode; the seed's is emitted.
"""

from __future__ import annotations

from typing import Any

from ._base import TIMStruct, UInt, UInt64, prefixed
from .message import Message

__all__ = [
    "BatchSendParam",
    "BatchSendResult",
    "DownloadElemParam",
    "DownloadElemResult",
    "GetMsgListParam",
    "MsgDeleteParam",
    "MsgLocator",
]


class MsgLocator(TIMStruct, rename=prefixed("message_locator_")):
    """Exactly one message: its conversation, (time, seq, rand, is_self) and whether it is revoked.

    `find_by_msg_locator_list` needs `time`, `seq` and `rand` (a sent message's `server_time`,
    `seq` and `rand`):

        >>> from aio_tim.types import encode
        >>> encode(MsgLocator(time=1764000000, seq=1, rand=12345678))
        b'{"message_locator_time":1764000000,"message_locator_seq":1,"message_locator_rand":12345678}'
    """

    conv_id: str | None = None
    conv_type: UInt | None = None
    is_revoked: bool | None = None
    time: UInt64 | None = None
    seq: UInt64 | None = None
    is_self: bool | None = None
    rand: UInt64 | None = None
    unique_id: UInt64 | None = None


def _fold_ramble(obj: Any) -> None:
    # v7 renamed `is_remble` to `is_ramble`; keep one field so callers read one spelling.
    if obj.is_ramble is not None:
        if obj.is_remble is None:
            obj.is_remble = obj.is_ramble
        obj.is_ramble = None


class GetMsgListParam(TIMStruct, rename=prefixed("msg_getmsglist_param_")):
    """Which page of a conversation's history `get_msg_list` returns.

    `last_msg` anchors the page (excluded; absent: the newest end), `count` defaults to 20,
    `is_remble` fills from roaming, `is_forward` pages towards newer messages. v7's
    `is_ramble` spelling is read into `is_remble`:

        >>> from aio_tim.types import encode
        >>> GetMsgListParam(count=20, is_ramble=True)
        GetMsgListParam(count=20, is_remble=True)
        >>> encode(GetMsgListParam(count=20, is_remble=True))
        b'{"msg_getmsglist_param_count":20,"msg_getmsglist_param_is_remble":true}'
    """

    last_msg: Message | None = None
    count: UInt | None = None
    is_remble: bool | None = None
    is_forward: bool | None = None
    last_msg_seq: UInt64 | None = None
    time_begin: UInt64 | None = None
    time_period: UInt64 | None = None
    message_type_array: list[UInt] | None = None
    message_seq_array: list[UInt64] | None = None
    is_ramble: bool | None = None

    def __post_init__(self) -> None:
        _fold_ramble(self)


class MsgDeleteParam(TIMStruct, rename=prefixed("msg_delete_param_")):
    """One message (`msg`) or the whole conversation; local, or also roaming with `is_remble`.

    An absent or empty `msg` means the whole conversation, as in the C SDK's example:

        >>> from aio_tim.types import encode
        >>> encode(MsgDeleteParam(msg=Message(), is_remble=False))
        b'{"msg_delete_param_msg":{},"msg_delete_param_is_remble":false}'
    """

    msg: Message | None = None
    is_remble: bool | None = None
    is_ramble: bool | None = None

    def __post_init__(self) -> None:
        _fold_ramble(self)


class DownloadElemParam(TIMStruct, rename=prefixed("msg_download_elem_param_")):
    """Where an element's file lives; every field comes from the received element.

    `aio_tim.transfer.download_param(elem)` builds it from a received element:

        >>> from aio_tim.types import DownloadType, encode
        >>> encode(DownloadElemParam(type=DownloadType.FILE, id="f1", url="https://example.com/f1"))
        b'{"msg_download_elem_param_type":1,"msg_download_elem_param_id":"f1","msg_download_elem_param_url":"https://example.com/f1"}'
    """

    flag: UInt | None = None
    type: UInt | None = None
    id: str | None = None
    business_id: UInt | None = None
    url: str | None = None


class DownloadElemResult(TIMStruct, rename=prefixed("msg_download_elem_result_"), omit_defaults=False):
    """Download progress: bytes written so far and the total.

    Both keys are always written; the final result has `current_size == total_size`:

        >>> from aio_tim.types import encode
        >>> encode(DownloadElemResult(current_size=10, total_size=100))
        b'{"msg_download_elem_result_current_size":10,"msg_download_elem_result_total_size":100}'
    """

    current_size: UInt64 = 0
    total_size: UInt64 = 0


class BatchSendParam(TIMStruct, rename=prefixed("msg_batch_send_param_")):
    """One message to many C2C identifiers.

    Any number of identifiers; `batch_send` sends them in chunks of 500:

        >>> from aio_tim.types import TextElem, encode
        >>> param = BatchSendParam(["u1", "u2"], Message(elem_array=[TextElem(content="hi")]))
        >>> encode(param)
        b'{"msg_batch_send_param_identifier_array":["u1","u2"],"msg_batch_send_param_msg":{"message_elem_array":[{"elem_type":0,"text_elem_content":"hi"}]}}'
    """

    identifier_array: list[str]
    msg: Message


class BatchSendResult(TIMStruct, rename=prefixed("msg_batch_send_result_"), gc=False):
    """The outcome for one identifier of a batch send: `code` 0 means delivered.

    A delivered result carries the message as delivered (`msg`); a failed one TIM's code:

        for result in await tim.msg.batch_send(param):
            if result.code:
                print(result.identifier, result.code, result.desc)   # e.g. 70107

    Not tracked by the garbage collector (`gc=False`, as `Message`): a batch returns one per
    recipient, and nothing in a result can refer back to it.
    """

    identifier: str
    code: int
    desc: str
    msg: Message | None = None
