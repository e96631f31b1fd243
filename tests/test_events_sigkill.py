"""The inbox across SIGKILLs: webhooks keep arriving (and being retried, as TIM's sender would)
while the receiving, consuming process is killed at random points and restarted.

Every webhook answered OK must be consumed at least once; an event may be consumed twice only when
it was handed to the consumer but not yet acknowledged when the process died. 10,000 deliveries
and 5 kills by default (about 20 s here); `AIO_TIM_INBOX_DELIVERIES` / `AIO_TIM_INBOX_KILLS` change
them, and `benchmarks/bench_webhook.py --sigkill-rounds N` runs longer trials.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

from aio_tim.protocol import callbacks as cb

DELIVERIES = int(os.environ.get("AIO_TIM_INBOX_DELIVERIES", "10000"))
KILLS = int(os.environ.get("AIO_TIM_INBOX_KILLS", "5"))
CHILD = Path(__file__).with_name("inbox_child.py")
TOKEN = "trial-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body(n: int) -> bytes:
    t = 1_700_000_000 + n // 1000
    return (
        f'{{"CallbackCommand":"{cb.C2C_AFTER_SEND_MSG}","From_Account":"alice","To_Account":"bob",'
        f'"MsgSeq":{n},"MsgRandom":{n},"MsgTime":{t},"MsgKey":"{n}_{n}_{t}",'
        f'"MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"m{n}"}}}}]}}'
    ).encode()


def event_id(n: int) -> str:
    t = 1_700_000_000 + n // 1000
    return f"{cb.C2C_AFTER_SEND_MSG}|alice|bob|{n}_{n}_{t}"


class Child:
    """The receiving process, restartable."""

    def __init__(self, store: Path, port: int, log: Path) -> None:
        self.store, self.port, self.log = store, port, log
        self.run = 0
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.run += 1
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), str(self.store), str(self.port), str(self.log), str(self.run),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        assert line.strip() == b"ready", line

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


async def deliver(session: aiohttp.ClientSession, url: str, n: int) -> int:
    """POST webhook n until it is answered OK (TIM's side); return how many attempts it took."""
    attempts = 0
    while True:
        attempts += 1
        now = str(int(time.time()))
        query = {"SdkAppid": "1400000000", "CallbackCommand": cb.C2C_AFTER_SEND_MSG, "contenttype": "json",
                 "ClientIP": "127.0.0.1", "OptPlatform": "RESTAPI", "RequestTime": now,
                 "Sign": cb.sign(TOKEN, now)}  # fmt: skip
        try:
            async with session.post(url, params=query, data=body(n)) as response:
                if response.status == 200:
                    return attempts
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass
        await asyncio.sleep(0.05)


async def run_trial(tmp_path: Path, deliveries: int, kills: int, seed: int = 14) -> dict[str, int]:
    rng = random.Random(seed)
    port = free_port()
    child = Child(tmp_path / "inbox.db", port, tmp_path / "consumed.log")
    url = f"http://127.0.0.1:{port}/tim/callback"
    await child.start()
    kill_at = sorted(rng.sample(range(1, deliveries), kills))
    answered = 0
    retries = 0
    lines_at_kill: list[int] = []
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        queue = list(range(deliveries))

        async def sender() -> None:
            nonlocal answered, retries
            while queue:
                n = queue.pop()
                retries += await deliver(session, url, n) - 1
                answered += 1

        senders = [asyncio.create_task(sender()) for _ in range(16)]
        for mark in kill_at:
            while answered < mark:  # noqa: ASYNC110 (a count, not a state change to signal)
                await asyncio.sleep(0.005)
            await asyncio.sleep(rng.random() * 0.05)
            await child.kill()
            lines_at_kill.append(_line_count(child.log))
            await child.start()
        await asyncio.gather(*senders)
    deadline = time.monotonic() + 60
    while len(_consumed(child.log)) < deliveries and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # the log is another process's: poll it
    await child.kill()
    return _verdict(child.log, deliveries, kills, retries)


def _line_count(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _consumed(log: Path) -> set[str]:
    return {line.split(" ", 1)[1] for line in log.read_text().splitlines()} if log.exists() else set()


def _verdict(log: Path, deliveries: int, kills: int, retries: int) -> dict[str, int]:
    """Check the consumption log; return the counts the test prints."""
    lines = [line.split(" ", 1) for line in log.read_text().splitlines()]
    ids = [i for _, i in lines]
    counts = Counter(ids)
    expected = {event_id(n) for n in range(deliveries)}
    lost = expected - set(counts)
    assert not lost, f"{len(lost)} events answered OK were never consumed, e.g. {sorted(lost)[:3]}"
    assert set(counts) == expected, "an event nobody sent was consumed"
    # The last event each killed run was handed may come again, first thing in the next run.
    last_of_run = {run: i for run, i in lines}
    first_of_run: dict[str, str] = {}
    for run, i in lines:
        first_of_run.setdefault(run, i)
    allowed = {last_of_run[str(r)] for r in range(1, kills + 1) if str(r) in last_of_run}
    duplicates = {i: c for i, c in counts.items() if c > 1}
    for i, c in duplicates.items():
        assert c == 2 and i in allowed, f"{i} consumed {c} times; not the unacknowledged event of a kill"
        assert i in first_of_run.values()
    return {
        "delivered": deliveries,
        "consumed": len(ids),
        "distinct": len(counts),
        "lost": len(lost),
        "duplicates": len(duplicates),
        "kills": kills,
        "retried_posts": retries,
    }


async def test_sigkilled_consumer_loses_nothing_and_duplicates_only_unacknowledged_events(
    tmp_path: Path,
) -> None:
    """Deliveries with the receiving consumer SIGKILLed at random points: all consumed, none lost,
    duplicates only for the event in hand at each kill (at most one per kill)."""
    started = time.monotonic()
    result = await run_trial(tmp_path, DELIVERIES, KILLS)
    print(f"\ninbox SIGKILL trial ({time.monotonic() - started:.1f}s):", result)
    assert result["lost"] == 0 and result["distinct"] == DELIVERIES
    assert result["duplicates"] <= KILLS
