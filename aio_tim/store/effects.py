"""An inbox entry's store effects as rows to write, grouped by kind: shared by the SQLite and the
PostgreSQL inbox, which each run the kinds with statements of their own, in `KINDS` order.

Saves go first, so that a recall or a read mark in the same batch finds the message it is about.
Group membership decides which group messages are kept: `plan_effects` is given the groups known
to hold the user and keeps that set current as the batch joins and leaves.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..seams.inbox import (
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
from ..types import ConvType, MsgStatus, encode
from .rows import check_conv, row_of, stamp

__all__ = [
    "JOIN",
    "KINDS",
    "LEAVE",
    "MARK_READ",
    "MODIFY_C2C",
    "PEER_READ_C2C",
    "REVOKE_C2C",
    "REVOKE_GROUP",
    "SAVE",
    "Plan",
    "groups_of",
    "plan_effects",
    "timed_effects",
]

SAVE, JOIN, LEAVE, REVOKE_C2C, REVOKE_GROUP, MARK_READ, MODIFY_C2C, PEER_READ_C2C = KINDS = (
    "save", "join", "leave", "revoke_c2c", "revoke_group", "mark_read", "modify_c2c", "peer_read_c2c",
)  # fmt: skip
Plan = dict[str, list[tuple[Any, ...]]]


def timed_effects(entries: Sequence[NewEntry]) -> list[tuple[StoreEffect, int]]:
    """Every effect of `entries` with the time it happened (the entry's receipt, else now)."""
    return [(effect, int(entry.received or time.time())) for entry in entries for effect in entry.effects]


def groups_of(effects: Sequence[tuple[StoreEffect, int]]) -> set[str]:
    """The groups whose membership the effects read or change."""
    groups = {e.group_id for e, _ in effects if isinstance(e, JoinGroup | LeaveGroup)}
    return groups | {
        e.member_of for e, _ in effects if isinstance(e, SaveMessage) and e.conv_type == ConvType.GROUP
    }


def plan_effects(effects: Sequence[tuple[StoreEffect, int]], members: set[str]) -> Plan:
    """The rows each kind of statement writes; `members` (the user's groups) is kept current."""
    plan: Plan = {kind: [] for kind in KINDS}
    for effect, now in effects:
        _plan(effect, now, members, plan)
    return plan


def _plan(effect: StoreEffect, now: int, members: set[str], plan: Plan) -> None:
    if isinstance(effect, SaveMessage):
        conv = check_conv((effect.conv_type, effect.conv_id))
        if conv[0] == ConvType.GROUP and effect.member_of not in members:
            return  # not (known to be) the user's group
        status = effect.message.status or int(MsgStatus.SEND_SUCC)
        # Insert-or-ignore: our own sent message is already stored under the same locator.
        plan[SAVE].append(row_of(conv, stamp(effect.message, conv, status, now), effect.msg_key))
    elif isinstance(effect, JoinGroup):
        members.add(effect.group_id)
        plan[JOIN].append((effect.group_id,))
    elif isinstance(effect, LeaveGroup):
        members.discard(effect.group_id)
        plan[LEAVE].append((effect.group_id,))
    elif isinstance(effect, RevokeC2C):
        plan[REVOKE_C2C].append((effect.conv_id, effect.msg_key))
    elif isinstance(effect, RevokeGroup):
        plan[REVOKE_GROUP].extend((effect.group_id, seq) for seq in effect.seqs)
    elif isinstance(effect, MarkRead):
        plan[MARK_READ].append((effect.conv_id, effect.up_to))
    elif isinstance(effect, ModifyC2C):  # (elements JSON, cloud data or None, conv_id, msg_key)
        elems = encode(list(effect.elems)).decode()
        plan[MODIFY_C2C].append((elems, effect.cloud_custom_str, effect.conv_id, effect.msg_key))
    elif isinstance(effect, PeerReadC2C):
        plan[PEER_READ_C2C].extend((effect.conv_id, key) for key in effect.msg_keys)
