"""Download throughput of `tim.msg.download_elem_to_path` against a plain aiohttp copy (and curl).

A dev server runs in its own process and serves one file per size over loopback. Each variant
downloads it in a fresh process (so its peak RSS is its own), several rounds, median reported:

    plain     aiohttp streaming copy: iter_chunked(1 MiB) + file.write (no fsync, no verification)
    plain+fsync  the same, then fsync (what durability costs; on tmpfs it is free)
    plain+hash   the plain copy hashing what it writes (hashlib.sha256 per chunk): the fair
                 baseline for a verified download
    await     await tim.msg.download_elem_to_path(...)          (resume bookkeeping, sha-256, fsync)
    iterate   async for p in tim.msg.download_elem_to_path(...)  (the same, reading every snapshot)
    nodigest  iterate with DownloadOptions(verify_digest=False)  (what sha-256 verification costs)
    curl      curl -s -o (when installed)

Throughput ratios are against `plain` and `plain+hash` in the same run, as a ratio of medians
and, steadier on a noisy machine, round by round (each round's ratio to its own baseline). Goals: a verified
download (`await`) >= 1.0x plain+hash; one without verification (`nodigest`) >= 1.1x plain.
A verified download hashes in a worker thread, so it gains from a free core and loses a little
when there is none: `--busy-cores N` runs N CPU-bound processes alongside (a shared CI runner),
and the load average before and after the run is printed.
Timers: every variant is timed from its open HTTP session (before the request) to the complete
file, so neither side pays for starting its loop, opening its client or closing its session.
Memory: peak RSS and minor page faults of each process, at every size (flat = independent of
the file size), and the Python heap peak of one `iterate` run under tracemalloc.

Reproduce:  .venv/bin/python benchmarks/bench_download.py --sizes-mib 64 256 --rounds 5 [--busy-cores 1]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp

VARIANTS = ("plain", "plain+fsync", "plain+hash", "await", "iterate", "nodigest", "curl")
MIB = 1024 * 1024


# --- the server process ----------------------------------------------------------------------------


async def serve(work: Path, sizes: list[int]) -> None:
    """Store one random file per size, print the URLs as JSON, serve until stdin closes."""
    from aio_tim.devserver import DevServer

    async with DevServer(db_path=work / "bench.sqlite", enforce_limits=False) as server:
        urls = {}
        for size in sizes:
            source = work / f"source-{size}"
            await asyncio.to_thread(_random_file, source, size)
            urls[str(size)] = (await server.files.put(source)).url
            source.unlink()
        info = {
            "url": server.url,
            "sdk_app_id": server.sdk_app_id,
            "key": server.secret_key,
            "admin": server.admin,
        }
        print(json.dumps(info | {"files": urls}), flush=True)
        await asyncio.to_thread(sys.stdin.read)


def _random_file(path: Path, size: int) -> None:
    with open(path, "wb") as file:
        for offset in range(0, size, 16 * MIB):
            file.write(os.urandom(min(16 * MIB, size - offset)))


# --- one measured download (its own process) ------------------------------------------------------


async def plain_copy(url: str, target: Path, fsync: bool, digest: bool = False) -> int:
    sha = hashlib.sha256()
    async with aiohttp.ClientSession() as session:
        _mark(_STARTED)  # as for aio_tim: the session is open, the request not yet sent
        async with session.get(url) as response:
            with open(target, "wb") as file:  # noqa: ASYNC230 - the baseline does what tutorials do
                async for chunk in response.content.iter_chunked(MIB):
                    if digest:
                        sha.update(chunk)
                    file.write(chunk)
                if fsync:
                    file.flush()
                    os.fsync(file.fileno())
        _mark(_ENDED)
    return 0


async def aio_tim_download(info: dict[str, Any], url: str, target: Path, iterate: bool, digest: bool) -> int:
    from aio_tim import Client
    from aio_tim.transfer import DownloadOptions

    client = Client(
        sdk_app_id=info["sdk_app_id"], user_id="bench", secret_key=info["key"], base_url=info["url"],
        admin=info["admin"], store_path=":memory:",
    )  # fmt: skip
    async with client as tim:
        tim.transfers.options = DownloadOptions(verify_digest=digest, max_size=None)
        _mark(_STARTED)  # the client (and its session) is open; the download's checks are timed
        download = tim.msg.download_elem_to_path({"msg_download_elem_param_url": url}, target)
        snapshots = 0
        if iterate:
            async for _ in download:
                snapshots += 1
        await download
        _mark(_ENDED)
    return snapshots


# Both downloaders are timed from the same point (their HTTP session open, before the request) to
# the same point (the file complete), so neither pays for starting the loop or closing the session.
_STARTED: dict[str, float] = {}
_ENDED: dict[str, float] = {}


def _mark(when: dict[str, float]) -> None:
    when.update(wall=time.perf_counter(), cpu=time.process_time(), faults=_minor_faults())


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(variant: str, info: dict[str, Any], url: str, target: Path, traced: bool) -> dict[str, Any]:
    if traced:
        tracemalloc.start()
    _mark(_STARTED)
    snapshots = 0
    if variant.startswith("plain"):
        asyncio.run(plain_copy(url, target, fsync=variant == "plain+fsync", digest=variant == "plain+hash"))
    elif variant == "curl":
        subprocess.run(["curl", "-sf", "-o", str(target), url], check=True)
        _mark(_ENDED)  # a whole process: its start-up is part of what curl costs
    else:
        iterate, digest = variant in ("iterate", "nodigest"), variant != "nodigest"
        snapshots = asyncio.run(aio_tim_download(info, url, target, iterate, digest))
    seconds = _ENDED["wall"] - _STARTED["wall"]
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_used = _ENDED["cpu"] - _STARTED["cpu"]
    faults = int(_ENDED["faults"] - _STARTED["faults"])
    if variant == "curl":
        cpu_used, maxrss = kids.ru_utime + kids.ru_stime, kids.ru_maxrss
    else:
        maxrss = own.ru_maxrss
    size = target.stat().st_size
    return {
        "seconds": seconds,
        "cpu": cpu_used,
        "maxrss_mib": maxrss / 1024,
        "heap_peak_mib": tracemalloc.get_traced_memory()[1] / MIB if traced else None,
        "snapshots": snapshots,
        "faults": faults if variant != "curl" else None,
        "size": size,
    }


# --- the driver ------------------------------------------------------------------------------------


def run_child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{args[1]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench(sizes: list[int], rounds: int, folder: str | None, busy: int) -> None:
    load_before = os.getloadavg()[0]
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        results, traced = _bench_all(sizes, rounds, folder)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    _report(sizes, results, traced, rounds, folder or tempfile.gettempdir())
    print(f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"{busy} busy-core process(es) ran alongside")  # fmt: skip


def _bench_all(
    sizes: list[int], rounds: int, folder: str | None
) -> tuple[dict[int, dict[str, list[dict[str, Any]]]], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="aio_tim-bench-", dir=folder) as work_dir:
        work = Path(work_dir)
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(work), *map(str, sizes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            variants = [v for v in VARIANTS if v != "curl" or shutil.which("curl")]
            results = {size: _bench_size(info, size, work, variants, rounds) for size in sizes}
            traced = _one(info, "iterate", sizes[-1], work, traced=True)
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=30)
    return results, traced


def _bench_size(
    info: dict[str, Any], size: int, work: Path, variants: list[str], rounds: int
) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    _one(info, "plain", size, work)  # warm the server's page cache and the loopback path
    for round_ in range(rounds):
        order = variants if round_ % 2 == 0 else list(reversed(variants))  # spread drift evenly
        for variant in order:
            runs[variant].append(_one(info, variant, size, work))
    return runs


def _one(info: dict[str, Any], variant: str, size: int, work: Path, traced: bool = False) -> dict[str, Any]:
    target = work / f"out-{variant}"
    args = ["--measure", variant, json.dumps(info), info["files"][str(size)], str(target)]
    result = run_child([*args, "--traced"] if traced else args)
    if result["size"] != size:
        raise SystemExit(f"{variant}: downloaded {result['size']} bytes, not {size}")
    target.unlink()
    return result


def _report(
    sizes: list[int],
    results: dict[int, dict[str, list[dict[str, Any]]]],
    traced: dict[str, Any],
    rounds: int,
    where: str,
) -> None:
    print(f"bench_download: Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, "
          f"{os.cpu_count()} CPUs, files in {where}, median of {rounds} rounds")  # fmt: skip
    print(f"{'size':>8} {'variant':<11} {'seconds':>8} {'MiB/s':>8} {'vs plain':>9} {'vs +hash':>9} "
          f"{'CPU s':>7} {'peak RSS':>9} {'faults':>7} {'snapshots':>9}")  # fmt: skip
    for size in sizes:
        plain = statistics.median(r["seconds"] for r in results[size]["plain"])
        hashed = statistics.median(r["seconds"] for r in results[size]["plain+hash"])
        for variant, runs in results[size].items():
            seconds = statistics.median(r["seconds"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            rss = max(r["maxrss_mib"] for r in runs)
            snaps = max(r["snapshots"] for r in runs)
            faults = "-" if variant == "curl" else f"{statistics.median(r['faults'] for r in runs):.0f}"
            print(f"{size // MIB:>5}MiB {variant:<11} {seconds:>8.3f} {size / MIB / seconds:>8.0f} "
                  f"{plain / seconds:>8.2f}x {hashed / seconds:>8.2f}x {cpu:>7.2f} {rss:>6.0f}MiB "
                  f"{faults:>7} {snaps:>9}")  # fmt: skip
    print("goals: await (sha-256 verified) >= 1.0x plain+hash; nodigest >= 1.1x plain")
    for size in sizes:
        print(f"{size // MIB:>5}MiB paired, each round against its own baseline (median, quartiles): "
              f"await {_paired(results[size], 'await', 'plain+hash')}; "
              f"nodigest {_paired(results[size], 'nodigest', 'plain')}")  # fmt: skip
    iterate_cost = [
        statistics.median(r["seconds"] for r in results[s]["iterate"])
        / statistics.median(r["seconds"] for r in results[s]["await"])
        for s in sizes
    ]
    print(f"progress iteration costs {', '.join(f'{(c - 1) * 100:+.1f}%' for c in iterate_cost)} "
          f"of wall time vs plain await ({', '.join(f'{s // MIB} MiB' for s in sizes)})")  # fmt: skip
    print(f"Python heap peak of one iterated {sizes[-1] // MIB} MiB download (tracemalloc): "
          f"{traced['heap_peak_mib']:.1f} MiB")  # fmt: skip
    size_args = " ".join(str(s // MIB) for s in sizes)
    print(f"reproduce: .venv/bin/python benchmarks/bench_download.py --sizes-mib {size_args} "
          f"--rounds {rounds} --dir {where} [--busy-cores N]")  # fmt: skip


def _paired(runs: dict[str, list[dict[str, Any]]], variant: str, baseline: str) -> str:
    """The speed ratio of `variant` to `baseline` round by round: rounds run the variants back to
    back, so a round's ratio is less exposed to the machine's drift than a ratio of medians."""
    ratios = [b["seconds"] / v["seconds"] for v, b in zip(runs[variant], runs[baseline], strict=True)]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return f"{statistics.median(ratios):.2f}x ({quartiles[0]:.2f}-{quartiles[2]:.2f})"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        asyncio.run(serve(Path(sys.argv[2]), [int(s) for s in sys.argv[3:]]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        _, _, variant, info, url, target, *rest = sys.argv
        print(json.dumps(measure(variant, json.loads(info), url, Path(target), traced=rest == ["--traced"])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--rounds", type=int, default=3)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    parser.add_argument("--dir", default=shm, help="where files are written (default: /dev/shm, a tmpfs)")
    parser.add_argument("--busy-cores", type=int, default=0, help="CPU-bound processes to run alongside")
    args = parser.parse_args()
    bench([s * MIB for s in args.sizes_mib], args.rounds, args.dir, args.busy_cores)


if __name__ == "__main__":
    main()
