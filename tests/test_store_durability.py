"""Group commit keeps durability: a send returns only after the COMMIT that holds its row, so a
process killed right after sends return loses none of them (SIGKILL trials on a real file store)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

from aio_tim import ConvType, MsgStatus
from aio_tim.devserver import DevServer

CHILD = Path(__file__).with_name("send_child.py")
KILL_TRIALS = int(os.environ.get("AIO_TIM_DURABILITY_TRIALS", "3"))
BOB = (int(ConvType.C2C), "bob")


async def kill_trial(tmp_path: Path, server: DevServer, kill_after: int) -> tuple[int, int]:
    """Run the child until `kill_after` sends have returned, SIGKILL it at once; (returned, missing)."""
    store = tmp_path / "a.db"
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), server.url, str(server.sdk_app_id), server.secret_key,
        server.admin, str(store), "32", "50",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    returned: list[tuple[str, int, int, int]] = []
    try:
        while len(returned) < kill_after:
            line = await asyncio.wait_for(child.stdout.readline(), 30)
            assert line, "the child stopped before it was killed"
            peer, time, seq, rand = line.split()
            returned.append((peer.decode(), int(time), int(seq), int(rand)))
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    with sqlite3.connect(store) as db:
        stored = set(
            db.execute(
                "SELECT conv_id, time, seq, rand FROM messages WHERE status = ?", (MsgStatus.SEND_SUCC,)
            )
        )
    db.close()
    return len(returned), sum(1 for item in returned if item not in stored)


async def test_every_returned_send_survives_sigkill(tmp_path: Path) -> None:
    """SIGKILL right after sends return (32 concurrent senders sharing commits): every message a send
    returned is in the store file, as sent."""
    rng = random.Random(10)
    async with DevServer(limits=None) as server:
        for trial in range(KILL_TRIALS):
            folder = tmp_path / f"trial{trial}"
            folder.mkdir()
            returned, missing = await kill_trial(folder, server, rng.randint(50, 400))
            assert returned >= 50
            assert missing == 0, f"trial {trial}: {missing} of {returned} returned sends are not stored"
