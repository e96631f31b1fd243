"""Local search benchmark: `search_local_messages` over the FTS5 trigram index at 10^6 stored
messages, beside a `LIKE '%kw%'` scan of the same rows measured in the same run; and
`get_msg_list`'s element-type filter in SQL (an index per type) beside the filter in Python that
it replaced.

The store is filled directly through its own SQL (`store.counts.insert_rows` on the store file:
the same statements, triggers and counts as every insert, without the client; the search index is
deferred, so the first search indexes the whole fill: timed on its own): `--convs`
conversations, conversation 0 hot with a tenth of the rows, texts of 4 to 12 words drawn from a
vocabulary of 20,000 made-up words (Zipf-like), so a keyword has a few hundred to a few thousand
matches; one message in a hundred is a file.

Searches, each `--calls` times with random keywords of the chosen frequency band:

- one conversation (the hot one), first page of 20;
- all conversations, first page of 20 conversations (what a search box shows first);
- baseline: the same page by `CAST(json AS TEXT) LIKE '%kw%'` over `messages` (with its total).

    python benchmarks/bench_search.py [--rows 1000000] [--convs 1000] [--calls 200] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import random
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aio_tim.msg import history
from aio_tim.msg.search import query_of, result_of
from aio_tim.msg.selection import Selection
from aio_tim.seams import SearchQuery
from aio_tim.store import LocalStore
from aio_tim.store.counts import insert_rows
from aio_tim.store.rows import row_with
from aio_tim.types import ConvType, FileElem, Message, MsgSearchParam, MsgStatus, TextElem

T0 = 1_600_000_000
STATUS = int(MsgStatus.SEND_SUCC)
VOCABULARY = 20_000
BATCH = 20_000
PAGE = 20


def word(rank: int) -> str:
    """A made-up word per rank: 4 to 9 letters a-z drawn from the rank's own generator."""
    rng = random.Random(rank)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 9)))


def conv_of(index: int) -> tuple[int, str]:
    return (int(ConvType.C2C), f"user{index:04d}")


WORDS = [word(rank) for rank in range(VOCABULARY)]


def messages(conv_index: int, first: int, count: int, rng: random.Random, cum: list[float]) -> list[Message]:
    out = []
    for i in range(first, first + count):
        text = " ".join(rng.choices(WORDS, cum_weights=cum, k=rng.randint(4, 12)))
        elem: Any = FileElem(file_name=f"{text[:20]}.pdf") if i % 100 == 0 else TextElem(content=text)
        out.append(
            Message(
                elem_array=[elem],
                sender=f"user{conv_index:04d}" if i % 2 else "me",
                is_from_self=i % 2 == 0,
                server_time=T0 + i,
                seq=i + 1,
                rand=(i * 2654435761 + conv_index) % 2**32,
                msg_id=f"{conv_index}-{i}",
            )
        )
    return out


def fill(path: Path, rows: int, convs: int) -> float:
    """Insert `rows` messages through the store's insert (counts.py) on a raw connection; seconds."""
    rng = random.Random(7)
    cum = list(itertools.accumulate(1 / (rank + 10) for rank in range(VOCABULARY)))  # Zipf-like
    hot = rows // 10
    sizes = [hot] + [(rows - hot) // (convs - 1)] * (convs - 1)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    started = time.perf_counter()
    for conv_index, size in enumerate(sizes):
        conv = conv_of(conv_index)
        for start in range(0, size, BATCH):
            batch = messages(conv_index, start, min(BATCH, size - start), rng, cum)
            db.execute("BEGIN IMMEDIATE")
            insert_rows(db, [row_with(conv, m, STATUS, 1, None) for m in batch], one_class=True)
            db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def band_keywords(db: sqlite3.Connection, low: int, high: int, n: int) -> list[str]:
    """Words whose match count (in the index) lies in [low, high]."""
    found = []
    for w in WORDS:
        hits = db.execute(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", (f'"{w}"',)
        ).fetchone()[0]
        if low <= hits <= high:
            found.append(w)
        if len(found) >= n:
            break
    return found


LIKE_PAGE = (
    "SELECT json, count(*) OVER () FROM messages WHERE {conv} CAST(json AS TEXT) LIKE ? "
    "AND status NOT IN (4, 6) ORDER BY time DESC, seq DESC, rand DESC LIMIT 20"
)


def median_ms(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples) * 1000, cuts[98] * 1000


async def timed_search(store: LocalStore, param: dict[str, Any]) -> tuple[float, int]:
    t = time.perf_counter()
    page = await store.search_messages(query_of(MsgSearchParam(**param), T0 + 10**7))
    result = result_of(page, query_of(MsgSearchParam(**param), T0 + 10**7))
    return time.perf_counter() - t, result.total_count


def timed_like(db: sqlite3.Connection, keyword: str, conv: tuple[int, str] | None) -> tuple[float, int]:
    t = time.perf_counter()
    where = "conv_type = ? AND conv_id = ? AND" if conv else ""
    rows = db.execute(LIKE_PAGE.format(conv=where), (*(conv or ()), f"%{keyword}%")).fetchall()
    return time.perf_counter() - t, rows[0][1] if rows else 0


async def bench_band(
    store: LocalStore, raw: sqlite3.Connection, keywords: list[str], calls: int, band: str
) -> None:
    rng = random.Random(1)
    hot = conv_of(0)
    for label, conv in (("one conversation (hot), page of 20", hot), ("all conversations, page of 20", None)):
        fts: list[float] = []
        like: list[float] = []
        totals = []
        for i in range(calls):
            kw = rng.choice(keywords)
            param: dict[str, Any] = {"keyword_array": [kw], "page_size": PAGE}
            if conv:
                param |= {"conv_id": conv[1], "conv_type": conv[0]}
            took, total = await timed_search(store, param)
            fts.append(took)
            totals.append(total)
            if i < max(5, calls // 20):  # the scan is slow: a few calls give its median
                like.append(timed_like(raw, kw, conv)[0])
        f50, f99 = median_ms(fts)
        l50, _ = median_ms(like * 2 if len(like) < 2 else like)
        print(
            f"  {band:<8} {label:<38} FTS5 p50 {f50:7.2f} ms  p99 {f99:7.2f} ms | LIKE scan p50 {l50:8.1f} ms"
            f" | x{l50 / f50:6.0f} | median total {statistics.median(totals):.0f}"
        )


async def bench_types(store: LocalStore, calls: int) -> None:
    """get_msg_list(message_type_array=[FILE], count 20) in the hot conversation from random anchors:
    the SQL page (page_of_types) vs the Python filter over pages it replaced."""
    conv = conv_of(0)
    ctx = SimpleNamespace(store=store)
    selection = Selection(types=frozenset({4}))
    count = await store.count(conv)
    rng = random.Random(2)
    sql_s, py_s = [], []
    for _ in range(calls):
        i = rng.randrange(count // 2, count)
        anchor = (T0 + i, i + 1, (i * 2654435761) % 2**32)
        t = time.perf_counter()
        a = await store.page_of_types(conv, anchor=anchor, count=PAGE, forward=False, types=[4])
        sql_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        b, _ = await history._stored_in_python(ctx, conv, anchor, (PAGE, False), selection)  # type: ignore[arg-type]
        py_s.append(time.perf_counter() - t)
        assert [m.seq for m in a] == [m.seq for m in b]
    s50, s99 = median_ms(sql_s)
    p50, p99 = median_ms(py_s)
    print(
        f"  type filter (1% files), page of 20: SQL p50 {s50:6.2f} ms p99 {s99:6.2f} ms | "
        f"Python filter (before) p50 {p50:6.2f} ms p99 {p99:6.2f} ms | x{p50 / s50:.0f}"
    )


async def main(args: argparse.Namespace) -> None:
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, {platform.machine()}, "
        f"{os.cpu_count()} cpus; {shlex.join(sys.argv)}"
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "search.db"
        async with LocalStore(path):
            pass  # the schema, by the store's own migrations
        seconds = fill(path, args.rows, args.convs)
        size = path.stat().st_size / 2**20
        print(
            f"filled {args.rows:,} messages in {args.convs} conversations in {seconds:.1f} s "
            f"({args.rows / seconds:,.0f} rows/s, indexes included, FTS5 deferred); file {size:,.0f} MiB"
        )
        async with LocalStore(path) as store:
            started = time.perf_counter()
            await store.search_messages(SearchQuery(keywords=(WORDS[0],), conv=conv_of(0), limit=20))
            took = time.perf_counter() - started
        print(
            f"first search (indexes the {args.rows:,} rows of the fill): {took:.1f} s "
            f"({took / args.rows * 1e6:.1f} µs a row); file {path.stat().st_size / 2**20:,.0f} MiB"
        )
        raw = sqlite3.connect(path)
        bands = {"rare": (50, 300), "medium": (300, 3000), "common": (3000, 30000)}
        async with LocalStore(path) as store:
            for band, (low, high) in bands.items():
                keywords = band_keywords(raw, low, high, 20)
                if keywords:
                    await bench_band(store, raw, keywords, args.calls, band)
            await bench_types(store, args.calls)
        raw.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--convs", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--dir", default=None, help="where the temporary store goes (default: the system's)")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
