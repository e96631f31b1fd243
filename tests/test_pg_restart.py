"""PostgreSQL restarted under a working client: what was acknowledged is delivered, once; what was
refused while it was down was never acknowledged; the store and the drainer reconnect by themselves."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from pg_support import PrivatePostgres
from test_pg_outbox import server_sends, text, wait_drained

from aio_tim import ConvType, Message, TIMError
from aio_tim.devserver import DevServer
from aio_tim.pgstore import PgStore
from aio_tim.testing import client_for


async def test_a_postgres_restart_loses_nothing_acknowledged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL killed (immediate stop) and restarted mid-run: every acknowledged enqueue is sent
    exactly once, enqueues refused meanwhile raise a TIMError, and the worker resumes unaided."""
    caplog.set_level(logging.CRITICAL, logger="aio_tim")  # the drainer logs each failed attempt
    with PrivatePostgres() as postgres:
        server = DevServer(db_path=tmp_path / "server.db", c2c_dedup_window=600, limits=None)
        store = PgStore(postgres.url, sdk_app_id=server.sdk_app_id, user_id="alice", pool_size=4)
        acknowledged: list[Message] = []
        refused = 0
        async with server, client_for(server, "alice", store=store, limits=None) as tim:

            async def enqueue(i: int) -> None:
                nonlocal refused
                try:
                    acknowledged.append(
                        await tim.msg.enqueue_new_msg(f"p{i % 8}", ConvType.C2C, text(str(i)))
                    )
                except TIMError:
                    refused += 1

            for i in range(150):
                await enqueue(i)
            postgres.kill()
            for i in range(150, 200):  # refused: nothing acknowledged while the database is down
                await enqueue(i)
            await asyncio.to_thread(postgres.start)
            for i in range(200, 300):
                await enqueue(i)
            counts = await wait_drained(tim, len(acknowledged))
    sends = server_sends(tmp_path / "server.db")
    print(
        f"\npostgres restart: acknowledged={len(acknowledged)} refused={refused} outbox={counts} "
        f"server copies={sum(sends.values())} distinct={len(sends)} max per message={max(sends.values())}"
    )
    assert refused >= 50
    assert set(sends) == {("alice", q.conv_id, q.rand) for q in acknowledged}
    assert max(sends.values()) == 1


async def test_a_postgres_restart_keeps_every_acknowledged_webhook() -> None:
    """The PostgreSQL inbox across a restart: entries appended before stay, appends while it is
    down raise a TIMError (the receiver then refuses TIM's request, which redelivers), and the
    inbox appends and reads again afterwards without being reopened."""
    from aio_tim.seams.inbox import NewEntry

    def entry(i: int) -> NewEntry:
        return NewEntry(key=f"k{i}", command="C2C.CallbackAfterSendMsg", body=b"{}", received=1.0)

    with PrivatePostgres() as postgres:
        async with PgStore(postgres.url, sdk_app_id=1400000000, user_id="bob", pool_size=4) as store:
            inbox = store.inbox()
            before = await inbox.append([entry(i) for i in range(100)])
            postgres.kill()
            refused = 0
            for i in range(100, 110):
                try:
                    await inbox.append([entry(i)])
                except TIMError:
                    refused += 1
            postgres.start()
            after: list[object] = []
            for _ in range(50):  # the pool reconnects on its own; the first tries may still fail
                try:
                    after = await inbox.append([entry(i) for i in range(100, 110)])
                    break
                except TIMError:
                    await asyncio.sleep(0.1)
            read = await inbox.read("x", limit=500)
            print(f"\ninbox across a postgres restart: acknowledged {len(before)}, refused while down "
                  f"{refused}, appended after {len(after)}, read back {len(read)}")  # fmt: skip
            assert (refused, len(after), [e.key for e in read]) == (10, 10, [f"k{i}" for i in range(110)])
            await inbox.aclose()
