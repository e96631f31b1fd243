"""An event's identity, its inbox key: the same event delivered again gets the same key, two distinct
events never do.

TIM gives message events an id: a C2C MsgKey, a group message's MsgSeq (counted per topic), a group
send's Random (TIM itself dedups it for 5 minutes), a recall's MsgSeqs. Other events carry none
(membership changes, read reports, failed group sends, commands aio_tim does not type), and two
distinct ones can be byte for byte the same: join -> leave -> join of one member within a second,
when EventTime counts seconds. For these a body identical to the latest id-less event of the same
group (or, outside groups, of any other id-less event) is taken as a redelivery and gets its key;
anything else gets a new key, unique to this receiver (a random seed and a counter). So a
redelivery that arrives after another event of its group, after a restart or at a second receiver
comes out twice; a distinct event is never dropped.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from typing import Any, Final

from ..protocol import callbacks as cb
from .model import Body, RawCallback, command_of

__all__ = ["Identities", "given_key"]

_REMEMBERED: Final = 10_000  # subjects whose latest id-less event is kept for spotting redeliveries


def given_key(body: Body) -> str | None:
    """The key built from the id TIM gives this event, or None when it gives none."""
    parts = _id_parts(body)
    if parts is None:
        return None
    topic = getattr(body, "TopicId", None)
    if topic:  # a topic counts its own MsgSeqs; the key stays as before for a plain group
        parts = (*parts, f"topic={topic}")
    return "|".join((command_of(body), *map(str, parts)))


def _id_parts(body: Body) -> tuple[Any, ...] | None:
    match body:
        case cb.C2CAfterSendMsg() | cb.C2CBeforeSendMsg() | cb.C2CAfterMsgWithDraw() if body.MsgKey:
            return (body.From_Account, body.To_Account, body.MsgKey)
        case cb.GroupSendMsgException():  # a retried failing send keeps its Random: no id
            return None
        case cb.GroupAfterSendMsg() if body.MsgSeq:
            return (body.GroupId, body.MsgSeq)
        case cb.GroupBeforeSendMsg() if body.Random:
            return (body.GroupId, body.From_Account, body.Random)
        case cb.GroupAfterRecallMsg() if body.MsgSeqList:
            return (body.GroupId, ",".join(str(item.MsgSeq) for item in body.MsgSeqList))
    return None


class Identities:
    """The keys one receiver gives events: TIM's id where it gives one, else redelivery-aware."""

    def __init__(self, *, remembered: int = _REMEMBERED) -> None:
        self._seed = secrets.token_hex(8)
        self._issued = 0
        self._latest: OrderedDict[str, tuple[str, str]] = OrderedDict()  # subject -> (digest, key)
        self._remembered = remembered

    def key_for(self, body: Body, raw: bytes) -> str:
        """The event's key; an id-less event's is new unless it repeats its subject's latest body."""
        given = given_key(body)
        if given is not None:
            return given
        digest = hashlib.sha256(raw).hexdigest()
        subject = _subject(body)
        latest = self._latest.get(subject)
        if latest is not None and latest[0] == digest:
            self._latest.move_to_end(subject)
            return latest[1]
        self._issued += 1
        key = f"{command_of(body)}|{digest}|{self._seed}.{self._issued}"
        self._latest[subject] = (digest, key)
        self._latest.move_to_end(subject)
        if len(self._latest) > self._remembered:  # forgetting one only turns its redelivery into a copy
            self._latest.popitem(last=False)
        return key


def _subject(body: Body) -> str:
    """What an id-less event changes: its group, else everything outside groups."""
    group = body.fields.get("GroupId") if isinstance(body, RawCallback) else getattr(body, "GroupId", None)
    return f"group:{group}" if isinstance(group, str) and group else "app"
