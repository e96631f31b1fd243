"""Dead letters: a stream entry no worker can decode is moved aside, once, instead of stalling
the entries behind it.

    dead = DeadLetters(redis, "redis inbox")
    if await dead.bury("aio_tim:inbox:1:{1:0}:s", entry_id, "no field 'k'", group="default"):
        ...  # this worker moved it (and logged it); another worker finds it gone

The entry goes, with its stream, id, the reason and its fields (as `f:<name>`), to the dead-letter
stream beside its stream (`...:s` -> `...:dead`, the same hash tag: one script, on a cluster too;
capped near `DEAD_LETTERS_KEPT` entries), and leaves its own stream: every worker and consumer
group skips it from then on, and only the worker that moved it logs it.
"""

from __future__ import annotations

import logging
from typing import Final

from .redis_scripts import BURY_SCRIPT
from .redis_shards import AnyRedis

__all__ = ["DEAD_LETTERS_KEPT", "DeadLetters", "dead_key", "reason_of"]

log = logging.getLogger("aio_tim.coordination")

DEAD_LETTERS_KEPT: Final = 10_000


def dead_key(stream: str) -> str:
    """The dead-letter stream of a stream `<base>:s`: `<base>:dead`."""
    return stream.removesuffix(":s") + ":dead"


class DeadLetters:
    """Dead letters beside each stream; `buried` counts the entries this worker moved (and
    `count_in`, a field of the hash `<base>:<name>` beside the stream, counts them app-wide)."""

    def __init__(self, redis: AnyRedis, what: str, *, count_in: tuple[str, str] | None = None) -> None:
        self._what = what
        self._count_in = count_in  # (hash's last part, field) counting the entries moved, atomically
        self._bury = redis.register_script(BURY_SCRIPT)
        self.buried = 0

    async def bury(self, stream: str, entry_id: str, reason: str, *, group: str = "") -> bool:
        """Move the entry (acknowledging it in `group` first); True if this call moved it."""
        keys = [stream, dead_key(stream)]
        args: list[str | int] = [entry_id, reason, group, DEAD_LETTERS_KEPT]
        if self._count_in is not None:
            keys.append(f"{stream.removesuffix(':s')}:{self._count_in[0]}")
            args.append(self._count_in[1])
        moved = await self._bury(keys=keys, args=args)
        if not int(moved):
            return False
        self.buried += 1
        log.warning(
            "%s: entry %s of %s cannot be decoded (%s); moved to %s",
            self._what, entry_id, stream, reason, dead_key(stream),
        )  # fmt: skip
        return True

    def __repr__(self) -> str:
        return f"<DeadLetters {self._what!r} buried={self.buried}>"


def reason_of(error: BaseException) -> str:
    """A short reason for the log and the dead letter: the error's type and first line, capped."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:200]
