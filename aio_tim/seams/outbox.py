"""The outbox seam: where `enqueue_new_msg` commits a message and from where a drainer sends it.

The SQLite outbox (`aio_tim.pipeline`) and the Redis one (`aio_tim.coordination`) implement it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from ..types import Conv, Message

__all__ = ["Deliver", "OutboxQueue", "TransactionalOutbox"]


Deliver = Callable[[Conv, Message], Awaitable[tuple[Message, str | None]]]
"""Send one queued message; return the sent message and its MsgKey (raises TIMError)."""


class OutboxQueue(Protocol):
    """Where `enqueue_new_msg` commits a message and from where a drainer sends it."""

    async def start(self, deliver: Deliver) -> None:
        """Resume what a crash left unfinished and start draining with `deliver`."""
        ...

    async def enqueue(self, conv: Conv, message: Message) -> int | str:
        """Commit `message` (its idempotency keys fixed); return its id in the queue."""
        ...

    async def result(self, message: Message, timeout: float | None = None) -> Message:  # noqa: ASYNC109
        """The sent `message` once a drainer sent it; its TIMError if TIM refused it; TimeoutError
        when no outcome came within `timeout` seconds."""
        ...

    async def statistics(self) -> dict[str, int]:
        """Messages per state: `{"queued": .., "inflight": .., "sent": .., "failed": ..}`."""
        ...

    async def wait_idle(self, poll: float = 0.05) -> None:
        """Wait until nothing is queued or inflight."""
        ...

    # `timeout` is a drain budget that ends in a count, not a cancel scope.
    async def aclose(self, timeout: float) -> int:  # noqa: ASYNC109
        """Stop intake, drain for up to `timeout` seconds; return how many are left unfinished."""
        ...


@runtime_checkable
class TransactionalOutbox(OutboxQueue, Protocol):
    """An outbox that can write a message in the caller's own database transaction (PostgreSQL)."""

    async def enqueue_in(self, connection: Any, conv: Conv, message: Message) -> int | str:
        """Write `message` with `connection`, inside its open transaction: it exists iff that commits."""
        ...

    async def result(self, message: Message, timeout: float | None = None) -> Message:  # noqa: ASYNC109
        """The sent `message` once a worker sent it; its TIMError if TIM refused it."""
        ...
