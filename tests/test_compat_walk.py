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

from aio_tim import Client, ConvType, FileElem, Message, TextElem, capi
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
}

# What each example must have shown, where its return alone would not tell (None: returning is enough).
CHECKS: dict[str, Callable[[Any, Env], bool]] = {
    "TIMMsgSendNewMsg": lambda out, e: bool(out.msg_id),
    "TIMMsgFindMessages": lambda out, e: [m.msg_id for m in out] == [e.sent.msg_id],
    "TIMMsgSearchLocalMessages": lambda out, e: out.total_count == 2,
    "TIMMsgFindByMsgLocatorList": lambda out, e: len(out) == 1,
    "TIMMsgGetMsgList": lambda out, e: [m.text for m in out] == ["first in the group"],
    "TIMMsgDownloadElemToPath": lambda out, e: out == b"file body",
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
    from aio_tim import conv  # type: ignore[attr-defined]  # the conversation family, once it exists

    return conv.ConvManager  # type: ignore[no-any-return]


# --- the walk -------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", sorted(n for n, r in ROWS.items() if r.status == "implemented"))
async def test_each_implemented_function_runs_over_loopback(function: str, env: Env) -> None:
    """The example call succeeds against the dev server (and shows what CHECKS asks)."""
    example = EXAMPLES.get(function)
    assert example is not None, f"{function} is marked implemented but has no example in EXAMPLES"
    out = await example(env)
    check = CHECKS.get(function)
    assert check is None or check(out, env), f"{function} returned {out!r}"
