"""C2C MsgSeq counters: a persistent uint32 counter per conversation, from a random start.

Seqs are reserved on disk in blocks, so a send costs no counter write most of the time; a
restart skips the rest of a block (seqs must increase, not be dense). When a conversation's
block is used up, its callers wait for one reservation (a background job, so a cancelled caller
never strands the others) sized for all of them: 20,000 sends gathered at once over 400
conversations cost 400 reservations committed together, not one per 32 sends in a row, and each
waiter is woken once, with its seq. Conversations never wait for each other.

Blocks are kept for the `SEQ_BLOCKS_KEPT` conversations used last, not for every one ever used (a
broadcaster touches 100,000): forgetting one costs at most its unused seqs, since the counter on
disk goes on from the end of the forgotten block. A block with callers waiting is never forgotten.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Final

from .jobs import SEQ_BLOCK
from .rows import Conv

__all__ = ["SEQ_BLOCKS_KEPT", "Reserve", "SeqCounters"]

SEQ_BLOCKS_KEPT: Final = 4096
FIRST_SEQ_BELOW: Final = 2**24
MAX_BLOCK: Final = 2**16  # seqs reserved at once at most, however many callers wait

Reserve = Callable[[Conv, int | None, Callable[[], int]], Awaitable[tuple[int, int]]]
"""Persist the end of the next block of a conversation's seqs and return it as [start, limit):
(conv, the first seq if the counter is new, how many seqs are wanted, read when the job runs)."""


class _Block:
    """A conversation's reserved seqs [next, limit), and the callers waiting for more."""

    __slots__ = ("limit", "next", "refill", "waiters")

    def __init__(self) -> None:
        self.next = self.limit = 0
        self.waiters: deque[asyncio.Future[int]] = deque()
        self.refill: asyncio.Task[None] | None = None

    def wanted(self) -> int:
        """Seqs to reserve for the callers waiting now, in whole blocks."""
        blocks = -(-len(self.waiters) // SEQ_BLOCK)
        return min(max(blocks, 1) * SEQ_BLOCK, MAX_BLOCK)


class SeqCounters:
    """Hands out each conversation's seqs in call order, reserving blocks through `reserve`; keeps
    the blocks of at most `capacity` conversations (more only while more have callers waiting)."""

    def __init__(self, reserve: Reserve, rng: random.Random, *, capacity: int = SEQ_BLOCKS_KEPT) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._reserve = reserve
        self._rng = rng
        self._capacity = capacity
        self._blocks: OrderedDict[Conv, _Block] = OrderedDict()

    def __contains__(self, conv: object) -> bool:
        return conv in self._blocks

    def __len__(self) -> int:
        return len(self._blocks)

    async def next(self, conv: Conv) -> int:
        block = self._blocks.get(conv)
        if block is None:
            block = self._blocks[conv] = _Block()
            self._forget_old()
        else:
            self._blocks.move_to_end(conv)
        if block.next < block.limit:  # waiters exist only while the block is used up
            seq = block.next
            block.next += 1
            return seq
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        block.waiters.append(waiter)
        if block.refill is None:
            block.refill = asyncio.create_task(self._refill(conv, block), name="aio_tim seq reservation")
        return await waiter

    def _forget_old(self) -> None:
        """Drop the least recently used blocks beyond capacity; one with callers waiting goes to
        the back instead (a few looks at most: the dict may stay over while many wait)."""
        for _ in range(4):
            if len(self._blocks) <= self._capacity:
                return
            conv, oldest = self._blocks.popitem(last=False)
            if oldest.refill is not None:
                self._blocks[conv] = oldest

    async def _refill(self, conv: Conv, block: _Block) -> None:
        """Reserve until every waiter has its seq; on a failure every waiter gets the error."""
        # The random first seq is drawn here (jobs are pure); it is used only if the counter is new.
        first = None if block.limit else self._rng.randrange(1, FIRST_SEQ_BELOW)
        try:
            while block.waiters:
                block.next, block.limit = await self._reserve(conv, first, block.wanted)
                first = None
                _hand_out(block)
        except BaseException as error:
            while block.waiters:
                waiter = block.waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(error)
            if not isinstance(error, Exception):
                raise
        finally:
            block.refill = None


def _hand_out(block: _Block) -> None:
    """Give the waiters their seqs in the order they came; a cancelled waiter takes none."""
    while block.waiters and block.next < block.limit:
        waiter = block.waiters.popleft()
        if not waiter.done():
            waiter.set_result(block.next)
            block.next += 1
