"""Four worker processes, one PostgreSQL: every worker sees the same history, counts and read marks,
whichever worker sent a message or received its webhook."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from aio_tim import ConvType
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

CHILD = Path(__file__).with_name("pg_worker_child.py")
WORKERS = 4
SENDS = 100  # per worker
RECEIVED = 5  # messages each peer sends alice while each worker in turn receives the webhooks
TOKEN = "pg-workers-webhook-token"


def start(command: list[str], environment: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """A worker process and the URL it receives webhooks at."""
    pipe = subprocess.PIPE
    child = subprocess.Popen(command, stdin=pipe, stdout=pipe, text=True, env=environment)
    assert child.stdout is not None
    ready = json.loads(child.stdout.readline())
    return child, str(ready["webhooks"])


async def peers_send_to_alice(server: DevServer, round_: int) -> None:
    """Each peer sends alice RECEIVED messages through the dev server (TIM fires their webhooks)."""
    for n in range(4):
        async with client_for(server, f"peer{n}") as peer:
            for i in range(RECEIVED):
                await peer.msg.send_text("alice", ConvType.C2C, f"peer{n} to alice, round {round_}, {i}")


def ask(child: subprocess.Popen[str], command: str) -> Any:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(command + "\n")
    child.stdin.flush()
    return json.loads(child.stdout.readline())


async def test_four_workers_agree_on_history_counts_and_read_marks(
    tmp_path: Path, pg_url: str, pg_schema: str
) -> None:
    """What any of 4 worker processes sent, saved or received (its webhook delivered to that worker)
    appears once, in locator order, in get_msg_list on every worker; counts, unread counts and a read
    mark set on one worker agree on all."""
    async with DevServer(db_path=tmp_path / "server.db", limits=None) as server:
        environment = os.environ | {"AIO_TIM_SECRET_KEY": server.secret_key, "AIO_TIM_WEBHOOK_TOKEN": TOKEN}
        command = [sys.executable, str(CHILD), pg_url, pg_schema, server.url, str(server.sdk_app_id)]
        # The dev server runs on this loop: the children are started and talked to from threads.
        started = [await asyncio.to_thread(start, [*command, f"w{n}"], environment) for n in range(WORKERS)]
        children = [child for child, _ in started]
        try:
            sent = await asyncio.gather(
                *(asyncio.to_thread(ask, child, f"send {SENDS}") for child in children)
            )
            assert sent == [{"sent": SENDS}] * WORKERS
            for round_, (_, webhooks) in enumerate(started):  # each worker receives a round
                server.set_webhook(webhooks, token=TOKEN)
                await peers_send_to_alice(server, round_)
                await server.webhooks_idle()
            assert server.webhook_statistics()["failed"] == 0
            views = [await asyncio.to_thread(ask, child, "dump") for child in children]
            await asyncio.to_thread(ask, children[1], "read peer2")
            after = [await asyncio.to_thread(ask, child, "dump") for child in children]
        finally:
            for child in children:
                await asyncio.to_thread(child.communicate, "quit\n", 60)
    first = views[0]
    per_peer = {peer: (len(v["rands"]), v["count"], v["unread"]) for peer, v in first.items()}
    print(f"\n{WORKERS} workers, one PostgreSQL: per peer (messages, count, unread) = {per_peer}")
    for view in views[1:]:
        assert view == first
    for seen in first.values():
        assert len(seen["rands"]) == len(set(seen["rands"])) == seen["count"]
        received = WORKERS * RECEIVED  # a round per worker
        assert seen["count"] == WORKERS * (SENDS // 4) * 2 + received  # sends, saved, received
        assert seen["keys"] == sorted(seen["keys"], reverse=True)  # newest first, no gaps, no repeats
        assert seen["unread"] == WORKERS * (SENDS // 4) + received
    assert all(view["peer2"]["unread"] == 0 for view in after)
    assert all(view["peer1"]["unread"] == first["peer1"]["unread"] for view in after)
