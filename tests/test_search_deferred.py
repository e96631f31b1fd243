"""The deferred search index (store migration 9): a save never writes `messages_fts`; the next
search indexes the rows saved since the last one (in its own transaction, in batches for a long
backlog); rows already indexed follow re-saves and deletions by trigger. Real SQLite files in
tmp_path; the randomized test interleaves writes and searches over loopback against a brute-force
filter."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio
from scenario import T0, Clock, text
from test_search import PEERS, SENDERS, brute_force, normalized, random_elems, random_query, search

from aio_tim import Client, Message, MsgStatus, TextElem, UsageError
from aio_tim.devserver import DevServer
from aio_tim.seams import SearchQuery
from aio_tim.store import LocalStore, locator_key
from aio_tim.store import search as store_search
from aio_tim.store.schema import INDEX_AFTER, MIGRATIONS, statements
from aio_tim.testing import client_for
from aio_tim.types import encode

BOB = (1, "bob")
_INSERT = (
    "INSERT INTO messages (conv_type, conv_id, time, seq, rand, is_self, status, is_read, msg_key, "
    "msg_id, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def fts_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        count = int(db.execute("SELECT count(*) FROM messages_fts").fetchone()[0])
    db.close()
    return count


def watermark(path: Path) -> int:
    with sqlite3.connect(path) as db:
        upto = int(db.execute("SELECT upto FROM search_indexed").fetchone()[0])
    db.close()
    return upto


async def found(store: LocalStore, keyword: str, conv: tuple[int, str] = BOB) -> list[str]:
    """The texts of the conversation's messages holding `keyword`."""
    page = await store.search_messages(SearchQuery(keywords=(keyword,), conv=conv))
    return sorted(m.text for g in page.groups for m in g.messages)


def msg(content: str, seq: int) -> Message:
    return Message(elem_array=[TextElem(content=content)], server_time=T0 + seq, seq=seq, rand=seq)


async def test_a_save_does_not_write_the_index_until_a_search(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with LocalStore(path) as store:
        await store.save(BOB, msg("first needle", 1), status=2)
        await store.insert_many(BOB, [msg(f"bulk needle {i}", 10 + i) for i in range(50)], status=2)
        assert fts_rows(path) == 0 and watermark(path) == 0
        assert len(await found(store, "needle")) == 51
        assert fts_rows(path) == 51 and watermark(path) == 51
        await store.save(BOB, msg("later needle", 100), status=2)  # after the search: not indexed
        assert fts_rows(path) == 51 and watermark(path) == 51


async def test_messages_saved_after_a_search_are_found_by_the_next(tmp_path: Path) -> None:
    async with LocalStore(tmp_path / "s.db") as store:
        await store.save(BOB, msg("apple pie", 1), status=2)
        assert await found(store, "apple") == ["apple pie"]
        await store.save(BOB, msg("apple tart", 2), status=2)
        assert await found(store, "apple") == ["apple pie", "apple tart"]
        await store.save((1, "dave"), msg("apple crumble", 3), status=2)
        page = await store.search_messages(SearchQuery(keywords=("apple",)))
        assert page.total == 2 and [g.matched for g in page.groups] == [1, 2]


async def test_indexed_messages_resaved_revoked_or_deleted_are_not_found_stale(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with LocalStore(path) as store:
        for seq, words in enumerate(["old words", "to revoke", "to delete", "in dave", "unindexed one"], 1):
            conv = (1, "dave") if words == "in dave" else BOB
            await store.save(conv, msg(words, seq), status=2)
            if seq == 4:
                await found(store, "zzz")  # the first four are indexed; the fifth is past the watermark
        await store.save(BOB, msg("new words", 1), status=2)  # re-save, same locator
        await store.set_status(BOB, (T0 + 2, 2, 2), int(MsgStatus.REVOKED))
        await store.delete(BOB, (T0 + 3, 3, 3))
        await store.delete_conversation((1, "dave"))
        await store.save(BOB, msg("unindexed two", 5), status=2)  # re-save before it was ever indexed
        assert await found(store, "old") == [] and await found(store, "new words") == ["new words"]
        assert await found(store, "revoke") == [] and await found(store, "delete") == []
        assert await found(store, "dave", (1, "dave")) == [] and await found(store, "one") == []
        assert await found(store, "unindexed") == ["unindexed two"]
    with sqlite3.connect(path) as db:  # the removed conversation's row left the index too
        assert db.execute("SELECT count(*) FROM messages_fts WHERE body LIKE '%dave%'").fetchone() == (0,)
    db.close()


async def test_a_long_backlog_is_indexed_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch is a transaction of its own (the writer commits between them), all found."""
    monkeypatch.setattr(store_search, "CATCH_UP_ROWS", 7)
    path = tmp_path / "s.db"
    async with LocalStore(path) as store:
        await store.insert_many(BOB, [msg(f"row {i:03d}", i + 1) for i in range(50)], status=2)
        writer = store._writer
        assert writer is not None
        before = writer.batches
        page = await store.search_messages(SearchQuery(keywords=("row",), conv=BOB))
        assert page.total == 50 and writer.batches - before == 8  # 7 batches of 7, then 1 + the query
        assert fts_rows(path) == 50 and watermark(path) == 50


async def test_a_migration_8_database_upgrades_and_keeps_its_results(tmp_path: Path) -> None:
    """A file written at migration 8 (every row indexed at insert, as that version did) opens at
    9: old rows are found, their watermark is the newest id, and they still follow re-saves."""
    path = tmp_path / "v8.db"
    db = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:8]:
        for sql in statements(script):
            db.execute(sql)
    db.execute("PRAGMA user_version = 8")
    for seq, words in enumerate(["needle one", "needle two", "changes later"], 1):
        before = int(db.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0])
        db.execute(_INSERT, (1, "bob", T0 + seq, seq, seq, 0, 2, 0, None, f"k{seq}", encode(text(words))))
        db.execute(INDEX_AFTER, (before,))  # what version 8's insert did
    db.close()
    async with LocalStore(path) as store:
        assert watermark(path) == 3 and fts_rows(path) == 3
        assert await found(store, "needle") == ["needle one", "needle two"]
        await store.save(BOB, msg("changed now", 3), status=2)
        await store.save(BOB, msg("needle three", 4), status=2)
        assert fts_rows(path) == 3  # the re-save re-indexed row 3 by trigger; the new row waits
        assert await found(store, "later") == [] and await found(store, "changed") == ["changed now"]
        assert await found(store, "needle") == ["needle one", "needle three", "needle two"]


@pytest_asyncio.fixture
async def carol(server: DevServer, clock: Clock, tmp_path: Path) -> AsyncIterator[Client]:
    async with client_for(server, "carol", clock=clock, store_path=tmp_path / "carol.db") as client:
        yield client


async def test_randomized_writes_between_searches_equal_a_brute_force_filter(
    carol: Client, clock: Clock
) -> None:
    """Saves, re-saves, deletes and revokes between searches: each search equals the brute-force
    filter of what is stored then (catch-up and triggers together)."""
    rng = random.Random(29)
    stored: list[Message] = []
    clock.now = T0 + 250
    checked = 0
    for n in range(400):
        roll = rng.random()
        if roll < 0.55 or len(stored) < 5:
            conv = rng.choice(PEERS)
            new = Message(
                elem_array=random_elems(rng),
                sender=rng.choice(SENDERS),
                server_time=T0 + rng.randint(0, 500),
                seq=n + 1,
                rand=rng.randint(1, 2**31),
            )
            await carol.msg.save_msg(conv[1], conv[0], new)
            stored.append(msgspec.structs.replace(new, conv_type=conv[0], conv_id=conv[1], status=5))
        elif roll < 0.7:  # re-save with new content (a modify)
            i = rng.randrange(len(stored))
            old = stored[i]
            if old.status == MsgStatus.DELETED:
                continue
            changed = msgspec.structs.replace(old, elem_array=random_elems(rng))
            await carol.store.save((old.conv_type or 0, old.conv_id or ""), changed, status=old.status or 5)
            stored[i] = changed
        elif roll < 0.8:
            i = rng.randrange(len(stored))
            m = stored[i]
            status = rng.choice([MsgStatus.DELETED, MsgStatus.REVOKED])
            await carol.store.set_status((m.conv_type or 0, m.conv_id or ""), locator_key(m), int(status))
            stored[i] = msgspec.structs.replace(m, status=int(status))
        else:
            q = random_query(rng)
            got = await carol.msg.search_local_messages(search(**q))
            assert normalized(got) == normalized(brute_force(stored, q, T0 + 250)), (n, q)
            checked += got.total_count > 0
    assert checked > 30  # most searches found something: the comparison is not vacuous


async def test_an_idle_store_indexes_its_backlog_in_the_background(tmp_path: Path) -> None:
    """With `index_idle`, rows saved and left alone get indexed in batches of IDLE_ROWS, no search needed."""
    path = tmp_path / "s.db"
    async with LocalStore(path, index_idle=0.05) as store:
        await store.insert_many(BOB, [msg(f"idle {i}", i + 1) for i in range(2500)], status=2)
        writer = store._writer
        assert writer is not None
        before = writer.batches
        for _ in range(200):
            if watermark(path) == 2500:
                break
            await asyncio.sleep(0.05)
        assert fts_rows(path) == 2500 and writer.batches - before == 3  # 1000, 1000, 500
        assert len(await found(store, "idle")) == 2500
    assert store._indexer is None  # stopped by aclose


@pytest.mark.parametrize("bad", [0, -1.0, "5", True])
def test_a_bad_index_idle_is_refused_before_any_file(tmp_path: Path, bad: object) -> None:
    with pytest.raises(UsageError, match="index_idle must be a positive number"):
        LocalStore(tmp_path / "s.db", index_idle=bad)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
