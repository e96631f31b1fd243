"""Numbered migrations: `migrations/NNNN_name.sql`, one file a step, applied in order, never edited.

`migrate` runs the pending ones in one transaction holding an advisory lock on the schema, so many
workers starting at once migrate once: the others wait for the lock, then find nothing to do. A
crash leaves the schema at the old version or the new one, never in between.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Final

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..errors import TIM_ERR_PARAM, UsageError, error_for
from .errors import ERR_IO

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "check_schema", "migrate", "quoted"]

_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,47}")


@cache
def _load() -> tuple[str, ...]:
    folder = resources.files(__package__).joinpath("migrations")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    numbers = [int(name.split("_", 1)[0]) for name in names]
    if numbers != list(range(1, len(names) + 1)):
        raise RuntimeError(f"pgstore migrations must be numbered 1..n without gaps, found {names}")
    return tuple(folder.joinpath(name).read_text(encoding="utf-8") for name in names)


MIGRATIONS: Final = _load()
SCHEMA_VERSION: Final = len(MIGRATIONS)


def check_schema(name: str) -> str:
    """A schema name we can splice into SQL: lower-case letters, digits, `_`; at most 48 characters."""
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):
        raise UsageError(TIM_ERR_PARAM, f"schema must match {_SCHEMA_NAME.pattern}, not {name!r}")
    return name


def quoted(schema: str) -> str:
    return f'"{check_schema(schema)}"'


async def migrate(conn: asyncpg.Connection | PoolConnectionProxy, schema: str) -> int:
    """Bring `schema` to SCHEMA_VERSION (creating it); the version it had. Refuses a newer one."""
    q = quoted(schema)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"aio_tim:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {q}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {q}.schema_migrations "
            "(version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"
        )
        found = int(await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {q}.schema_migrations"))
        if found > SCHEMA_VERSION:
            raise error_for(
                ERR_IO,
                f"postgresql store: schema {schema} is at version {found}, newer than this aio_tim "
                f"supports ({SCHEMA_VERSION}); upgrade aio_tim or use another schema",
            )
        for number, script in enumerate(MIGRATIONS[found:], start=found + 1):
            await conn.execute(script.replace("{schema}", q))  # no parameters: several statements
            await conn.execute(f"INSERT INTO {q}.schema_migrations (version) VALUES ($1)", number)
    return found
