"""The MsgSeq blocks reserved for the conversations used lately, a bounded number of them.

`LocalStore.next_seq` hands out seqs from a block reserved on disk (`jobs.reserve_seqs`). Keeping a
block for every conversation ever used would grow without end (a broadcaster touches 100,000), so
the least recently used ones are forgotten: that costs at most one block of unused seqs, since the
counter on disk goes on from the end of the forgotten block.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from ..types import Conv

__all__ = ["SEQ_BLOCKS_KEPT", "SeqBlocks"]

SEQ_BLOCKS_KEPT: Final = 4096

_EMPTY: Final = (0, 0)


class SeqBlocks:
    """conversation -> (next seq, end of its reserved block), for at most `capacity` conversations."""

    def __init__(self, capacity: int = SEQ_BLOCKS_KEPT) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._blocks: OrderedDict[Conv, tuple[int, int]] = OrderedDict()
        self._capacity = capacity

    def get(self, conv: Conv) -> tuple[int, int]:
        """The conversation's block, or an empty one (0, 0) when none is kept."""
        return self._blocks.get(conv, _EMPTY)

    def put(self, conv: Conv, block: tuple[int, int]) -> None:
        """Keep `block` as the conversation's, forgetting the least recently used beyond capacity."""
        self._blocks[conv] = block
        self._blocks.move_to_end(conv)
        if len(self._blocks) > self._capacity:
            self._blocks.popitem(last=False)

    def __contains__(self, conv: object) -> bool:
        return conv in self._blocks

    def __len__(self) -> int:
        return len(self._blocks)
