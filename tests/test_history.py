"""get_msg_list and iter_msg_list: paging the local store and the server's roaming history."""

from __future__ import annotations

import itertools
import json

import pytest
from scenario import GROUP, Clock, text

from aio_tim import Client, ConvType, GetMsgListParam, Message, MsgDeleteParam, UsageError
from aio_tim.store import locator_key
from aio_tim.testing import client_for


def texts(msgs: list[Message]) -> list[str | None]:
    return [m.elem_array[0].content if m.elem_array else None for m in msgs]  # type: ignore[union-attr]


def conv_of(kind: str) -> tuple[str, ConvType]:
    return ("bob", ConvType.C2C) if kind == "c2c" else (GROUP, ConvType.GROUP)


def page_param(last: Message | None, count: int, *, forward: bool = False, remble: bool = False) -> dict:
    param: dict = {"msg_getmsglist_param_count": count, "msg_getmsglist_param_is_forward": forward}
    if remble:
        param["msg_getmsglist_param_is_remble"] = True
    if last is not None:
        param["msg_getmsglist_param_last_msg"] = json.loads(last_json(last))
    return param


def last_json(msg: Message) -> str:
    import msgspec

    return msgspec.json.encode(msg).decode()


async def send_all(sender: Client, kind: str, count: int, clock: Clock, per_second: int) -> list[Message]:
    """Send `count` texts "0", "1", ... from `sender`, `per_second` of them in each second."""
    conv_id, conv_type = conv_of(kind)
    if kind == "c2c" and sender.user_id == "bob":
        conv_id = "alice"
    sent = []
    for i in range(count):
        if i and i % per_second == 0:
            clock.now += 1
        sent.append(await sender.msg.send_new_msg(conv_id, conv_type, text(str(i))))
    return sent


async def walk(
    client: Client, kind: str, page_size: int, *, forward: bool, remble: bool
) -> list[list[Message]]:
    """Page through a conversation, each page anchored on the previous page's last message."""
    conv_id, conv_type = conv_of(kind)
    if kind == "c2c" and client.user_id == "bob":
        conv_id = "alice"
    pages: list[list[Message]] = []
    last: Message | None = None
    for _ in range(200):
        page = await client.msg.get_msg_list(
            conv_id, conv_type, page_param(last, page_size, forward=forward, remble=remble)
        )
        if not page:
            return pages
        pages.append(page)
        last = page[-1]
    raise AssertionError("paging did not end")


def check_pages(pages: list[list[Message]], expected: list[str], page_size: int) -> None:
    seen = [t for page in pages for t in texts(page)]
    assert seen == expected
    assert all(len(page) <= page_size for page in pages)
    for before, after in itertools.pairwise(pages):
        assert locator_key(before[-1]) not in [locator_key(m) for m in after]


KINDS = ["c2c", "group"]
PAGE_SIZES = [1, 3, 7, 30]


@pytest.mark.parametrize("page_size", PAGE_SIZES)
@pytest.mark.parametrize("forward", [False, True], ids=["backward", "forward"])
@pytest.mark.parametrize("kind", KINDS)
async def test_local_paging_visits_every_message_once(alice, clock, kind, forward, page_size):
    """Paging the sender's store from each page's last message visits all, in order, also in one second."""
    await send_all(alice, kind, 23, clock, per_second=23)
    pages = await walk(alice, kind, page_size, forward=forward, remble=False)
    order = [str(i) for i in range(23)]
    check_pages(pages, order if forward else order[::-1], page_size)


@pytest.mark.parametrize("page_size", PAGE_SIZES)
@pytest.mark.parametrize("forward", [False, True], ids=["backward", "forward"])
@pytest.mark.parametrize("kind", KINDS)
async def test_roaming_paging_fills_an_empty_store(alice, bob, clock, kind, forward, page_size):
    """A reader with an empty store pages the server's history in send order, each message once."""
    await send_all(alice, kind, 23, clock, per_second=23)
    pages = await walk(bob, kind, page_size, forward=forward, remble=True)
    order = [str(i) for i in range(23)]
    check_pages(pages, order if forward else order[::-1], page_size)


@pytest.mark.parametrize("start", [1_500_000_000, 2_100_000_000], ids=["past", "future"])
@pytest.mark.parametrize("forward", [False, True], ids=["backward", "forward"])
@pytest.mark.parametrize("kind", KINDS)
async def test_roaming_follows_the_clock_not_the_wall_time(server, clock, kind, forward, start):
    """Roaming history is found whatever the wall clock says about the messages' times."""
    clock.now = start
    async with (
        client_for(server, "alice", clock=clock) as alice,
        client_for(server, "bob", clock=clock) as bob,
    ):
        await send_all(alice, kind, 9, clock, per_second=2)
        pages = await walk(bob, kind, 4, forward=forward, remble=True)
    order = [str(i) for i in range(9)]
    check_pages(pages, order if forward else order[::-1], 4)


@pytest.mark.parametrize("forward", [False, True], ids=["backward", "forward"])
@pytest.mark.parametrize("remble", [False, True], ids=["local", "roaming"])
@pytest.mark.parametrize("kind", KINDS)
async def test_iter_msg_list_walks_the_whole_history(alice, bob, clock, kind, remble, forward):
    """iter_msg_list yields every message once, newest first (oldest first when forward)."""
    await send_all(alice, kind, 57, clock, per_second=5)
    reader, conv_id = (bob, "alice") if remble else (alice, "bob")
    conv_id = conv_id if kind == "c2c" else GROUP
    got = [
        m
        async for m in reader.msg.iter_msg_list(
            conv_id, conv_of(kind)[1], forward=forward, page_size=10, remble=remble
        )
    ]
    order = [str(i) for i in range(57)]
    assert texts(got) == (order if forward else order[::-1])


@pytest.mark.parametrize("forward", [False, True], ids=["backward", "forward"])
async def test_roaming_crosses_server_pages_within_one_second(alice, bob, clock, forward):
    """150 C2C messages of one second span several roaming replies and still come back once each."""
    await send_all(alice, "c2c", 150, clock, per_second=150)
    calls = bob._connection.calls
    got = [
        m
        async for m in bob.msg.iter_msg_list(
            "alice", ConvType.C2C, forward=forward, page_size=40, remble=True
        )
    ]
    order = [str(i) for i in range(150)]
    assert texts(got) == (order if forward else order[::-1])
    assert bob._connection.calls - calls > 2  # more than one reply's worth: LastMsgKey paging was used


@pytest.mark.parametrize("kind", KINDS)
async def test_both_sides_see_one_second_of_sends_in_send_order(alice, bob, clock, kind):
    """Sends in one second come back in send order from the sender's store and from roaming."""
    await send_all(alice, kind, 40, clock, per_second=40)
    conv_id, conv_type = conv_of(kind)
    local = await alice.msg.get_msg_list(conv_id, conv_type, page_param(None, 100, forward=True))
    peer_conv = "alice" if kind == "c2c" else GROUP
    roamed = await bob.msg.get_msg_list(peer_conv, conv_type, page_param(None, 100, remble=True))
    assert texts(local) == [str(i) for i in range(40)]
    assert texts(roamed) == [str(i) for i in range(39, -1, -1)]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_half_filled_local_page_is_completed_from_roaming(alice, bob, clock, kind):
    """When the store holds only the newest messages, the page continues with older roaming ones."""
    await send_all(alice, kind, 10, clock, per_second=3)
    clock.now += 1
    conv_id = "alice" if kind == "c2c" else GROUP
    conv_type = conv_of(kind)[1]
    for i in range(2):
        await bob.msg.send_new_msg(conv_id, conv_type, text(f"b{i}"))
    local = await bob.msg.get_msg_list(conv_id, conv_type, page_param(None, 5))
    page = await bob.msg.get_msg_list(conv_id, conv_type, page_param(None, 5, remble=True))
    assert texts(local) == ["b1", "b0"]
    assert texts(page) == ["b1", "b0", "9", "8", "7"]


@pytest.mark.parametrize("kind", KINDS)
async def test_forward_roaming_fill_starts_right_after_the_anchor(alice, bob, clock, kind):
    """Forward with an anchor the reader never stored returns the messages just after it, oldest first."""
    sent = await send_all(alice, kind, 30, clock, per_second=4)
    conv_id = "alice" if kind == "c2c" else GROUP
    page = await bob.msg.get_msg_list(
        conv_id, conv_of(kind)[1], page_param(sent[5], 6, forward=True, remble=True)
    )
    assert texts(page) == ["6", "7", "8", "9", "10", "11"]


@pytest.mark.parametrize("kind", KINDS)
async def test_roaming_pages_are_not_cut_short_by_a_locally_deleted_message(alice, bob, clock, kind):
    """A message deleted locally is skipped by roaming pages without ending the walk early."""
    sent = await send_all(alice, kind, 45, clock, per_second=2)
    conv_id = "alice" if kind == "c2c" else GROUP
    conv_type = conv_of(kind)[1]
    victim = sent[40]
    [found] = await bob.msg.find_by_msg_locator_list(conv_id, conv_type, [locator_of(victim)])
    await bob.msg.delete(conv_id, conv_type, MsgDeleteParam(msg=found))
    got = [m async for m in bob.msg.iter_msg_list(conv_id, conv_type, page_size=20, remble=True)]
    assert texts(got) == [str(i) for i in range(44, -1, -1) if i != 40]


def locator_of(msg: Message) -> dict:
    return {
        "message_locator_time": msg.server_time,
        "message_locator_seq": msg.seq,
        "message_locator_rand": msg.rand,
        "message_locator_is_self": bool(msg.is_from_self),
        "message_locator_is_revoked": False,
    }


# --- group: last_msg_seq ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forward", "expected"),
    [(False, ["5", "4", "3"]), (True, ["5", "6", "7"])],
    ids=["backward", "forward"],
)
@pytest.mark.parametrize("reader", ["alice", "bob"], ids=["local", "roaming"])
async def test_group_last_msg_seq_includes_the_anchor(alice, bob, clock, reader, forward, expected):
    """A group page anchored on last_msg_seq starts with that message itself."""
    sent = await send_all(alice, "group", 10, clock, per_second=3)
    client = alice if reader == "alice" else bob
    param = {
        "msg_getmsglist_param_last_msg_seq": sent[5].seq,
        "msg_getmsglist_param_count": 3,
        "msg_getmsglist_param_is_forward": forward,
        "msg_getmsglist_param_is_remble": reader == "bob",
    }
    page = await client.msg.get_msg_list(GROUP, ConvType.GROUP, param)
    assert texts(page) == expected


async def test_group_last_msg_wins_over_last_msg_seq(alice, clock):
    """With both anchors given, last_msg decides and is excluded."""
    sent = await send_all(alice, "group", 6, clock, per_second=6)
    param = GetMsgListParam(last_msg=sent[4], last_msg_seq=sent[1].seq, count=2)
    page = await alice.msg.get_msg_list(GROUP, ConvType.GROUP, param)
    assert texts(page) == ["3", "2"]


async def test_group_last_msg_seq_of_an_unknown_message_is_an_error(alice, clock):
    """A last_msg_seq past the group's newest message raises instead of returning a wrong page."""
    await send_all(alice, "group", 2, clock, per_second=2)
    param = GetMsgListParam(last_msg_seq=99, count=2, is_remble=True)
    with pytest.raises(UsageError) as caught:
        await alice.msg.get_msg_list(GROUP, ConvType.GROUP, param)
    assert caught.value.code == -4 and "99" in caught.value.desc


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conv_id", "conv_type", "param", "code"),
    [
        ("bob", ConvType.C2C, "{not json", -3),
        ("bob", ConvType.C2C, {"msg_getmsglist_param_count": -1}, -3),
        ("bob", ConvType.C2C, {"msg_getmsglist_param_count": "ten"}, -3),
        ("bob", ConvType.C2C, {"msg_getmsglist_param_last_msg": 5}, -3),
        ("bob", 3, {"msg_getmsglist_param_count": 1}, -5),
        ("bob", 0, {"msg_getmsglist_param_count": 1}, -5),
        ("", ConvType.C2C, {"msg_getmsglist_param_count": 1}, -5),
        ("bob", ConvType.C2C, {"msg_getmsglist_param_last_msg_seq": 3}, -4),
    ],
    ids=[
        "malformed",
        "negative-count",
        "count-type",
        "last-msg-type",
        "system",
        "invalid",
        "no-id",
        "c2c-seq",
    ],
)
async def test_get_msg_list_bad_input(alice, conv_id, conv_type, param, code):
    """Bad get_msg_list input raises UsageError with the C SDK's code and makes no request."""
    calls = alice._connection.calls
    with pytest.raises(UsageError) as caught:
        await alice.msg.get_msg_list(conv_id, conv_type, param)
    assert caught.value.code == code
    assert alice._connection.calls == calls


@pytest.mark.parametrize("page_size", [0, -1])
async def test_iter_msg_list_refuses_a_page_size_below_one(alice, page_size):
    """iter_msg_list needs pages of at least one message."""
    with pytest.raises(UsageError) as caught:
        [m async for m in alice.msg.iter_msg_list("bob", ConvType.C2C, page_size=page_size)]
    assert caught.value.code == -4


async def test_count_zero_returns_an_empty_page(alice, clock):
    """A page of zero messages is empty, also with roaming on."""
    await send_all(alice, "c2c", 3, clock, per_second=3)
    page = await alice.msg.get_msg_list("bob", ConvType.C2C, page_param(None, 0, remble=True))
    assert page == []
