"""The C SDK's event callbacks, fed by the logged-in client's `tim.events()`.

`TIMAddRecvNewMsgCallback(cb, user_data)` gets `cb(json_msg_array, user_data)` for each new message
of the user's conversations (C2C ones the user is a party to, groups the user is in) that the user
did not send; `TIMSetMsgRevokeCallback` gets the recalled messages' `MsgLocator` array;
`TIMSetMsgReadedReceiptCallback` gets `MessageReceipt`s when a peer read the user's C2C messages.
The events arrive through TIM's webhooks: set `aio_tim_webhook_port` (and, with webhook
authentication, `aio_tim_webhook_token`) in `TIMInit`'s config, and point TIM's callback URL at
`http://HOST:PORT/tim/callback`. Callbacks run where the other callbacks run (see `runtime`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from ..client import Client
from ..events.model import Event, conversation_of
from ..protocol import callbacks as cb
from ..types import ConvType, Message, MsgLocator, encode
from ..types._base import decoder_for

__all__ = [
    "TIMAddRecvNewMsgCallback",
    "TIMRemoveRecvNewMsgCallback",
    "TIMSetMsgReadedReceiptCallback",
    "TIMSetMsgRevokeCallback",
    "pump",
]

log = logging.getLogger("aio_tim.capi")

# cb(json_array, user_data): TIMRecvNewMsgCallback, TIMMsgRevokeCallback, TIMMsgReadedReceiptCallback.
EventCallback = Callable[[str, Any], None]
CONSUMER: Final = "capi"
_MESSAGE: Final = decoder_for(Message)

_recv: list[tuple[EventCallback, Any]] = []
_revoke: list[tuple[EventCallback, Any]] = []
_receipt: list[tuple[EventCallback, Any]] = []


def TIMAddRecvNewMsgCallback(cb: EventCallback, user_data: Any = None) -> None:
    """Add a new-message callback: `cb(json_msg_array, user_data)` (register before login)."""
    _recv.append((cb, user_data))


def TIMRemoveRecvNewMsgCallback(cb: EventCallback) -> None:
    """Remove a callback added with TIMAddRecvNewMsgCallback (the same function object)."""
    _recv[:] = [(f, data) for f, data in _recv if f is not cb]


def TIMSetMsgRevokeCallback(cb: EventCallback | None, user_data: Any = None) -> None:
    """Set (None: clear) the recall callback: `cb(json_msg_locator_array, user_data)`."""
    _revoke[:] = [] if cb is None else [(cb, user_data)]


def TIMSetMsgReadedReceiptCallback(cb: EventCallback | None, user_data: Any = None) -> None:
    """Set (None: clear) the read-receipt callback: `cb(json_msg_readed_receipt_array, user_data)`."""
    _receipt[:] = [] if cb is None else [(cb, user_data)]


async def pump(client: Client) -> None:
    """Hand the client's events to the callbacks until the client closes."""
    async for event in client.events(CONSUMER):
        try:
            await _dispatch(client, event)
        except Exception:  # a bad event or callback must not stop the others
            log.exception("could not hand %s to the C callbacks", event.id)


async def _dispatch(client: Client, event: Event) -> None:
    body, user = event.body, client.user_id
    if isinstance(body, cb.C2CAfterSendMsg | cb.GroupAfterSendMsg) and not isinstance(
        body, cb.GroupSendMsgException
    ):
        message = await _new_message(client, event)
        if message is not None:
            _call(_recv, "[" + encode(message).decode() + "]")
    elif isinstance(body, cb.C2CAfterMsgWithDraw) and user in (body.From_Account, body.To_Account):
        peer = body.To_Account if body.From_Account == user else body.From_Account
        _call(_revoke, _locators(event.locators, peer, body.From_Account == user))
    elif isinstance(body, cb.GroupAfterRecallMsg) and await client.store.count(
        (ConvType.GROUP, conversation_of(body))
    ):
        _call(_revoke, _locators(event.locators, conversation_of(body), None))
    elif isinstance(body, cb.C2CAfterMsgReport) and body.Peer_Account == user:
        receipt = {"msg_receipt_conv_id": body.Report_Account, "msg_receipt_conv_type": int(ConvType.C2C),
                   "msg_receipt_time_stamp": body.LastReadTime}  # fmt: skip
        _call(_receipt, encode([receipt]).decode())


async def _new_message(client: Client, event: Event) -> Message | None:
    """The message as the user's store keeps it, if it is new to the user (not their own send)."""
    msg = event.message
    if msg is None or msg.is_from_self or msg.conv_id is None or msg.conv_type is None:
        return None
    key = (msg.server_time or 0, msg.seq or 0, msg.rand or 0)
    # Stored means the user is a party (C2C) or a member (group); the store has the read mark too.
    return await client.store.get((msg.conv_type, msg.conv_id), key)


def _locators(locators: list[MsgLocator], conv_id: str, is_self: bool | None) -> str:
    for locator in locators:
        locator.conv_id, locator.is_self = conv_id, is_self
    return encode(locators).decode()


def _call(callbacks: list[tuple[EventCallback, Any]], json_array: str) -> None:
    for callback, user_data in list(callbacks):
        try:
            callback(json_array, user_data)
        except BaseException:  # SystemExit too: it must not end the pump or the logic thread
            log.exception("a TIM event callback raised")
