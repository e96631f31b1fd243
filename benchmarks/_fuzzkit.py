"""The fuzzing loop the harnesses share: atheris (coverage-guided) when it is installed, else a
seeded random-mutation loop over the harness's seeds.

A harness is a `target(data: bytes) -> None` that must raise nothing but `TIMError`; anything
else is counted as "unexpected" (with its first input kept), never allowed to stop the run, so
one report says how many inputs ran, which exception types escaped and how fast it went.
"""

from __future__ import annotations

import argparse
import inspect
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aio_tim.errors import TIMError

Target = Callable[[bytes], None]

# Byte strings that tend to break JSON and UserSig decoders.
INTERESTING: tuple[bytes, ...] = (
    b"[" * 3000,
    b'{"a":' * 1500,
    b'"\\ud800"',
    b'"\\udc00\\ud800"',
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\x00",
    b"1e400",
    b"-1e400",
    b"NaN",
    b"Infinity",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"9" * 5000,
    b"-1",
    b"0.5",
    b"true",
    b"null",
    b"{}",
    b"[]",
    b'""',
    b"*",
    b"-",
    b"_",
    b"=",
    b"+",
    b"/",
)


@dataclass
class Stats:
    executions: int = 0
    unexpected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, bytes] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def run(self, target: Target, data: bytes) -> None:
        self.executions += 1
        try:
            target(data)
        except TIMError:
            pass
        except Exception as exc:  # the finding: anything but TIMError
            name = f"{type(exc).__module__}.{type(exc).__qualname__}"
            self.unexpected[name] += 1
            self.examples.setdefault(name, data)

    def report(self, name: str) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        lines = [
            f"{name}: executions={self.executions} unexpected={sum(self.unexpected.values())} "
            f"exec/s={self.executions / elapsed:,.0f} elapsed={elapsed:.1f}s",
        ]
        for kind, count in self.unexpected.most_common():
            lines.append(f"  {kind}: {count} (first input: {self.examples[kind][:120]!r})")
        return "\n".join(lines)


def mutate(rng: random.Random, data: bytes, seeds: Sequence[bytes]) -> bytes:
    """One to four random edits: bit flips, byte changes, cuts, inserts, splices."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(out))
        if op == 0 and out:  # flip a bit
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        elif op == 1 and out:  # substitute a byte
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif op == 2:  # truncate
            del out[pos:]
        elif op == 3:  # insert random bytes
            out[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 4:  # insert an interesting token
            out[pos:pos] = rng.choice(INTERESTING)
        elif op == 5 and out:  # delete a span
            del out[pos : pos + rng.randint(1, 16)]
        else:  # splice in part of another seed
            other = rng.choice(seeds)
            start = rng.randint(0, len(other))
            out[pos:pos] = other[start : start + rng.randint(1, 64)]
    return bytes(out)


def random_loop(
    target: Target,
    seeds: Sequence[bytes],
    runs: int,
    *,
    seed: int = 0,
    generators: Sequence[Callable[[random.Random], bytes]] = (),
) -> Stats:
    """`runs` inputs: the seeds themselves, then mutations of seeds, of earlier inputs, and
    fresh ones from `generators`."""
    rng = random.Random(seed)
    stats = Stats()
    pool = list(seeds)
    for data in seeds[:runs]:
        stats.run(target, data)
    while stats.executions < runs:
        if generators and rng.random() < 0.2:
            data = rng.choice(generators)(rng)
        else:
            data = mutate(rng, rng.choice(pool), seeds)
        stats.run(target, data)
        if len(pool) < 4096 and rng.random() < 0.05:
            pool.append(data)  # keep some offspring so edits can stack up
    return stats


def instrument(module_names: Sequence[str]) -> int:
    """Give libFuzzer coverage of these modules' functions and methods only: instrumenting
    every loaded module (atheris.instrument_all) costs ~40 s of start-up for aiohttp & co."""
    import atheris  # type: ignore[import-not-found]

    count = 0
    for module_name in module_names:
        module = sys.modules[module_name]
        for value in vars(module).values():
            functions = [value] if inspect.isfunction(value) else []
            if inspect.isclass(value):
                functions = [v for v in vars(value).values() if inspect.isfunction(v)]
            for function in functions:
                if function.__module__ == module_name:
                    atheris.instrument_func(function)
                    count += 1
    return count


def _libfuzzer_dict(path: Path) -> Path:
    """INTERESTING as a libFuzzer dictionary, so its mutations insert the same tokens."""
    lines = ['"' + "".join(f"\\x{b:02x}" for b in token[:64]) + '"' for token in INTERESTING]
    path.write_text("\n".join(lines) + "\n")
    return path


def atheris_loop(
    name: str, target: Target, seeds: Sequence[bytes], runs: int, modules: Sequence[str]
) -> None:
    """Hand the target to libFuzzer via atheris; the report prints when `runs` inputs are done,
    then the process exits (libFuzzer would otherwise keep going or exit without a report)."""
    import atheris  # type: ignore[import-not-found]

    print(f"{name}: instrumented {instrument(modules)} functions", flush=True)
    stats = Stats()
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for index, data in enumerate(seeds):
        (corpus / f"seed{index}").write_bytes(data)

    def one_input(data: bytes) -> None:
        stats.run(target, data)
        if stats.executions == runs:
            print(stats.report(name), flush=True)
            os._exit(1 if stats.unexpected else 0)

    options = [f"-runs={runs + len(seeds) + 1}", "-max_len=8192", f"-dict={_libfuzzer_dict(work / 'dict')}"]
    atheris.Setup([sys.argv[0], *options, str(corpus)], one_input)
    atheris.Fuzz()


def main(
    name: str,
    target: Target,
    seeds: Sequence[bytes],
    *,
    modules: Sequence[str],
    generators: Sequence[Callable[[random.Random], bytes]] = (),
    argv: Sequence[str] | None = None,
) -> int:
    """The harness's command line: `--runs N`, `--engine`, `--seed`; exit status 1 when
    anything but TIMError escaped."""
    parser = argparse.ArgumentParser(description=f"fuzz {name}: only TIMError may escape")
    parser.add_argument("--runs", type=int, default=100_000, help="inputs to run")
    parser.add_argument("--engine", choices=["auto", "atheris", "random"], default="auto")
    parser.add_argument("--seed", type=int, default=0, help="random engine's seed")
    args = parser.parse_args(argv)
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            engine = "random"
        else:
            engine = "atheris"
    print(f"{name}: engine={engine} runs={args.runs}", flush=True)
    if engine == "atheris":
        # Generated inputs join the seeds: libFuzzer starts from what the generators know.
        rng = random.Random(args.seed)
        extra = [generate(rng) for generate in generators for _ in range(16)]
        atheris_loop(name, target, [*seeds, *extra], args.runs, modules)
        return 2  # not reached: atheris_loop exits the process
    stats = random_loop(target, seeds, args.runs, seed=args.seed, generators=generators)
    print(stats.report(name), flush=True)
    return 1 if stats.unexpected else 0
