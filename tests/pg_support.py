"""PostgreSQL for the tests: the shared server at 127.0.0.1:5432, database `test` (or $AIO_TIM_PG_URL).
Not a test module.

Each test gets a schema of its own, dropped (with everything in it) afterwards. Without PostgreSQL
(or asyncpg) the tests that need it fail under CI=true and are skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from redis_support import free_port, on_ci

PG_URL = os.environ.get("AIO_TIM_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def unavailable(reason: str) -> None:
    """Fail under CI, skip (with the reason) elsewhere."""
    if on_ci():
        pytest.fail(f"CI=true needs PostgreSQL: {reason}", pytrace=False)
    pytest.skip(reason)


async def require_pg(url: str) -> None:
    """Return if PostgreSQL at `url` answers; else fail under CI, skip elsewhere."""
    try:
        import asyncpg
    except ImportError:
        unavailable("asyncpg is not installed: pip install 'aio_tim[postgres]'")
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
        unavailable(f"PostgreSQL at {url} is unreachable ({type(error).__name__}: {error})")
    await conn.close()


@pytest_asyncio.fixture
async def pg_url() -> str:
    """The shared PostgreSQL's URL; the test fails under CI=true, and is skipped elsewhere, without it."""
    await require_pg(PG_URL)
    return PG_URL


@asynccontextmanager
async def own_schema(url: str) -> AsyncIterator[str]:
    """A schema name of the caller's own; the schema is dropped with everything in it afterwards."""
    import asyncpg

    await require_pg(url)
    schema = f"aio_tim_test_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest_asyncio.fixture
async def pg_schema(pg_url: str) -> AsyncIterator[str]:
    """A schema name of this test's own; the schema is dropped with everything in it afterwards."""
    async with own_schema(pg_url) as schema:
        yield schema


PG_BIN = Path(os.environ.get("AIO_TIM_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivatePostgres:
    """A PostgreSQL server of the test's own on a free loopback port, which it may kill and restart.

    with PrivatePostgres() as server:
        server.kill(); server.start()
    Run as the `postgres` user when the tests run as root (PostgreSQL refuses root).
    """

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            unavailable(f"no PostgreSQL binaries in {PG_BIN} (set AIO_TIM_PG_BIN) to run a private server")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="aio_tim-pg-"))
        self.data = self.folder / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def __enter__(self) -> PrivatePostgres:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def kill(self) -> None:
        """Stop at once, as a crash would (no checkpoint; recovery replays the WAL at the next start)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
