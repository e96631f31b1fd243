"""Checks every operation makes before any I/O, raising the C SDK's synchronous result codes.

`TIM_ERR_CONV` (-5) for a bad conversation, `TIM_ERR_PARAM` (-4) for a parameter the C SDK would
refuse; malformed JSON is `TIM_ERR_JSON` (-3), raised by `types.coerce`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Final

from ..errors import TIM_ERR_CONV, TIM_ERR_JSON, TIM_ERR_PARAM, ContentRejectedError, UsageError
from ..types import (
    SENDABLE_ELEM_TYPES,
    ConvType,
    CustomElem,
    FileElem,
    Message,
    SoundElem,
    TextElem,
    encode,
)
from . import MsgBodyItem, msg_body_size, to_msg_body

__all__ = [
    "MAX_BODY_BYTES",
    "check_conversation",
    "check_group_id",
    "check_identifier",
    "check_identifiers",
    "check_sendable",
]

MAX_BODY_BYTES: Final = 12 * 1024  # TIM's REST limit on a message body (80002 beyond)
MAX_IDENTIFIER_BYTES: Final = 32
_ONE_PER_MESSAGE: Final = (CustomElem, FileElem, SoundElem)
_UINT32_MAX: Final = 2**32 - 1


def check_conversation(conv_id: object, conv_type: object) -> ConvType:
    """A C2C or group conversation with a non-empty id; anything else is TIM_ERR_CONV."""
    if conv_type not in (ConvType.C2C, ConvType.GROUP) or isinstance(conv_type, bool):
        raise UsageError(
            TIM_ERR_CONV,
            f"conv_type must be kTIMConv_C2C (1) or kTIMConv_Group (2), not {conv_type!r}",
        )
    if not isinstance(conv_id, str) or not conv_id:
        raise UsageError(TIM_ERR_CONV, f"conv_id must be a non-empty string, not {conv_id!r}")
    if not _is_utf8(conv_id):
        raise UsageError(TIM_ERR_CONV, "conv_id is not valid UTF-8 text (it holds a lone surrogate)")
    _check_characters(conv_id, "conv_id")
    if conv_type == ConvType.C2C and len(conv_id.encode()) > MAX_IDENTIFIER_BYTES:
        # A C2C conversation is named by the peer's UserID: TIM caps those at 32 bytes.
        raise UsageError(TIM_ERR_CONV, f"conv_id {conv_id!r} is longer than a UserID's 32 bytes")
    return ConvType(conv_type)  # type: ignore[arg-type]


def check_identifier(identifier: object, what: str = "identifier") -> str:
    """A TIM UserID: a non-empty string of at most 32 bytes, without spaces or control characters."""
    if not isinstance(identifier, str) or not identifier:
        raise UsageError(TIM_ERR_PARAM, f"{what} must be a non-empty string, not {identifier!r}")
    if not _is_utf8(identifier):
        raise UsageError(TIM_ERR_PARAM, f"{what} is not valid UTF-8 text (it holds a lone surrogate)")
    _check_characters(identifier, what)
    if len(identifier.encode()) > MAX_IDENTIFIER_BYTES:
        raise UsageError(TIM_ERR_PARAM, f"{what} {identifier!r} is longer than 32 bytes")
    return identifier


def check_group_id(group_id: object, what: str = "group_id") -> str:
    """A group ID: a non-empty string without spaces or control characters."""
    if not isinstance(group_id, str) or not group_id:
        raise UsageError(TIM_ERR_PARAM, f"{what} must be a non-empty string, not {group_id!r}")
    _check_characters(group_id, what)
    return group_id


def check_identifiers(identifiers: Iterable[object], what: str = "identifier") -> None:
    """`check_identifier` of each, for a batch's 100,000: an ASCII string of 1 to 32 characters
    (the usual UserID) passes in one test; anything else gets the full check and its error."""
    limit = MAX_IDENTIFIER_BYTES
    for identifier in identifiers:
        # str.isascii() reads a flag CPython keeps, and an ASCII string's length is its bytes
        if not (
            isinstance(identifier, str)
            and identifier.isascii()
            and 0 < len(identifier) <= limit
            and identifier.isprintable()
            and " " not in identifier
        ):
            check_identifier(identifier, what)


def _check_characters(identifier: str, what: str) -> None:
    """No whitespace or control character (NUL, newline, ...): a C caller's `const char*` ends at
    the NUL, and TIM's IDs hold none of them, so `"peer\\x00x"` must not become an account."""
    if not identifier.isprintable() or any(char.isspace() for char in identifier):
        raise UsageError(TIM_ERR_PARAM, f"{what} {identifier!r} holds a space or a control character")


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_sendable(msg: Message) -> list[MsgBodyItem]:
    """The C SDK's rules for an outgoing message: elements present, sendable, within limits.

    Returns the REST MsgBody it built to measure the message, so a send builds it only once."""
    if not msg.elem_array:
        raise UsageError(TIM_ERR_PARAM, "message_elem_array is empty: a message needs an element")
    for index, elem in enumerate(msg.elem_array):
        if not isinstance(elem, SENDABLE_ELEM_TYPES):
            raise UsageError(
                TIM_ERR_PARAM,
                f"message_elem_array[{index}] is a {type(elem).__name__}, which the server "
                "generates and a client cannot send",
            )
        if isinstance(elem, TextElem) and not elem.content:
            raise UsageError(
                TIM_ERR_PARAM,
                f"message_elem_array[{index}]: text_elem_content is empty: a text message needs text",
            )
    if len(msg.elem_array) > 1:  # most messages carry one element: nothing to count
        counts = Counter(type(elem) for elem in msg.elem_array)
        for kind in _ONE_PER_MESSAGE:
            if counts[kind] > 1:
                raise UsageError(TIM_ERR_PARAM, f"a message may carry only one {kind.__name__}")
    if msg.rand is not None and msg.rand > _UINT32_MAX:
        raise UsageError(TIM_ERR_PARAM, "message_rand must fit in 32 bits for the REST API")
    try:
        body = to_msg_body(msg.elem_array)
        size = msg_body_size(body)
        encode(msg)  # CloudCustomData & co. are sent too
    except UnicodeEncodeError:
        raise UsageError(TIM_ERR_JSON, "message text is not valid UTF-8 (a lone surrogate)") from None
    if size > MAX_BODY_BYTES:
        raise ContentRejectedError(80002, f"message body is {size} bytes; TIM's limit is 12 KB")
    return body
