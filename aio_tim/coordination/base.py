"""The seams between one client and the others of its app: a limiter and an outbox queue.

The pipeline asks a `Limiter` how long to wait before each call; the outbox is an `OutboxQueue`.
Each has an in-process implementation (the pipeline's token buckets, the SQLite outbox) and a
Redis one (`RedisCoordinator`); `Client(coordinator=...)` chooses, in one place.

    wait = await limiter.reserve("openim/sendmsg")   # seconds until this call may go out
    await asyncio.sleep(wait)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from ..errors import ERR_TRANSPORT, TransientError
from ..events.inbox import Inbox
from ..protocol import Envelope, Request
from ..protocol.limits import Limits, limit_for
from ..store import Conv, LocalStore
from ..types import Message

__all__ = [
    "CoordinationUnavailableError",
    "Coordinator",
    "Deliver",
    "Limiter",
    "OutboxQueue",
    "pace_for",
]


class CoordinationUnavailableError(TransientError):
    """The shared coordinator (Redis) could not be reached: nothing was queued there."""

    def __init__(self, desc: str) -> None:
        super().__init__(ERR_TRANSPORT, desc)


def pace_for(endpoint: str, limits: Limits | None, margin: float) -> tuple[float, float] | None:
    """(calls per second, burst) to pace `endpoint` at, or None when it has no limit.

    A limit is a ceiling, not a target: the margin absorbs the jitter between our clock and the
    server's, and the burst is kept as small so no one-second window goes over.

        >>> pace_for("openim/sendmsg", {"*": 100}, 0.02)
        (98.0, 2.0)
    """
    limit = limit_for(endpoint, limits)
    if limit is None:
        return None
    allowance = limit * margin
    return limit - allowance, max(1.0, allowance)


class Limiter(Protocol):
    """Paces the calls of one app's endpoints; implementations book a slot per call."""

    async def reserve(self, endpoint: str) -> float:
        """Book the next call to `endpoint`; the seconds to wait before making it."""
        ...

    async def aclose(self) -> None:
        """Release what the limiter holds (connections, background tasks)."""
        ...


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


class Coordinator(Protocol):
    """What many workers of one app share: built once, handed to each `Client(coordinator=...)`."""

    def limiter(self, sdk_app_id: int, limits: Limits | None, margin: float) -> Limiter:
        """The limiter for the app's calls."""
        ...

    def outbox(
        self,
        sdk_app_id: int,
        store: LocalStore,
        submit: Callable[[Request], Awaitable[Envelope]] | None = None,
    ) -> OutboxQueue:
        """The app's shared outbox; sent messages are also saved in this worker's `store`, and
        `submit` (the pipeline's) may ask TIM what a dead worker sent."""
        ...

    def inbox(self, sdk_app_id: int, store: LocalStore) -> Inbox:
        """The app's shared inbox of received webhooks; their effects land in this worker's `store`."""
        ...

    async def aclose(self) -> None:
        """Close the connections the coordinator opened."""
        ...
