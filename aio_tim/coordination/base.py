"""What many workers of one app share: the `Coordinator` that builds their limiter, outbox and inbox.

The seams themselves (`Limiter`, `OutboxQueue`, `Inbox`) live on the floor below every user of
them, `aio_tim.seams`; they are re-exported here, where the coordinator hands them out. The
in-process implementations are the pipeline's token buckets and the local store's outbox and
inbox; the Redis ones are `RedisCoordinator`'s. `Client(coordinator=...)` chooses, in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from ..errors import ERR_TRANSPORT, TransientError
from ..protocol import Envelope, Request
from ..protocol.limits import Limits
from ..seams import Deliver, Inbox, Limiter, MessageStore, OutboxQueue, pace_for
from ..store import LocalStore
from ..types import Message

__all__ = [
    "CoordinationUnavailableError",
    "Coordinator",
    "Deliver",
    "EnqueueUnknownError",
    "Limiter",
    "OutboxQueue",
    "pace_for",
]


class CoordinationUnavailableError(TransientError):
    """The shared coordinator (Redis) could not be reached: nothing was queued there."""

    def __init__(self, desc: str) -> None:
        super().__init__(ERR_TRANSPORT, desc)


class EnqueueUnknownError(CoordinationUnavailableError):
    """Redis did not answer an enqueue in time: the message may be queued, or not. `message` is
    it with its idempotency keys fixed; enqueue it again and the retry finds the first append
    instead of queuing a second copy:

        except EnqueueUnknownError as error:
            queued = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, error.message)
    """

    def __init__(self, desc: str, message: Message) -> None:
        super().__init__(desc)
        self.message = message

    def __reduce__(self) -> tuple[type[EnqueueUnknownError], tuple[str, Message]]:  # type: ignore[override]
        return type(self), (self.desc, self.message)


class Coordinator(Protocol):
    """What many workers of one app share: built once, handed to each `Client(coordinator=...)`."""

    def limiter(self, sdk_app_id: int, limits: Limits | None, margin: float) -> Limiter:
        """The limiter for the app's calls."""
        ...

    def outbox(
        self,
        sdk_app_id: int,
        store: MessageStore,
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
