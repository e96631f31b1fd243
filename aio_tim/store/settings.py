"""How a store's connection is set up: the options that choose its PRAGMAs, checked, and the
PRAGMAs themselves (run once when `LocalStore.open` connects)."""

from __future__ import annotations

from typing import Final

import aiosqlite

from ..errors import TIM_ERR_PARAM, UsageError

__all__ = ["BUSY_TIMEOUT_MS", "NO_FSYNC", "check_commit_delay", "check_synchronous", "configure"]

SYNCHRONOUS_MODES: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
NO_FSYNC: Final = frozenset({"OFF", "NORMAL"})  # with WAL, a commit then only writes to the OS cache
BUSY_TIMEOUT_MS: Final = 5000


async def configure(db: aiosqlite.Connection, synchronous: str) -> None:
    """Set the connection's PRAGMAs: WAL, `synchronous`, and the busy timeout."""
    # PRAGMA values cannot be bound; these come from our constants and a validated whitelist.
    await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
    await db.execute("PRAGMA journal_mode = WAL")  # a no-op for :memory:
    await db.execute(f"PRAGMA synchronous = {synchronous}")
    if synchronous in NO_FSYNC:
        # Checkpoints (the fsyncs) run on the thread every CHECKPOINT_EVERY commits, never
        # inside a commit made on the loop thread (writer.py).
        await db.execute("PRAGMA wal_autocheckpoint = 0")


def check_commit_delay(seconds: float) -> float:
    if not isinstance(seconds, int | float) or not 0 <= seconds <= 1:
        raise UsageError(TIM_ERR_PARAM, f"commit_delay must be from 0 to 1 (seconds), not {seconds!r}")
    return float(seconds)


def check_synchronous(value: str) -> str:
    mode = value.upper()
    if mode not in SYNCHRONOUS_MODES:
        raise UsageError(
            TIM_ERR_PARAM, f"synchronous must be one of {sorted(SYNCHRONOUS_MODES)}, not {value!r}"
        )
    return mode
