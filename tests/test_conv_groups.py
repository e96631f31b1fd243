"""Conversation groups over REST (recentcontact/create_contact_group, update_contact_group,
get_contact_group, del_contact_group) against the dev server over loopback HTTP: each command's
success and documented codes, tim.conv's group functions keeping the server and the local table
in step, and bad input refused before any I/O with nothing stored anywhere."""

from __future__ import annotations

import pytest
from scenario import GROUP

from aio_tim import ConvType, UsageError
from aio_tim.errors import TIMError
from aio_tim.protocol.contactgroups import (
    ContactUpdateItem,
    CreateContactGroup,
    DeleteContactGroup,
    GetContactGroup,
    GetContactGroupResponse,
    GroupContactItem,
    UpdateContactGroup,
    UpdateGroup,
)
from aio_tim.protocol.recentcontact import ContactItem
from aio_tim.testing import client_for

C2C, GRP = ConvType.C2C, ConvType.GROUP
BOB = ContactItem(Type=1, To_Account="bob")
G1 = ContactItem(Type=2, ToGroupId=GROUP)


async def on_server(tim, user: str = "alice") -> dict[str, list[tuple[int, str]]]:
    """name -> the (type, peer) of its conversations, as get_contact_group pages them."""
    reply = await tim.pipeline.submit(GetContactGroup(From_Account=user))
    assert isinstance(reply, GetContactGroupResponse) and reply.CompleteFlag == 1
    names = {g.GroupId: g.GroupName for g in reply.GroupItem}
    found: dict[str, list[tuple[int, str]]] = {name: [] for name in names.values()}
    for entry in reply.ContactItem:
        for group_id in entry.ContactGroupId or []:
            found[names[group_id]].append((entry.Type, entry.To_Account or entry.ToGroupId or ""))
    return found


def create(name: str, *items: ContactItem, user: str = "alice") -> CreateContactGroup:
    return CreateContactGroup(From_Account=user, GroupContactItem=[GroupContactItem(name, list(items))])


def update(old: str, **change) -> UpdateContactGroup:
    kind = 1 if "NewGroupName" in change else 2
    return UpdateContactGroup(
        From_Account="alice", UpdateType=1, UpdateGroup=UpdateGroup(kind, old, **change)
    )


# --- the commands -----------------------------------------------------------------------------------


async def test_create_update_get_and_delete_on_the_server(alice):
    submit = alice.pipeline.submit
    reply = await submit(create("work", BOB, G1))
    [result] = reply.GroupResultItem
    assert (result.GroupItem.GroupName, result.GroupItem.GroupId) == ("work", 1)
    assert [(r.ContactItem, r.ResultCode) for r in result.ResultItem] == [(BOB, 0), (G1, 0)]
    assert (await submit(create("home"))).GroupResultItem[0].GroupItem.GroupId == 2
    assert await on_server(alice) == {"work": [(1, "bob"), (2, GROUP)], "home": []}
    reply = await submit(update("work", NewGroupName="job"))
    assert (reply.UpdateGroupResult.OldGroupName, reply.UpdateGroupResult.NewGroupName) == ("work", "job")
    items = [ContactUpdateItem(2, BOB), ContactUpdateItem(1, ContactItem(Type=1, To_Account="carol"))]
    reply = await submit(update("job", ContactUpdateItem=items))
    assert [(r.ContactOptType, r.ResultCode) for r in reply.UpdateGroupResult.ContactResultItem] == [
        (2, 0),
        (1, 0),
    ]
    assert await on_server(alice) == {"job": [(1, "carol"), (2, GROUP)], "home": []}
    reply = await submit(DeleteContactGroup(From_Account="alice", GroupName=["home"]))
    assert [(g.GroupName, g.GroupId) for g in reply.GroupItem] == [("home", 2)]
    assert await on_server(alice) == {"job": [(1, "carol"), (2, GROUP)]}


async def test_get_contact_group_pages_by_start_index(alice):
    many = [ContactItem(Type=1, To_Account=f"u{n:03}") for n in range(150)]
    await alice.pipeline.submit(create("big", *many))
    first = await alice.pipeline.submit(GetContactGroup(From_Account="alice"))
    assert (len(first.ContactItem), first.CompleteFlag, first.NextStartIndex) == (100, 0, 100)
    rest = await alice.pipeline.submit(GetContactGroup(From_Account="alice", StartIndex=first.NextStartIndex))
    assert (len(rest.ContactItem), rest.CompleteFlag) == (50, 1)
    assert {e.To_Account for e in first.ContactItem + rest.ContactItem} == {i.To_Account for i in many}


REFUSED = [
    (create("x", user="nobody"), 50001),
    (GetContactGroup(From_Account="nobody"), 50001),
    (DeleteContactGroup(From_Account="nobody", GroupName=["x"]), 50001),
    (CreateContactGroup(From_Account="alice", GroupContactItem=[]), 50002),
    (create(""), 50002),
    (create("x" * 33), 50002),
    (create("x", ContactItem(Type=3, To_Account="bob")), 50002),
    (create("x", ContactItem(Type=2)), 50002),
    (create("x", *[ContactItem(Type=1, To_Account=f"u{n}") for n in range(1001)]), 51008),
    (update("missing", NewGroupName="y"), 50002),
    (UpdateContactGroup(From_Account="alice", UpdateType=2, UpdateGroup=UpdateGroup(1, "a", "b")), 50002),
    (DeleteContactGroup(From_Account="alice", GroupName=["missing"]), 50002),
    (DeleteContactGroup(From_Account="alice", GroupName=[]), 50002),
]


@pytest.mark.parametrize(
    ("request_", "code"), REFUSED, ids=[f"{type(r).__name__}-{c}-{i}" for i, (r, c) in enumerate(REFUSED)]
)
async def test_documented_codes_and_nothing_stored(alice, request_, code):
    await alice.pipeline.submit(create("keep", BOB))
    with pytest.raises(TIMError) as caught:
        await alice.pipeline.submit(request_)
    assert caught.value.code == code
    assert await on_server(alice) == {"keep": [(1, "bob")]}


async def test_the_caps_are_51008(alice):
    for n in range(20):
        await alice.pipeline.submit(create(f"g{n}"))
    with pytest.raises(TIMError) as caught:
        await alice.pipeline.submit(create("one too many"))
    assert caught.value.code == 51008
    many = [ContactUpdateItem(1, ContactItem(Type=1, To_Account=f"u{n}")) for n in range(1001)]
    with pytest.raises(TIMError) as caught:
        await alice.pipeline.submit(update("g0", ContactUpdateItem=many))
    assert caught.value.code == 51008
    assert (await on_server(alice))["g0"] == []  # the whole update rolled back


async def test_a_taken_name_is_50002(alice):
    await alice.pipeline.submit(create("a"))
    await alice.pipeline.submit(create("b"))
    for request in (create("a"), update("a", NewGroupName="b")):
        with pytest.raises(TIMError) as caught:
            await alice.pipeline.submit(request)
        assert caught.value.code == 50002
    assert set(await on_server(alice)) == {"a", "b"}


# --- tim.conv keeps the server and the table in step ---------------------------------------------------


async def test_the_group_functions_change_the_server_then_the_table(alice):
    await alice.msg.send_text("bob", C2C, "hi")
    results = await alice.conv.create_conversation_group("work", ["c2c_bob", f"group_{GROUP}"])
    assert [(r.conversation_id, r.result_code) for r in results] == [("c2c_bob", 0), (f"group_{GROUP}", 0)]
    assert await on_server(alice) == {"work": [(1, "bob"), (2, GROUP)]}
    await alice.conv.delete_conversations_from_group("work", ["c2c_bob"])
    await alice.conv.add_conversations_to_group("work", ["c2c_carol"])
    await alice.conv.rename_conversation_group("work", "job")
    assert await on_server(alice) == {"job": [(1, "carol"), (2, GROUP)]}
    convs = {c.id: c.conversation_group_array for c in await alice.conv.get_conv_list()}
    assert convs == {"bob": [], "carol": ["job"], GROUP: ["job"]}
    await alice.conv.delete_conversation_group("job")
    assert await on_server(alice) == {} and await alice.conv.get_conversation_group_list() == []


async def test_another_device_syncs_the_groups(server, alice, clock):
    await alice.conv.create_conversation_group("work", ["c2c_bob"])
    await alice.conv.create_conversation_group("home", [f"group_{GROUP}"])
    async with client_for(server, "alice", clock=clock, store_path=":memory:") as other:
        await other.conv.create_conversation_group("stale", ["c2c_bob"])
        await other.pipeline.submit(DeleteContactGroup(From_Account="alice", GroupName=["stale"]))
        assert await other.conv.sync_conversation_groups() == ["home", "work"]
        convs = {c.id: c.conversation_group_array for c in await other.conv.get_conv_list()}
        assert convs == {"bob": ["work"], GROUP: ["home"]}


async def test_a_refusal_of_the_server_changes_nothing_here(server, alice, clock):
    await alice.conv.create_conversation_group("work", ["c2c_bob"])
    await alice.pipeline.submit(DeleteContactGroup(From_Account="alice", GroupName=["work"]))  # elsewhere
    with pytest.raises(TIMError) as caught:
        await alice.conv.rename_conversation_group("work", "job")
    assert caught.value.code == 50002
    assert await alice.conv.get_conversation_group_list() == ["work"]


BAD = [
    ("create_conversation_group", ("x" * 33, ["c2c_bob"])),
    ("create_conversation_group", ("g", ["c2c_bob"] * 101)),
    ("create_conversation_group", ("g", "c2c_bob")),
    ("add_conversations_to_group", ("missing", ["c2c_bob"])),
    ("delete_conversations_from_group", ("missing", ["c2c_bob"])),
    ("rename_conversation_group", ("missing", "new")),
    ("rename_conversation_group", ("keep", "keep")),
    ("delete_conversation_group", ("missing",)),
    ("create_conversation_group", ("keep", ["c2c_bob"])),
]


@pytest.mark.parametrize(("name", "args"), BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
async def test_bad_input_is_refused_before_io(alice, name, args):
    await alice.conv.create_conversation_group("keep", ["c2c_bob"])
    sent = alice.pipeline.statistics().sent
    with pytest.raises(UsageError):
        await getattr(alice.conv, name)(*args)
    assert alice.pipeline.statistics().sent == sent
    assert await alice.conv.get_conversation_group_list() == ["keep"]
    assert await on_server(alice) == {"keep": [(1, "bob")]}
