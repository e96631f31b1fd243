"""tim.conv (TIMConv*) over loopback HTTP against the dev server: the conversation table as sends,
receives, reads, deletes and pins leave it, the recentcontact commands, their refusals, and bad
input refused before any I/O."""

from __future__ import annotations

import pytest
from scenario import GROUP, T0, text

from aio_tim import ConvType, UsageError
from aio_tim.conv.context import table_of
from aio_tim.errors import TIMError
from aio_tim.protocol.recentcontact import (
    ContactItem,
    DeleteRecentContact,
    GetRecentContactList,
    GetRecentContactListResponse,
    MarkContact,
    MarkItem,
    SetUnreadMsgNum,
    TopContact,
)
from aio_tim.testing import client_for
from aio_tim.types.conv import ConvMarkType

C2C, GRP = ConvType.C2C, ConvType.GROUP


async def receive(tim, peer: str) -> None:
    """What a device does on login: pull the conversation's roaming into its store."""
    await tim.msg.get_msg_list(
        peer, C2C, {"msg_getmsglist_param_is_remble": True, "msg_getmsglist_param_count": 20}
    )


async def server_list(tim, user: str) -> GetRecentContactListResponse:
    reply = await tim.pipeline.submit(GetRecentContactList(From_Account=user, AssistFlags=63))
    assert isinstance(reply, GetRecentContactListResponse)
    return reply


def ids(convs) -> list[tuple[str, int]]:
    return [(c.id, c.type) for c in convs]


# --- the list follows the messages ----------------------------------------------------------------


async def test_the_list_follows_sends_and_receives(server, alice, bob, clock):
    await alice.msg.send_text("bob", C2C, "one")
    clock.now += 1
    await alice.msg.send_text(GROUP, GRP, "to the group")
    clock.now += 1
    await bob.msg.send_text("alice", C2C, "from bob 1")
    await bob.msg.send_text("alice", C2C, "from bob 2")
    await receive(alice, "bob")
    convs = await alice.conv.get_conv_list()
    assert ids(convs) == [("bob", 1), (GROUP, 2)]
    bob_conv = convs[0]
    assert bob_conv.unread_num == 2 and bob_conv.is_has_lastmsg
    assert bob_conv.last_msg.elem_array[0].content == "from bob 2"
    assert (await alice.conv.get_total_unread_message_count()).unread_count == 2
    await alice.msg.report_readed("bob", C2C, None)
    [info] = await alice.conv.get_conv_info(
        [{"get_conv_list_param_conv_id": "bob", "get_conv_list_param_conv_type": 1}]
    )
    assert info.unread_num == 0


async def test_a_revoke_shows_in_the_last_message(alice):
    sent = await alice.msg.send_text("bob", C2C, "oops")
    await alice.msg.revoke("bob", C2C, sent)
    [conv] = await alice.conv.get_conv_list()
    assert conv.last_msg.status == 6  # kTIMMsg_Revoked


async def test_deleting_the_newest_message_moves_the_last_message_back(alice, clock):
    await alice.msg.send_text("bob", C2C, "first")
    clock.now += 1
    newest = await alice.msg.send_text("bob", C2C, "second")
    await alice.msg.delete("bob", C2C, {"msg_delete_param_msg": newest})
    [conv] = await alice.conv.get_conv_list()
    assert conv.last_msg.elem_array[0].content == "first"


# --- pin, mark, delete ----------------------------------------------------------------------------


async def test_pin_puts_a_conversation_first_here_and_on_the_server(alice, clock):
    await alice.msg.send_text("bob", C2C, "old")
    clock.now += 1
    await alice.msg.send_text(GROUP, GRP, "new")
    await alice.conv.pin_conversation("bob", C2C, True)
    convs = await alice.conv.get_conv_list()
    assert ids(convs) == [("bob", 1), (GROUP, 2)] and convs[0].is_pinned and not convs[1].is_pinned
    items = (await server_list(alice, "alice")).SessionItem
    assert [(i.To_Account or i.GroupId, i.TopFlag) for i in items] == [("bob", 1), (GROUP, 0)]
    await alice.conv.pin_conversation("bob", C2C, False)
    assert ids(await alice.conv.get_conv_list()) == [(GROUP, 2), ("bob", 1)]


async def test_mark_sets_and_clears_bits_here_and_on_the_server(alice):
    await alice.msg.send_text("bob", C2C, "hi")
    star = int(ConvMarkType.STAR)
    results = await alice.conv.mark_conversation(["c2c_bob"], star | ConvMarkType.FOLD, True)
    assert [(r.conversation_id, r.result_code) for r in results] == [("c2c_bob", 0)]
    [conv] = await alice.conv.get_conv_list()
    assert conv.mark_array == [1, 4]
    assert (await server_list(alice, "alice")).SessionItem[0].StandardMark == "101"
    await alice.conv.mark_conversation(["c2c_bob"], star, False)
    assert (await alice.conv.get_conv_list())[0].mark_array == [4]


async def test_delete_conversation_removes_it_and_its_messages_until_a_new_message(server, alice, bob):
    await alice.msg.send_text("bob", C2C, "hi")
    await alice.conv.pin_conversation("bob", C2C, True)
    await alice.conv.delete_conversation("bob", C2C)
    assert await alice.conv.get_conv_list() == []
    assert await alice.store.count((1, "bob")) == 0
    assert (await server_list(alice, "alice")).SessionItem == []
    await bob.msg.send_text("alice", C2C, "again")
    await receive(alice, "bob")
    [conv] = await alice.conv.get_conv_list()
    assert conv.last_msg.elem_array[0].content == "again" and not conv.is_pinned
    assert [i.To_Account for i in (await server_list(alice, "alice")).SessionItem] == ["bob"]


async def test_delete_conversation_list_answers_per_conversation(alice):
    await alice.msg.send_text("bob", C2C, "hi")
    await alice.msg.send_text(GROUP, GRP, "hi")
    results = await alice.conv.delete_conversation_list(["c2c_bob", f"group_{GROUP}"], False)
    assert [r.result_code for r in results] == [0, 0]
    assert await alice.conv.get_conv_list() == []
    assert await alice.store.count((1, "bob")) == 1  # clear_message=False keeps the messages


# --- unread ---------------------------------------------------------------------------------------


async def test_clean_unread_of_one_and_of_all(alice, bob, server):
    for n in range(3):
        await bob.msg.send_text("alice", C2C, f"m{n}")
    await receive(alice, "bob")
    assert (await alice.conv.get_total_unread_message_count()).unread_count == 3
    await alice.conv.clean_conversation_unread_message_count("c2c_bob")
    assert (await alice.conv.get_total_unread_message_count()).unread_count == 0
    await bob.msg.send_text("alice", C2C, "more")
    await receive(alice, "bob")
    await alice.conv.clean_conversation_unread_message_count("")
    assert (await alice.conv.get_conv_list())[0].unread_num == 0
    await alice.conv.clean_conversation_unread_message_count(f"group_{GROUP}")  # set_unread_msg_num 0
    assert await server.group_unread(GROUP, "alice") == 0


async def test_set_unread_msg_num_is_capped_at_the_group_history(alice, server):
    await alice.msg.send_text(GROUP, GRP, "only one")
    await alice.pipeline.submit(SetUnreadMsgNum(GroupId=GROUP, Member_Account="bob", UnreadMsgNum=9))
    assert await server.group_unread(GROUP, "bob") == 1


# --- draft, custom data, groups -------------------------------------------------------------------


async def test_a_draft_lifts_the_conversation_and_cancel_removes_it(alice, clock):
    await alice.msg.send_text("bob", C2C, "old")
    clock.now += 1
    await alice.msg.send_text(GROUP, GRP, "new")
    await alice.conv.set_draft("bob", C2C, {"draft_msg": text("unsent"), "draft_edit_time": T0 + 10})
    convs = await alice.conv.get_conv_list()
    assert ids(convs) == [("bob", 1), (GROUP, 2)]
    assert convs[0].is_has_draft and convs[0].draft.msg.elem_array[0].content == "unsent"
    assert convs[0].active_time == T0 + 10
    await alice.conv.cancel_draft("bob", C2C)
    convs = await alice.conv.get_conv_list()
    assert ids(convs) == [(GROUP, 2), ("bob", 1)] and not convs[1].is_has_draft


async def test_custom_data_and_conversation_groups(alice):
    await alice.msg.send_text("bob", C2C, "hi")
    await alice.conv.set_conversation_custom_data(["c2c_bob"], "vip")
    await alice.conv.create_conversation_group("work", ["c2c_bob", f"group_{GROUP}"])
    await alice.conv.create_conversation_group("family", ["c2c_bob"])
    assert await alice.conv.get_conversation_group_list() == ["family", "work"]
    [bob_conv, group_conv] = await alice.conv.get_conv_list()
    assert bob_conv.custom_data == "vip" and sorted(bob_conv.conversation_group_array) == ["family", "work"]
    assert group_conv.conversation_group_array == ["work"] and not group_conv.is_has_lastmsg
    await alice.conv.rename_conversation_group("work", "job")
    await alice.conv.delete_conversations_from_group("job", ["c2c_bob"])
    await alice.conv.delete_conversation_group("family")
    bob_conv = (await alice.conv.get_conv_list())[0]
    assert bob_conv.conversation_group_array == []
    with pytest.raises(UsageError):
        await alice.conv.delete_conversation_group("family")
    with pytest.raises(UsageError):
        await alice.conv.create_conversation_group("job", ["c2c_bob"])


# --- paging and the roaming fill ------------------------------------------------------------------


async def test_pages_and_the_iterator_see_every_conversation_once(alice, server):
    peers = [f"u{n:03d}" for n in range(130)]
    for peer in peers:
        await alice.store.save((1, peer), text("x", server_time=T0, seq=1, rand=1), status=2)
    seen = [c.id async for c in alice.conv.iter_conv_list(page_size=7)]
    assert sorted(seen) == peers and len(seen) == 130
    first = await alice.conv.get_conversation_list_by_filter(0, 100)
    rest = await alice.conv.get_conversation_list_by_filter(first.next_seq, 100)
    # every one ties (same time, same seq): the first page takes the whole tie group
    assert len(first.conv_list) == 130 and not first.is_finished
    assert rest.conv_list == [] and rest.is_finished


async def test_filters_page_and_count_only_their_conversations(alice):
    for n in range(30):
        conv = (1 if n % 3 else 2, f"c{n:02d}")
        msg = text("x", server_time=T0 + n, seq=1, rand=1, is_from_self=n % 2 == 0)
        await alice.store.save(conv, msg, status=2)
    starred = [f"c2c_c{n:02d}" for n in range(30) if n % 3 and n % 5 == 0]
    await alice.conv.mark_conversation(starred, 1, True)
    await alice.conv.create_conversation_group("g", ["group_c00", "group_c03", "c2c_c01"])
    c2c_ids = [
        c.id
        for c in (
            await alice.conv.get_conversation_list_by_filter(
                0, 100, {"conversation_list_filter_conv_type": 1}
            )
        ).conv_list
    ]
    assert c2c_ids == [f"c{n:02d}" for n in reversed(range(30)) if n % 3]
    first = await alice.conv.get_conversation_list_by_filter(0, 5, {"conversation_list_filter_conv_type": 1})
    rest = await alice.conv.get_conversation_list_by_filter(
        first.next_seq, 100, {"conversation_list_filter_conv_type": 1}
    )
    assert (
        [c.id for c in first.conv_list + rest.conv_list] == c2c_ids
        and not first.is_finished
        and rest.is_finished
    )
    marked = await alice.conv.get_conversation_list_by_filter(
        0, 100, {"conversation_list_filter_mark_type": 1}
    )
    assert sorted("c2c_" + c.id for c in marked.conv_list) == sorted(starred)
    grouped = await alice.conv.get_conversation_list_by_filter(
        0, 100, {"conversation_list_filter_conversation_group": "g"}
    )
    assert [c.id for c in grouped.conv_list] == ["c03", "c01", "c00"]
    unread = {"conversation_list_filter_has_unread_count": True}
    with_unread = (await alice.conv.get_conversation_list_by_filter(0, 100, unread)).conv_list
    assert sorted(c.id for c in with_unread) == [f"c{n:02d}" for n in range(30) if n % 2]
    assert (
        await alice.conv.get_unread_message_count_by_filter({"conversation_list_filter_conv_type": 2})
    ).unread_count == 5
    assert (await alice.conv.get_unread_message_count_by_filter()).unread_count == 15


async def test_get_list_pages_of_100_and_the_roaming_fill(server, alice, clock):
    peers = [f"p{n:03d}" for n in range(105)]
    await server.add_accounts(*peers)
    for peer in peers:
        await alice.msg.send_text(peer, C2C, "hi")
        clock.now += 1
    await alice.conv.pin_conversation("p000", C2C, True)
    first = await server_list(alice, "alice")
    assert len(first.SessionItem) == 100 and first.CompleteFlag == 0
    assert first.SessionItem[0].To_Account == "p000" and first.SessionItem[1].To_Account == "p104"
    second = await alice.pipeline.submit(
        GetRecentContactList(
            From_Account="alice", StartIndex=first.StartIndex, TopStartIndex=first.TopStartIndex
        )
    )
    assert len(second.SessionItem) == 5 and second.CompleteFlag == 1
    async with client_for(server, "alice", clock=clock) as device:  # a fresh store
        assert await device.conv.get_conv_list() == []
        convs = await device.conv.get_conv_list(roaming=True)
        assert len(convs) == 105 and convs[0].id == "p000" and convs[0].is_pinned
        assert [c.id for c in convs[1:4]] == ["p104", "p103", "p102"]


# --- the server's refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        DeleteRecentContact(From_Account="ghost", Type=1, To_Account="bob"),
        TopContact(
            From_Account="ghost", OperationType=1, RecentContactItem=[ContactItem(Type=1, To_Account="bob")]
        ),
        GetRecentContactList(From_Account="ghost"),
        MarkContact(
            From_Account="ghost",
            MarkItem=[MarkItem(OptType=1, ContactItem=ContactItem(Type=1, To_Account="b"))],
        ),
    ],
)
async def test_an_unknown_from_account_is_50001(alice, request_):
    with pytest.raises(TIMError) as caught:
        await alice.pipeline.submit(request_)
    assert caught.value.code == 50001


@pytest.mark.parametrize(
    "request_",
    [
        DeleteRecentContact(From_Account="alice", Type=3, To_Account="bob"),
        DeleteRecentContact(From_Account="alice", Type=2),
        DeleteRecentContact(From_Account="alice", Type=1, To_Account="bob", ClearRamble=7),
        TopContact(
            From_Account="alice", OperationType=3, RecentContactItem=[ContactItem(Type=1, To_Account="bob")]
        ),
        TopContact(From_Account="alice", OperationType=1, RecentContactItem=[]),
        MarkContact(From_Account="alice", MarkItem=[]),
        MarkContact(
            From_Account="alice",
            MarkItem=[MarkItem(OptType=1, ContactItem=ContactItem(Type=1, To_Account="bob"), SetMark=[64])],
        ),
        MarkContact(
            From_Account="alice",
            MarkItem=[MarkItem(OptType=1, ContactItem=ContactItem(Type=1, To_Account="bob"))] * 101,
        ),
        MarkContact(
            From_Account="alice",
            MarkItem=[MarkItem(OptType=4, ContactItem=ContactItem(Type=1, To_Account="b"))],
        ),
    ],
)
async def test_bad_parameters_are_50002(alice, request_):
    with pytest.raises(TIMError) as caught:
        await alice.pipeline.submit(request_)
    assert caught.value.code == 50002


async def test_set_unread_msg_num_refusals(alice):
    with pytest.raises(TIMError) as caught:
        await alice.pipeline.submit(SetUnreadMsgNum(GroupId="nope", Member_Account="bob", UnreadMsgNum=1))
    assert caught.value.code == 10010
    with pytest.raises(TIMError) as caught:
        await alice.pipeline.submit(SetUnreadMsgNum(GroupId=GROUP, Member_Account="carol", UnreadMsgNum=1))
    assert caught.value.code == 10007


async def test_cleaning_a_group_the_server_lacks_is_10010_and_reads_nothing_here(alice, bob):
    await bob.msg.send_text(GROUP, GRP, "hi")
    await alice.msg.get_msg_list(GROUP, GRP, {"msg_getmsglist_param_is_remble": True})
    await alice.store.save((2, "nope"), text("x", server_time=T0, seq=1, rand=1), status=2)
    with pytest.raises(TIMError) as caught:
        await alice.conv.clean_conversation_unread_message_count("group_nope")
    assert caught.value.code == 10010
    [info] = await alice.conv.get_conv_info(
        [{"get_conv_list_param_conv_id": "nope", "get_conv_list_param_conv_type": 2}]
    )
    assert info.unread_num == 1


async def test_a_server_refusal_fails_the_operation_and_changes_nothing_here(server, alice, clock):
    """pin_conversation as a user the server does not know: 50001, and the table stays as it was."""
    async with client_for(server, "ghost", clock=clock) as ghost:
        await ghost.store.save((1, "bob"), text("x", server_time=T0, seq=1, rand=1), status=2)
        with pytest.raises(TIMError) as caught:
            await ghost.conv.pin_conversation("bob", C2C, True)
        assert caught.value.code == 50001
        assert not (await ghost.conv.get_conv_list())[0].is_pinned
        [result] = await ghost.conv.delete_conversation_list(["c2c_bob"])
        assert result.result_code == 50001
        assert len(await ghost.conv.get_conv_list()) == 1


# --- bad input: UsageError before any I/O, nothing stored -----------------------------------------

BAD_CALLS = [
    ("get_conv_info", ([],)),
    ("get_conv_info", ([{"get_conv_list_param_conv_id": "", "get_conv_list_param_conv_type": 1}],)),
    ("get_conv_info", ("not json",)),
    ("get_conversation_list_by_filter", (-1, 10)),
    ("get_conversation_list_by_filter", (0, 0)),
    ("get_conversation_list_by_filter", (0, 10, {"conversation_list_filter_conv_type": "c2c"})),
    ("get_unread_message_count_by_filter", ("{",)),
    ("delete_conversation", ("bob", 9)),
    ("delete_conversation", ("", 1)),
    ("delete_conversation_list", ([],)),
    ("delete_conversation_list", (["bob"],)),
    ("delete_conversation_list", (["c2c_bob"] * 101,)),
    ("delete_conversation_list", (["c2c_bob"], "yes")),
    ("pin_conversation", ("bob", 1, "yes")),
    ("pin_conversation", ("bob", 0, True)),
    ("mark_conversation", (["c2c_bob"], 0, True)),
    ("mark_conversation", (["c2c_bob"], 2**64, True)),
    ("mark_conversation", (["c2c_bob"], 1, 1)),
    ("mark_conversation", ("c2c_bob", 1, True)),
    ("clean_conversation_unread_message_count", ("bob",)),
    ("clean_conversation_unread_message_count", ("c2c_bob", -1)),
    ("set_draft", ("bob", 1, {})),
    ("set_draft", ("bob", 1, {"draft_edit_time": "soon"})),
    ("set_draft", ("bob", 7, {"draft_user_define": "x"})),
    ("cancel_draft", ("", 1)),
    ("set_conversation_custom_data", (["c2c_bob"], "x" * 257)),
    ("set_conversation_custom_data", (["c2c_bob"], 5)),
    ("create_conversation_group", ("", ["c2c_bob"])),
    ("create_conversation_group", ("g", [])),
    ("add_conversations_to_group", ("g", ["user_bob"])),
    ("rename_conversation_group", ("a", "")),
    ("delete_conversation_group", (None,)),
]


@pytest.mark.parametrize(("name", "args"), BAD_CALLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_CALLS)])
async def test_bad_input_is_refused_before_io(alice, name, args):
    await alice.msg.send_text("bob", C2C, "hi")
    before = (alice.pipeline.statistics().sent, await alice.conv.get_conv_list())
    with pytest.raises(UsageError):
        await getattr(alice.conv, name)(*args)
    assert (alice.pipeline.statistics().sent, await alice.conv.get_conv_list()) == before
    assert await alice.conv.get_conversation_group_list() == []


async def test_page_size_of_the_iterator_is_checked(alice):
    with pytest.raises(UsageError):
        [c async for c in alice.conv.iter_conv_list(page_size=0)]


async def test_the_postgresql_store_keeps_the_same_table(server, clock, pg_url, pg_schema):
    """PgStore: the list follows the messages, and pin, mark, draft, groups and delete work."""
    from aio_tim.pgstore import PgStore

    store = PgStore(pg_url, sdk_app_id=server.sdk_app_id, user_id="alice", schema=pg_schema)
    async with client_for(server, "alice", clock=clock, store=store) as tim:
        await tim.msg.send_text("bob", C2C, "old")
        clock.now += 1
        newest = await tim.msg.send_text(GROUP, GRP, "new")
        assert ids(await tim.conv.get_conv_list()) == [(GROUP, 2), ("bob", 1)]
        await tim.conv.pin_conversation("bob", C2C, True)
        await tim.conv.mark_conversation(["c2c_bob"], 4, True)
        await tim.conv.set_draft(GROUP, GRP, {"draft_user_define": "later"})
        await tim.conv.create_conversation_group("work", ["c2c_bob"])
        [bob_conv, group_conv] = await tim.conv.get_conv_list()
        assert (bob_conv.id, bob_conv.is_pinned, bob_conv.mark_array) == ("bob", True, [4])
        assert bob_conv.conversation_group_array == ["work"] and group_conv.draft.user_define == "later"
        await tim.msg.delete(GROUP, GRP, {"msg_delete_param_msg": newest})
        [group_conv] = await tim.conv.get_conv_info(
            [{"get_conv_list_param_conv_id": GROUP, "get_conv_list_param_conv_type": 2}]
        )
        assert not group_conv.is_has_lastmsg
        await tim.conv.rename_conversation_group("work", "job")
        assert await tim.conv.get_conversation_group_list() == ["job"]
        await tim.conv.delete_conversation("bob", C2C)
        assert ids(await tim.conv.get_conv_list()) == [(GROUP, 2)]
        assert (await tim.conv.get_total_unread_message_count()).unread_count == 0


async def test_a_store_without_a_conversation_table_is_a_usage_error():
    class NoTable:
        pass

    with pytest.raises(UsageError, match="conversation table"):
        table_of(NoTable())


# --- the migration ---------------------------------------------------------------------------------


async def test_migration_7_builds_the_table_from_stored_messages(tmp_path):
    """A store written before the conversation table gets one row per conversation with messages,
    its newest live message as the last one."""
    import sqlite3

    from aio_tim.store import LocalStore
    from aio_tim.store.conversations import SqliteConversations

    path = tmp_path / "old.db"
    async with LocalStore(path) as store:
        for n in range(3):
            await store.save((1, "bob"), text(f"m{n}", server_time=T0 + n, seq=n + 1, rand=1), status=2)
        await store.delete((1, "bob"), (T0 + 2, 3, 1))
        await store.save((2, "g"), text("g", server_time=T0, seq=1, rand=1), status=2)
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE conversations; DROP TABLE conv_groups; DROP TABLE conv_group_members;"
        " DROP TRIGGER conversations_on_insert; DROP TRIGGER conversations_on_more;"
        " DROP TRIGGER conversations_on_tombstone; DROP TRIGGER conversations_on_delete;"
        # and migration 8's search index, so that it runs again after 7
        " DROP TRIGGER messages_fts_update; DROP TRIGGER messages_fts_delete; DROP TABLE messages_fts;"
        " DROP TABLE search_indexed;"  # migration 9's watermark
        " DROP INDEX messages_by_type; DROP INDEX messages_by_sender; DROP INDEX messages_by_msg_id;"
        " ALTER TABLE messages DROP COLUMN elem_type; ALTER TABLE messages DROP COLUMN sender;"
        " ALTER TABLE messages DROP COLUMN local_int; ALTER TABLE messages DROP COLUMN local_str;"
        " PRAGMA user_version = 6;"
    )
    db.close()
    async with LocalStore(path) as store:
        page = await SqliteConversations(store).conv_page(None, 10)
    assert [(r.conv, r.last.elem_array[0].content, r.unread) for r in page] == [
        ((1, "bob"), "m1", 2),
        ((2, "g"), "g", 1),
    ]


# --- receiving through the webhook inbox ------------------------------------------------------------


async def test_messages_received_by_webhook_and_their_recall_keep_the_list(clock, tmp_path):
    """bob listens (TIM's webhooks into his store's inbox): alice's messages, then her recall,
    show in his conversation list with no call of his."""
    import asyncio

    from aio_tim.devserver import DevServer
    from aio_tim.protocol import callbacks as cb

    token = "webhook-token-for-conv-tests"
    async with (
        DevServer(clock=clock) as server,
        client_for(server, "alice", clock=clock) as alice,
        client_for(server, "bob", clock=clock, store_path=tmp_path / "bob.db", webhook_token=token) as bob,
    ):
        server.set_webhook(await bob.listen(), token=token)
        events = bob.events(commands={cb.C2C_AFTER_SEND_MSG, cb.C2C_AFTER_MSG_WITHDRAW})
        await alice.msg.send_text("bob", C2C, "one")
        sent = await alice.msg.send_text("bob", C2C, "two")
        async with asyncio.timeout(10):
            seen = [await anext(events) for _ in range(2)]
        assert [e.command for e in seen] == [cb.C2C_AFTER_SEND_MSG] * 2
        [conv] = await bob.conv.get_conv_list()
        assert (conv.id, conv.unread_num, conv.last_msg.elem_array[0].content) == ("alice", 2, "two")
        await alice.msg.revoke("bob", C2C, sent)
        async with asyncio.timeout(10):
            await anext(events)
        [conv] = await bob.conv.get_conv_list()
        assert (conv.unread_num, conv.last_msg.status) == (1, 6)
