"""The one place where a sqlite failure becomes a `TIMError` (STYLE: foreign exceptions mapped once).

sqlite3.OperationalError  disk full, I/O error, locked, read-only, cannot open  → 6022
sqlite3.DatabaseError     (exactly) corrupt file, not a database               → 6022
OverflowError             a locator value past SQLite's signed 64 bits          → TIM_ERR_PARAM
anything else             IntegrityError, ProgrammingError...: a bug in aio_tim → unchanged
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from ..errors import TIM_ERR_PARAM, TIMError, UsageError, error_for

__all__ = ["ERR_IO", "storage_error", "storage_errors"]

ERR_IO: Final = 6022  # the C SDK's "I/O operation failed"


def storage_error(exc: BaseException) -> TIMError | None:
    """The `TIMError` for a failure raised inside the store, or None to let it propagate as is."""
    if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
        return error_for(ERR_IO, f"local store: {exc}")
    if isinstance(exc, OverflowError):
        # sqlite3 binds ints as signed 64-bit; the C SDK's uint64 fields never get that large in practice.
        return UsageError(TIM_ERR_PARAM, f"local store: value out of range: {exc}")
    return None


@contextmanager
def storage_errors() -> Iterator[None]:
    """Re-raise sqlite's I/O failures as `TIMError`, keeping the original as `__cause__`."""
    try:
        yield
    except (sqlite3.DatabaseError, OverflowError) as exc:
        mapped = storage_error(exc)
        if mapped is None:
            raise
        raise mapped from exc
