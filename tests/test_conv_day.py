"""A scripted day across 50 conversations (40 C2C, 10 groups): sends, receives (pulled from
roaming), saves, imports, reads, message deletes, revokes, conversation deletes, pins, marks and
drafts in a seeded random order, over loopback against the dev server, on a file store. Then
the conversation table must equal the state recomputed from the message rows (newest live
message, unread count) and from the operations (pin, mark, draft)."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter

from scenario import T0, text

from aio_tim.protocol import to_msg_body
from aio_tim.protocol.group import SendGroupMsg
from aio_tim.protocol.openim import SendMsg
from aio_tim.testing import client_for

PEERS = [f"p{n:02d}" for n in range(40)]
GROUPS = [f"g{n:02d}" for n in range(10)]
CONVS = [(1, p) for p in PEERS] + [(2, g) for g in GROUPS]
STEPS = 1200


class Model:
    """What the operations decide (the messages decide the rest)."""

    def __init__(self) -> None:
        self.pinned: set[tuple[int, str]] = set()
        self.marks: dict[tuple[int, str], int] = {}
        self.drafts: dict[tuple[int, str], str] = {}
        self.sent: dict[tuple[int, str], list] = {}
        self.ran: Counter[str] = Counter()

    def deleted(self, conv: tuple[int, str]) -> None:
        self.pinned.discard(conv)
        self.marks.pop(conv, None)
        self.drafts.pop(conv, None)
        self.sent.pop(conv, None)


async def _receive(tim, rng: random.Random, conv: tuple[int, str]) -> None:
    """The peer (or a group member) sends; alice pulls the conversation's roaming."""
    body = to_msg_body(text(f"in {rng.random()}").elem_array)
    if conv[0] == 1:
        await tim.pipeline.submit(
            SendMsg(To_Account="alice", From_Account=conv[1], MsgRandom=rng.getrandbits(31), MsgBody=body)
        )
    else:
        await tim.pipeline.submit(
            SendGroupMsg(
                GroupId=conv[1], From_Account="m" + conv[1], Random=rng.getrandbits(31), MsgBody=body
            )
        )
    await tim.msg.get_msg_list(
        conv[1], conv[0], {"msg_getmsglist_param_is_remble": True, "msg_getmsglist_param_count": 5}
    )


async def _step(tim, rng: random.Random, model: Model, clock) -> None:
    conv = rng.choice(CONVS)
    conv_id, conv_type = conv[1], conv[0]
    op = rng.choices(
        [
            "send",
            "receive",
            "save",
            "import",
            "read",
            "delete_msg",
            "revoke",
            "delete_conv",
            "pin",
            "mark",
            "draft",
        ],
        weights=[20, 20, 5, 4, 8, 5, 3, 2, 4, 4, 4],
    )[0]
    clock.now += rng.choice([0, 0, 1, 2])
    model.ran[op] += 1
    if op == "send":
        sent = await tim.msg.send_text(conv_id, conv_type, f"out {rng.random()}")
        model.sent.setdefault(conv, []).append(sent)
    elif op == "receive":
        await _receive(tim, rng, conv)
    elif op == "save":
        await tim.msg.save_msg(conv_id, conv_type, text("saved", sender=conv_id))
    elif op == "import":
        old = int(clock.now) - rng.randrange(1000, 50000)
        msgs = [
            text(f"imported {n}", sender=conv_id, client_time=old + n) for n in range(rng.randrange(1, 4))
        ]
        await tim.msg.import_msg_list(conv_id, conv_type, msgs)
    elif op == "read":
        await tim.msg.report_readed(conv_id, conv_type, None)
    elif op == "delete_msg":
        page = await tim.store.page(conv, anchor=None, count=3, forward=False)
        if page:
            await tim.msg.delete(conv_id, conv_type, {"msg_delete_param_msg": rng.choice(page)})
    elif op == "revoke" and model.sent.get(conv):
        await tim.msg.revoke(conv_id, conv_type, model.sent[conv].pop())
    elif op == "delete_conv":
        await tim.conv.delete_conversation(conv_id, conv_type)
        model.deleted(conv)
    elif op == "pin":
        pin = rng.random() < 0.7
        await tim.conv.pin_conversation(conv_id, conv_type, pin)
        (model.pinned.add if pin else model.pinned.discard)(conv)
    elif op == "mark":
        bit, enable = rng.choice([1, 2, 4, 8]), rng.random() < 0.7
        prefix = "c2c_" if conv_type == 1 else "group_"
        await tim.conv.mark_conversation([prefix + conv_id], bit, enable)
        model.marks[conv] = (model.marks.get(conv, 0) | bit) if enable else (model.marks.get(conv, 0) & ~bit)
    elif op == "draft":
        if rng.random() < 0.6:
            words = f"draft {rng.random()}"
            await tim.conv.set_draft(conv_id, conv_type, {"draft_user_define": words})
            model.drafts[conv] = words
        else:
            await tim.conv.cancel_draft(conv_id, conv_type)
            model.drafts.pop(conv, None)


Recomputed = dict[tuple[int, str], tuple[tuple[int, int, int], int]]
_ROWS = "SELECT conv_type, conv_id, time, seq, rand, is_self, status, is_read FROM {table} WHERE status != 4"


def _fold(rows: list) -> Recomputed:
    """(newest live locator, unread) per conversation, straight from the message rows."""
    state: Recomputed = {}
    for conv_type, conv_id, time, seq, rand, is_self, status, is_read in rows:
        conv = (int(conv_type), str(conv_id))
        newest, unread = state.get(conv, ((-1, -1, -1), 0))
        unread += int(not is_self and not is_read and status != 6)
        state[conv] = (max(newest, (time, seq, rand)), unread)
    return state


async def _recomputed(kind: str, where: str) -> Recomputed:
    if kind == "sqlite":
        db = sqlite3.connect(where)
        try:
            return _fold(db.execute(_ROWS.format(table="messages")).fetchall())
        finally:
            db.close()
    import asyncpg

    url, schema = where.rsplit("#", 1)
    conn = await asyncpg.connect(url)
    try:
        return _fold(await conn.fetch(_ROWS.format(table=f'"{schema}".messages')))
    finally:
        await conn.close()


async def test_a_scripted_day_leaves_the_table_equal_to_the_recomputed_state(server, clock, tmp_path):
    path = str(tmp_path / "alice.db")
    await _day(server, clock, "sqlite", path, store_path=path)


async def test_a_scripted_day_on_postgresql(server, clock, pg_url, pg_schema):
    from aio_tim.pgstore import PgStore

    store = PgStore(pg_url, sdk_app_id=server.sdk_app_id, user_id="alice", schema=pg_schema)
    await _day(server, clock, "postgresql", f"{pg_url}#{pg_schema}", store=store)


async def _day(server, clock, kind: str, where: str, **options: object) -> None:
    await server.add_accounts(*PEERS, *("m" + g for g in GROUPS))
    for group in GROUPS:
        await server.create_group(group, owner="alice", members=("m" + group,), created=T0 - 86400)
    rng, model = random.Random(20261207), Model()
    async with client_for(server, "alice", clock=clock, **options) as tim:
        for _ in range(STEPS):
            await _step(tim, rng, model, clock)
        listed = await tim.conv.get_conv_list()
        total = (await tim.conv.get_total_unread_message_count()).unread_count
    assert min(model.ran.values()) >= 10 and len(model.ran) == 11, model.ran
    expected = await _recomputed(kind, where)
    with_messages = {(c.type, c.id): c for c in listed if c.is_has_lastmsg}
    assert with_messages.keys() == expected.keys()
    for conv, info in with_messages.items():
        newest, unread = expected[conv]
        last = info.last_msg
        assert (last.server_time or last.client_time, last.seq, last.rand) == newest, conv
        assert info.unread_num == unread, conv
    assert total == sum(unread for _, unread in expected.values())
    by_conv = {(c.type, c.id): c for c in listed}
    for conv in CONVS:
        info = by_conv.get(conv)
        assert (info is not None and info.is_pinned) == (conv in model.pinned), conv
        assert (sum(info.mark_array) if info else 0) == model.marks.get(conv, 0), conv
        draft = info.draft.user_define if info is not None and info.draft else None
        assert draft == model.drafts.get(conv), conv
    assert [c.is_pinned for c in listed] == sorted((c.is_pinned for c in listed), reverse=True)
    unpinned = [c.order_key for c in listed if not c.is_pinned]
    assert unpinned == sorted(unpinned, reverse=True)
