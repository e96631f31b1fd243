"""The dev server's rows: what each table's queries read and write, and how a MsgBody is stored."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Final

import msgspec

from ..protocol import MsgBodyItem

__all__ = [
    "GROUP_PROFILE_COLUMNS",
    "C2CRow",
    "Cursor",
    "FileRow",
    "GroupMsgRow",
    "GroupProfile",
    "GroupRow",
    "MemberRow",
    "NewC2C",
    "conversation",
    "decode_body",
    "encode_body",
    "json_list",
    "values_of",
]

Cursor = tuple[int, int, int]  # (msg_time, msg_seq, id) of a C2C message: its roaming position


@dataclass(frozen=True, slots=True)
class NewC2C:
    from_account: str
    to_account: str
    msg_seq: int
    msg_random: int
    msg_time: int
    client_time: int
    msg_key: str
    body: str
    cloud_custom_data: str | None
    kind: str
    counts_unread: bool


@dataclass(frozen=True, slots=True)
class C2CRow:
    id: int
    from_account: str
    to_account: str
    msg_seq: int
    msg_random: int
    msg_time: int
    client_time: int
    msg_key: str
    body: str
    cloud_custom_data: str | None
    recalled: int


@dataclass(frozen=True, slots=True)
class GroupRow:
    group_id: str
    type: str
    name: str
    owner: str | None
    created: int


@dataclass(frozen=True, slots=True)
class GroupProfile:
    """A group's editable profile and counters (schema v3); "" and 0 mean the type's default."""

    introduction: str
    notification: str
    face_url: str
    max_member_num: int
    apply_join_option: str
    shut_up_all: int
    info_seq: int
    last_info_time: int
    last_seq: int
    member_num: int
    last_msg_time: int | None


@dataclass(frozen=True, slots=True)
class MemberRow:
    account: str
    role: str
    joined: int
    name_card: str = ""
    msg_flag: str = ""  # "": TIM's default, AcceptAndNotify


# modify_group_base_info's fields and their columns: the only names ever put into SQL text.
GROUP_PROFILE_COLUMNS: Final = {
    "Name": "name",
    "Introduction": "introduction",
    "Notification": "notification",
    "FaceUrl": "face_url",
    "MaxMemberNum": "max_member_num",
    "ApplyJoinOption": "apply_join_option",
    "MuteAllMember": "shut_up_all",
}


@dataclass(frozen=True, slots=True)
class GroupMsgRow:
    group_id: str
    msg_seq: int
    from_account: str
    msg_random: int
    msg_time: int
    priority: int
    body: str
    cloud_custom_data: str | None
    kind: str
    online_only: int = 0
    recalled: int = 0


@dataclass(frozen=True, slots=True)
class FileRow:
    file_id: str
    name: str
    kind: str
    size: int
    sha256: str  # hex
    created: int


def values_of(row: object) -> tuple[Any, ...]:
    """A row dataclass as query parameters, in field order (dataclasses.astuple deep-copies
    every field; one attrgetter per class reads them all in C)."""
    getter = _GETTERS.get(type(row))
    if getter is None:
        getter = _GETTERS[type(row)] = operator.attrgetter(*(f.name for f in fields(row)))  # type: ignore[arg-type]
    return getter(row)


_GETTERS: Final[dict[type, Callable[[object], Any]]] = {}  # row class -> its fields' attrgetter


_BODY_DECODER: Final = msgspec.json.Decoder(list[MsgBodyItem])


def json_list(values: list[str]) -> str:
    """A list of names as one JSON parameter, for `IN (SELECT value FROM json_each(?))`."""
    return msgspec.json.encode(values).decode()


def encode_body(items: list[MsgBodyItem]) -> str:
    """A MsgBody as stored: its JSON text, already validated."""
    return msgspec.json.encode(items).decode()


def decode_body(text: str) -> list[MsgBodyItem]:
    return _BODY_DECODER.decode(text)


def conversation(a: str, b: str) -> tuple[str, str]:
    """The direction-free key of the C2C conversation between `a` and `b`."""
    return (a, b) if a <= b else (b, a)
