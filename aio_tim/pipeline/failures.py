"""What a failed attempt means (`classify`), and the pipeline's own errors.

NOT_SENT   the request never left (connect refused, DNS, connect timeout): retry freely
THROTTLED  a frequency-limit code or HTTP 429/503: the server did nothing; wait and retry
AMBIGUOUS  the server may have acted (reset after writing, timeout, garbled reply, 5xx):
           retry with the same idempotency keys, under `max_attempts` and the shared budget
FATAL      anything else (auth, parameters, content, permission, unknown codes): raise
"""

from __future__ import annotations

import enum
from typing import Final

from ..errors import RateLimitedError, TIMError, TransportError

__all__ = ["ERR_CLOSED", "ERR_QUEUE_FULL", "Failure", "PipelineClosedError", "PipelineFullError", "classify"]

ERR_QUEUE_FULL: Final = 9507  # ERR_SDK_NET_REQ_COUNT_LIMIT: too many requests outstanding
ERR_CLOSED: Final = 6013  # ERR_SDK_NOT_INITIALIZED: the client is closing or closed


class PipelineFullError(TIMError):
    """`submit(block=False)` found the queue at `max_queued`: nothing was queued or sent."""


class PipelineClosedError(TIMError, RuntimeError):
    """The pipeline is closing or closed: the operation was not (or not fully) carried out."""


def closed_error() -> PipelineClosedError:
    return PipelineClosedError(ERR_CLOSED, "the pipeline closed before this operation was sent")


class Failure(enum.Enum):
    NOT_SENT = "not sent"
    THROTTLED = "throttled"
    AMBIGUOUS = "ambiguous"
    FATAL = "fatal"


def classify(error: TIMError) -> Failure:
    """What a failed attempt tells about the server's state, and so what may follow it."""
    # TransportError is a TransientError: test "never sent" before the retryable kinds.
    if isinstance(error, TransportError) and not error.sent:
        return Failure.NOT_SENT
    if isinstance(error, RateLimitedError):
        return Failure.THROTTLED
    if error.retryable:
        return Failure.AMBIGUOUS
    return Failure.FATAL
