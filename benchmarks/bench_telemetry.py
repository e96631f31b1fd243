"""What telemetry costs: client CPU per `send_new_msg` with the OpenTelemetry API absent ("off",
as without the `otel` extra), installed with no provider configured ("api"), and with the SDK's
tracer and meter providers set ("sdk": spans batched to an exporter that drops them, metrics
aggregated), as ratios to "off" from the same run.

Reproduce (from the repository root; under a minute on a busy 2-core VM):

    .venv/bin/python benchmarks/bench_telemetry.py
    .venv/bin/python benchmarks/bench_telemetry.py --sends 2000 --rounds 9   # steadier, longer

The dev server runs in its own process and each mode in a client process of its own (an import
cannot be undone), all started once; in each round the three send at the same time, so the load
others put on the machine hits them alike. Each figure is a process's CPU seconds for its sends,
divided by the number of sends; the ratios are the medians of each round's ratio.

On a shared machine a round's ratio wanders by +-20% whatever the mode, so the run also prints
a bound that does not wander: what the off path adds per send (one more coroutine layer in
`tim.msg` and in the connection, three reads of `telemetry.active`), timed in this process over
200,000 calls, against the median CPU per send measured above.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from bench_send import ServerInfo, server_process

MODES = ("off", "api", "sdk")
CONCURRENCY = 64
PEERS = 400


def _client(conn: Connection, mode: str, server: ServerInfo) -> None:
    if mode == "off":
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]  # as if not installed
    elif mode == "sdk":
        _set_sdk_providers()
    asyncio.run(_serve_rounds(conn, mode, server))


def _set_sdk_providers() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Dropping(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropping()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


async def _serve_rounds(conn: Connection, mode: str, server: ServerInfo) -> None:
    from aio_tim import Client, ConvType, Message, TextElem

    message = Message(elem_array=[TextElem(content="bench")])
    options = {"sdk_app_id": server.sdk_app_id, "secret_key": server.secret_key, "admin": server.admin}
    async with Client(
        user_id="alice", base_url=server.url, store_path=":memory:", limits=None, **options
    ) as tim:
        assert tim.telemetry.active is (mode == "sdk"), (mode, tim.telemetry)
        loop = asyncio.get_running_loop()
        conn.send("ready")
        while (count := await loop.run_in_executor(None, conn.recv)) is not None:
            numbers = iter(range(count))

            async def worker(numbers: Any = numbers) -> None:
                for n in numbers:
                    await tim.msg.send_new_msg(f"p{n % PEERS}", ConvType.C2C, message)

            started = time.process_time()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            conn.send(time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=200, help="sends per mode per round")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    with server_process() as server:
        pipes = {}
        processes = []
        for mode in MODES:
            ours, theirs = context.Pipe()
            process = context.Process(target=_client, args=(theirs, mode, server), daemon=True)
            process.start()
            processes.append(process)
            assert ours.recv() == "ready"
            pipes[mode] = ours
        for pipe in pipes.values():  # warm-up: connections, caches, the server's accounts
            pipe.send(100)
            pipe.recv()
        cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.rounds):
            for mode in MODES:  # all at once: whatever else loads the machine loads the three alike
                pipes[mode].send(args.sends)
            for mode in MODES:
                cpu[mode].append(pipes[mode].recv() / args.sends * 1e6)
        for pipe in pipes.values():
            pipe.send(None)
        for process in processes:
            process.join(10)
    report(cpu, args.sends, args.rounds)
    report_off_path(statistics.median(cpu["off"]))


def report(cpu: dict[str, list[float]], sends: int, rounds: int) -> None:
    print(f"client CPU per send_new_msg, {rounds} rounds x {sends} sends per mode, {CONCURRENCY} in flight")
    for mode in MODES:
        values = cpu[mode]
        print(f"  {mode:4} median {statistics.median(values):7.1f} µs/send  (rounds: {_list(values)})")
    for mode in MODES[1:]:
        ratios = [on / off for on, off in zip(cpu[mode], cpu["off"], strict=True)]
        each = ", ".join(f"{r:.3f}" for r in ratios)
        print(f"  {mode}/off: {statistics.median(ratios):.3f}x  (rounds: {each})")


class _Off:
    active = False


async def _plain() -> int:
    return 1


async def _guarded(telemetry: _Off) -> int:
    """What `msg.traced` and `ConnectionManager.call` add in front of the plain call when off."""
    if telemetry.active:
        raise AssertionError
    return await _plain()


async def _time_layers(calls: int) -> tuple[float, float, float]:
    """CPU µs per call of: the plain coroutine, the guarded one, and a bare `if telemetry.active`
    in a loop beyond the empty loop (best of 5 each)."""
    telemetry = _Off()
    plain, guarded, read = [], [], []
    for _ in range(5):
        started = time.process_time()
        for _ in range(calls):
            await _plain()
        plain.append(time.process_time() - started)
        started = time.process_time()
        for _ in range(calls):
            await _guarded(telemetry)
        guarded.append(time.process_time() - started)
        read.append(_time_reads(telemetry, calls))
    return min(plain) / calls * 1e6, min(guarded) / calls * 1e6, min(read) / calls * 1e6


def _time_reads(telemetry: _Off, calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        pass
    empty = time.process_time() - started
    started = time.process_time()
    for _ in range(calls):
        if telemetry.active:
            raise AssertionError
    return max(0.0, time.process_time() - started - empty)


def report_off_path(per_send: float) -> None:
    plain, guarded, read = asyncio.run(_time_layers(200_000))
    layer = guarded - plain  # a guard and one more coroutine layer (tim.msg's, the connection's)
    per_send_cost = 2 * layer + read  # and the pipeline's guard, a bare read
    print(
        f"off path: {layer:.2f} µs per guarded layer, {read:.3f} µs per bare guard, {per_send_cost:.2f} µs "
        f"per send = {1 + per_send_cost / per_send:.4f}x of the {per_send:.0f} µs/send measured (off)"
    )


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


if __name__ == "__main__":
    main()
