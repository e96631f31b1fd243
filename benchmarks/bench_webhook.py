"""Webhook receiver benchmark: requests per second the receiver absorbs with a durable commit
(verify the signature, decode, commit to the sqlite inbox, answer OK), against a bare aiohttp handler
that only answers OK, measured in the same run.

Each server runs in a child process of its own (one core), the load comes from this process (the
other core) over loopback: 1, 8 and 64 posters (`--posters`: concurrent connections, as TIM's
delivery fleet opens them) POST signed `C2C.CallbackAfterSendMsg` webhooks, each a distinct message.
The two servers are measured in alternating rounds (in alternating order) so that load from other
processes hits both alike; the headline ratio is the median of the per-round ratios, and beside it
each server process's own CPU per webhook (utime + stime from /proc, so the poster's CPU is not in it).

    python benchmarks/bench_webhook.py [--requests 5000] [--posters 1,8,64] [--rounds 3]
    python benchmarks/bench_webhook.py --sigkill-rounds 3 [--deliveries 10000] [--kills 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from aio_tim import Client
from aio_tim.protocol import callbacks as cb

TOKEN = "bench-token"
APP = 1400000000
OK = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'


# --- the two servers (child processes) ------------------------------------------------------------


async def serve_bare(port: int) -> None:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=OK, content_type="application/json")

    app = web.Application()
    app.router.add_post("/tim/callback", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


async def serve_receiver(port: int, store: str) -> None:
    async with Client(
        sdk_app_id=APP, user_id="bob", secret_key="k" * 32, base_url="http://127.0.0.1:9",
        store_path=store, webhook_token=TOKEN,
    ) as tim:  # fmt: skip
        await tim.listen(port=port)
        print("ready", flush=True)
        await asyncio.Event().wait()


# --- the load --------------------------------------------------------------------------------------


def body(n: int) -> bytes:
    t = 1_700_000_000 + n // 1000
    return (
        f'{{"CallbackCommand":"{cb.C2C_AFTER_SEND_MSG}","From_Account":"alice","To_Account":"bob",'
        f'"MsgSeq":{n},"MsgRandom":{n},"MsgTime":{t},"MsgKey":"{n}_{n}_{t}","OnlineOnlyFlag":0,'
        f'"MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"message number {n}"}}}}],'
        f'"CloudCustomData":"","SendMsgResult":0,"ErrorInfo":"send msg succeed","UnreadMsgNum":1}}'
    ).encode()


def query() -> dict[str, str]:
    now = str(int(time.time()))
    return {"SdkAppid": str(APP), "CallbackCommand": cb.C2C_AFTER_SEND_MSG, "contenttype": "json",
            "ClientIP": "127.0.0.1", "OptPlatform": "RESTAPI", "RequestTime": now,
            "Sign": cb.sign(TOKEN, now)}  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """A process's CPU so far (user + system), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, first: int, count: int, concurrency: int) -> float:
    """POST `count` webhooks; the requests per second. Every answer must be 200."""
    bodies = [body(n) for n in range(first, first + count)]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        params = query()
        next_index = 0

        async def worker() -> None:
            nonlocal next_index
            while next_index < count:
                data = bodies[next_index]
                next_index += 1
                async with session.post(url, params=params, data=data) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"answer {response.status}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


class Server:
    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder = kind, folder
        self.cpu_used = 0.0  # seconds of the server process's CPU over the measured loads
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tim/callback"

    async def measured(self, first: int, count: int, concurrency: int) -> float:
        """`load`, adding what it cost this server's process to `cpu_used`."""
        assert self.proc is not None
        before = cpu_seconds(self.proc.pid)
        rate = await load(self.url, first, count, concurrency)
        self.cpu_used += cpu_seconds(self.proc.pid) - before
        return rate

    async def __aenter__(self) -> Server:
        args = ["--serve", self.kind, "--port", str(self.port), "--store", str(self.folder / "inbox.db")]
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, *args, stdout=asyncio.subprocess.PIPE
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        assert line.strip() == b"ready", line
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        await self.proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bench(args: argparse.Namespace) -> None:
    summary = [await bench_posters(args, posters) for posters in args.posters]
    print("\n  posters  receiver/bare (median of round ratios)   CPU per webhook: receiver  bare   ratio")
    for posters, paired, receiver_cpu, bare_cpu in summary:
        print(
            f"  {posters:7}  {paired:10.2f}x                              {receiver_cpu:8.0f} µs"
            f" {bare_cpu:5.0f} µs {receiver_cpu / bare_cpu:5.2f}x"
        )
    print("  targets: >= 0.6x with 1 poster, >= 0.9x with 64")


async def bench_posters(args: argparse.Namespace, posters: int) -> tuple[int, float, float, float]:
    """One poster count: alternating rounds against fresh servers; the paired ratio and CPU µs per
    webhook of each server."""
    print(f"\n  {posters} poster(s): {args.rounds} rounds of {args.requests:,} webhooks")
    with tempfile.TemporaryDirectory() as folder:
        async with Server("bare", Path(folder)) as bare, Server("receiver", Path(folder)) as receiver:
            warm = max(200, args.requests // 10)
            await load(bare.url, 0, warm, posters)
            await load(receiver.url, 0, warm, posters)
            rates: dict[str, list[float]] = {"bare": [], "receiver": []}
            for round_ in range(args.rounds):
                first = warm + round_ * args.requests
                order = [("bare", bare), ("receiver", receiver)]
                for name, server in order if round_ % 2 == 0 else reversed(order):
                    rates[name].append(await server.measured(first, args.requests, posters))
                print(f"    round {round_ + 1}: bare {rates['bare'][-1]:8,.0f} req/s   "
                      f"receiver {rates['receiver'][-1]:8,.0f} req/s")  # fmt: skip
            measured = args.rounds * args.requests
            receiver_cpu, bare_cpu = (s.cpu_used / measured * 1e6 for s in (receiver, bare))
        size = inbox_bytes(Path(folder))
        print(f"    inbox.db (+ WAL): {size / 1e6:.1f} MB after {warm + measured:,} events")
    bare_rate, receiver_rate = statistics.median(rates["bare"]), statistics.median(rates["receiver"])
    paired = statistics.median(r / b for r, b in zip(rates["receiver"], rates["bare"], strict=True))
    cpu = "µs CPU/webhook"
    print(f"    bare aiohttp OK handler                 {bare_rate:10,.0f} req/s  {bare_cpu:6.0f} {cpu}")
    durable = "receiver, durable commit (WAL, NORMAL)"
    print(f"    {durable}  {receiver_rate:10,.0f} req/s  {receiver_cpu:6.0f} {cpu}")
    print(f"    receiver / bare, ratio of the medians   {receiver_rate / bare_rate:10.2f}x")
    return posters, paired, receiver_cpu, bare_cpu


def inbox_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("inbox.db*"))


TESTS = Path(__file__).resolve().parent.parent / "tests"


async def sigkill_trials(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(TESTS))
    from test_events_sigkill import run_trial  # the suite's trial, at a larger size

    for round_ in range(args.sigkill_rounds):
        with tempfile.TemporaryDirectory() as folder:
            started = time.monotonic()
            result = await run_trial(Path(folder), args.deliveries, args.kills, seed=round_)
            print(f"  trial {round_ + 1} ({time.monotonic() - started:.1f}s): {result}")


def header(args: argparse.Namespace) -> None:
    print("reproduce: " + shlex.join([sys.executable, *sys.argv]))
    print(f"  Python {platform.python_version()}, aiohttp {aiohttp.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    if not args.sigkill_rounds:
        print(f"  {args.rounds} rounds of {args.requests:,} webhooks per poster count {args.posters}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5000, help="webhooks per round and server")
    parser.add_argument(
        "--posters", type=lambda text: [int(n) for n in text.split(",")], default=[1, 8, 64],
        help="concurrent posting connections, comma-separated (default 1,8,64)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sigkill-rounds", type=int, default=0, help="run SIGKILL trials instead")
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--serve", choices=["bare", "receiver"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.serve == "bare":
        asyncio.run(serve_bare(args.port))
    elif args.serve == "receiver":
        asyncio.run(serve_receiver(args.port, args.store))
    else:
        header(args)
        asyncio.run(sigkill_trials(args) if args.sigkill_rounds else bench(args))


if __name__ == "__main__":
    main()
