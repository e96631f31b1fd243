"""The webhooks of the relationship chain, profiles and login state (pure data).

Bodies from TIM's callback pages (tencentcloud.com/document/product/1047/34359
Sns.CallbackFriendAdd, which friend_import does not fire; 1047/48733 Profile.CallbackPortraitSet;
1047/34357 State.StateChange; and the Sns.CallbackFriendDelete / BlackListAdd / BlackListDelete
pages beside the first). TIM fires the friend and blacklist ones for REST calls too, with
`ClientCmd` naming the command.
"""

from __future__ import annotations

from typing import Final

import msgspec

from .sns import TagValue

__all__ = [
    "BLACKLIST_ADD",
    "BLACKLIST_DELETE",
    "FRIEND_ADD",
    "FRIEND_DELETE",
    "PORTRAIT_SET",
    "STATE_CHANGE",
    "BlackListAdded",
    "BlackListDeleted",
    "FriendAdded",
    "FriendDeleted",
    "Pair",
    "PortraitSet",
    "SnsCallback",
    "StateChange",
    "StateInfo",
]

FRIEND_ADD: Final = "Sns.CallbackFriendAdd"
FRIEND_DELETE: Final = "Sns.CallbackFriendDelete"
BLACKLIST_ADD: Final = "Sns.CallbackBlackListAdd"
BLACKLIST_DELETE: Final = "Sns.CallbackBlackListDelete"
PORTRAIT_SET: Final = "Profile.CallbackPortraitSet"
STATE_CHANGE: Final = "State.StateChange"


class _Body(msgspec.Struct, tag_field="CallbackCommand", omit_defaults=True):
    EventTime: int | None = None  # milliseconds


class Pair(msgspec.Struct, omit_defaults=True):
    From_Account: str
    To_Account: str
    Initiator_Account: str | None = None  # friend_add: who asked


class FriendAdded(_Body, tag=FRIEND_ADD):
    PairList: list[Pair] = msgspec.field(default_factory=list)
    ClientCmd: str = ""
    Admin_Account: str | None = None  # the admin for a REST call, "" for a client's request
    ForceFlag: int | None = None


class FriendDeleted(_Body, tag=FRIEND_DELETE):
    PairList: list[Pair] = msgspec.field(default_factory=list)
    ClientCmd: str = ""


class BlackListAdded(_Body, tag=BLACKLIST_ADD):
    PairList: list[Pair] = msgspec.field(default_factory=list)
    ClientCmd: str = ""


class BlackListDeleted(_Body, tag=BLACKLIST_DELETE):
    PairList: list[Pair] = msgspec.field(default_factory=list)
    ClientCmd: str = ""


class PortraitSet(_Body, tag=PORTRAIT_SET):
    Operator_Account: str = ""
    From_Account: str = ""
    ProfileItem: list[TagValue] = msgspec.field(default_factory=list)


class StateInfo(msgspec.Struct):
    Action: str  # "Login", "Logout", "Disconnect"
    To_Account: str
    Reason: str  # Register, Unregister, LinkClose, TimeOut (tencentcloud.com 1047/34357)


class StateChange(_Body, tag=STATE_CHANGE):
    Info: StateInfo | None = None


SnsCallback = FriendAdded | FriendDeleted | BlackListAdded | BlackListDeleted | PortraitSet | StateChange
