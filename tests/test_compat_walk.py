"""The compatibility table walk: docs/compatibility.md lists every `TIMMsg*`/`TIMConv*` function of
the current C SDK; each row marked `implemented` is called once, over loopback against the dev
server, through `EXAMPLES` (one example call per function).

To mark a function implemented, add its example here (one dict entry: an async function of the
`Env`) and change its row's status: the walk fails on an implemented row without an example, on
an example whose call fails, and on an example for a row that is not implemented.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec
import pytest
import pytest_asyncio
from scenario import GROUP, T0, Clock, text

from aio_tim import Client, ConvType, FileElem, Message, TextElem, TIMError, capi
from aio_tim.devserver import DevServer
from aio_tim.msg import MsgManager
from aio_tim.testing import client_for

PAGE = Path(__file__).parent.parent / "docs" / "compatibility.md"
STATUSES: Final = frozenset({"implemented", "planned", "not yet", "not possible"})
C2C, GRP = ConvType.C2C, ConvType.GROUP


@dataclass(frozen=True)
class Row:
    function: str
    status: str
    method: str  # `tim.msg.x` / `tim.conv.x`, or "-"
    rest: str


def table() -> dict[str, Row]:
    """The rows of the walk's table, by C function."""
    text_ = PAGE.read_text()
    body = text_.split("<!-- walk:", 1)[1].split("<!-- /walk -->", 1)[0]
    rows: dict[str, Row] = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and (name := re.fullmatch(r"`(TIM(?:Msg|Conv)\w+)`", cells[0])):
            assert name[1] not in rows, f"{name[1]} has two rows"
            rows[name[1]] = Row(name[1], cells[1], cells[2].strip("`"), cells[3])
    return rows


ROWS = table()


@dataclass
class Env:
    """What an example may use: the dev server, alice (a file store of her own) with a C2C and
    a group message she sent to bob and to group g1, and the clock."""

    server: DevServer
    alice: Client
    sent: Message
    group_sent: Message
    clock: Clock
    tmp: Path


Example = Callable[[Env], Awaitable[Any]]


async def _download(env: Env) -> Any:
    """A file sent (uploaded to the dev server's file store), then downloaded by its URL."""
    path = env.tmp / "a.txt"
    path.write_bytes(b"file body")
    msg = await env.alice.msg.send_new_msg("bob", C2C, Message(elem_array=[FileElem(file_path=str(path))]))
    url = msg.elems(FileElem)[0].url
    await env.alice.msg.download_elem_to_path({"msg_download_elem_param_url": url}, env.tmp / "out.txt")
    return (env.tmp / "out.txt").read_bytes()


async def _cancel_send(env: Env) -> Any:
    """A send withdrawn before it starts (its handle then raises 8021)."""
    handle = await env.alice.msg.send_message("bob", C2C, text("never"))
    await env.alice.msg.cancel_send("bob", C2C, handle.msg_id)
    with pytest.raises(TIMError) as caught:
        await handle
    return caught.value.code


async def _send_message(env: Env) -> Any:
    handle = await env.alice.msg.send_message("bob", C2C, text("by handle"))
    return await handle


async def _bobs_copy(env: Env, need: str) -> Message:
    """A message alice sends bob asking for `need`, as bob reads it from roaming."""
    await env.alice.msg.send_new_msg("bob", C2C, text("asks", **{need: True}))
    async with client_for(env.server, "bob", clock=env.clock) as bob:
        page = await bob.msg.get_msg_list("alice", C2C, {"msg_getmsglist_param_is_remble": True})
    return page[0]


async def _send_receipts(env: Env) -> Any:
    theirs = await _bobs_copy(env, "need_read_receipt")
    async with client_for(env.server, "bob", clock=env.clock) as bob:
        return await bob.msg.send_message_read_receipts([theirs])


async def _group_read_members(env: Env) -> Any:
    await env.server.create_group("team", owner="alice", members=("bob",), type="Private")
    sent = await env.alice.msg.send_new_msg("team", GRP, text("meeting", need_read_receipt=True))
    return [m.identifier async for m in env.alice.msg.get_group_message_read_member_list(sent, 1)]


async def _unread_subscription(env: Env) -> Any:
    """Subscribe (iterate), read the count now, unsubscribe (close the iterator)."""
    counts = env.alice.conv.unread_counts()
    first = await anext(counts)
    await counts.aclose()  # type: ignore[attr-defined]
    return first


async def _extensible(env: Env) -> Message:
    return await env.alice.msg.send_new_msg("bob", C2C, text("vote", support_message_extension=True))


async def _set_extensions(env: Env) -> Any:
    return await env.alice.msg.set_message_extensions(
        await _extensible(env), [{"message_extension_key": "k", "message_extension_value": "v"}]
    )


async def _get_extensions(env: Env) -> Any:
    sent = await _extensible(env)
    await env.alice.msg.set_message_extensions(
        sent, [{"message_extension_key": "k", "message_extension_value": "v"}]
    )
    return await env.alice.msg.get_message_extensions(sent)


async def _delete_extensions(env: Env) -> Any:
    sent = await _extensible(env)
    await env.alice.msg.set_message_extensions(
        sent, [{"message_extension_key": "k", "message_extension_value": "v"}]
    )
    return await env.alice.msg.delete_message_extensions(sent, ["k"])


async def _conv_group(env: Env, then: str) -> Any:
    await env.alice.conv.create_conversation_group("work", ["c2c_bob"])
    conv = env.alice.conv
    steps: dict[str, Callable[[], Awaitable[Any]]] = {
        "list": conv.get_conversation_group_list,
        "delete": lambda: conv.delete_conversation_group("work"),
        "rename": lambda: conv.rename_conversation_group("work", "job"),
        "add": lambda: conv.add_conversations_to_group("work", [f"group_{GROUP}"]),
        "remove": lambda: conv.delete_conversations_from_group("work", ["c2c_bob"]),
    }
    return await steps[then]()


# One example call per implemented function: the lead and the other helpers add theirs here.
EXAMPLES: dict[str, Example] = {
    "TIMMsgSendNewMsg": lambda e: e.alice.msg.send_new_msg("bob", C2C, text("hello")),
    "TIMMsgBatchSend": lambda e: e.alice.msg.batch_send(
        {"msg_batch_send_param_identifier_array": ["bob", "carol"], "msg_batch_send_param_msg": text("all")}
    ),
    "TIMMsgReportReaded": lambda e: e.alice.msg.report_readed("bob", C2C),
    "TIMMsgRevoke": lambda e: e.alice.msg.revoke("bob", C2C, e.sent),
    "TIMMsgModifyMessage": lambda e: e.alice.msg.modify_message(
        msgspec.structs.replace(e.sent, elem_array=[TextElem(content="edited")])
    ),
    "TIMMsgFindByMsgLocatorList": lambda e: e.alice.msg.find_by_msg_locator_list(
        "bob",
        C2C,
        [
            {
                "message_locator_time": e.sent.server_time,
                "message_locator_seq": e.sent.seq,
                "message_locator_rand": e.sent.rand,
            }
        ],
    ),
    "TIMMsgFindMessages": lambda e: e.alice.msg.find_messages([e.sent.msg_id]),
    "TIMMsgImportMsgList": lambda e: e.alice.msg.import_msg_list(
        "bob", C2C, [text("old", sender="bob", server_time=T0 - 100, seq=1, rand=1)], cloud=True
    ),
    "TIMMsgSaveMsg": lambda e: e.alice.msg.save_msg("bob", C2C, text("note to self")),
    "TIMMsgGetMsgList": lambda e: e.alice.msg.get_msg_list(
        GROUP, GRP, {"msg_getmsglist_param_is_remble": True}
    ),
    "TIMMsgDelete": lambda e: e.alice.msg.delete("bob", C2C, {"msg_delete_param_msg": e.sent}),
    "TIMMsgListDelete": lambda e: e.alice.msg.list_delete("bob", C2C, [e.sent]),
    "TIMMsgClearHistoryMessage": lambda e: e.alice.msg.clear_history_message(GROUP, GRP),
    "TIMMsgSetLocalCustomData": lambda e: e.alice.msg.set_local_custom_data(
        msgspec.structs.replace(e.sent, custom_str="starred")
    ),
    "TIMMsgSearchLocalMessages": lambda e: e.alice.msg.search_local_messages(
        {"msg_search_param_keyword_array": ["first"]}
    ),
    "TIMMsgDownloadElemToPath": _download,
    "TIMMsgSendMessage": _send_message,
    "TIMMsgCancelSend": _cancel_send,
    "TIMMsgSendMessageReadReceipts": _send_receipts,
    "TIMMsgGetMessageReadReceipts": lambda e: e.alice.msg.get_message_read_receipts([e.sent]),
    "TIMMsgGetGroupMessageReadMemberList": _group_read_members,
    "TIMMsgSetMessageExtensions": _set_extensions,
    "TIMMsgGetMessageExtensions": _get_extensions,
    "TIMMsgDeleteMessageExtensions": _delete_extensions,
    "TIMConvGetConvList": lambda e: e.alice.conv.get_conv_list(roaming=True),
    "TIMConvGetConvInfo": lambda e: e.alice.conv.get_conv_info(
        [{"get_conv_list_param_conv_id": "bob", "get_conv_list_param_conv_type": 1}]
    ),
    "TIMConvGetConversationListByFilter": lambda e: e.alice.conv.get_conversation_list_by_filter(0, 100),
    "TIMConvGetUnreadMessageCountByFilter": lambda e: e.alice.conv.get_unread_message_count_by_filter(),
    "TIMConvGetTotalUnreadMessageCount": lambda e: e.alice.conv.get_total_unread_message_count(),
    "TIMConvSubscribeUnreadMessageCountByFilter": _unread_subscription,
    "TIMConvUnsubscribeUnreadMessageCountByFilter": _unread_subscription,
    "TIMConvDelete": lambda e: e.alice.conv.delete_conversation("bob", C2C),
    "TIMConvDeleteConversationList": lambda e: e.alice.conv.delete_conversation_list(["c2c_bob"], False),
    "TIMConvPinConversation": lambda e: e.alice.conv.pin_conversation("bob", C2C, True),
    "TIMConvMarkConversation": lambda e: e.alice.conv.mark_conversation(["c2c_bob"], 1, True),
    "TIMConvCleanConversationUnreadMessageCount": lambda e: (
        e.alice.conv.clean_conversation_unread_message_count("c2c_bob")
    ),
    "TIMConvSetDraft": lambda e: e.alice.conv.set_draft("bob", C2C, {"draft_msg": text("unsent")}),
    "TIMConvCancelDraft": lambda e: e.alice.conv.cancel_draft("bob", C2C),
    "TIMConvSetConversationCustomData": lambda e: e.alice.conv.set_conversation_custom_data(
        ["c2c_bob"], "vip"
    ),
    "TIMConvCreateConversationGroup": lambda e: e.alice.conv.create_conversation_group("work", ["c2c_bob"]),
    "TIMConvGetConversationGroupList": lambda e: _conv_group(e, "list"),
    "TIMConvDeleteConversationGroup": lambda e: _conv_group(e, "delete"),
    "TIMConvRenameConversationGroup": lambda e: _conv_group(e, "rename"),
    "TIMConvAddConversationsToGroup": lambda e: _conv_group(e, "add"),
    "TIMConvDeleteConversationsFromGroup": lambda e: _conv_group(e, "remove"),
}

# What each example must have shown, where its return alone would not tell (None: returning is enough).
CHECKS: dict[str, Callable[[Any, Env], bool]] = {
    "TIMMsgSendNewMsg": lambda out, e: bool(out.msg_id),
    "TIMMsgFindMessages": lambda out, e: [m.msg_id for m in out] == [e.sent.msg_id],
    "TIMMsgSearchLocalMessages": lambda out, e: out.total_count == 2,
    "TIMMsgFindByMsgLocatorList": lambda out, e: len(out) == 1,
    "TIMMsgGetMsgList": lambda out, e: [m.text for m in out] == ["first in the group"],
    "TIMMsgDownloadElemToPath": lambda out, e: out == b"file body",
    "TIMMsgSendMessage": lambda out, e: bool(out.msg_id),
    "TIMMsgCancelSend": lambda out, e: out == 8021,
    "TIMMsgGetGroupMessageReadMemberList": lambda out, e: out == ["bob"],
    "TIMMsgGetMessageExtensions": lambda out, e: [(x.key, x.value) for x in out] == [("k", "v")],
    "TIMConvGetConvList": lambda out, e: {c.id for c in out} >= {"bob", GROUP},
    "TIMConvGetConversationGroupList": lambda out, e: out == ["work"],
}


@pytest_asyncio.fixture
async def env(server: DevServer, clock: Clock, tmp_path: Path) -> AsyncIterator[Env]:
    async with client_for(server, "alice", clock=clock, store_path=tmp_path / "alice.db") as alice:
        sent = await alice.msg.send_text("bob", C2C, "first to bob")
        group_sent = await alice.msg.send_text(GROUP, GRP, "first in the group")
        yield Env(server, alice, sent, group_sent, clock, tmp_path)


# --- the table itself ---------------------------------------------------------------------------


def test_the_table_lists_the_c_sdk_functions_with_a_known_status() -> None:
    assert len(ROWS) >= 60
    assert {row.status for row in ROWS.values()} <= STATUSES
    for row in ROWS.values():
        if row.status in ("implemented", "planned"):
            assert re.fullmatch(r"tim\.(msg|conv)\.\w+", row.method), row
        if row.status == "not possible":
            assert len(row.rest) > 20, f"{row.function}: say why no REST command serves it"


def test_every_capi_function_has_a_row_marked_implemented() -> None:
    """What `aio_tim.capi` exports is implemented, and the table says so."""
    exported = {n for n in capi.__all__ if n.startswith(("TIMMsg", "TIMConv"))}
    assert exported - set(ROWS) == set()
    assert {n for n in exported if ROWS[n].status != "implemented"} == set()


def test_implemented_rows_name_a_manager_method_and_have_an_example() -> None:
    implemented = {name for name, row in ROWS.items() if row.status == "implemented"}
    assert implemented - set(EXAMPLES) == set(), "implemented rows without an example call"
    assert set(EXAMPLES) - implemented == set(), "examples for rows not marked implemented"
    for name in implemented:
        family, method = ROWS[name].method.split(".")[1:]
        owner = MsgManager if family == "msg" else _conv_manager()
        assert callable(getattr(owner, method, None)), f"{name}: tim.{family}.{method} does not exist"


def _conv_manager() -> type:
    from aio_tim.conv import ConvManager

    return ConvManager


# --- the walk -------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", sorted(n for n, r in ROWS.items() if r.status == "implemented"))
async def test_each_implemented_function_runs_over_loopback(function: str, env: Env) -> None:
    """The example call succeeds against the dev server (and shows what CHECKS asks)."""
    example = EXAMPLES.get(function)
    assert example is not None, f"{function} is marked implemented but has no example in EXAMPLES"
    out = await example(env)
    check = CHECKS.get(function)
    assert check is None or check(out, env), f"{function} returned {out!r}"
