"""The one place where an asyncpg failure becomes a `TIMError` (STYLE: foreign exceptions mapped once).

connection refused, reset, closed mid-query; the server shutting down   → 6022 (a StorageError)
any other PostgreSQL error (a bug, a constraint, a full disk)            → 6022
a value PostgreSQL cannot hold (past 64 bits, a NUL in a text column)   → TIM_ERR_PARAM
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import asyncpg

from ..errors import TIM_ERR_CONV, TIM_ERR_PARAM, TIMError, UsageError, error_for
from ..store.rows import Conv, check_conv

__all__ = ["ERR_IO", "PG_FAILURES", "check_ids", "pg_conv", "pg_error", "pg_errors"]

ERR_IO: Final = 6022  # the C SDK's "I/O operation failed"
_BAD_VALUES: Final = (
    OverflowError,
    asyncpg.DataError,
    asyncpg.UntranslatableCharacterError,
    asyncpg.CharacterNotInRepertoireError,
)


PG_FAILURES: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, OverflowError)


def pg_error(exc: BaseException) -> TIMError | None:
    """The `TIMError` for a failure raised inside the store, or None to let it propagate as is."""
    if isinstance(exc, _BAD_VALUES):
        return UsageError(TIM_ERR_PARAM, f"postgresql store: value out of range: {exc}")
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError):
        return error_for(ERR_IO, f"postgresql store: {type(exc).__name__}: {exc}")
    return None


@contextmanager
def pg_errors() -> Iterator[None]:
    """Re-raise asyncpg's failures as `TIMError`, keeping the original as `__cause__`."""
    try:
        yield
    except PG_FAILURES as exc:
        mapped = pg_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def pg_conv(conv: Conv) -> Conv:
    """`check_conv`, and an id PostgreSQL's text can hold: no NUL (TIM's identifiers never hold one)."""
    conv = check_conv(conv)
    if "\x00" in conv[1]:  # check_ids for one id, inlined: every statement's path
        check_ids([conv[1]])
    return conv


def check_ids(conv_ids: list[str] | tuple[str, ...]) -> None:
    if any("\x00" in conv_id for conv_id in conv_ids if isinstance(conv_id, str)):
        raise UsageError(TIM_ERR_CONV, "a conversation id holds a NUL, which PostgreSQL text cannot store")
