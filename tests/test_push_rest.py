"""Issue 33: push to all users (`all_member_push/*`) over loopback, as a third party calls it:
each command from its TIM page's sample request and answer, the refusals with the pages' codes
(90018 too many accounts, 90033 an invalid attribute), who a push's Condition selects, and the
Go client dobyte/tencent-im's spellings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_compat_replay import Caller, serve, text

P = "all_member_push"
PUSH = {"MsgRandom": 1, "MsgBody": text("x")}


@pytest.fixture
async def tim() -> AsyncIterator[Caller]:
    async with serve() as caller:
        yield caller


async def names(tim: Caller) -> None:
    await tim.ok(f"{P}/im_set_attr_name", {"AttrNames": {"0": "sex", "1": "city", "2": "country"}})


async def test_attr_name_samples(tim: Caller) -> None:
    """trtc.io/document/37167 and 37168: slots 0 to 9 set by number, read back as set."""
    await names(tim)
    reply = await tim.ok(f"{P}/im_get_attr_name", {})
    assert reply["AttrNames"] == {"0": "sex", "1": "city", "2": "country"}
    await tim.ok(f"{P}/im_set_attr_name", {"AttrNames": {"2": "region"}})
    assert (await tim.ok(f"{P}/im_get_attr_name", {}))["AttrNames"]["2"] == "region"


async def test_user_attr_samples(tim: Caller) -> None:
    """trtc.io/document/37170, 37169, 37171: set, get, remove."""
    await names(tim)
    body = {
        "UserAttrs": [
            {"To_Account": "xiaojun012", "Attrs": {"sex": "attr1", "city": "attr2"}},
            {"To_Account": "xiaojun013", "Attrs": {"city": "attr3", "sex": "attr4"}},
        ]
    }
    await tim.ok(f"{P}/im_set_attr", body)
    reply = await tim.ok(f"{P}/im_get_attr", {"To_Account": ["xiaojun012", "xiaojun013"]})
    assert reply["UserAttrs"] == body["UserAttrs"]
    removal = {"UserAttrs": [{"To_Account": "xiaojun012", "Attrs": ["sex", "city"]}]}
    await tim.ok(f"{P}/im_remove_attr", removal)
    reply = await tim.ok(f"{P}/im_get_attr", {"To_Account": ["xiaojun012"]})
    assert reply["UserAttrs"] == [{"To_Account": "xiaojun012", "Attrs": {}}]


async def test_user_tag_samples(tim: Caller) -> None:
    """trtc.io/document/37172 to 37175: add, get, remove some, remove all."""
    tags = {"UserTags": [{"To_Account": "xiaojun012", "Tags": ["a", "b"]},
                         {"To_Account": "xiaojun013", "Tags": ["a", "c"]}]}  # fmt: skip
    await tim.ok(f"{P}/im_add_tag", tags)
    reply = await tim.ok(f"{P}/im_get_tag", {"To_Account": ["xiaojun012", "xiaojun013"]})
    assert reply["UserTags"] == tags["UserTags"]
    await tim.ok(f"{P}/im_remove_tag", {"UserTags": [{"To_Account": "xiaojun012", "Tags": ["a"]}]})
    await tim.ok(f"{P}/im_remove_all_tags", {"To_Account": ["xiaojun013"]})
    reply = await tim.ok(f"{P}/im_get_tag", {"To_Account": ["xiaojun012", "xiaojun013"]})
    assert reply["UserTags"] == [
        {"To_Account": "xiaojun012", "Tags": ["b"]},
        {"To_Account": "xiaojun013", "Tags": []},
    ]


async def test_im_push_sample_and_who_a_condition_selects(tim: Caller) -> None:
    """trtc.io/document/37166: no Condition reaches everyone but the sender; tags and attributes
    select with And (all) and Or (any); a TaskId names each push."""
    await names(tim)
    attrs = [
        {"To_Account": "ann", "Attrs": {"sex": "f", "city": "sz"}},
        {"To_Account": "bo", "Attrs": {"sex": "m", "city": "sz"}},
    ]
    await tim.ok(f"{P}/im_set_attr", {"UserAttrs": attrs})
    await tim.ok(f"{P}/im_add_tag", {"UserTags": [{"To_Account": "cy", "Tags": ["a", "b"]},
                                                  {"To_Account": "ann", "Tags": ["a"]}]})  # fmt: skip
    push: dict[str, Any] = {"From_Account": "admin_pusher", "MsgRandom": 56512, "MsgLifeTime": 120,
                            "MsgBody": text("hi all")}  # fmt: skip
    selects = {
        None: ["ann", "bo", "cy"],
        "TagsAnd": (["a", "b"], ["cy"]),
        "TagsOr": (["b", "a"], ["ann", "cy"]),
        "AttrsAnd": ({"sex": "m", "city": "sz"}, ["bo"]),
        "AttrsOr": ({"sex": "f", "city": "sz"}, ["ann", "bo"]),
    }
    for key, expected in selects.items():
        body = dict(push) if key is None else {**push, "Condition": {key: expected[0]}}
        reply = await tim.ok(f"{P}/im_push", body)
        wanted = expected if key is None else expected[1]
        assert sorted(await tim.server.push_recipients(reply["TaskId"]) or []) == wanted, key
    assert await tim.server.push_recipients("no-such-task") is None


@pytest.mark.parametrize(
    ("endpoint", "body", "code"),
    [
        ("im_get_attr", {"To_Account": [f"u{i}" for i in range(101)]}, 90018),
        ("im_get_tag", {"To_Account": []}, 90018),
        ("im_remove_all_tags", {"To_Account": [f"u{i}" for i in range(101)]}, 90018),
        ("im_set_attr", {"UserAttrs": [{"To_Account": "u", "Attrs": {"age": "9"}}]}, 90033),
        ("im_set_attr", {"UserAttrs": [{"To_Account": "u", "Attrs": {"sex": "x" * 51}}]}, 90033),
        ("im_set_attr_name", {"AttrNames": {"10": "age"}}, 90033),
        ("im_set_attr_name", {"AttrNames": {"3": "sex"}}, 90033),
        ("im_set_attr_name", {"AttrNames": {"3": "x" * 51}}, 90033),
        ("im_add_tag", {"UserTags": [{"To_Account": "u", "Tags": ["t" * 51]}]}, 90033),
        ("im_add_tag", {"UserTags": [{"To_Account": "u", "Tags": [f"t{i}" for i in range(11)]}]}, 90033),
        ("im_push", {**PUSH, "Condition": {"TagsOr": ["a"], "AttrsOr": {"sex": "m"}}}, 90001),
        ("im_push", {**PUSH, "Condition": {"TagsAnd": [f"t{i}" for i in range(11)]}}, 90033),
        ("im_push", {"MsgRandom": 1, "MsgBody": text("x"), "MsgLifeTime": 604801}, 90044),
        ("im_push", {"MsgRandom": 1, "MsgBody": []}, 90002),
        ("im_push", {"MsgRandom": "1", "MsgBody": text("x")}, 90005),
    ],
)  # fmt: skip
async def test_refusals_use_the_pages_codes_and_store_nothing(
    tim: Caller, endpoint: str, body: dict[str, Any], code: int
) -> None:
    await names(tim)
    await tim.fails(f"{P}/{endpoint}", body, code)
    assert (await tim.ok(f"{P}/im_get_attr", {"To_Account": ["u"]}))["UserAttrs"][0]["Attrs"] == {}
    assert (await tim.ok(f"{P}/im_get_tag", {"To_Account": ["u"]}))["UserTags"][0]["Tags"] == []
    assert (await tim.ok(f"{P}/im_get_attr_name", {}))["AttrNames"] == {
        "0": "sex",
        "1": "city",
        "2": "country",
    }


async def test_a_user_holds_at_most_100_tags(tim: Caller) -> None:
    for start in range(0, 100, 10):
        tags = [f"t{i}" for i in range(start, start + 10)]
        await tim.ok(f"{P}/im_add_tag", {"UserTags": [{"To_Account": "u", "Tags": tags}]})
    await tim.fails(f"{P}/im_add_tag", {"UserTags": [{"To_Account": "u", "Tags": ["one-more"]}]}, 90033)
    await tim.ok(f"{P}/im_add_tag", {"UserTags": [{"To_Account": "u", "Tags": ["t0"]}]})  # already held


async def test_the_go_clients_spellings(tim: Caller) -> None:
    """dobyte/tencent-im sends the lists as Attrs and Tags, numbers as values, nulls in Condition."""
    await tim.ok(f"{P}/im_set_attr_name", {"AttrNames": {"0": "age", "1": "city"}})
    await tim.ok(
        f"{P}/im_set_attr", {"Attrs": [{"To_Account": "test1", "Attrs": {"age": 20, "city": "成都"}}]}
    )
    reply = await tim.ok(f"{P}/im_get_attr", {"To_Account": ["test1"]})
    assert reply["UserAttrs"] == [{"To_Account": "test1", "Attrs": {"age": 20, "city": "成都"}}]
    await tim.ok(f"{P}/im_remove_attr", {"Attrs": [{"To_Account": "test1", "Attrs": ["age", "city"]}]})
    await tim.ok(f"{P}/im_add_tag", {"Tags": [{"To_Account": "test1", "Tags": ["chengdu"]}]})
    await tim.ok(f"{P}/im_remove_tag", {"Tags": [{"To_Account": "test1", "Tags": ["chengdu"]}]})
    condition = {"TagsAnd": None, "TagsOr": None, "AttrsAnd": None, "AttrsOr": None}
    push = {"From_Account": "assistant", "MsgRandom": 7, "MsgLifeTime": 5000, "MsgBody": text("Hello"),
            "Condition": condition, "OfflinePushInfo": {"PushFlag": 0, "Title": "你好"}}  # fmt: skip
    assert (await tim.ok(f"{P}/im_push", push))["TaskId"]


async def test_attributes_tags_and_pushes_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "tim.sqlite3"
    async with serve(db_path=db) as tim:
        await names(tim)
        await tim.ok(f"{P}/im_set_attr", {"UserAttrs": [{"To_Account": "ann", "Attrs": {"sex": "f"}}]})
        await tim.ok(f"{P}/im_add_tag", {"UserTags": [{"To_Account": "ann", "Tags": ["a"]}]})
        task = (await tim.ok(f"{P}/im_push", {"MsgRandom": 1, "MsgBody": text("x")}))["TaskId"]
    async with serve(db_path=db) as tim:
        assert (await tim.ok(f"{P}/im_get_attr_name", {}))["AttrNames"]["0"] == "sex"
        assert (await tim.ok(f"{P}/im_get_attr", {"To_Account": ["ann"]}))["UserAttrs"][0]["Attrs"] == {
            "sex": "f"
        }
        assert (await tim.ok(f"{P}/im_get_tag", {"To_Account": ["ann"]}))["UserTags"][0]["Tags"] == ["a"]
        assert await tim.server.push_recipients(task) == ["ann"]
