"""Local search (`find_messages`, `search_local_messages`, `set_local_custom_data`) and type-filtered
`get_msg_list` pages, against the dev server over loopback HTTP and a real SQLite file store:
success, errors, bad input (UsageError before any I/O, nothing stored), and randomized queries
compared with a brute-force filter over the same messages."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from scenario import GROUP, T0, Clock, text

from aio_tim import Client, ConvType, Message, MsgStatus, NotFoundError, TextElem, UsageError
from aio_tim.devserver import DevServer
from aio_tim.errors import TIM_ERR_CONV, TIM_ERR_JSON, TIM_ERR_PARAM
from aio_tim.store import LocalStore, locator_key
from aio_tim.store.schema import MIGRATIONS, statements
from aio_tim.testing import client_for
from aio_tim.types import (
    CustomElem,
    FaceElem,
    FileElem,
    ImageElem,
    LocationElem,
    MergeElem,
    MsgSearchResult,
    encode,
)

C2C = ConvType.C2C
GRP = ConvType.GROUP


@pytest_asyncio.fixture
async def carol(server: DevServer, clock: Clock, tmp_path: Path) -> AsyncIterator[Client]:
    """A client with a file store of its own (the search index lives in it)."""
    async with client_for(server, "carol", clock=clock, store_path=tmp_path / "carol.db") as client:
        yield client


def search(**param: Any) -> dict[str, Any]:
    return {f"msg_search_param_{k}": v for k, v in param.items()}


def contents(msgs: list[Message]) -> list[str]:
    return [m.text for m in msgs]


async def rows_in(client: Client) -> int:
    return sum([await client.store.count((C2C, peer)) for peer in ("bob", "dave")])


# --- success, over loopback ------------------------------------------------------------------------


async def test_sent_messages_are_found_by_keyword_and_by_msg_id(carol: Client) -> None:
    """What carol sends is found by the next search (its catch-up indexes it): by keyword, by msg_id."""
    first = await carol.msg.send_text("bob", C2C, "the quarterly Invoice is late")
    await carol.msg.send_text("bob", C2C, "lunch?")
    other = await carol.msg.send_text("dave", C2C, "invoice #2 attached")
    one = await carol.msg.search_local_messages(search(keyword_array=["invoice"], conv_id="bob", conv_type=1))
    assert one.total_count == 1 and contents(one.item_array[0].message_array) == [first.text]
    every = await carol.msg.search_local_messages(search(keyword_array=["invoice"]))
    assert every.total_count == 2
    assert {(i.conv_id, i.total_message_count) for i in every.item_array} == {("bob", 1), ("dave", 1)}
    assert await carol.msg.find_messages([other.msg_id, "nope", first.msg_id]) == [
        await carol.store.get((C2C, "dave"), locator_key(other)),
        await carol.store.get((C2C, "bob"), locator_key(first)),
    ]


async def test_result_is_the_c_sdk_json(carol: Client) -> None:
    """The result encodes with the C SDK's keys, every key present."""
    await carol.msg.send_text("bob", C2C, "hello there")
    result = await carol.msg.search_local_messages('{"msg_search_param_keyword_array": ["hello"]}')
    raw = msgspec.json.decode(encode(result))
    assert set(raw) == {
        "msg_search_result_total_count",
        "msg_search_result_item_array",
        "msg_search_result_search_cursor",
    }
    item = raw["msg_search_result_item_array"][0]
    assert item["msg_search_result_item_conv_id"] == "bob" and item["msg_search_result_item_conv_type"] == 1
    assert item["msg_search_result_item_total_message_count"] == 1
    assert (
        item["msg_search_result_item_message_array"][0]["message_elem_array"][0]["text_elem_content"]
        == "hello there"
    )


async def test_modify_reindexes_and_keeps_local_custom_data(carol: Client) -> None:
    """A modify (openim/modify_c2c_msg) re-saves the message: the index follows the new content,
    and the local custom data set before stays."""
    sent = await carol.msg.send_text("bob", C2C, "helo wrold")
    await carol.msg.set_local_custom_data(msgspec.structs.replace(sent, custom_int=7, custom_str="starred"))
    fixed = msgspec.structs.replace(sent, elem_array=[TextElem(content="hello world")])
    await carol.msg.modify_message(fixed)
    assert (await carol.msg.search_local_messages(search(keyword_array=["wrold"]))).total_count == 0
    found = await carol.msg.search_local_messages(search(keyword_array=["world"]))
    assert found.item_array[0].message_array[0].custom_int == 7
    [stored] = await carol.msg.find_messages([sent.msg_id])
    assert (stored.text, stored.custom_int, stored.custom_str) == ("hello world", 7, "starred")


async def test_local_custom_data_survives_a_roaming_refetch(
    server: DevServer, clock: Clock, tmp_path: Path
) -> None:
    """Set on a message fetched from roaming; fetching roaming again (is_remble) keeps it."""
    async with client_for(server, "alice", clock=clock) as alice:
        await alice.msg.send_text("bob", C2C, "from alice")
    async with client_for(server, "bob", clock=clock, store_path=tmp_path / "bob.db") as bob:
        page = await bob.msg.get_msg_list("alice", C2C, {"msg_getmsglist_param_is_remble": True})
        await bob.msg.set_local_custom_data(
            {"message_msg_id": page[0].msg_id, "message_custom_str": "pinned"}
        )
        await bob.store.delete_conversation((C2C, "nobody"))  # unrelated write
        again = await bob.msg.get_msg_list("alice", C2C, {"msg_getmsglist_param_is_remble": True})
        assert again[0].custom_str == "pinned"
        # cleared by a set without the fields
        await bob.msg.set_local_custom_data(again[0])
        assert (await bob.msg.find_messages([page[0].msg_id]))[0].custom_str == "pinned"
        await bob.msg.set_local_custom_data(msgspec.structs.replace(again[0], custom_str=None))
        assert (await bob.msg.find_messages([page[0].msg_id]))[0].custom_str is None


async def test_group_messages_are_searchable_and_paged(
    server: DevServer, clock: Clock, tmp_path: Path
) -> None:
    """A group conversation, paged by page_index/page_size and by cursor; senders filter."""
    async with client_for(server, "alice", clock=clock, store_path=tmp_path / "a.db") as alice:
        for i in range(7):
            clock.now = T0 + i
            await alice.msg.send_text(GROUP, GRP, f"report {i}")
        base = search(keyword_array=["report"], conv_id=GROUP, conv_type=2, page_size=3)
        pages = [await alice.msg.search_local_messages(base | search(page_index=i)) for i in range(3)]
        assert [contents(p.item_array[0].message_array) for p in pages] == [
            ["report 6", "report 5", "report 4"],
            ["report 3", "report 2", "report 1"],
            ["report 0"],
        ]
        by_cursor: list[str] = []
        cursor = ""
        while True:
            p = await alice.msg.search_local_messages(
                search(
                    keyword_array=["report"], conv_id=GROUP, conv_type=2, search_count=2, search_cursor=cursor
                )
            )
            by_cursor += contents(p.item_array[0].message_array)
            cursor = p.search_cursor
            if not cursor:
                break
        assert by_cursor == [f"report {i}" for i in range(6, -1, -1)]
        none = await alice.msg.search_local_messages(
            search(keyword_array=["report"], send_indentifier_array=["bob"])
        )
        assert none.total_count == 0 and none.item_array == []


async def test_type_filtered_pages_are_read_in_sql(carol: Client) -> None:
    """get_msg_list's message_type_array: the SQL path returns what the Python filter returned."""
    conv = (C2C, "bob")
    msgs = [
        text(f"t{i}", server_time=T0 + i, seq=i + 1, rand=i + 1)
        if i % 3
        else Message(elem_array=[FileElem(file_name=f"f{i}.txt")], server_time=T0 + i, seq=i + 1, rand=i + 1)
        for i in range(30)
    ]
    await carol.msg.import_msg_list("bob", C2C, msgs)
    param = {"msg_getmsglist_param_message_type_array": [4], "msg_getmsglist_param_count": 4}
    page = await carol.msg.get_msg_list("bob", C2C, param)
    assert [m.elems(FileElem)[0].file_name for m in page] == ["f27.txt", "f24.txt", "f21.txt", "f18.txt"]
    nxt = await carol.msg.get_msg_list("bob", C2C, param | {"msg_getmsglist_param_last_msg": page[-1]})
    assert [m.elems(FileElem)[0].file_name for m in nxt] == ["f15.txt", "f12.txt", "f9.txt", "f6.txt"]
    both = await carol.msg.get_msg_list(
        "bob",
        C2C,
        {
            "msg_getmsglist_param_message_type_array": [0, 4],
            "msg_getmsglist_param_count": 5,
            "msg_getmsglist_param_is_forward": True,
            "msg_getmsglist_param_time_begin": T0 + 10,
            "msg_getmsglist_param_time_period": 3,
        },
    )
    assert [m.server_time for m in both] == [T0 + 10, T0 + 11, T0 + 12, T0 + 13]
    assert await carol.store.count(conv) == 30


async def test_an_old_database_is_indexed_by_the_migration(tmp_path: Path) -> None:
    """A database from before local search, with messages, gets them indexed when the store opens it."""
    before = next(i for i, script in enumerate(MIGRATIONS) if "messages_fts" in script)
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:before]:
        for sql in statements(script):
            db.execute(sql)
    db.execute(f"PRAGMA user_version = {before:d}")
    row = (1, "bob", T0, 1, 1, 0, 2, 0, None, "k1", encode(text("needle in a haystack", sender="bob")))
    db.execute(
        "INSERT INTO messages (conv_type, conv_id, time, seq, rand, is_self, status, is_read, msg_key, "
        "msg_id, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    db.commit()
    db.close()
    async with LocalStore(path) as store:
        from aio_tim.seams import SearchQuery

        page = await store.search_messages(SearchQuery(keywords=("needle",)))
        assert page.total == 1 and page.groups[0].conv == (1, "bob")
        assert [m.msg_id for m in await store.find_by_msg_ids(["k1"])] == ["k1"]


# --- errors and bad input --------------------------------------------------------------------------


BAD_SEARCHES = [
    (search(), TIM_ERR_PARAM, "may be empty only"),
    (search(keyword_array=["a", "b", "c", "d", "e", "f"]), TIM_ERR_PARAM, "at most 5 keywords"),
    (search(keyword_array=[""]), TIM_ERR_PARAM, "keyword 0 is empty"),
    (search(send_indentifier_array=list("abcdef")), TIM_ERR_PARAM, "at most 5 senders"),
    (search(message_type_array=[6]), TIM_ERR_PARAM, "cannot be searched"),
    (search(message_type_array=[99]), TIM_ERR_PARAM, "cannot be searched"),
    (search(keyword_array=["x"], keyword_list_match_type=2), TIM_ERR_PARAM, "match_type"),
    (search(keyword_array=["x"], conv_id="bob"), TIM_ERR_CONV, "conv_type"),
    (search(keyword_array=["x"], conv_type=1), TIM_ERR_PARAM, "without msg_search_param_conv_id"),
    (search(keyword_array=["x"], search_count=101), TIM_ERR_PARAM, "at most 100"),
    (search(keyword_array=["x"], search_cursor="abc"), TIM_ERR_PARAM, "search_cursor"),
    (search(keyword_array=["x"], page_size=-1), TIM_ERR_JSON, "page_size"),
    ({"msg_search_param_keyword_array": "x"}, TIM_ERR_JSON, "keyword_array"),
]


@pytest.mark.parametrize(("param", "code", "says"), BAD_SEARCHES)
async def test_bad_searches_are_refused_before_the_store(
    server: DevServer, clock: Clock, param: dict[str, Any], code: int, says: str
) -> None:
    """Refused with the C SDK's code and a message naming the problem, before the store is read:
    the client's store is closed, so any store access would fail differently."""
    async with client_for(server, "alice", clock=clock) as alice:
        manager = alice.msg
    with pytest.raises(UsageError) as caught:
        await manager.search_local_messages(param)
    assert caught.value.code == code and says in str(caught.value)


async def test_bad_finds_and_local_data_are_refused_and_nothing_is_stored(carol: Client) -> None:
    sent = await carol.msg.send_text("bob", C2C, "keep me")
    before = await rows_in(carol)
    with pytest.raises(UsageError, match="msg_id 1 is empty"):
        await carol.msg.find_messages(["x", ""])
    with pytest.raises(UsageError) as caught:
        await carol.msg.find_messages("not json")
    assert caught.value.code == TIM_ERR_JSON
    with pytest.raises(UsageError, match="at most 1000"):
        await carol.msg.find_messages(["x"] * 1001)
    with pytest.raises(UsageError, match="seq, rand and time"):
        await carol.msg.set_local_custom_data(
            {"message_conv_id": "bob", "message_conv_type": 1, "message_custom_int": 1}
        )
    with pytest.raises(UsageError, match="or msg_id"):
        await carol.msg.set_local_custom_data({"message_custom_int": 1})
    with pytest.raises(UsageError) as caught:
        await carol.msg.set_local_custom_data(msgspec.structs.replace(sent, conv_type=9, custom_int=1))
    assert caught.value.code == TIM_ERR_CONV
    with pytest.raises(UsageError) as caught:
        await carol.msg.set_local_custom_data({"message_msg_id": "k", "message_custom_int": -1})
    assert caught.value.code == TIM_ERR_JSON
    with pytest.raises(NotFoundError):
        await carol.msg.set_local_custom_data({"message_msg_id": "no-such-id", "message_custom_int": 1})
    with pytest.raises(NotFoundError):
        await carol.msg.set_local_custom_data(msgspec.structs.replace(sent, rand=1, custom_int=1))
    assert await rows_in(carol) == before
    [kept] = await carol.msg.find_messages([sent.msg_id])
    assert kept.custom_int is None


async def test_deleted_and_revoked_messages_are_not_found(carol: Client) -> None:
    gone = await carol.msg.send_text("bob", C2C, "secret one")
    recalled = await carol.msg.send_text("bob", C2C, "secret two")
    await carol.msg.send_text("bob", C2C, "secret three")
    await carol.msg.delete("bob", C2C, {"msg_delete_param_msg": gone})
    await carol.msg.revoke("bob", C2C, recalled)
    found = await carol.msg.search_local_messages(search(keyword_array=["secret"]))
    assert found.total_count == 1 and found.item_array[0].message_array[0].text == "secret three"
    assert await carol.msg.find_messages([gone.msg_id]) == []


async def test_a_store_that_cannot_search_is_named(server: DevServer, clock: Clock) -> None:
    """A store without the SearchStore seam is refused by name (PgStore today)."""

    class Plain:  # a MessageStore lacking the search family
        pass

    async with client_for(server, "alice", clock=clock) as alice:
        alice.msg._ctx.store = Plain()  # type: ignore[assignment]
        with pytest.raises(UsageError, match="Plain cannot"):
            await alice.msg.search_local_messages(search(keyword_array=["x"]))
        with pytest.raises(UsageError, match="Plain cannot"):
            await alice.msg.find_messages(["x"])
        with pytest.raises(UsageError, match="Plain cannot"):
            await alice.msg.set_local_custom_data({"message_msg_id": "x"})


async def test_the_postgresql_store_is_named_and_filters_types_in_python(
    server: DevServer, clock: Clock, pg_url: str, pg_schema: str
) -> None:
    """PgStore has no search index: the search family is refused naming it (before any query),
    and get_msg_list's type filter still works, in Python."""
    from aio_tim.pgstore import PgStore

    store = PgStore(pg_url, sdk_app_id=server.sdk_app_id, user_id="alice", schema=pg_schema)
    async with client_for(server, "alice", clock=clock, store=store) as alice:
        await alice.msg.send_text("bob", C2C, "typed")
        with pytest.raises(UsageError, match="PgStore cannot"):
            await alice.msg.search_local_messages(search(keyword_array=["typed"]))
        with pytest.raises(UsageError, match="PgStore cannot"):
            await alice.msg.find_messages(["x"])
        with pytest.raises(UsageError, match="PgStore cannot"):
            await alice.msg.set_local_custom_data({"message_msg_id": "x"})
        page = await alice.msg.get_msg_list("bob", C2C, {"msg_getmsglist_param_message_type_array": [0]})
        assert [m.text for m in page] == ["typed"]


# --- randomized: the index equals a brute-force filter -----------------------------------------------

WORDS = ["alpha", "beta", "gamma", "delta", "ab", "x", "报告", "会议纪要", "Zeta", "abc", "%", "_q"]
SENDERS = ["u1", "u2", "u3", None]
PEERS = [(C2C, "p1"), (C2C, "p2"), (GRP, "g1"), (GRP, "g2")]


def phrase(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 4)))


def random_elems(rng: random.Random) -> list[Any]:
    makers = [
        lambda: TextElem(content=phrase(rng)),
        lambda: CustomElem(data=phrase(rng), desc=phrase(rng) or None, ext=rng.choice([None, phrase(rng)])),
        lambda: FileElem(file_name=phrase(rng) + ".pdf"),
        lambda: LocationElem(desc=phrase(rng), longitude=1.0, latitude=2.0),
        lambda: MergeElem(title=phrase(rng), abstract_array=[phrase(rng), phrase(rng)]),
        lambda: FaceElem(index=1),
        lambda: ImageElem(orig_url="https://x/1.png"),
    ]
    return [rng.choice(makers)() for _ in range(rng.randint(1, 3))]


def body_of(msg: Message) -> str:
    """The searchable text, as the schema's SQL builds it."""
    parts = []
    for e in msg.elem_array:
        if isinstance(e, TextElem):
            parts.append(e.content)
        elif isinstance(e, CustomElem):
            parts.append((e.desc or "") + "\n" + (e.ext or ""))
        elif isinstance(e, FileElem) and e.file_name is not None:
            parts.append(e.file_name)
        elif isinstance(e, LocationElem) and e.desc is not None:
            parts.append(e.desc)
        elif isinstance(e, MergeElem):
            parts.append((e.title or "") + "\n" + "\n".join(e.abstract_array or []))
    return "\n".join(parts)


def elem_type(msg: Message) -> int:
    return int(type(msg.elem_array[0]).__struct_config__.tag)  # type: ignore[arg-type]


def brute_force(stored: list[Message], q: dict[str, Any], now: int) -> MsgSearchResult:
    """The result computed by scanning every message in Python."""
    keywords = [k.lower() for k in q.get("keyword_array", [])]
    match_all = q.get("keyword_list_match_type", 0) == 1
    senders, types = q.get("send_indentifier_array", []), q.get("message_type_array", [])
    position, period = q.get("search_time_position", 0), q.get("search_time_period", 0)
    low = max((position or now) - period, 0) if period else None
    high = position or None
    conv = (q["conv_type"], q["conv_id"]) if "conv_id" in q else None

    def wanted(m: Message) -> bool:
        t = m.server_time or 0
        body = body_of(m).lower()
        hits = [k in body for k in keywords]
        return (
            m.status not in (MsgStatus.DELETED, MsgStatus.REVOKED)
            and elem_type(m) not in (5, 6)
            and (not keywords or (all(hits) if match_all else any(hits)))
            and (not senders or m.sender in senders)
            and (not types or elem_type(m) in types)
            and (low is None or t >= low)
            and (high is None or t <= high)
            and (conv is None or (m.conv_type, m.conv_id) == conv)
        )

    found = sorted((m for m in stored if wanted(m)), key=locator_key, reverse=True)
    size, index = q.get("page_size", 0), q.get("page_index", 0)
    from aio_tim.types import MsgSearchResultItem as Item

    if conv is not None:
        page = found[index * size : index * size + size] if size else found
        items = [Item(conv_id=conv[1], conv_type=conv[0], total_message_count=len(found), message_array=page)]
        return MsgSearchResult(total_count=len(found), item_array=items if found else [])
    groups: dict[tuple[int, str], list[Message]] = {}
    for m in found:
        groups.setdefault((m.conv_type or 0, m.conv_id or ""), []).append(m)
    order = sorted(groups, key=lambda c: (-max(locator_key(m)[0] for m in groups[c]), c))
    chosen = order[index * size : index * size + size] if size else order
    items = [
        Item(
            conv_id=c[1],
            conv_type=c[0],
            total_message_count=len(groups[c]),
            message_array=groups[c] if len(groups[c]) == 1 else [],
        )
        for c in chosen
    ]
    return MsgSearchResult(total_count=len(order), item_array=items)


def random_query(rng: random.Random) -> dict[str, Any]:
    q: dict[str, Any] = {}
    if rng.random() < 0.85:
        q["keyword_array"] = rng.sample(WORDS, rng.randint(1, 3))
        q["keyword_list_match_type"] = rng.choice([0, 1])
    if rng.random() < 0.3 or not q:
        q["send_indentifier_array"] = rng.sample(["u1", "u2", "u3"], rng.randint(1, 2))
    if rng.random() < 0.3:
        q["message_type_array"] = rng.sample([0, 1, 3, 4, 7, 12], rng.randint(1, 3))
    if rng.random() < 0.4:
        q["conv_type"], q["conv_id"] = rng.choice(PEERS)
    if rng.random() < 0.3:
        q["search_time_position"] = rng.choice([0, T0 + rng.randint(0, 400)])
        q["search_time_period"] = rng.choice([0, rng.randint(1, 300)])
    if rng.random() < 0.5:
        q["page_size"], q["page_index"] = rng.randint(1, 5), rng.randint(0, 3)
    return q


def normalized(result: MsgSearchResult) -> Any:
    """The result without the cursor and without the fields a read fills in differently."""
    return [
        (
            i.conv_type,
            i.conv_id,
            i.total_message_count,
            [(m.server_time, m.seq, m.rand, m.text) for m in i.message_array],
        )
        for i in result.item_array
    ], result.total_count


async def test_randomized_queries_equal_a_brute_force_filter(carol: Client, clock: Clock) -> None:
    rng = random.Random(23)
    stored: list[Message] = []
    for n in range(600):
        conv = rng.choice(PEERS)
        msg = Message(
            elem_array=random_elems(rng),
            sender=rng.choice(SENDERS),
            server_time=T0 + rng.randint(0, 500),
            seq=n + 1,
            rand=rng.randint(1, 2**31),
        )
        await carol.msg.save_msg(conv[1], conv[0], msg)
        stored.append(msgspec.structs.replace(msg, conv_type=conv[0], conv_id=conv[1], status=5))
    for victim in rng.sample(range(len(stored)), 60):  # some deleted, some revoked
        m = stored[victim]
        status = rng.choice([MsgStatus.DELETED, MsgStatus.REVOKED])
        await carol.store.set_status((m.conv_type or 0, m.conv_id or ""), locator_key(m), int(status))
        stored[victim] = msgspec.structs.replace(m, status=int(status))
    clock.now = T0 + 250
    checked = 0
    for _ in range(300):
        q = random_query(rng)
        got = await carol.msg.search_local_messages(search(**q))
        assert normalized(got) == normalized(brute_force(stored, q, T0 + 250)), q
        checked += got.total_count > 0
    assert checked > 100  # most queries found something: the comparison is not vacuous
