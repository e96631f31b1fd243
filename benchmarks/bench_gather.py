"""Submitting everything at once: `gather` of N `send_new_msg` against 64 worker coroutines.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_gather.py                      # 4,000, 20,000 and 100,000
    .venv/bin/python benchmarks/bench_gather.py --sizes 4000,20000   # a shorter run
    .venv/bin/python benchmarks/bench_gather.py --wakeups            # + event-loop callbacks per send
    .venv/bin/python benchmarks/bench_gather.py --sizes 20000 --profile   # + where the CPU goes

Both shapes send one message to N recipients (400 peers, each many times) with `send_new_msg`
(limits off, a file store, the pipeline's defaults: 64 in flight, `max_queued` 10,000), the dev
server in its own process; the message and the recipients' names exist before the run, as an
application's would:

- *64 workers*: 64 coroutines loop over the list, one send each at a time;
- *gather*: `await asyncio.gather(*(send_new_msg(...) for each of the N))`, all N pending at once.

Each shape runs in a fresh client process (spawned), so its RSS starts from the same idle client:
connected, its store open, 300 warm-up sends made. Printed per shape: client CPU per send (the
process's user + system time, page faults included), throughput, and the peak RSS above that
idle client (VmHWM, reset before the shape: Linux's clear_refs), per pending send for gather;
ratios are against the 64-worker shape of the same size in the same run. The sizes run in order,
each size's two shapes back to back, so that load drifting on the machine hits both alike.
`--wakeups` counts the event loop's callbacks (a task's step or wake-up is one) per send, in a
separate pass, since counting slows the loop; `--profile` (pyinstrument, `pip install
pyinstrument`) prints each shape's functions by own time, in another separate pass.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench_send import CONCURRENCY, PEERS, Sender, ServerInfo, run_workers, sender, server_process, text

from aio_tim import ConvType

WARM_UP = 300
SHAPES = ("64 workers", "gather")
PROFILE_LINES = 25


@dataclass(frozen=True)
class Outcome:
    seconds: float
    cpu: float
    idle_kib: int
    peak_kib: int
    callbacks: int


def status_kib(field: str) -> int:
    """A `/proc/self/status` field in KiB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> None:
    """Make VmHWM start again from the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


NAMES = [f"p{n}" for n in range(PEERS)]
MESSAGE = text("bench")  # one message for every recipient, as a broadcast sends it


def send(s: Sender, n: int) -> Awaitable[object]:
    return s.msg.send_new_msg(NAMES[n % PEERS], ConvType.C2C, MESSAGE)


async def in_shape(s: Sender, shape: str, count: int) -> None:
    if shape == "gather":
        await asyncio.gather(*(send(s, WARM_UP + n) for n in range(count)))
    else:
        await run_workers(count, CONCURRENCY, lambda n: send(s, WARM_UP + n))


async def measure(
    server: ServerInfo, shape: str, count: int, wakeups: bool, profile: bool = False
) -> Outcome:
    async with sender(server, limits=None) as s:
        await run_workers(WARM_UP, CONCURRENCY, lambda n: send(s, n))
        gc.collect()
        idle = status_kib("VmRSS")
        reset_peak_rss()
        counter = CallbackCounter() if wakeups else None
        profiler = start_profiler() if profile else None
        started, cpu_started = time.perf_counter(), time.process_time()
        await in_shape(s, shape, count)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if profiler is not None:
            print_profile(profiler, shape, count)
        peak = status_kib("VmHWM")
        callbacks = counter.stop() if counter is not None else 0
        if s.pipeline.statistics().retried:
            print(f"    note: {s.pipeline.statistics().retried} retries", flush=True)
    return Outcome(seconds, cpu, idle, peak, callbacks)


class CallbackCounter:
    """Counts the callbacks the event loop runs (asyncio.Handle._run) until `stop()`."""

    def __init__(self) -> None:
        self.count = 0
        self._original = asyncio.Handle._run
        original = self._original

        def counted(handle: asyncio.Handle) -> None:
            self.count += 1
            original(handle)

        asyncio.Handle._run = counted  # type: ignore[method-assign]

    def stop(self) -> int:
        asyncio.Handle._run = self._original  # type: ignore[method-assign]
        return self.count


def start_profiler() -> Any:
    from pyinstrument import Profiler  # an optional tool: imported only when asked for

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    return profiler


def print_profile(profiler: Any, shape: str, count: int) -> None:
    """The functions with the most own time, as µs per send."""
    profiler.stop()
    session = profiler.last_session
    print(f"  profile, {shape}, {count:,} sends ({session.duration:.1f} s sampled)")
    lines = profiler.output_text(flat=True, show_all=True, time="seconds").splitlines()
    for line in [x for x in lines if x.strip() and x.strip()[0].isdigit()][:PROFILE_LINES]:
        seconds, _, where = line.strip().partition(" ")
        print(f"    {float(seconds) / count * 1e6:7.1f} µs/send  {where[:110]}")


def _child(
    conn: Connection, server: ServerInfo, shape: str, count: int, wakeups: bool, profile: bool
) -> None:
    conn.send(asyncio.run(measure(server, shape, count, wakeups, profile)))


def in_child(
    server: ServerInfo, shape: str, count: int, wakeups: bool = False, profile: bool = False
) -> Outcome:
    """`measure` in a fresh process: every shape starts from the same idle client."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_child, args=(theirs, server, shape, count, wakeups, profile))
    process.start()
    outcome: Outcome = ours.recv()
    process.join()
    return outcome


def print_size(count: int, outcomes: dict[str, Outcome]) -> None:
    base = outcomes["64 workers"]
    base_cpu, base_rate = base.cpu / count * 1e6, count / base.seconds
    print(f"  {count:,} sends to {PEERS} peers")
    for shape, o in outcomes.items():
        cpu, rate = o.cpu / count * 1e6, count / o.seconds
        above = max(0, o.peak_kib - o.idle_kib)
        pending = count if shape == "gather" else CONCURRENCY
        print(
            f"    {shape:10}: CPU {cpu:5.0f} µs/send ({cpu / base_cpu:4.2f}x)"
            f"  {rate:6,.0f} sends/s ({rate / base_rate:4.2f}x)"
            f"  peak RSS +{above / 1024:6.1f} MiB over idle {o.idle_kib / 1024:.0f} MiB"
            f" = {above * 1024 / pending:6,.0f} B per pending send ({pending:,} pending)"
        )


def print_wakeups(count: int, outcomes: dict[str, Outcome]) -> None:
    print(f"  {count:,} sends: event-loop callbacks per send", end="")
    for shape, o in outcomes.items():
        print(f"   {shape}: {o.callbacks / count:5.2f}", end="")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="4000,20000,100000", help="comma-separated send counts")
    parser.add_argument("--wakeups", action="store_true", help="also count loop callbacks per send")
    parser.add_argument("--profile", action="store_true", help="also profile each shape (pyinstrument)")
    parser.add_argument("--only-extra", action="store_true", help="skip the plain measurement")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print("reproduce:", " ".join([".venv/bin/python", "benchmarks/bench_gather.py", *sys.argv[1:]]))
    print(f"python {sys.version.split()[0]}; dev server (limits off) in its own process; goals for gather")
    print("  of 20,000 and 100,000: CPU <= 1.05x, throughput >= 0.95x, <= 1 KiB per pending send")
    with server_process(enforce_limits=False) as server:
        for count in sizes if not args.only_extra else []:
            print_size(count, {shape: in_child(server, shape, count) for shape in SHAPES})
        if args.profile:
            for count in sizes:
                for shape in SHAPES:
                    in_child(server, shape, count, profile=True)
        if args.wakeups:
            for count in sizes:
                print_wakeups(count, {shape: in_child(server, shape, count, True) for shape in SHAPES})


if __name__ == "__main__":
    main()
