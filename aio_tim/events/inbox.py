"""The inbox seam's old address: it lives in `aio_tim.seams.inbox`, below the store and the receiver.

Kept so `from aio_tim.events.inbox import Inbox` (0.1's documented path) keeps working; it re-exports
whatever the seam exports, so a new effect there is here too.
"""

from ..seams import inbox as _seam
from ..seams.inbox import *  # noqa: F403

__all__ = _seam.__all__
