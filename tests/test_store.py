"""LocalStore: the C SDK's local message database (save, bulk import, paging by locator, read marks,
tombstones, the MsgSeq counter), its lifecycle and migrations, and sqlite failures as TIMError."""

from __future__ import annotations

import asyncio
import gc
import random
import re
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from msgspec.structs import replace as msgspec_replace
from pg_support import PG_URL, own_schema

from aio_tim.errors import TIM_ERR_CONV, TIM_ERR_PARAM, TIM_ERR_SDKUNINIT, TIMError, UsageError
from aio_tim.store import SCHEMA_VERSION, LocalStore, default_store_path, locator_key, schema
from aio_tim.store import sql as store_sql
from aio_tim.store.errors import storage_error
from aio_tim.store.jobs import SEQ_BLOCK
from aio_tim.store.rows import row_of, stamp
from aio_tim.store.schema import MIGRATIONS, statements
from aio_tim.types import ConvType, Message, MsgLocator, MsgStatus, TextElem, encode

BOB = (int(ConvType.C2C), "bob")
CLOCK = lambda: 1_700_000_000.0  # noqa: E731
GROUP = (int(ConvType.GROUP), "@TGS#1")
SENT = MsgStatus.SEND_SUCC


def text_msg(time: int, seq: int, rand: int, content: str = "hi", **fields: object) -> Message:
    return Message(elem_array=[TextElem(content=content)], server_time=time, seq=seq, rand=rand, **fields)  # type: ignore[arg-type]


def keys(msgs: list[Message]) -> list[tuple[int, int, int]]:
    return [locator_key(m) for m in msgs]


def on_postgres(store: object) -> bool:
    return type(store).__name__ == "PgStore"


def locator(key: tuple[int, int, int]) -> MsgLocator:
    return MsgLocator(time=key[0], seq=key[1], rand=key[2])


@pytest.fixture(params=["memory", "file", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LocalStore]:
    """Each store contract test runs against SQLite (in memory, in a file) and PostgreSQL."""
    if request.param == "postgres":
        async with own_schema(PG_URL) as schema:
            from aio_tim.pgstore import PgStore  # asyncpg (the postgres extra) only for these runs

            pg = PgStore(PG_URL, sdk_app_id=1400000000, user_id="alice", schema=schema, clock=CLOCK)
            async with pg:
                yield pg  # type: ignore[misc]  # the same contract (aio_tim.seams.MessageStore)
        return
    path = ":memory:" if request.param == "memory" else tmp_path / "store.sqlite3"
    async with LocalStore(path, clock=lambda: 1_700_000_000.0) as opened:
        yield opened


# --- save, get, find -----------------------------------------------------------------------------


async def test_save_returns_the_stored_message(store: LocalStore) -> None:
    """save() fills in the conversation, status and read mark, and get() returns the same message."""
    saved = await store.save(BOB, text_msg(10, 1, 2, sender="alice"), status=SENT, msg_key="1_2_10")
    assert (saved.conv_type, saved.conv_id, saved.status, saved.is_read) == (1, "bob", 2, False)
    assert saved.sender == "alice"
    assert await store.get(BOB, (10, 1, 2)) == saved
    assert await store.msg_key_of(BOB, (10, 1, 2)) == "1_2_10"


@pytest.mark.parametrize(
    ("server_time", "client_time", "key_time"),
    [(10, 7, 10), (None, 7, 7), (0, 7, 7), (None, None, 1_700_000_000)],
)
async def test_locator_time_falls_back_to_client_time(
    store: LocalStore, server_time: int | None, client_time: int | None, key_time: int
) -> None:
    """The locator's time is the server time, else the client time, else the store's clock."""
    msg = Message(elem_array=[TextElem(content="x")], server_time=server_time, client_time=client_time, seq=1)
    saved = await store.save(BOB, msg, status=MsgStatus.SENDING)
    assert locator_key(saved) == (key_time, 1, 0)
    assert await store.get(BOB, (key_time, 1, 0)) == saved


async def test_save_replaces_by_locator(store: LocalStore) -> None:
    """Saving the same locator again replaces the message but keeps its read mark and MsgKey."""
    await store.save(BOB, text_msg(10, 1, 2, "draft"), status=MsgStatus.SENDING, msg_key="k")
    await store.mark_read(BOB, None)
    again = await store.save(BOB, text_msg(10, 1, 2, "final"), status=SENT)
    assert again.elem_array == [TextElem(content="final")]
    assert (again.status, again.is_read) == (SENT, True)
    assert await store.msg_key_of(BOB, (10, 1, 2)) == "k"
    assert await store.count(BOB) == 1


async def test_save_without_replace_keeps_the_existing_message(store: LocalStore) -> None:
    """save(replace=False) leaves an existing locator alone and returns what is stored."""
    first = await store.save(BOB, text_msg(10, 1, 2, "first"), status=SENT)
    kept = await store.save(BOB, text_msg(10, 1, 2, "second"), status=MsgStatus.SEND_FAIL, replace=False)
    assert kept == first


async def test_find_returns_found_messages_in_locator_order(store: LocalStore) -> None:
    """find() answers one message per locator found, in the locators' order, skipping missing ones."""
    for i in range(5):
        await store.save(BOB, text_msg(100 + i, i, i), status=SENT)
    wanted = [(103, 3, 3), (999, 0, 0), (100, 0, 0), (101, 1, 1)]
    found = await store.find(BOB, [locator(k) for k in wanted])
    assert keys(found) == [(103, 3, 3), (100, 0, 0), (101, 1, 1)]


async def test_conversations_are_separate(store: LocalStore) -> None:
    """The same locator in two conversations is two messages."""
    await store.save(BOB, text_msg(10, 1, 1, "c2c"), status=SENT)
    await store.save(GROUP, text_msg(10, 1, 1, "group"), status=SENT)
    assert (await store.get(GROUP, (10, 1, 1))).elem_array == [TextElem(content="group")]  # type: ignore[union-attr]
    assert await store.delete_conversation(BOB) == 1
    assert (await store.count(BOB), await store.count(GROUP)) == (0, 1)


# --- insert_many ---------------------------------------------------------------------------------


async def test_insert_many_ignores_duplicates_and_counts_new_rows(store: LocalStore) -> None:
    """insert_many() skips locators already stored or repeated in the batch and returns the number added."""
    await store.save(BOB, text_msg(10, 0, 0, "existing"), status=SENT)
    batch = [text_msg(10, i % 4, 0, f"new {i}") for i in range(8)]  # locators 0..3, each twice
    assert await store.insert_many(BOB, batch, status=MsgStatus.LOCAL_IMPORTED) == 3
    assert await store.insert_many(BOB, batch, status=MsgStatus.LOCAL_IMPORTED) == 0
    got = await store.find(BOB, [locator((10, i, 0)) for i in range(4)])
    assert [m.elem_array[0].content for m in got] == ["existing", "new 1", "new 2", "new 3"]  # type: ignore[union-attr]
    assert [m.status for m in got] == [SENT, 5, 5, 5]


async def test_insert_many_stores_msg_keys(store: LocalStore) -> None:
    """insert_many() stores one MsgKey per message, None allowed."""
    await store.insert_many(BOB, [text_msg(1, 1, 1), text_msg(2, 2, 2)], status=SENT, msg_keys=["a", None])
    assert [await store.msg_key_of(BOB, k) for k in [(1, 1, 1), (2, 2, 2)]] == ["a", None]


async def test_an_imported_message_reads_back_as_save_would_store_it(store: LocalStore) -> None:
    """insert_many() stores a timed message as given and lets its columns speak for the conversation,
    status and read mark: every read returns what save() would, whatever the message carried."""
    foreign = dict(conv_type=int(ConvType.GROUP), conv_id="elsewhere", status=int(SENT))
    given = [
        text_msg(10, 1, 1, "unmarked", is_from_self=False, **foreign),  # is_read None: unread
        text_msg(11, 2, 2, "mine", is_from_self=True, **foreign),  # is_read None: read, as one's own
        text_msg(12, 3, 3, "marked", is_from_self=False, is_read=True, **foreign),
    ]
    await store.insert_many(BOB, given, status=MsgStatus.LOCAL_IMPORTED)
    saved = [await store.save(GROUP, m, status=MsgStatus.LOCAL_IMPORTED) for m in given]
    expected = [msgspec_replace(m, conv_type=BOB[0], conv_id=BOB[1]) for m in saved]
    assert [(m.conv_type, m.conv_id, m.status, m.is_read) for m in expected] == [
        (1, "bob", 5, False),
        (1, "bob", 5, True),
        (1, "bob", 5, True),
    ]
    assert await store.page(BOB, anchor=None, count=10, forward=True) == expected
    assert await store.find(BOB, [locator(locator_key(m)) for m in given]) == expected
    assert await store.get(BOB, (11, 2, 2)) == expected[1]
    assert given[0].conv_id == "elsewhere" and given[0].is_read is None  # the caller's messages untouched
    assert await store.unread_count(BOB) == 1


async def test_an_imported_message_without_a_time_is_stamped_with_the_clock(store: LocalStore) -> None:
    """A message with neither server nor client time gets the store's clock as its client time."""
    untimed = Message(elem_array=[TextElem(content="when?")], seq=4, rand=4)
    await store.insert_many(BOB, [untimed], status=MsgStatus.LOCAL_IMPORTED)
    [got] = await store.page(BOB, anchor=None, count=10, forward=True)
    assert (got.client_time, got.conv_id, got.status) == (1_700_000_000, "bob", 5)
    assert untimed.client_time is None


async def test_insert_many_rejects_mismatched_msg_keys(store: LocalStore) -> None:
    """A msg_keys list of the wrong length is TIM_ERR_PARAM, and nothing is written."""
    with pytest.raises(UsageError) as info:
        await store.insert_many(BOB, [text_msg(1, 1, 1)], status=SENT, msg_keys=[])
    assert info.value.code == TIM_ERR_PARAM
    assert await store.count(BOB) == 0


# --- paging --------------------------------------------------------------------------------------


async def _fill_one_second(store: LocalStore) -> list[tuple[int, int, int]]:
    """50 messages in second 1000 (seq ties broken by rand), one before and one after; sorted keys."""
    rng = random.Random(7)
    same_second = [(1000, i // 5, rng.randrange(2**32)) for i in range(50)]
    all_keys = [(999, 9, 9), *same_second, (1001, 0, 0)]
    shuffled = rng.sample(all_keys, len(all_keys))
    await store.insert_many(BOB, [text_msg(*k) for k in shuffled], status=SENT)
    return sorted(all_keys)


@pytest.mark.parametrize("forward", [False, True], ids=["backward", "forward"])
@pytest.mark.parametrize("count", [1, 3, 7, 52, 100])
async def test_paging_visits_every_message_once(store: LocalStore, forward: bool, count: int) -> None:
    """Paging from the previous page's last message visits all 52 once, in order, never the anchor."""
    expected = await _fill_one_second(store)
    seen: list[tuple[int, int, int]] = []
    anchor = None
    while page := await store.page(BOB, anchor=anchor, count=count, forward=forward):
        assert len(page) <= count
        assert anchor not in keys(page)
        seen += keys(page)
        anchor = locator_key(page[-1])
    assert seen == (expected if forward else expected[::-1])


async def test_page_from_an_anchor_is_strict(store: LocalStore) -> None:
    """A page starts strictly after (forward) or before (backward) its anchor, even an absent one."""
    expected = await _fill_one_second(store)
    anchor = expected[20]
    assert keys(await store.page(BOB, anchor=anchor, count=3, forward=True)) == expected[21:24]
    assert keys(await store.page(BOB, anchor=anchor, count=3, forward=False)) == expected[17:20][::-1]
    between = (anchor[0], anchor[1], anchor[2] + 1)  # not stored unless rands collide
    assert keys(await store.page(BOB, anchor=between, count=1, forward=False)) == [anchor]


async def test_page_carries_current_status_and_read_mark(store: LocalStore) -> None:
    """Messages from page() carry the stored status, read mark and conversation, not stale JSON."""
    await store.save(BOB, text_msg(1, 1, 1), status=MsgStatus.SENDING)
    await store.set_status(BOB, (1, 1, 1), MsgStatus.REVOKED)
    await store.mark_read(BOB, None)
    [msg] = await store.page(BOB, anchor=None, count=10, forward=True)
    assert (msg.status, msg.is_read, msg.conv_id, msg.conv_type) == (MsgStatus.REVOKED, True, "bob", 1)


@pytest.mark.parametrize("count", [0, -1])
async def test_page_count_bounds(store: LocalStore, count: int) -> None:
    """count=0 returns nothing; a negative count (SQLite's "no limit") is TIM_ERR_PARAM."""
    await store.save(BOB, text_msg(1, 1, 1), status=SENT)
    if count == 0:
        assert await store.page(BOB, anchor=None, count=0, forward=True) == []
        return
    with pytest.raises(UsageError):
        await store.page(BOB, anchor=None, count=count, forward=True)


@pytest.mark.parametrize("forward", [False, True], ids=["backward", "forward"])
@pytest.mark.parametrize("anchored", [False, True], ids=["from-end", "anchored"])
async def test_page_query_uses_the_locator_index(tmp_path: Path, forward: bool, anchored: bool) -> None:
    """EXPLAIN QUERY PLAN: paging searches messages_by_locator, with no table scan and no sort."""
    path = tmp_path / "plan.sqlite3"
    async with LocalStore(path) as store:
        await store.insert_many(BOB, [text_msg(t, 0, 0) for t in range(200)], status=SENT)
    query = store_sql.page_sql(forward=forward, anchored=anchored)
    params = (*BOB, *((1, 2, 3) if anchored else ()), True, 20)
    with sqlite3.connect(path) as db:
        plan = " | ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + query, params))
    db.close()
    assert "SEARCH messages USING INDEX messages_by_locator (conv_type=? AND conv_id=?" in plan
    assert "SCAN" not in plan and "TEMP B-TREE" not in plan
    if anchored:
        assert "(time,seq,rand)" in plan


@pytest.mark.parametrize("query", [store_sql.COUNT, store_sql.UNREAD_COUNT], ids=["count", "unread_count"])
def test_counts_read_one_row(query: str) -> None:
    """count() and unread_count() read one row by primary key, never the conversation's messages."""
    with sqlite3.connect(":memory:") as db:
        for script in MIGRATIONS:
            for statement in statements(script):
                db.execute(statement)
        plan = " | ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + query, BOB))
    db.close()
    assert plan == "SEARCH conv_counts USING PRIMARY KEY (conv_type=? AND conv_id=?)"


SCANNED_COUNTS = (
    "SELECT conv_type, conv_id, sum(status != 4), sum(is_read = 0 AND is_self = 0 AND status NOT IN (4, 6))"
    " FROM messages GROUP BY conv_type, conv_id"
)


async def test_maintained_counts_match_a_scan(tmp_path: Path) -> None:
    """After saves, re-saves, imports, status changes, deletes, read marks and a conversation's
    removal, the counts the triggers keep equal the counts a scan of the messages gives."""
    rng = random.Random(4)
    path = tmp_path / "c.sqlite3"
    async with LocalStore(path) as store:
        for step in range(600):
            conv = (BOB, GROUP)[rng.randrange(2)]
            key = (rng.randrange(40), 0, 0)
            action = rng.randrange(7)
            if action == 0:
                await store.save(conv, text_msg(*key, is_from_self=rng.random() < 0.3), status=SENT)
            elif action == 1:
                batch = [text_msg(rng.randrange(40), 0, 0, is_from_self=rng.random() < 0.3) for _ in range(4)]
                await store.insert_many(conv, batch, status=rng.choice(list(MsgStatus)))
            elif action == 2:
                await store.set_status(conv, key, rng.choice(list(MsgStatus)))
            elif action == 3:
                await store.delete(conv, key)
            elif action == 4:
                await store.mark_read(conv, key if rng.random() < 0.8 else None)
            elif action == 5 and step % 50 == 0:
                await store.delete_conversation(conv)
            elif action == 5:
                fanned = text_msg(rng.randrange(40), 0, 0, is_read=rng.random() < 0.5)
                await store.insert_fanout(
                    BOB[0], [BOB[1], "carol"], fanned, status=rng.choice(list(MsgStatus)), msg_key=None
                )
            else:
                await store.save(conv, text_msg(*key, is_read=False), status=SENT)
        counts = {conv: (await store.count(conv), await store.unread_count(conv)) for conv in (BOB, GROUP)}
    with sqlite3.connect(path) as db:
        scanned = {(t, i): (live, unread) for t, i, live, unread in db.execute(SCANNED_COUNTS)}
    db.close()
    assert counts == {conv: scanned.get(conv, (0, 0)) for conv in (BOB, GROUP)}
    assert sum(live for live, _ in counts.values()) > 0


FANOUT_IDS = ["bob", "carol", 'quote"back\\slash', "line\nbreak\x01\x1f\x7f\u2028", "ünï©ødé 😀"]
# An id with a NUL cannot go through SQLite's JSON functions (they end the string there); one that
# looks like an escaped NUL takes the same path.
NUL_IDS = [*FANOUT_IDS, "nul\x00inside", "a\\u0000b"]


@pytest.mark.parametrize(
    ("content", "conv_ids"),
    [
        ("to everyone", FANOUT_IDS),  # the rows built by SQLite
        ("to everyone", NUL_IDS),  # rows built in Python
    ],
    ids=["sqlite", "nul-in-id"],
)
async def test_a_fanout_stores_what_one_save_per_recipient_would(
    store: LocalStore, tmp_path: Path, content: str, conv_ids: list[str]
) -> None:
    """Each recipient's row (columns and JSON) is the row a save of the message in that conversation
    makes, whatever characters the recipient's id holds."""
    msg = text_msg(1_700_000_000, 7, 9, content, sender="me", is_from_self=True, msg_id="7_9_1700000000")
    if on_postgres(store) and any("\x00" in conv_id for conv_id in conv_ids):
        # PostgreSQL's text holds no NUL (nor do TIM's identifiers): refused, nothing stored.
        with pytest.raises(UsageError) as refused:
            await store.insert_fanout(BOB[0], conv_ids, msg, status=SENT, msg_key="key-1")
        assert refused.value.code == TIM_ERR_CONV and await store.count(BOB) == 0
        return
    assert await store.insert_fanout(BOB[0], conv_ids, msg, status=SENT, msg_key="key-1") == len(conv_ids)
    async with LocalStore(tmp_path / "one-by-one.sqlite3") as single:
        for conv_id in conv_ids:
            await single.save((BOB[0], conv_id), msg, status=SENT, msg_key="key-1")
        for conv_id in conv_ids:
            conv = (BOB[0], conv_id)
            fanned, saved = await store.get(conv, locator_key(msg)), await single.get(conv, locator_key(msg))
            assert fanned is not None and fanned.conv_id == conv_id
            assert encode(fanned) == encode(saved)
            assert await store.msg_key_of(conv, locator_key(msg)) == "key-1"
            assert (await store.count(conv), await store.unread_count(conv)) == (1, 0)


async def test_a_fanout_that_meets_stored_locators_adds_only_the_new_rows(store: LocalStore) -> None:
    """Recipients that already hold the message (a batch resent) and an id given twice are not
    stored again or counted twice; the first stored copy wins."""
    msg = text_msg(5, 5, 5, "fanned", is_read=False)
    await store.save((BOB[0], "carol"), text_msg(5, 5, 5, "saved first"), status=SENT)
    ids = ["bob", "carol", "dave", "bob"]
    assert await store.insert_fanout(BOB[0], ids, msg, status=SENT, msg_key=None) == 2
    carol = await store.get((BOB[0], "carol"), (5, 5, 5))
    assert carol is not None and carol.elem_array[0].content == "saved first"  # type: ignore[union-attr]
    for conv_id in ("bob", "carol", "dave"):
        assert (await store.count((BOB[0], conv_id)), await store.unread_count((BOB[0], conv_id))) == (1, 1)
    assert await store.insert_fanout(BOB[0], ids, msg, status=SENT, msg_key=None) == 0
    assert await store.count(BOB) == 1


async def test_a_fanout_refuses_a_bad_conversation_before_storing_any(store: LocalStore) -> None:
    with pytest.raises(UsageError) as caught:
        await store.insert_fanout(BOB[0], ["bob", ""], text_msg(1, 1, 1), status=SENT, msg_key=None)
    assert caught.value.code == TIM_ERR_CONV
    with pytest.raises(UsageError) as caught:
        await store.insert_fanout(BOB[0], ["bob", "lone\udc80"], text_msg(1, 1, 1), status=SENT, msg_key=None)
    assert caught.value.code == TIM_ERR_CONV and "Unicode" in str(caught.value)
    with pytest.raises(UsageError):
        await store.insert_fanout(99, ["bob"], text_msg(1, 1, 1), status=SENT, msg_key=None)
    assert await store.count(BOB) == 0


async def test_a_locator_repeated_in_one_import_keeps_the_first(store: LocalStore) -> None:
    """Within one insert_many, the first message of a repeated locator wins, whatever its class."""
    first = text_msg(1, 1, 1, "first", is_from_self=True)
    batch = [text_msg(2, 2, 2), first, text_msg(1, 1, 1, "second"), text_msg(3, 3, 3, is_from_self=True)]
    assert await store.insert_many(BOB, batch, status=SENT) == 3
    stored = await store.get(BOB, (1, 1, 1))
    assert stored is not None and stored.elem_array[0].content == "first"  # type: ignore[union-attr]
    assert (await store.count(BOB), await store.unread_count(BOB)) == (3, 1)


def test_only_counts_py_inserts_messages() -> None:
    """No module but store/counts.py runs the message insert (its counts would drift otherwise)."""
    package = Path(store_sql.__file__).parent.parent
    allowed = {"store/counts.py", "store/sql.py"}
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if str(path.relative_to(package)) not in allowed
        # (`INTO messages_fts`, the search index's, is not the messages table)
        and ("INSERT_IGNORE" in path.read_text() or re.search(r"INTO messages\b", path.read_text()))
    ]
    assert offenders == []


async def test_a_version_3_database_gets_its_counts(tmp_path: Path) -> None:
    """Upgrading a database with messages (schema 3) fills the maintained counts from its rows."""
    path = tmp_path / "v3.sqlite3"
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:3]:
            for statement in statements(script):
                db.execute(statement)
        for t in range(5):
            db.execute(store_sql.INSERT_IGNORE, row_of(BOB, stamp(text_msg(t, 0, 0), BOB, SENT, 0), None))
        db.execute("UPDATE messages SET status = 4 WHERE time = 0")
        db.execute("UPDATE messages SET is_read = 1 WHERE time = 1")
        db.execute("PRAGMA user_version = 3")
    db.close()
    async with LocalStore(path) as store:
        assert (await store.count(BOB), await store.unread_count(BOB)) == (4, 3)


# --- delete, status, read marks ------------------------------------------------------------------


async def test_deleted_messages_are_tombstones(store: LocalStore) -> None:
    """delete() hides a message from page/find/get/count, keeps its MsgKey; a re-import cannot revive it."""
    msgs = [text_msg(t, 0, 0) for t in range(1, 6)]
    await store.insert_many(BOB, msgs, status=SENT, msg_keys=[f"k{t}" for t in range(1, 6)])
    assert await store.delete(BOB, (3, 0, 0)) is True
    assert await store.delete(BOB, (3, 0, 0)) is False
    assert await store.delete(BOB, (42, 0, 0)) is False
    assert keys(await store.page(BOB, anchor=None, count=10, forward=True)) == [
        (t, 0, 0) for t in (1, 2, 4, 5)
    ]
    assert keys(await store.page(BOB, anchor=(5, 0, 0), count=2, forward=False)) == [(4, 0, 0), (2, 0, 0)]
    assert await store.find(BOB, [locator((3, 0, 0))]) == []
    assert await store.get(BOB, (3, 0, 0)) is None
    assert await store.count(BOB) == 4
    assert await store.msg_key_of(BOB, (3, 0, 0)) == "k3"
    assert await store.insert_many(BOB, msgs, status=SENT) == 0
    everything = await store.page(BOB, anchor=None, count=10, forward=True, include_deleted=True)
    assert [m.status for m in everything] == [SENT, SENT, MsgStatus.DELETED, SENT, SENT]


async def test_set_status(store: LocalStore) -> None:
    """set_status() changes a stored message's status and reports whether the locator exists."""
    await store.save(BOB, text_msg(1, 1, 1), status=SENT)
    assert await store.set_status(BOB, (1, 1, 1), MsgStatus.REVOKED) is True
    assert await store.set_status(BOB, (2, 2, 2), MsgStatus.REVOKED) is False
    assert (await store.get(BOB, (1, 1, 1))).status == MsgStatus.REVOKED  # type: ignore[union-attr]


async def test_newest_and_count(store: LocalStore) -> None:
    """newest() is the last live message in locator order; count() counts live messages."""
    assert (await store.newest(BOB), await store.count(BOB)) == (None, 0)
    await store.insert_many(BOB, [text_msg(5, 2, 1), text_msg(5, 10, 0), text_msg(4, 99, 9)], status=SENT)
    assert locator_key(await store.newest(BOB)) == (5, 10, 0)  # type: ignore[arg-type]
    await store.delete(BOB, (5, 10, 0))
    assert locator_key(await store.newest(BOB)) == (5, 2, 1)  # type: ignore[arg-type]
    assert await store.count(BOB) == 2


@pytest.mark.parametrize(
    ("up_to", "marked", "unread_after"),
    [
        (None, 4, 0),
        ((3, 0, 0), 2, 2),  # at or before: 2 and 3 (1 is from self, already read)
        ((3, 0, 1), 2, 2),  # an anchor between messages
        ((0, 0, 0), 0, 4),
    ],
)
async def test_mark_read_and_unread_count(
    store: LocalStore, up_to: tuple[int, int, int] | None, marked: int, unread_after: int
) -> None:
    """mark_read() marks every message at or before the locator; unread_count() counts the others' unread."""
    await store.save(BOB, text_msg(1, 0, 0, is_from_self=True), status=SENT)
    for t in range(2, 8):
        await store.save(BOB, text_msg(t, 0, 0), status=SENT)
    await store.set_status(BOB, (6, 0, 0), MsgStatus.REVOKED)
    await store.delete(BOB, (7, 0, 0))
    assert await store.unread_count(BOB) == 4  # 2..5: not self, not revoked, not deleted
    assert await store.mark_read(BOB, up_to) == marked + (up_to is None)  # None also marks the revoked one
    assert await store.unread_count(BOB) == unread_after


# --- next_seq ------------------------------------------------------------------------------------


async def test_next_seq_increases_and_survives_reopen(tmp_path: Path) -> None:
    """next_seq() starts below 2**24, increases by one, is per conversation, and keeps increasing
    after a reopen (which skips the rest of the reserved block)."""
    path = tmp_path / "seq.sqlite3"
    async with LocalStore(path, rng=random.Random(1)) as store:
        first = await store.next_seq(BOB)
        assert 1 <= first < 2**24
        assert [await store.next_seq(BOB) for _ in range(3)] == [first + 1, first + 2, first + 3]
        other = await store.next_seq(GROUP)
    async with LocalStore(path, rng=random.Random(2)) as store:
        assert first + 4 <= await store.next_seq(BOB) <= first + SEQ_BLOCK
        assert other + 1 <= await store.next_seq(GROUP) <= other + SEQ_BLOCK


async def test_next_seq_wraps_to_one_after_uint32_max(tmp_path: Path) -> None:
    """After 2**32 - 1 the MsgSeq counter wraps to 1 (0 would mean "server chooses")."""
    path = tmp_path / "seq.sqlite3"
    async with LocalStore(path) as store:
        await store.next_seq(BOB)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE seq_counters SET last = ?", (2**32 - 2,))
    db.close()
    async with LocalStore(path) as store:
        assert [await store.next_seq(BOB) for _ in range(3)] == [2**32 - 1, 1, 2]


async def test_concurrent_next_seq_never_repeats(store: LocalStore) -> None:
    """Concurrent next_seq() calls on one store each get a distinct value."""
    got = await asyncio.gather(*(store.next_seq(BOB) for _ in range(50)))
    assert sorted(got) == list(range(min(got), min(got) + 50))


async def test_gathered_next_seq_reserves_once_per_conversation(store: LocalStore) -> None:
    """2,000 next_seq() calls gathered over 40 conversations: one reservation per conversation,
    committed together; each conversation's seqs are distinct and in call order."""
    if not isinstance(store, LocalStore):
        pytest.skip("counts the SQLite store's writer batches")
    convs = [(int(ConvType.C2C), f"peer{n}") for n in range(40)]
    assert store._writer is not None
    commits = store._writer.batches
    got = await asyncio.gather(*(store.next_seq(convs[n % 40]) for n in range(2000)))
    assert store._writer.batches - commits <= 2
    for index in range(40):
        seqs = got[index::40]
        assert seqs == list(range(seqs[0], seqs[0] + 50))


async def test_a_seq_block_with_callers_waiting_is_never_forgotten(store: LocalStore) -> None:
    """With room for 5 blocks, 40 conversations gathered at once still get distinct seqs in call
    order each (blocks being refilled stay); once idle, the kept blocks shrink back to 5."""
    from aio_tim.store.seqs import SeqCounters

    if not isinstance(store, LocalStore):
        pytest.skip("the SQLite store's seq counters")
    store._seqs = SeqCounters(store._reserve_seqs, random.Random(3), capacity=5)
    convs = [(int(ConvType.C2C), f"peer{n}") for n in range(40)]
    got = await asyncio.gather(*(store.next_seq(convs[n % 40]) for n in range(400)))
    for index in range(40):
        seqs = got[index::40]
        assert seqs == list(range(seqs[0], seqs[0] + 10))
    for conv in convs[:6]:
        await store.next_seq(conv)
    assert len(store._seqs) <= 40
    for n in range(40, 60):
        await store.next_seq((int(ConvType.C2C), f"peer{n}"))
    assert len(store._seqs) == 5


async def test_a_cancelled_next_seq_caller_strands_no_one(store: LocalStore) -> None:
    """A caller cancelled while its conversation's block is being reserved takes no seq; the
    callers after it get theirs, in order."""
    waiting = [asyncio.create_task(store.next_seq(BOB)) for _ in range(5)]
    await asyncio.sleep(0)
    waiting[0].cancel()
    waiting[2].cancel()
    done = await asyncio.gather(*waiting, return_exceptions=True)
    seqs = [seq for seq in done if isinstance(seq, int)]
    assert len(seqs) == 3 and seqs == list(range(seqs[0], seqs[0] + 3))
    assert await store.next_seq(BOB) == seqs[-1] + 1


# --- text round-trips ----------------------------------------------------------------------------

AWKWARD_TEXTS = [
    'say "hi" it\'s',
    "nul\x00byte",
    "100% off_50 [a-z]*",
    "emoji 😀 astral 𝄞 CJK 你好",
    "back\\slash \u2028 line separator",
    "'); DROP TABLE messages; --",
    "",
]


@pytest.mark.parametrize("content", AWKWARD_TEXTS)
async def test_text_round_trips_byte_exactly(store: LocalStore, content: str) -> None:
    """Quotes, NUL, LIKE wildcards, astral characters and SQL in content and conversation id round-trip."""
    conv = (int(ConvType.GROUP), f"g-{content}-id" if content else "g")
    sent = text_msg(1, 2, 3, content, sender=content, cloud_custom_str=content)
    if on_postgres(store) and "\x00" in content:
        # PostgreSQL's text holds no NUL (nor do TIM's identifiers): such an id is refused.
        with pytest.raises(UsageError) as refused:
            await store.save(conv, sent, status=SENT, msg_key=content)
        assert refused.value.code == TIM_ERR_CONV
        return
    await store.save(conv, sent, status=SENT, msg_key=content)
    [got] = await store.page(conv, anchor=None, count=5, forward=True)
    assert encode(got.elem_array) == encode(sent.elem_array)
    assert (got.sender, got.cloud_custom_str, got.conv_id) == (content, content, conv[1])
    assert await store.msg_key_of(conv, (1, 2, 3)) == content
    assert await store.page((int(ConvType.GROUP), "g-%-id"), anchor=None, count=5, forward=True) == []


# --- lifecycle -----------------------------------------------------------------------------------


async def test_migrations_set_user_version_and_reopen_is_idempotent(tmp_path: Path) -> None:
    """Opening sets PRAGMA user_version to the schema version; reopening keeps the data and the version."""
    path = tmp_path / "s.sqlite3"
    for _ in range(2):
        async with LocalStore(path) as store:
            await store.insert_many(BOB, [text_msg(1, 1, 1)], status=SENT)
            assert await store.count(BOB) == 1
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


async def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    """A database left at schema version 1 is migrated to the current version with its messages intact."""
    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as db:
        for statement in statements(MIGRATIONS[0]):
            db.execute(statement)
        db.execute(store_sql.INSERT_IGNORE, row_of(BOB, stamp(text_msg(1, 1, 1), BOB, SENT, 0), "k"))
        db.execute("PRAGMA user_version = 1")
    db.close()
    async with LocalStore(path) as store:
        assert await store.count(BOB) == 1
        assert await store.msg_key_of(BOB, (1, 1, 1)) == "k"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


async def test_a_failing_migration_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Migrations run in one transaction: if a script fails, neither its tables nor the version change."""
    path = tmp_path / "s.sqlite3"
    async with LocalStore(path):
        pass
    broken = "CREATE TABLE half_done (a); SELECT * FROM no_such_table;"
    monkeypatch.setattr(schema, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(TIMError, match="no such table"):
        await LocalStore(path).open()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall() == []
    db.close()


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("CREATE TABLE a (x); CREATE TABLE b (y);", ["CREATE TABLE a (x);", "CREATE TABLE b (y);"]),
        ("INSERT INTO a VALUES ('semi;colon');", ["INSERT INTO a VALUES ('semi;colon');"]),
        (
            "-- a comment; with a semicolon\nCREATE TABLE a (x);",
            ["-- a comment; with a semicolon\nCREATE TABLE a (x);"],
        ),
        (
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN DELETE FROM b; DELETE FROM c; END;",
            ["CREATE TRIGGER t AFTER INSERT ON a BEGIN DELETE FROM b; DELETE FROM c; END;"],
        ),
        ("CREATE TABLE a (x)", ["CREATE TABLE a (x);"]),
        ("  \n  ", []),
    ],
    ids=["two", "string", "comment", "trigger", "no-final-semicolon", "empty"],
)
def test_migration_scripts_split_into_whole_statements(script: str, expected: list[str]) -> None:
    """A migration script splits at statement ends only, not at every semicolon."""
    assert statements(script) == expected


def test_an_unterminated_migration_script_is_refused() -> None:
    """A script ending inside a string or trigger is an error, never a silently dropped statement."""
    with pytest.raises(ValueError, match="unterminated"):
        statements("CREATE TABLE a (x); INSERT INTO a VALUES ('oops);")


async def test_too_new_schema_is_refused(tmp_path: Path) -> None:
    """A database from a newer aio_tim raises a TIMError that says so, and the store stays closed."""
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    store = LocalStore(path)
    with pytest.raises(TIMError, match="newer than this aio_tim supports") as info:
        await store.open()
    assert info.value.code == 6022
    assert "state=new" in repr(store)


async def test_repr_shows_path_and_state(tmp_path: Path) -> None:
    """repr() names the path and whether the store is new, open or closed."""
    store = LocalStore(tmp_path / "r.sqlite3")
    assert repr(store) == f"<LocalStore path='{tmp_path / 'r.sqlite3'}' state=new>"
    await store.open()
    assert "state=open" in repr(store)
    await store.aclose()
    await store.aclose()
    assert "state=closed" in repr(store)


async def test_open_creates_the_parent_folder(tmp_path: Path) -> None:
    """open() creates missing parent folders, owner-only."""
    path = tmp_path / "a" / "b" / "s.sqlite3"
    async with LocalStore(path):
        pass
    assert path.exists()
    assert (path.parent.stat().st_mode & 0o777) == 0o700


async def test_closed_store_refuses_calls() -> None:
    """Calls on a store that is not open raise UsageError(TIM_ERR_SDKUNINIT)."""
    store = LocalStore()
    with pytest.raises(UsageError) as info:
        await store.count(BOB)
    assert info.value.code == TIM_ERR_SDKUNINIT


async def test_open_twice_is_an_error() -> None:
    """open() on an open store is a usage error."""
    async with LocalStore() as store:
        with pytest.raises(UsageError):
            await store.open()


async def test_unclosed_store_warns() -> None:
    """A store garbage-collected while open emits ResourceWarning."""
    workers_before = set(threading.enumerate())
    store = await LocalStore().open()
    [worker] = set(threading.enumerate()) - workers_before
    with pytest.warns(ResourceWarning) as record:
        del store
        gc.collect()
    assert any("LocalStore" in str(w.message) for w in record)
    # Let the worker thread finish and report back while this test's loop still runs.
    await asyncio.to_thread(worker.join)
    await asyncio.sleep(0)


async def test_concurrent_writers_and_readers(store: LocalStore) -> None:
    """Interleaved saves, imports and pages on one store neither fail nor see each other's half-done work."""
    bulk = [text_msg(1000 + i, 0, 0) for i in range(500)]
    pages = [store.page(BOB, anchor=None, count=1000, forward=True) for _ in range(5)]
    saves = [store.save(BOB, text_msg(i, 0, 0), status=SENT) for i in range(50)]
    results = await asyncio.gather(store.insert_many(BOB, bulk, status=SENT), *pages, *saves)
    assert results[0] == 500
    for page in results[1:6]:
        assert keys(page) == sorted(set(keys(page)))  # type: ignore[arg-type]
    assert await store.count(BOB) == 550


async def test_cancelled_write_leaves_the_store_usable(store: LocalStore) -> None:
    """Cancelling a bulk import mid-way commits all or nothing, and the next write works."""
    bulk = [text_msg(t, 0, 0) for t in range(20_000)]
    task = asyncio.create_task(store.insert_many(BOB, bulk, status=SENT))
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.count(BOB) in (0, 20_000)
    await store.save(BOB, text_msg(99_999, 0, 0), status=SENT)
    assert await store.get(BOB, (99_999, 0, 0)) is not None


async def test_insert_many_of_nothing(store: LocalStore) -> None:
    """insert_many([]) adds nothing and returns 0."""
    assert await store.insert_many(BOB, [], status=SENT) == 0


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("conv", [(0, "bob"), (9, "bob"), (1, ""), (1, None)])
async def test_invalid_conversation_is_tim_err_conv(store: LocalStore, conv: tuple[int, str]) -> None:
    """A conversation with an unknown type or an empty id is TIM_ERR_CONV, before any I/O."""
    with pytest.raises(UsageError) as info:
        await store.count(conv)
    assert info.value.code == TIM_ERR_CONV


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda s: s.save(BOB, text_msg(1, 1, 1), status=99), TIM_ERR_PARAM),
        (lambda s: s.set_status(BOB, (1, 1, 1), 0), TIM_ERR_PARAM),
        (lambda s: s.save(BOB, text_msg(1, 2**63, 1), status=SENT), TIM_ERR_PARAM),
        (lambda s: s.get(BOB, (2**64, 0, 0)), TIM_ERR_PARAM),
        (lambda s: s.page(BOB, anchor=(1, 2), count=5, forward=True), TIM_ERR_PARAM),
        (lambda s: s.delete(BOB, [1, 2, 3]), TIM_ERR_PARAM),
        (lambda s: s.mark_read(BOB, ("1", 2, 3)), TIM_ERR_PARAM),
    ],
    ids=[
        "bad-status",
        "zero-status",
        "seq-past-int64",
        "anchor-past-int64",
        "short-anchor",
        "list-key",
        "str-time",
    ],
)
async def test_bad_values_are_usage_errors(store: LocalStore, call: object, code: int) -> None:
    """Unknown statuses, malformed locator keys and integers SQLite cannot hold are TIM_ERR_PARAM."""
    with pytest.raises(UsageError) as info:
        await call(store)  # type: ignore[operator]
    assert info.value.code == code


def test_invalid_synchronous_mode() -> None:
    """synchronous must be a SQLite mode name; anything else never reaches a PRAGMA."""
    with pytest.raises(UsageError):
        LocalStore(synchronous="NORMAL; DROP TABLE messages")


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "mapped"),
    [
        (sqlite3.OperationalError("database or disk is full"), 6022),
        (sqlite3.OperationalError("disk I/O error"), 6022),
        (sqlite3.OperationalError("database is locked"), 6022),
        (sqlite3.OperationalError("attempt to write a readonly database"), 6022),
        (sqlite3.DatabaseError("file is not a database"), 6022),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), TIM_ERR_PARAM),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), None),
        (sqlite3.ProgrammingError("Incorrect number of bindings"), None),
    ],
)
def test_storage_error_table(exc: BaseException, mapped: int | None) -> None:
    """I/O failures become TIMError 6022 naming sqlite's message; bugs in our SQL propagate unchanged."""
    err = storage_error(exc)
    assert (err.code if err else None) == mapped
    if err is not None:
        assert err.desc.startswith("local store: ") and str(exc) in err.desc


async def test_corrupt_file_is_a_tim_error(tmp_path: Path) -> None:
    """Opening a file that is not a database raises TIMError 6022."""
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TIMError) as info:
        await LocalStore(path).open()
    assert info.value.code == 6022


async def test_disk_full_is_a_tim_error_and_the_store_recovers(tiny_fs: Path) -> None:
    """A full disk raises TIMError 6022; nothing half-written remains, and writes work once space is freed."""
    ballast = tiny_fs / "ballast"
    ballast.write_bytes(b"\0" * 192 * 1024)
    big = "x" * 8000
    async with LocalStore(tiny_fs / "s.sqlite3") as store:
        saved = 0
        with pytest.raises(TIMError) as info:
            for saved in range(1000):
                await store.save(BOB, text_msg(saved, 0, 0, big), status=SENT)
        assert info.value.code == 6022 and "full" in info.value.desc
        assert await store.count(BOB) == saved
        ballast.unlink()
        await store.save(BOB, text_msg(saved, 0, 0, big), status=SENT)
        await store.insert_many(BOB, [text_msg(saved + 1, 0, 0, big)], status=SENT)
        assert await store.count(BOB) == saved + 2
        assert len(await store.page(BOB, anchor=None, count=1000, forward=True)) == saved + 2


# --- default path --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_id", "readable"),
    [
        ("alice", "alice"),
        ("../../etc/passwd", "______etc_passwd"),
        ("a/b\\c:d", "a_b_c_d"),
        ("CON", "CON"),
        ("用户", "__"),
        ("nul\x00", "nul_"),
    ],
)
def test_default_store_path_is_a_safe_file_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, user_id: str, readable: str
) -> None:
    """The user id becomes one safe file name under $XDG_DATA_HOME/aio_tim/<sdk_app_id>/<endpoint>/."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    path = default_store_path(1400000000, user_id)
    assert path.parent.parent == tmp_path / "aio_tim" / "1400000000"
    assert path.parent.name.startswith("console.tim.qq.com-")
    assert path.name.startswith(readable + "-") and path.suffix == ".sqlite3"


def test_default_store_path_falls_back_to_local_share(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without $XDG_DATA_HOME the store lives under ~/.local/share/aio_tim (platformdirs, Linux)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_store_path(1, "u").parent.parent == tmp_path / ".local" / "share" / "aio_tim" / "1"


def test_default_store_path_is_keyed_by_endpoint() -> None:
    """Two endpoints (or two dev server instances on one port) never share a store."""
    paths = {
        default_store_path(1, "u", endpoint)
        for endpoint in ("https://console.tim.qq.com", "http://127.0.0.1:8765", "http://127.0.0.1:8765#run2")
    }
    assert len(paths) == 3
    assert default_store_path(1, "u", "http://127.0.0.1:8765/") in paths


async def test_store_files_are_owner_only(tmp_path: Path) -> None:
    """The database and its WAL are created 0600, and an older 0644 store is tightened on open."""
    path = tmp_path / "s" / "store.sqlite3"
    async with LocalStore(path) as store:
        await store.save((1, "bob"), Message(elem_array=[TextElem(content="hi")]), status=2)
        modes = {p.name: p.stat().st_mode & 0o777 for p in path.parent.iterdir()}
    assert modes and set(modes.values()) == {0o600}, modes
    path.chmod(0o644)
    async with LocalStore(path):
        assert path.stat().st_mode & 0o777 == 0o600


def test_default_store_path_never_merges_users() -> None:
    """Ids that sanitize alike, or differ only in case, still get different files."""
    names = {default_store_path(1, u).name for u in ["a/b", "a_b", "a:b", "Bob", "bob"]}
    assert len(names) == 5


@pytest.mark.parametrize(("app", "user"), [(-1, "u"), (1, "")])
def test_default_store_path_rejects_bad_ids(app: int, user: str) -> None:
    """A negative sdk_app_id or an empty user id is TIM_ERR_PARAM."""
    with pytest.raises(UsageError):
        default_store_path(app, user)


async def test_seq_blocks_stay_bounded_and_seqs_go_on_after_one_is_forgotten(tmp_path: Path) -> None:
    """Sends to many conversations keep a bounded number of seq blocks; a forgotten conversation's
    next seq still comes after every seq it was given (the counter on disk goes on)."""
    from aio_tim.store.seqs import SeqCounters

    async with LocalStore(tmp_path / "seqs.db") as store:
        store._seqs = SeqCounters(store._reserve_seqs, random.Random(), capacity=50)
        first = [await store.next_seq((1, "peer0")) for _ in range(3)]
        for n in range(1, 2_000):
            await store.next_seq((1, f"peer{n}"))
        assert len(store._seqs) == 50 and (1, "peer0") not in store._seqs
        again = await store.next_seq((1, "peer0"))
    print(f"peer0's seqs before: {first}, after it was forgotten: {again}")
    assert again > max(first)


async def test_the_inbox_alone_keeps_the_wal_bounded(tmp_path: Path) -> None:
    """A receiver that only appends webhooks (one at a time, as one poster sends them) checkpoints
    the WAL as it goes: main file + WAL stay under twice the database's size after a clean close."""
    from aio_tim.seams.inbox import NewEntry
    from aio_tim.store.inbox import SqliteInbox

    path = tmp_path / "inbox.db"
    body = b'{"CallbackCommand":"C2C.CallbackAfterSendMsg","MsgBody":[{"Text":"' + b"x" * 600 + b'"}]}'
    largest = 0
    async with LocalStore(path) as store:
        inbox = SqliteInbox(store)
        for n in range(3_000):
            entry = NewEntry(
                key=f"k{n}", command="C2C.CallbackAfterSendMsg", body=body, query={}, received=0.0
            )
            await inbox.append([entry])
            if n % 100 == 99:
                wal = path.with_name(path.name + "-wal")
                largest = max(largest, path.stat().st_size + (wal.stat().st_size if wal.exists() else 0))
        await inbox.aclose()
    closed = path.stat().st_size
    print(f"largest main + WAL while appending: {largest:,} bytes; after a clean close: {closed:,}")
    assert largest < 2 * closed
