"""Soak: minutes of mixed traffic with random cancellation, client kills and hostile requests, then
the dev server must answer within its normal latency and every acknowledged message must be on
it exactly once.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/soak.py                 # 5 minutes (the issue's soak)
    .venv/bin/python benchmarks/soak.py --minutes 0.25  # a 15-second smoke run (tests/test_soak.py)

One dev server (a file database, duplicates recognised for an hour) behind a FaultProxy that
resets, delays and cuts a few exchanges, and, running side by side until the time is up:

    senders      clients sending C2C messages; a fifth of the sends are cancelled at a random
                 moment (an acknowledged send is one that returned)
    outbox kills child processes enqueueing into a durable outbox (acknowledged = committed),
                 SIGKILLed at a random moment and restarted on the same store
    hostile      garbage UserSigs naming the admin, Range numbers of thousands of digits, bodies
                 declared as XML, idle and half-sent connections, batch sends of hundreds of new
                 recipients cancelled in flight

Then the stores are drained and the verdict is printed: sends acknowledged, on the server,
lost (acknowledged but absent), duplicated (any message stored twice), and the latency of 50
sends before and after. The exit status is 1 if anything was lost or duplicated or the server
answers slower than max(3 x before, before + 50 ms) at the median.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from aio_tim import Client, ConvType, Message, TextElem, TIMError
from aio_tim.auth import mint_usersig
from aio_tim.devserver import DevServer
from aio_tim.pipeline import RetryPolicy
from aio_tim.testing.faultproxy import FaultPlan, FaultProxy

Key = tuple[str, str, int]  # (From_Account, To_Account, MsgRandom)
FAULTS = FaultPlan(reset_before=0.005, reset_after=0.005, delay=0.02, delay_seconds=0.05, cut=0.005)
PEERS = [f"peer{n}" for n in range(8)]
PATIENT = RetryPolicy(deadline=60.0)


@dataclass
class Tally:
    acked: set[Key] = field(default_factory=set)
    cancelled: int = 0
    failed: Counter[int] = field(default_factory=Counter)
    kills: int = 0
    faults: str = ""
    hostile: Counter[str] = field(default_factory=Counter)


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


def client(server: DevServer, url: str, user: str, **options: object) -> Client:
    return Client(
        sdk_app_id=server.sdk_app_id, user_id=user, secret_key=server.secret_key, admin=server.admin,
        base_url=url, limits=None, retry=PATIENT, **({"store_path": ":memory:"} | options),
    )  # fmt: skip


# --- traffic -------------------------------------------------------------------------------------


async def sender(
    server: DevServer, url: str, user: str, until: float, tally: Tally, rng: random.Random
) -> None:
    """Sends to random peers, cancelling a fifth of them at a random moment."""
    async with client(server, url, user) as tim:
        while time.monotonic() < until:
            peer = rng.choice(PEERS)
            sending = asyncio.ensure_future(tim.msg.send_new_msg(peer, ConvType.C2C, text("soak")))
            if rng.random() < 0.2:
                await asyncio.sleep(rng.uniform(0, 0.02))
                sending.cancel()
            try:
                sent = await sending
            except asyncio.CancelledError:
                tally.cancelled += 1
                continue
            except TIMError as error:
                tally.failed[error.code] += 1
                continue
            tally.acked.add((user, peer, sent.rand or 0))


async def outbox_lane(server: DevServer, url: str, lane: int, workdir: Path, until: float, tally: Tally,
                      rng: random.Random) -> None:  # fmt: skip
    """A child process enqueueing into the outbox on one store, SIGKILLed and restarted."""
    store, user = workdir / f"outbox{lane}.db", f"kill{lane}"
    args = [url, str(server.sdk_app_id), server.secret_key, server.admin, str(store), user]
    while time.monotonic() < until:
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", *args, stdout=asyncio.subprocess.PIPE
        )
        assert child.stdout is not None
        kill_at = time.monotonic() + rng.uniform(0.3, 1.5)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, min(kill_at, until) - time.monotonic())):
                while line := await child.stdout.readline():
                    peer, rand = line.split()
                    tally.acked.add((user, peer.decode(), int(rand)))
        child.send_signal(signal.SIGKILL)
        for line in (await child.stdout.read()).splitlines():  # committed before the kill
            peer, rand = line.split()
            tally.acked.add((user, peer.decode(), int(rand)))
        await child.wait()
        tally.kills += 1


async def child_main(url: str, app_id: str, key: str, admin: str, store: str, user: str) -> None:
    """The outbox child: enqueue until killed, printing `peer rand` per committed message."""
    tim = Client(sdk_app_id=int(app_id), user_id=user, secret_key=key, admin=admin, base_url=url,
                 store_path=store, outbox=True, limits=None, retry=PATIENT)  # fmt: skip
    await tim.open()
    rng = random.Random()
    while True:
        peer = rng.choice(PEERS)
        queued = await tim.msg.enqueue_new_msg(peer, ConvType.C2C, text("outbox soak"))
        sys.stdout.write(f"{peer} {queued.rand}\n")
        sys.stdout.flush()
        await asyncio.sleep(rng.uniform(0, 0.01))


# --- hostile requests ------------------------------------------------------------------------------


def admin_query(server: DevServer, usersig: str) -> dict[str, str]:
    return {"sdkappid": str(server.sdk_app_id), "identifier": server.admin, "usersig": usersig,
            "random": "1", "contenttype": "json"}  # fmt: skip


async def hostile(server: DevServer, until: float, tally: Tally, rng: random.Random) -> None:
    """Attack the server directly (not through the proxy) in rounds until the time is up."""
    stored = await server.files.put(b"x" * 4096)
    good = admin_query(server, mint_usersig(server.sdk_app_id, server.secret_key, server.admin))
    rest = f"{server.url}/v4/openim"
    connector = aiohttp.TCPConnector(limit=0, local_addr=("127.0.0.2", 0))
    idle: list[asyncio.StreamWriter] = []
    async with aiohttp.ClientSession(connector=connector) as http:
        while time.monotonic() < until:
            for _ in range(12):
                async with http.post(f"{rest}/sendmsg", params=admin_query(server, "garbage"), json={}) as r:
                    tally.hostile[f"garbage usersig -> {(await r.json())['ErrorCode']}"] += 1
            async with http.get(stored.url, headers={"Range": f"bytes={'9' * 5000}-"}) as r:
                tally.hostile[f"range of 5000 digits -> HTTP {r.status}"] += 1
            xml = {"Content-Type": "application/xml"}
            async with http.post(f"{rest}/sendmsg", params=good, data=b"<x/>", headers=xml) as r:
                tally.hostile[f"xml body -> {(await r.json())['ErrorCode']}"] += 1
            await _idle_sockets(server, idle, tally)
            await _cancelled_batches(http, rest, good, tally, rng)
            await asyncio.sleep(0.2)
    for writer in idle:
        writer.close()


async def _idle_sockets(server: DevServer, idle: list[asyncio.StreamWriter], tally: Tally) -> None:
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /v4/openim/sendmsg HTTP/1.1\r\nHost: x\r\n")  # never finished
        idle.append(writer)
        tally.hostile["idle or half-sent connection"] += 1
    while len(idle) > 200:  # the server closes them after its keep-alive timeout anyway
        idle.pop(0).close()


async def _cancelled_batches(
    http: aiohttp.ClientSession, rest: str, query: dict[str, str], tally: Tally, rng: random.Random
) -> None:
    async def batch(index: int) -> None:
        body = {"SyncOtherMachine": 2, "From_Account": "flood", "MsgRandom": rng.randrange(1, 2**32),
                "To_Account": [f"f{index}_{n}" for n in range(300)],
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "flood"}}]}  # fmt: skip
        async with http.post(f"{rest}/batchsendmsg", params=query, data=json.dumps(body),
                             headers={"Content-Type": "application/json"}) as r:  # fmt: skip
            await r.read()

    tasks = [asyncio.ensure_future(batch(rng.randrange(10**9))) for _ in range(30)]
    await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    tally.hostile["batch send of 300 cancelled in flight"] += len(tasks)


# --- the verdict -------------------------------------------------------------------------------


async def latency(server: DevServer, user: str, sends: int = 50) -> tuple[float, float]:
    """(median, p95) seconds of `sends` sequential sends straight to the server."""
    times = []
    async with client(server, server.url, user) as tim:
        for _ in range(5):  # warm up: connection, account, code paths
            await tim.msg.send_new_msg("peer0", ConvType.C2C, text("warm-up"))
        for _ in range(sends):
            started = time.perf_counter()
            await tim.msg.send_new_msg("peer0", ConvType.C2C, text("probe"))
            times.append(time.perf_counter() - started)
    return statistics.median(times), statistics.quantiles(times, n=20)[-1]


def server_copies(db_path: Path) -> Counter[Key]:
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        rows = db.execute("SELECT from_account, to_account, msg_random FROM c2c_msgs WHERE kind = 'send'")
        return Counter((str(f), str(t), int(r)) for f, t, r in rows)


@dataclass
class Verdict:
    seconds: float
    acked: int
    lost: int
    duplicated: int
    before: tuple[float, float]
    after: tuple[float, float]
    tally: Tally

    @property
    def ok(self) -> bool:
        median_before, median_after = self.before[0], self.after[0]
        return (
            not self.lost
            and not self.duplicated
            and median_after <= max(3 * median_before, median_before + 0.05)
        )

    def report(self) -> str:
        t = self.tally
        lines = [
            f"soak of {self.seconds:.0f} s: {self.acked} sends acknowledged, {t.cancelled} cancelled, "
            f"failed {dict(t.failed)}, {t.kills} outbox children SIGKILLed",
            f"  lost {self.lost}, duplicated {self.duplicated}",
            f"  latency of a send, median / p95: before {_ms(self.before)}, after {_ms(self.after)} "
            f"(ratio {self.after[0] / self.before[0]:.2f})",
            f"  injected by the proxy: {t.faults}",
            "  hostile: " + ", ".join(f"{name} x{n}" for name, n in sorted(t.hostile.items())),
            "  verdict: " + ("OK" if self.ok else "FAILED"),
        ]
        return "\n".join(lines)


def _ms(pair: tuple[float, float]) -> str:
    return f"{pair[0] * 1000:.1f} / {pair[1] * 1000:.1f} ms"


async def soak(seconds: float, workdir: Path, seed: int | None = None) -> Verdict:
    rng, tally = random.Random(seed), Tally()
    db = workdir / "server.db"
    async with DevServer(db_path=db, c2c_dedup_window=3600, limits=None) as server:
        before = await latency(server, "probe_before")
        async with FaultProxy(
            "127.0.0.1", server.port, plan=FAULTS, rng=random.Random(rng.random())
        ) as proxy:
            until = time.monotonic() + seconds
            work = [
                sender(server, proxy.url, f"send{n}", until, tally, random.Random(rng.random()))
                for n in range(4)
            ]
            work += [outbox_lane(server, proxy.url, n, workdir, until, tally, rng) for n in range(2)]
            work.append(hostile(server, until, tally, rng))
            await asyncio.gather(*work)
            tally.faults = str(proxy.counters)
        for lane in range(2):  # drain what the killed children left, straight to the server
            async with client(server, server.url, f"kill{lane}", store_path=workdir / f"outbox{lane}.db",
                              outbox=True) as tim:  # fmt: skip
                assert tim._outbox is not None
                await asyncio.wait_for(tim._outbox.wait_idle(), 120)
        after = await latency(server, "probe_after")
    copies = server_copies(db)
    lost = sum(1 for key in tally.acked if copies[key] == 0)
    duplicated = sum(n - 1 for n in copies.values() if n > 1)
    return Verdict(seconds, len(tally.acked), lost, duplicated, before, after, tally)


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        asyncio.run(child_main(*sys.argv[2:8]))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="how long the traffic runs (default 5)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the databases here (default: a temp dir)"
    )
    args = parser.parse_args()
    if not 0 < args.minutes <= 60:
        parser.error("--minutes must be more than 0 and at most 60")
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="aio_tim-soak-"))
        )
        workdir.mkdir(parents=True, exist_ok=True)
        verdict = asyncio.run(soak(args.minutes * 60, workdir, args.seed))
    print(verdict.report())
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
