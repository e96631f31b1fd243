"""get_msg_list's v7 parameters over loopback HTTP: the time window (`time_begin`, `time_period`),
`message_type_array` (local pages) and `message_seq_array` (group messages by seq)."""

from __future__ import annotations

from typing import Any

import pytest
from scenario import GROUP, T0, Clock

from aio_tim import Client, ConvType, CustomElem, Message, TextElem, UsageError
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

C2C = ("bob", ConvType.C2C)
GROUP_CONV = (GROUP, ConvType.GROUP)
CONVS = {"c2c": C2C, "group": GROUP_CONV}
CUSTOM = 3  # kTIMElem_Custom


def numbered(i: int) -> Message:
    """Message #i: a text when i is even, a custom element when it is odd."""
    elem = TextElem(content=f"#{i}") if i % 2 == 0 else CustomElem(data=f"#{i}")
    return Message(elem_array=[elem])


async def ten_seconds(client: Client, conv: tuple[str, ConvType], clock: Clock) -> None:
    """Messages #0..#9, sent at T0 .. T0+9 (one a second)."""
    for i in range(10):
        clock.now = T0 + i
        await client.msg.send_new_msg(*conv, numbered(i))
    clock.now = T0 + 20


def names(msgs: list[Message]) -> list[str]:
    return [getattr(m.elem_array[0], "content", None) or getattr(m.elem_array[0], "data", "") for m in msgs]


async def page(client: Client, conv: tuple[str, ConvType], **param: Any) -> list[str]:
    prefixed = {f"msg_getmsglist_param_{k}": v for k, v in param.items()}
    return names(await client.msg.get_msg_list(*conv, prefixed))


# --- the time window --------------------------------------------------------------------------------


WINDOWS = [
    # older: [begin - period, begin], newest first
    ({"time_begin": T0 + 7, "time_period": 3}, ["#7", "#6", "#5", "#4"]),
    ({"time_begin": T0 + 3}, ["#3", "#2", "#1", "#0"]),
    ({"time_period": 15}, ["#9", "#8", "#7", "#6", "#5"]),  # begin 0: now (T0+20)
    ({"time_begin": T0 + 7, "time_period": 3, "count": 2}, ["#7", "#6"]),
    ({"time_begin": T0 - 5, "time_period": 3}, []),
    # newer: [begin, begin + period], oldest first
    ({"is_forward": True, "time_begin": T0 + 2, "time_period": 3}, ["#2", "#3", "#4", "#5"]),
    ({"is_forward": True, "time_begin": T0 + 7}, ["#7", "#8", "#9"]),
    ({"is_forward": True, "time_period": 5}, []),  # begin 0: now, and nothing is newer
]


@pytest.mark.parametrize("kind", CONVS)
@pytest.mark.parametrize(("param", "expected"), WINDOWS, ids=[str(w[0]) for w in WINDOWS])
async def test_a_time_window_bounds_the_page(alice, clock, kind, param, expected):
    await ten_seconds(alice, CONVS[kind], clock)
    assert await page(alice, CONVS[kind], **param) == expected


@pytest.mark.parametrize("kind", CONVS)
async def test_an_anchor_and_a_window_intersect(alice, clock, kind):
    """last_msg #6 and the window [T0+5, T0+9]: older than #6 and inside the window."""
    conv = CONVS[kind]
    await ten_seconds(alice, conv, clock)
    [six] = await alice.msg.get_msg_list(*conv, {"msg_getmsglist_param_time_begin": T0 + 6,
                                                 "msg_getmsglist_param_count": 1})  # fmt: skip
    assert names([six]) == ["#6"]
    window = {"time_begin": T0 + 9, "time_period": 4}
    assert await page(alice, conv, last_msg=six, **window) == ["#5"]
    assert await page(alice, conv, last_msg=six, is_forward=True, time_begin=T0 + 5, time_period=2) == ["#7"]


@pytest.mark.parametrize("kind", CONVS)
async def test_a_window_is_filled_from_roaming(server: DevServer, alice, clock, kind):
    """A device with an empty store gets the window's messages from the server."""
    conv = CONVS[kind]
    await ten_seconds(alice, conv, clock)
    async with client_for(server, "alice", clock=clock) as fresh:
        older = await page(fresh, conv, is_remble=True, time_begin=T0 + 7, time_period=3)
        newer = await page(fresh, conv, is_remble=True, is_forward=True, time_begin=T0 + 8)
    assert (older, newer) == (["#7", "#6", "#5", "#4"], ["#8", "#9"])


# --- message_type_array -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CONVS)
async def test_a_type_filter_keeps_those_element_types(alice, clock, kind):
    conv = CONVS[kind]
    await ten_seconds(alice, conv, clock)
    assert await page(alice, conv, message_type_array=[CUSTOM], count=3) == ["#9", "#7", "#5"]
    assert await page(alice, conv, message_type_array=[0], is_forward=True, count=2) == ["#0", "#2"]
    assert await page(alice, conv, message_type_array=[CUSTOM], time_begin=T0 + 4, time_period=3) == [
        "#3",
        "#1",
    ]
    assert await page(alice, conv, message_type_array=[CUSTOM, 0]) == [f"#{i}" for i in range(9, -1, -1)]
    assert await page(alice, conv, message_type_array=[1]) == []


async def test_a_type_filter_reads_past_many_skipped_messages(alice, clock):
    """The filter reads on until the page is full, however many messages it skips."""
    for i in range(450):
        clock.now = T0 + i
        await alice.msg.save_msg(*C2C, numbered(0 if i != 5 else 1))
    assert await page(alice, C2C, message_type_array=[CUSTOM]) == ["#1"]


# --- message_seq_array ------------------------------------------------------------------------------


async def test_group_messages_by_seq(server: DevServer, alice, clock):
    """Stored ones at once; unknown seqs are left out; `is_remble` fetches the rest."""
    await ten_seconds(alice, GROUP_CONV, clock)  # seqs 1..10 hold #0..#9
    assert await page(alice, GROUP_CONV, message_seq_array=[2, 5, 9, 99]) == ["#8", "#4", "#1"]
    assert await page(alice, GROUP_CONV, message_seq_array=[9, 2], is_forward=True) == ["#1", "#8"]
    async with client_for(server, "alice", clock=clock) as fresh:
        assert await page(fresh, GROUP_CONV, message_seq_array=[3, 4]) == []
        assert await page(fresh, GROUP_CONV, message_seq_array=[3, 4, 99], is_remble=True) == ["#3", "#2"]


# --- bad input: refused before any I/O --------------------------------------------------------------


BAD = {
    "types-with-remble": (C2C, {"message_type_array": [0], "is_remble": True}),
    "seqs-on-c2c": (C2C, {"message_seq_array": [1]}),
    "negative-begin": (C2C, {"time_begin": -1}),
    "text-period": (C2C, {"time_period": "soon"}),
    "types-not-a-list": (GROUP_CONV, {"message_type_array": 3}),
}


@pytest.mark.parametrize("case", BAD)
async def test_bad_page_parameters_are_refused_offline(alice, clock, case):
    conv, param = BAD[case]
    calls = alice._connection.calls
    with pytest.raises(UsageError):
        await page(alice, conv, **param)
    assert alice._connection.calls == calls
