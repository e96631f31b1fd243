"""Submitting everything at once: `gather` of N `send_new_msg` against 64 worker coroutines.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_gather.py                      # 4,000, 20,000 and 100,000
    .venv/bin/python benchmarks/bench_gather.py --sizes 4000,20000   # a shorter run
    .venv/bin/python benchmarks/bench_gather.py --wakeups            # + event-loop callbacks per send
    .venv/bin/python benchmarks/bench_gather.py --sizes 20000 --profile   # + where the CPU goes
    .venv/bin/python benchmarks/bench_gather.py --only-extra --held 100000  # RSS of 100,000 pending

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
`--held N` gathers N sends and holds them pending (sendmsg paced at 1/s on the client) to read
the RSS per pending send without sending them all. `--wakeups` counts the event loop's callbacks
(a task's step or wake-up is one) per send, in a separate pass, since counting slows the loop;
`--profile` (pyinstrument, `pip install pyinstrument`) prints each shape's functions by own time,
in another separate pass. BENCH_GC_DETAIL=1 prints the collector's work by generation.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
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
GC_DETAIL = bool(os.environ.get("BENCH_GC_DETAIL"))


@dataclass(frozen=True)
class Outcome:
    seconds: float
    cpu: float
    idle_kib: int
    peak_kib: int
    callbacks: int
    gc_seconds: float


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
        collector = GcTimer()
        profiler = start_profiler() if profile else None
        started, cpu_started = time.perf_counter(), time.process_time()
        await in_shape(s, shape, count)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if profiler is not None:
            print_profile(profiler, shape, count)
        peak = status_kib("VmHWM")
        callbacks = counter.stop() if counter is not None else 0
        gc_seconds = collector.stop()
        if GC_DETAIL:
            print(f"    gc {shape}: (collections, seconds) by generation {collector.by_generation}")
        if s.pipeline.statistics().retried:
            print(f"    note: {s.pipeline.statistics().retried} retries", flush=True)
    return Outcome(seconds, cpu, idle, peak, callbacks, gc_seconds)


async def hold(server: ServerInfo, count: int) -> tuple[int, int]:
    """(idle, peak) RSS in KiB with `count` sends gathered and held pending (sendmsg paced at 1/s)."""
    async with sender(server, limits={"openim/sendmsg": 1}) as s:
        await send(s, 0)
        gc.collect()
        idle = status_kib("VmRSS")
        reset_peak_rss()
        sends = asyncio.gather(*(send(s, n) for n in range(count)), return_exceptions=True)
        while pending(s) < count:  # noqa: ASYNC110 (polling a snapshot: no event says "all entered")
            await asyncio.sleep(0.05)
        peak = status_kib("VmHWM")
        await s.pipeline.aclose(timeout=0)
        await sends
    return idle, peak


def pending(s: Sender) -> int:
    stats = s.pipeline.statistics()
    return stats.queued + stats.blocked + stats.in_flight + stats.sent


def _held_child(conn: Connection, server: ServerInfo, count: int) -> None:
    conn.send(asyncio.run(hold(server, count)))


def print_held(server: ServerInfo, count: int) -> None:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_held_child, args=(theirs, server, count))
    process.start()
    idle, peak = ours.recv()
    process.join()
    print(
        f"  held: {count:,} sends gathered and pending: peak RSS +{(peak - idle) / 1024:.1f} MiB over idle"
        f" {idle / 1024:.0f} MiB = {(peak - idle) * 1024 / count:,.0f} B per pending send"
    )


class GcTimer:
    """The seconds the cyclic garbage collector runs until `stop()`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        self.by_generation = [[0, 0.0], [0, 0.0], [0, 0.0]]
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            spent = time.perf_counter() - self._started
            self.seconds += spent
            self.by_generation[info["generation"]][0] += 1
            self.by_generation[info["generation"]][1] += spent

    def stop(self) -> float:
        gc.callbacks.remove(self._on_gc)
        return self.seconds


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
            f"  gc {o.gc_seconds / count * 1e6:4.0f} µs/send"
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
    parser.add_argument("--held", type=int, default=0, help="also: RSS with this many sends held pending")
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
        if args.held:
            print_held(server, args.held)
        if args.wakeups:
            for count in sizes:
                print_wakeups(count, {shape: in_child(server, shape, count, True) for shape in SHAPES})


if __name__ == "__main__":
    main()
