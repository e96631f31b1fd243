"""Received webhooks as events: the typed body, the C SDK `Message`, a stable id, store effects.

Pure: it turns a body (typed by `aio_tim.protocol.callbacks`) into what the receiver keeps
(`entry_for`) and what the consumer sees (`Event`), seen by the client's user. Messages cross over
with the same conversion table the send path uses (`from_msg_body`), run backwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from ..protocol import callbacks as cb
from ..protocol.msgbody import from_msg_body
from ..seams.inbox import (
    InboxEntry,
    JoinGroup,
    LeaveGroup,
    MarkRead,
    ModifyC2C,
    NewEntry,
    PeerReadC2C,
    RevokeC2C,
    RevokeGroup,
    SaveMessage,
    StoreEffect,
)
from ..types import ConvType, Message, MsgLocator, MsgStatus

__all__ = [
    "Event",
    "RawCallback",
    "command_of",
    "conversation_of",
    "decode_body",
    "entry_for",
    "event_of",
    "message_of",
    "parse_msg_key",
]

_DECODER: Final = msgspec.json.Decoder(cb.Callback)
_RAW_DECODER: Final = msgspec.json.Decoder(dict[str, Any])


@dataclass(frozen=True)
class RawCallback:
    """A command aio_tim does not type (kept as received, never dropped): its name and JSON body."""

    CallbackCommand: str
    fields: dict[str, Any]


Body = cb.Callback | RawCallback


@dataclass(eq=False)
class Event:
    """One received webhook, as `tim.events()` yields it.

    `command` is TIM's `CallbackCommand`; `id` its inbox key (`identity`: TIM's id where it gives one);
    `body` the typed body (`aio_tim.protocol.callbacks`), or a `RawCallback` for other commands;
    `message` the C SDK `Message` of a message event, seen by the client's user, else None.

        async for event in tim.events():
            if event.message is not None:
                print(event.command, event.message.sender, event.message.elem_array)
    """

    command: str
    id: str
    position: str
    body: Body
    message: Message | None
    received: float
    query: dict[str, str] = field(default_factory=dict)
    # Set by the stream that hands the event out; not a constructor argument of the public API.
    _ack: Callable[[Event], Awaitable[None]] | None = field(default=None, repr=False, init=False)

    @property
    def locators(self) -> list[MsgLocator]:
        """The recalled messages of a recall event, as the C SDK's revoke callback gives them."""
        return locators_of(self.body)

    async def ack(self) -> None:
        """Acknowledge this event now (for consumers that hand work off; the loop does it otherwise)."""
        if self._ack is not None:
            await self._ack(self)


def decode_body(body: bytes) -> Body:
    """A webhook body: typed when its CallbackCommand is known, else raw; ValueError if not JSON."""
    try:
        return _DECODER.decode(body)
    except msgspec.ValidationError:
        raw = _decode_object(body)
        command = raw.get("CallbackCommand")
        if isinstance(command, str) and command in cb.KNOWN_COMMANDS:
            raise  # a known command whose fields do not fit: refuse it rather than trust it
        return RawCallback(str(command or ""), raw)
    except msgspec.DecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from None


def _decode_object(body: bytes) -> dict[str, Any]:
    try:
        return _RAW_DECODER.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValueError(f"body is not a JSON object: {exc}") from None


def command_of(body: Body) -> str:
    """The body's CallbackCommand."""
    if isinstance(body, RawCallback):
        return body.CallbackCommand
    return str(body.__struct_config__.tag)


def conversation_of(body: cb.GroupBeforeSendMsg | cb.GroupAfterRecallMsg) -> str:
    """The group conversation a group message event belongs to: the topic's ID for a message in a
    community's topic (the C SDK's conversation of a topic is the group with the topic's ID), else
    the group's."""
    return body.TopicId or body.GroupId


# --- messages --------------------------------------------------------------------------------------


def message_of(body: Body, user_id: str) -> Message | None:
    """The C SDK Message a message event carries, seen by `user_id`; None for other events."""
    match body:
        case cb.C2CBeforeSendMsg():  # the after-send command is a subclass
            return _c2c_message(body, user_id)
        case cb.GroupBeforeSendMsg():  # after-send and send-exception are subclasses
            return _group_message(body, user_id)
    return None


def _c2c_message(body: cb.C2CBeforeSendMsg, user_id: str) -> Message:
    from_self = body.From_Account == user_id
    after = isinstance(body, cb.C2CAfterSendMsg)
    return Message(
        elem_array=from_msg_body(body.MsgBody),
        conv_id=body.To_Account if from_self else body.From_Account,
        conv_type=int(ConvType.C2C),
        sender=body.From_Account,
        is_from_self=from_self,
        client_time=body.MsgTime or None,
        server_time=body.MsgTime or None,
        seq=body.MsgSeq,
        rand=body.MsgRandom,
        msg_id=body.MsgKey or body.MsgId,
        cloud_custom_str=body.CloudCustomData,
        is_online_msg=bool(body.OnlineOnlyFlag),
        is_read=from_self,
        status=int(MsgStatus.SEND_SUCC if after else MsgStatus.SENDING),
    )


def _group_message(body: cb.GroupBeforeSendMsg, user_id: str) -> Message:
    sent = isinstance(body, cb.GroupAfterSendMsg) and not isinstance(body, cb.GroupSendMsgException)
    failed = isinstance(body, cb.GroupSendMsgException)
    seq = body.MsgSeq if isinstance(body, cb.GroupAfterSendMsg) else None
    when = body.MsgTime if isinstance(body, cb.GroupAfterSendMsg) else None
    status = MsgStatus.SEND_SUCC if sent else MsgStatus.SEND_FAIL if failed else MsgStatus.SENDING
    return Message(
        elem_array=from_msg_body(body.MsgBody),
        conv_id=conversation_of(body),
        conv_type=int(ConvType.GROUP),
        sender=body.From_Account,
        is_from_self=body.From_Account == user_id,
        client_time=when or None,
        server_time=when or None,
        seq=seq or None,
        rand=body.Random,
        msg_id=getattr(body, "MsgId", None),
        cloud_custom_str=body.CloudCustomData,
        is_online_msg=bool(body.OnlineOnlyFlag),
        is_read=body.From_Account == user_id,
        status=int(status),
    )


def parse_msg_key(msg_key: str) -> tuple[int, int, int] | None:
    """A C2C MsgKey "seq_random_time" as (time, seq, rand), the store's locator; None if not that form."""
    parts = msg_key.split("_")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    seq, rand, when = (int(p) for p in parts)
    return when, seq, rand


def locators_of(body: Body) -> list[MsgLocator]:
    match body:
        case cb.C2CAfterMsgWithDraw():
            found = parse_msg_key(body.MsgKey)
            if found is None:
                return []
            when, seq, rand = found
            return [MsgLocator(conv_type=int(ConvType.C2C), is_revoked=True, time=when, seq=seq, rand=rand)]
        case cb.GroupAfterRecallMsg():
            conv = conversation_of(body)
            return [
                MsgLocator(conv_id=conv, conv_type=int(ConvType.GROUP), is_revoked=True, seq=i.MsgSeq)
                for i in body.MsgSeqList
            ]
    return []


# --- what the store does with it -------------------------------------------------------------------


def effects_of(body: Body, message: Message | None, user_id: str) -> tuple[StoreEffect, ...]:
    """Changes to the user's local store: received messages, recalls and read reports of their
    conversations, the groups they are in."""
    match body:
        case cb.C2CAfterSendMsg() if message is not None and user_id in (body.From_Account, body.To_Account):
            return (SaveMessage(int(ConvType.C2C), message.conv_id or "", message, body.MsgKey or None),)
        case cb.GroupSendMsgException():
            return ()
        case cb.GroupAfterSendMsg() if message is not None:
            joined = (JoinGroup(body.GroupId),) if body.From_Account == user_id else ()
            key = f"{body.MsgSeq}_{body.Random}_{body.MsgTime}"
            topic = body.GroupId if body.TopicId else None
            return (*joined, SaveMessage(int(ConvType.GROUP), conversation_of(body), message, key, topic))
        case cb.C2CAfterMsgWithDraw() if user_id in (body.From_Account, body.To_Account):
            peer = body.To_Account if body.From_Account == user_id else body.From_Account
            return (RevokeC2C(peer, body.MsgKey),)
        case cb.C2CAfterMsgReport() if body.Report_Account == user_id:
            return (MarkRead(body.Peer_Account, body.LastReadTime),)
        case cb.C2CAfterModifyMsg() if user_id in (body.From_Account, body.To_Account):
            peer = body.To_Account if body.From_Account == user_id else body.From_Account
            elems = tuple(from_msg_body(body.MsgBody))
            return (ModifyC2C(peer, body.MsgKey, elems, body.CloudCustomData),)
        case cb.C2CAfterMsgReadReceipt() if body.Peer_Account == user_id:
            keys = tuple(i.MsgKey for i in body.C2CMsgInfo if i.From_Account == user_id and i.MsgKey)
            return (PeerReadC2C(body.Operator_Account, keys),) if keys else ()
        case cb.GroupAfterRecallMsg():
            return (RevokeGroup(conversation_of(body), tuple(i.MsgSeq for i in body.MsgSeqList)),)
    return _membership(body, user_id)


def _membership(body: Body, user_id: str) -> tuple[StoreEffect, ...]:
    match body:
        case cb.GroupAfterCreateGroup():
            members = {m.Member_Account for m in body.MemberList} | {body.Owner_Account}
            return (JoinGroup(body.GroupId),) if user_id in members else ()
        case cb.GroupAfterNewMemberJoin() if user_id in {m.Member_Account for m in body.NewMemberList}:
            return (JoinGroup(body.GroupId),)
        case cb.GroupAfterMemberExit() if user_id in {m.Member_Account for m in body.ExitMemberList}:
            return (LeaveGroup(body.GroupId),)
        case cb.GroupAfterGroupDestroyed():
            return (LeaveGroup(body.GroupId),)
    return ()


def entry_for(raw: bytes, body: Body, query: dict[str, str], user_id: str, now: float, key: str) -> NewEntry:
    """What the receiver commits for one webhook under `key` (`identity.Identities`). Raises
    ValueError for a message body it cannot read."""
    message = _message_or_refuse(body, user_id)
    return NewEntry(
        key=key,
        command=command_of(body),
        body=raw,
        query=query,
        received=now,
        effects=effects_of(body, message, user_id),
    )


def _message_or_refuse(body: Body, user_id: str) -> Message | None:
    try:
        return message_of(body, user_id)
    except Exception as exc:  # a MsgContent that does not fit its MsgType
        raise ValueError(f"MsgBody cannot be read: {exc}") from None


def event_of(entry: InboxEntry, user_id: str) -> Event:
    """The event a consumer sees for an inbox entry (re-decoded: the inbox keeps the raw body)."""
    try:
        body = decode_body(entry.body)
        message = message_of(body, user_id)
    except (ValueError, msgspec.ValidationError):  # kept by an older aio_tim; hand it over raw
        body, message = RawCallback(entry.command, _lenient(entry.body)), None
    return Event(entry.command, entry.key, entry.position, body, message, entry.received, entry.query)


def _lenient(raw: bytes) -> dict[str, Any]:
    try:
        return _decode_object(raw)
    except ValueError:
        return {}
