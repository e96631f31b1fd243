"""What every `tim.msg` family shares: the client's `SendContext` and the small conversions they
all make (a checked conversation, a message's locator, a MsgKey's field order, chunks)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from ..pipeline import MessagePipeline
from ..protocol.outgoing import msg_key
from ..protocol.validate import check_conversation
from ..seams import MessageStore, OutboxQueue
from ..store import Conv, LocatorKey, locator_key
from ..telemetry import Telemetry
from ..transfer import TransferManager
from ..types import Message

__all__ = ["SendContext", "anchor_of", "checked_conv", "chunks", "key_order", "server_key_of"]

_UINT32_MAX: Final = 2**32 - 1


@dataclass
class SendContext:
    """What the operations share with the client that owns them."""

    user_id: str
    pipeline: MessagePipeline
    store: MessageStore
    clock: Callable[[], float]
    rng: random.Random
    transfers: TransferManager | None = None
    outbox: OutboxQueue | None = None
    telemetry: Telemetry = field(default_factory=lambda: Telemetry(enabled=False))

    def now(self) -> int:
        """The client's clock in whole seconds, as TIM's times are."""
        return int(self.clock())

    def random_u32(self) -> int:
        """A MsgRandom: non-zero and within TIM's uint32."""
        return self.rng.randrange(1, _UINT32_MAX)


def checked_conv(conv_id: str, conv_type: int) -> Conv:
    """The store's key of a conversation, after checking its id and type (UsageError, no I/O)."""
    return (int(check_conversation(conv_id, conv_type)), conv_id)


def anchor_of(msg: Message | None) -> LocatorKey | None:
    """The locator of `last_msg`/`msg`, or None for an empty message (`{}`: the newest end)."""
    if msg is None or (msg.seq is None and msg.rand is None and not (msg.server_time or msg.client_time)):
        return None
    return locator_key(msg)


def key_order(key: LocatorKey) -> tuple[int, int, int]:
    """(time, seq, rand) -> the (seq, rand, time) order of a MsgKey."""
    time, seq, rand = key
    return seq, rand, time


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """`items` in consecutive slices of at most `size` (a REST call's cap)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def server_key_of(ctx: SendContext, conv: Conv, msg: Message, key: LocatorKey) -> str:
    """A C2C message's MsgKey: the one stored when it was sent or received, else its `msg_id`,
    else the `{seq}_{rand}_{time}` TIM's examples show."""
    return await ctx.store.msg_key_of(conv, key) or msg.msg_id or msg_key(*key_order(key))
