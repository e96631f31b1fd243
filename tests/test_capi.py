"""The seed's examples, transcribed to Python, through `aio_tim.capi` from async and sync code."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aio_tim import capi
from aio_tim.auth import mint_usersig
from aio_tim.capi import (
    TIM_ERR_CONV,
    TIM_ERR_JSON,
    TIM_ERR_NOTLOGIN,
    TIM_ERR_PARAM,
    TIM_ERR_SDKUNINIT,
    TIM_SUCC,
    kTIMConv_C2C,
    kTIMConv_Group,
    kTIMElem_Text,
)
from aio_tim.devserver import DevServer

LOGIN_ID = "user1"


def text_msg(text: str) -> dict[str, Any]:
    """The seed's message: a text element, the sender and both times."""
    return {
        capi.kTIMMsgElemArray: [{capi.kTIMElemType: kTIMElem_Text, capi.kTIMTextElemContent: text}],
        capi.kTIMMsgSender: LOGIN_ID,
        capi.kTIMMsgClientTime: int(time.time()),
        capi.kTIMMsgServerTime: int(time.time()),
    }


class Calls:
    """Collects callbacks, and waits for them from either kind of caller."""

    def __init__(self) -> None:
        self.results: queue.Queue[tuple[int, str, str, Any]] = queue.Queue()

    def cb(self, code: int, desc: str, json_params: str, user_data: Any) -> None:
        self.results.put((code, desc, json_params, user_data))

    def wait(self, timeout: float = 10.0) -> tuple[int, str, str, Any]:
        return self.results.get(timeout=timeout)

    async def wait_async(self, limit: float = 10.0) -> tuple[int, str, str, Any]:
        deadline = time.monotonic() + limit
        while True:
            try:
                return self.results.get_nowait()
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError("no callback") from None
                await asyncio.sleep(0.005)


def config(server: DevServer) -> str:
    return json.dumps({"aio_tim_base_url": server.url, "aio_tim_secret_key": server.secret_key})


@pytest.fixture
def threaded_server() -> Iterator[DevServer]:
    """A dev server on a loop in its own thread, for tests written as plain synchronous code."""
    loop = asyncio.new_event_loop()
    server = DevServer()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_seed_examples_from_synchronous_code(threaded_server):
    """From plain code: init, login, then every seed example calls back with code 0 and C SDK JSON."""
    calls = Calls()
    assert capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, "{}", calls.cb, None) == TIM_ERR_SDKUNINIT
    assert capi.TIMInit(threaded_server.sdk_app_id, config(threaded_server)) == TIM_SUCC
    try:
        assert capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, "{}", calls.cb, None) == TIM_ERR_NOTLOGIN
        sig = mint_usersig(threaded_server.sdk_app_id, threaded_server.secret_key, LOGIN_ID)
        assert capi.TIMLogin(LOGIN_ID, sig, calls.cb, "login") == TIM_SUCC
        assert calls.wait() == (0, "", "", "login")
        run_seed_examples(calls, calls.wait)
        assert capi.TIMLogout(calls.cb, "out") == TIM_SUCC
        assert calls.wait()[0] == 0
    finally:
        assert capi.TIMUninit() == TIM_SUCC


async def test_seed_examples_from_async_code(dev_server):
    """From a running loop: the same examples, with callbacks on that loop."""
    calls = Calls()
    assert capi.TIMInit(dev_server.sdk_app_id, config(dev_server)) == TIM_SUCC
    try:
        sig = mint_usersig(dev_server.sdk_app_id, dev_server.secret_key, LOGIN_ID)
        assert capi.TIMLogin(LOGIN_ID, sig, calls.cb, None) == TIM_SUCC
        assert (await calls.wait_async())[0] == 0
        for step in seed_steps(calls):
            code, desc, params, _ = await calls.wait_async()
            step(code, desc, params)
        assert capi.TIMLogout(calls.cb, None) == TIM_SUCC
        assert (await calls.wait_async())[0] == 0
    finally:
        assert capi.TIMUninit() == TIM_SUCC


def run_seed_examples(calls: Calls, wait: Callable[[], tuple[int, str, str, Any]]) -> None:
    for step in seed_steps(calls):
        code, desc, params, _ = wait()
        step(code, desc, params)


Check = Callable[[int, str, str], None]


def seed_steps(calls: Calls) -> Iterator[Check]:
    """Issue each seed example and yield the check for its callback (in call order)."""
    cb = calls.cb
    sent: dict[str, Any] = {}

    # TIMMsgSendNewMsg
    assert capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, json.dumps(text_msg("send text")), cb, None) == 0

    def check_sent(code: int, desc: str, params: str) -> None:
        assert (code, desc) == (0, "")
        sent.update(json.loads(params))
        assert sent["message_status"] == 2 and sent["message_conv_id"] == "user2"
        assert sent["message_elem_array"] == [{"elem_type": 0, "text_elem_content": "send text"}]

    yield check_sent

    # TIMMsgRevoke with the json_param the send returned
    assert capi.TIMMsgRevoke("user2", kTIMConv_C2C, json.dumps(sent), cb, None) == TIM_SUCC
    yield lambda code, desc, params: _expect(code == 0 and params == "", (code, desc, params))

    # TIMMsgFindByMsgLocatorList: the revoked message by its locator, and the seed's (unknown) one
    locators = [
        {
            capi.kTIMMsgLocatorIsRevoked: True,
            capi.kTIMMsgLocatorTime: sent["message_server_time"],
            capi.kTIMMsgLocatorSeq: sent["message_seq"],
            capi.kTIMMsgLocatorIsSelf: True,
            capi.kTIMMsgLocatorRand: sent["message_rand"],
        },
        {
            "message_locator_is_revoked": False,
            "message_locator_is_self": False,
            "message_locator_rand": 12345678,
            "message_locator_seq": 1,
            "message_locator_time": 123,
        },
    ]
    assert capi.TIMMsgFindByMsgLocatorList("user2", kTIMConv_C2C, json.dumps(locators), cb, None) == 0

    def check_found(code: int, desc: str, params: str) -> None:
        found = json.loads(params)
        assert code == 0 and len(found) == 1
        assert found[0]["message_status"] == 6 and found[0]["message_seq"] == sent["message_seq"]

    yield check_found

    # TIMMsgImportMsgList
    imported = [text_msg("this is import msg")]
    assert capi.TIMMsgImportMsgList("user2", kTIMConv_C2C, json.dumps(imported), cb, None) == 0
    yield lambda code, desc, params: _expect(code == 0 and params == "", (code, desc, params))

    # TIMMsgSaveMsg
    assert capi.TIMMsgSaveMsg("user2", kTIMConv_C2C, json.dumps(text_msg("saved")), cb, None) == 0
    yield lambda code, desc, params: _expect(code == 0 and params == "", (code, desc, params))

    # TIMMsgGetMsgList with the seed's parameter: forward from the oldest, 100 messages
    get_param = {
        "msg_getmsglist_param_count": 100,
        "msg_getmsglist_param_is_forward": True,
        "msg_getmsglist_param_is_remble": False,
        "msg_getmsglist_param_last_msg": {},
    }
    assert capi.TIMMsgGetMsgList("user2", kTIMConv_C2C, json.dumps(get_param), cb, None) == 0

    def check_listed(code: int, desc: str, params: str) -> None:
        texts = [m["message_elem_array"][0]["text_elem_content"] for m in json.loads(params)]
        assert code == 0 and sorted(texts) == ["saved", "send text", "this is import msg"]

    yield check_listed

    # TIMMsgReportReaded with an empty message: read up to the newest
    assert capi.TIMMsgReportReaded("user2", kTIMConv_C2C, "", cb, None) == TIM_SUCC
    yield lambda code, desc, params: _expect(code == 0, (code, desc, params))

    # TIMMsgDelete with the seed's parameter: an empty message deletes all local messages
    del_param = {"msg_delete_param_is_remble": False, "msg_delete_param_msg": {}}
    assert capi.TIMMsgDelete("user2", kTIMConv_C2C, json.dumps(del_param), cb, None) == TIM_SUCC
    yield lambda code, desc, params: _expect(code == 0, (code, desc, params))

    assert capi.TIMMsgGetMsgList("user2", kTIMConv_C2C, json.dumps(get_param), cb, None) == 0
    yield lambda code, desc, params: _expect(code == 0 and json.loads(params) == [], (code, params))

    # TIMMsgBatchSend
    batch = {
        capi.kTIMMsgBatchSendParamIdentifierArray: ["user2", "user3"],
        capi.kTIMMsgBatchSendParamMsg: text_msg("this is batch send msg"),
    }
    assert capi.TIMMsgBatchSend(json.dumps(batch), cb, None) == TIM_SUCC

    def check_batch(code: int, desc: str, params: str) -> None:
        results = json.loads(params)
        assert code == 0
        assert [
            (r["msg_batch_send_result_identifier"], r["msg_batch_send_result_code"]) for r in results
        ] == [
            ("user2", 0),
            ("user3", 0),
        ]

    yield check_batch

    # A group send to a group that does not exist: the callback carries TIM's code
    assert capi.TIMMsgSendNewMsg("nogroup", kTIMConv_Group, json.dumps(text_msg("x")), cb, None) == 0
    yield lambda code, desc, params: _expect(code == 10010 and desc, (code, desc))


def _expect(condition: object, detail: object) -> None:
    assert condition, detail


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda cb: capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, "{bad", cb, None), TIM_ERR_JSON),
        (lambda cb: capi.TIMMsgSendNewMsg("user2", 9, json.dumps(text_msg("x")), cb, None), TIM_ERR_CONV),
        (
            lambda cb: capi.TIMMsgSendNewMsg("", kTIMConv_C2C, json.dumps(text_msg("x")), cb, None),
            TIM_ERR_CONV,
        ),
        (
            lambda cb: capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, '{"message_elem_array": []}', cb, None),
            TIM_ERR_PARAM,
        ),
        (
            lambda cb: capi.TIMMsgGetMsgList(
                "user2", kTIMConv_C2C, '{"msg_getmsglist_param_count": -1}', cb, None
            ),
            -3,
        ),
        (lambda cb: capi.TIMMsgBatchSend('{"msg_batch_send_param_identifier_array": []}', cb, None), -3),
        (lambda cb: capi.TIMMsgDownloadElemToPath("{}", "", cb, None), TIM_ERR_PARAM),
    ],
)
async def test_bad_calls_return_the_c_sdk_result_and_never_call_back(dev_server, call, code):
    """A call the C SDK would refuse returns its TIMResult and its callback is never called."""
    calls = Calls()
    assert capi.TIMInit(dev_server.sdk_app_id, config(dev_server)) == TIM_SUCC
    try:
        sig = mint_usersig(dev_server.sdk_app_id, dev_server.secret_key, LOGIN_ID)
        capi.TIMLogin(LOGIN_ID, sig, calls.cb, None)
        assert (await calls.wait_async())[0] == 0
        assert call(calls.cb) == code
        await asyncio.sleep(0.05)
        assert calls.results.empty()
        capi.TIMLogout(calls.cb, None)
        await calls.wait_async()
    finally:
        capi.TIMUninit()


async def test_login_with_a_bad_user_sig_calls_back_with_the_auth_code(dev_server):
    """TIMLogin verifies the user's UserSig like TIM: a wrong signature calls back 70009."""
    calls = Calls()
    assert capi.TIMInit(dev_server.sdk_app_id, config(dev_server)) == TIM_SUCC
    try:
        bad = mint_usersig(dev_server.sdk_app_id, "another-key", LOGIN_ID)
        assert capi.TIMLogin(LOGIN_ID, bad, calls.cb, None) == TIM_SUCC
        code, desc, _, _ = await calls.wait_async()
        assert code == 70009 and "another-key" not in desc
    finally:
        capi.TIMUninit()


def test_key_constants_name_the_seed_keys():
    """The JSON key constants are the C SDK's strings, including its own spellings."""
    assert capi.kTIMMsgElemArray == "message_elem_array"
    assert capi.kTIMMsgIsFormSelf == "message_is_from_self"
    assert capi.kTIMMsgGetMsgListParamIsRamble == "msg_getmsglist_param_is_remble"
    assert capi.kTIMMsgDeleteParamIsRamble == "msg_delete_param_is_remble"
    assert capi.kTIMMsgLocatorIsRevoked == "message_locator_is_revoked"
    assert capi.kTIMMsgDownloadElemParamUrl == "msg_download_elem_param_url"
    assert capi.kTIMMsgDownloadElemResultCurrentSize == "msg_download_elem_result_current_size"
