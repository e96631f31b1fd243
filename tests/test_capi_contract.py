"""The C SDK's contract under pressure: a call that returns TIM_SUCC calls back exactly once, any
other return never calls back, and no exception escapes a capi function, whatever TIMUninit,
TIMLogin, a second `asyncio.run` or a callback does meanwhile."""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import test_capi
from test_capi import Calls, config, text_msg

from aio_tim import capi
from aio_tim.auth import mint_usersig
from aio_tim.capi import TIM_ERR_PARAM, TIM_ERR_SDKUNINIT, TIM_SUCC, kTIMConv_C2C, kTIMConv_Group
from aio_tim.capi import functions as capi_functions
from aio_tim.capi import runtime as capi_runtime
from aio_tim.devserver import DevServer
from aio_tim.testing.faultproxy import FaultPlan, FaultProxy

threaded_server = test_capi.threaded_server  # the fixture: a dev server on its own thread
LOGIN_ID = "user1"
MSG = json.dumps(text_msg("hi"))
ERR_UNINIT = 6013  # ERR_SDK_NOT_INITIALIZED: cut short by TIMUninit


class Ledger:
    """Counts, per user_data, the calls accepted and the callbacks that came back (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted: set[Any] = set()
        self.called: collections.Counter[Any] = collections.Counter()
        self.codes: collections.Counter[int] = collections.Counter()
        self.escaped: list[BaseException] = []
        self.all_back = threading.Event()

    def cb(self, code: int, desc: str, json_params: str, user_data: Any) -> None:
        with self._lock:
            self.called[user_data] += 1
            self.codes[code] += 1

    def call(self, key: Any, function: Callable[..., int], *args: Any) -> int:
        """`function(*args, cb, key)`, recording an accepted call or an escaped exception."""
        try:
            result = function(*args, self.cb, key)
        except BaseException as error:  # the contract: nothing escapes
            with self._lock:
                self.escaped.append(error)
            return -999
        if result == TIM_SUCC:
            with self._lock:
                self.accepted.add(key)
        return result

    def wait_all(self, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self._lock:
                if all(self.called[key] for key in self.accepted):
                    return
            time.sleep(0.01)

    def check(self) -> None:
        """Every accepted call called back exactly once, nothing else called back, nothing escaped."""
        with self._lock:
            assert not self.escaped, self.escaped[:3]
            never = [key for key in self.accepted if self.called[key] == 0]
            twice = [key for key, n in self.called.items() if n > 1]
            unasked = [key for key in self.called if key not in self.accepted]
        assert (len(never), len(twice), len(unasked)) == (0, 0, 0), (never[:5], twice[:5], unasked[:5])


def sig(server: DevServer, user: str = LOGIN_ID) -> str:
    return mint_usersig(server.sdk_app_id, server.secret_key, user)


@pytest.fixture
def uninit_after() -> Iterator[None]:
    """Whatever a test leaves initialised is uninitialised after it."""
    yield
    capi.TIMUninit()


def login_sync(server: DevServer) -> None:
    calls = Calls()
    assert capi.TIMInit(server.sdk_app_id, config(server)) == TIM_SUCC
    assert capi.TIMLogin(LOGIN_ID, sig(server), calls.cb, None) == TIM_SUCC
    assert calls.wait()[0] == 0


def logic_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "aio_tim-logic"]


# --- 1. TIMUninit with more in flight than its drain allows -----------------------------------


@pytest.fixture
def slow_server() -> Iterator[tuple[DevServer, str]]:
    """A dev server behind a proxy that holds each request 0.3 s, on a loop in its own thread:
    3,000 sends then take far longer than any drain."""
    loop = asyncio.new_event_loop()
    server = DevServer()
    proxies: list[FaultProxy] = []
    started = threading.Event()

    async def start() -> None:
        await server.start()
        proxy = FaultProxy("127.0.0.1", server.port, plan=FaultPlan(delay=1.0, delay_seconds=0.3))
        await proxy.start()
        proxies.append(proxy)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield server, proxies[0].url
    finally:
        asyncio.run_coroutine_threadsafe(proxies[0].aclose(), loop).result(10)
        asyncio.run_coroutine_threadsafe(server.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_uninit_past_its_drain_calls_back_every_accepted_call(slow_server, monkeypatch, caplog, tmp_path):
    """3,200 calls (sends through a slow proxy, local saves, imports, lists, downloads) from 8 threads
    that go on calling while TIMUninit runs,
    with a drain too short for them: each accepted call called back once by the time TIMUninit
    returned (6013 for those cut short), no task destroyed while pending, the logic thread gone."""
    monkeypatch.setattr(capi_runtime, "DRAIN_SECONDS", 0.5, raising=False)
    server, url = slow_server
    calls = Calls()
    settings = {"aio_tim_base_url": url, "aio_tim_secret_key": server.secret_key}
    assert capi.TIMInit(server.sdk_app_id, json.dumps(settings)) == TIM_SUCC
    assert capi.TIMLogin(LOGIN_ID, sig(server), calls.cb, None) == TIM_SUCC
    assert calls.wait()[0] == 0
    ledger = Ledger()

    # Sends wait on the slow server; local calls (save, import, list) on the store's thread.
    page = json.dumps({"msg_getmsglist_param_count": 20})
    mix = [
        (capi.TIMMsgSendNewMsg, MSG),
        (capi.TIMMsgSaveMsg, MSG),
        (capi.TIMMsgImportMsgList, f"[{MSG}]"),
        (capi.TIMMsgGetMsgList, page),
    ]

    missing = json.dumps({"msg_download_elem_param_type": 2, "msg_download_elem_param_url": f"{url}/files/x"})

    def sender(thread: int) -> None:
        for n in range(400):
            if n % 5 == 4:  # a download of a file the server does not have
                target = str(tmp_path / f"{thread}-{n}")
                ledger.call((thread, n), capi.TIMMsgDownloadElemToPath, missing, target)
                continue
            function, param = mix[n % len(mix)]
            ledger.call((thread, n), function, "user2", kTIMConv_C2C, param)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    while len(ledger.accepted) < 1500:
        time.sleep(0.001)
    assert capi.TIMUninit() == TIM_SUCC  # while the threads go on calling
    for thread in threads:
        thread.join()
    ledger.check()  # no waiting: TIMUninit returned once every accepted call had called back
    assert len(ledger.accepted) >= 1500
    assert ledger.codes[ERR_UNINIT] > 0, ledger.codes  # the drain was too short
    assert set(ledger.codes) <= {0, ERR_UNINIT, 6009}, ledger.codes  # 6009: the missing download
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[:2000]
    assert not logic_threads()


# --- 2. in-loop TIMUninit, and then the coroutine returns --------------------------------------


def test_in_loop_uninit_then_return_calls_back_every_accepted_call(threaded_server):
    """The docs' async shape: TIMInit in a coroutine, 1,000 sends, TIMUninit, return. Every
    accepted call calls back once, and the client is closed (no unclosed-store ResourceWarning)."""
    ledger = Ledger()

    async def main() -> None:
        calls = Calls()
        assert capi.TIMInit(threaded_server.sdk_app_id, config(threaded_server)) == TIM_SUCC
        assert capi.TIMLogin(LOGIN_ID, sig(threaded_server), calls.cb, None) == TIM_SUCC
        assert (await calls.wait_async())[0] == 0
        for n in range(1000):
            ledger.call(n, capi.TIMMsgSendNewMsg, "user2", kTIMConv_C2C, MSG)
        await asyncio.sleep(0.01)  # some are in flight, most are not
        assert capi.TIMUninit() == TIM_SUCC

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
        gc.collect()
    ledger.check()
    assert len(ledger.accepted) == 1000
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [
        str(w.message) for w in caught
    ]


def test_loop_end_without_uninit_closes_the_client(threaded_server):
    """asyncio.run ends with calls in flight and no TIMUninit: they call back, the client closes."""
    ledger = Ledger()
    clients = []

    async def main() -> None:
        calls = Calls()
        assert capi.TIMInit(threaded_server.sdk_app_id, config(threaded_server)) == TIM_SUCC
        assert capi.TIMLogin(LOGIN_ID, sig(threaded_server), calls.cb, None) == TIM_SUCC
        assert (await calls.wait_async())[0] == 0
        session = capi_functions._session
        assert session is not None
        clients.append(session.client)
        for n in range(300):
            ledger.call(n, capi.TIMMsgSendNewMsg, "user2", kTIMConv_C2C, MSG)

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asyncio.run(main())
            gc.collect()
        ledger.check()
        assert clients[0].closed
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    finally:
        capi.TIMUninit()


# --- 3. no RuntimeError escapes while TIMUninit or TIMLogin races calls on other threads ------


def test_relogins_and_uninit_racing_calls_let_no_exception_escape(threaded_server):
    """4 threads send while the main thread logs in again 5 times and then uninitialises: no
    exception escapes, every accepted call calls back once, none with 6017 (an internal error)."""
    login_sync(threaded_server)
    ledger = Ledger()
    stop = threading.Event()

    def sender(thread: int) -> None:
        n = 0
        while not stop.is_set():
            ledger.call((thread, n), capi.TIMMsgSendNewMsg, "user2", kTIMConv_C2C, MSG)
            n += 1
            if n % 50 == 0:
                time.sleep(0.001)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for n in range(5):
        time.sleep(0.1)
        assert ledger.call(("login", n), capi.TIMLogin, LOGIN_ID, sig(threaded_server)) == TIM_SUCC
    time.sleep(0.1)
    assert capi.TIMUninit() == TIM_SUCC
    time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()
    ledger.check()
    assert 6017 not in ledger.codes, ledger.codes
    assert len(ledger.accepted) > 100


# --- 4. a second asyncio.run -------------------------------------------------------------------


def test_a_second_asyncio_run_gets_a_working_session(threaded_server, uninit_after):
    """TIMInit in one asyncio.run without TIMUninit; TIMInit in the next gives a live session."""

    async def first() -> None:
        assert capi.TIMInit(threaded_server.sdk_app_id, config(threaded_server)) == TIM_SUCC

    async def second() -> tuple[int, str, str, Any]:
        calls = Calls()
        assert capi.TIMInit(threaded_server.sdk_app_id, config(threaded_server)) == TIM_SUCC
        assert capi.TIMLogin(LOGIN_ID, sig(threaded_server), calls.cb, None) == TIM_SUCC
        assert (await calls.wait_async())[0] == 0
        assert capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, MSG, calls.cb, "sent") == TIM_SUCC
        sent = await calls.wait_async()
        assert capi.TIMUninit() == TIM_SUCC
        await asyncio.sleep(0.1)
        return sent

    asyncio.run(first())
    code, desc, _, user_data = asyncio.run(second())
    assert (code, user_data) == (0, "sent"), desc


def test_calls_on_a_dead_loop_return_sdkuninit(threaded_server, uninit_after):
    """Between a finished asyncio.run and the next TIMInit, calls return -1 instead of raising."""

    async def first() -> None:
        calls = Calls()
        assert capi.TIMInit(threaded_server.sdk_app_id, config(threaded_server)) == TIM_SUCC
        assert capi.TIMLogin(LOGIN_ID, sig(threaded_server), calls.cb, None) == TIM_SUCC
        assert (await calls.wait_async())[0] == 0

    asyncio.run(first())
    ledger = Ledger()
    assert ledger.call(1, capi.TIMMsgSendNewMsg, "user2", kTIMConv_C2C, MSG) == TIM_ERR_SDKUNINIT
    assert ledger.call(2, capi.TIMLogin, LOGIN_ID, sig(threaded_server)) == TIM_ERR_SDKUNINIT
    ledger.check()


# --- 5. TIMUninit inside a callback --------------------------------------------------------------


def test_uninit_inside_a_callback_neither_stalls_nor_leaks(threaded_server):
    """A callback calls TIMUninit: it returns at once, the other calls still call back (no 30 s
    stall), the client is closed and the logic thread ends."""
    login_sync(threaded_server)
    session = capi_functions._session
    assert session is not None and session.client is not None
    client = session.client
    ledger = Ledger()
    returned: list[tuple[int, float]] = []

    def uninit_cb(code: int, desc: str, json_params: str, user_data: Any) -> None:
        started = time.monotonic()
        returned.append((capi.TIMUninit(), time.monotonic() - started))
        ledger.cb(code, desc, json_params, user_data)

    started = time.monotonic()
    assert capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, MSG, uninit_cb, "first") == TIM_SUCC
    ledger.accepted.add("first")
    for n in range(200):
        ledger.call(n, capi.TIMMsgSendNewMsg, "user2", kTIMConv_C2C, MSG)
    ledger.wait_all(limit=20)
    elapsed = time.monotonic() - started
    ledger.check()
    assert returned and returned[0][0] == TIM_SUCC and returned[0][1] < 1.0, returned
    assert elapsed < 10, elapsed
    deadline = time.monotonic() + 10
    while logic_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not logic_threads()
    assert client.closed
    assert capi.TIMUninit() == TIM_ERR_SDKUNINIT


# --- 6. a callback that raises SystemExit -------------------------------------------------------


@pytest.mark.parametrize("raised", [SystemExit, KeyboardInterrupt, GeneratorExit])
def test_a_callback_raising_a_base_exception_is_logged_and_ignored(
    threaded_server, uninit_after, caplog, raised
):
    """sys.exit() in a callback is logged; the logic thread lives on and later calls call back."""
    login_sync(threaded_server)

    def exits(code: int, desc: str, json_params: str, user_data: Any) -> None:
        raise raised()

    assert capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, MSG, exits, None) == TIM_SUCC
    calls = Calls()
    for _ in range(3):
        assert capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, MSG, calls.cb, "later") == TIM_SUCC
        assert calls.wait()[0] == 0
    assert logic_threads()
    assert "a TIM callback raised" in caplog.text


# --- 7. IDs with NUL, newline or space -----------------------------------------------------------

BAD_IDS = ["peer\x00x", "peer\nx", "peer x", "\x00", " peer", "peer\t"]


def _id_calls(bad: str) -> list[tuple[str, Callable[[Any], int]]]:
    msg = text_msg("x")
    batch = {capi.kTIMMsgBatchSendParamIdentifierArray: ["user2", bad], capi.kTIMMsgBatchSendParamMsg: msg}
    group = {capi.kTIMCreateGroupParamGroupName: "team", capi.kTIMCreateGroupParamGroupId: bad}
    member = {
        capi.kTIMCreateGroupParamGroupName: "team",
        capi.kTIMCreateGroupParamGroupMemberArray: [{capi.kTIMGroupMemberInfoIdentifier: bad}],
    }
    invite = {
        capi.kTIMGroupInviteMemberParamGroupId: "g1",
        capi.kTIMGroupInviteMemberParamIdentifierArray: [bad],
    }
    return [
        ("send c2c", lambda cb: capi.TIMMsgSendNewMsg(bad, kTIMConv_C2C, json.dumps(msg), cb, None)),
        ("send group", lambda cb: capi.TIMMsgSendNewMsg(bad, kTIMConv_Group, json.dumps(msg), cb, None)),
        ("read", lambda cb: capi.TIMMsgReportReaded(bad, kTIMConv_C2C, None, cb, None)),
        ("save", lambda cb: capi.TIMMsgSaveMsg(bad, kTIMConv_C2C, json.dumps(msg), cb, None)),
        ("batch", lambda cb: capi.TIMMsgBatchSend(json.dumps(batch), cb, None)),
        ("list delete", lambda cb: capi.TIMMsgListDelete(bad, kTIMConv_C2C, json.dumps([msg]), cb, None)),
        ("clear", lambda cb: capi.TIMMsgClearHistoryMessage(bad, kTIMConv_Group, cb, None)),
        ("group id", lambda cb: capi.TIMGroupCreate(json.dumps(group), cb, None)),
        ("group member", lambda cb: capi.TIMGroupCreate(json.dumps(member), cb, None)),
        ("group delete", lambda cb: capi.TIMGroupDelete(bad, cb, None)),
        ("group invite", lambda cb: capi.TIMGroupInviteMember(json.dumps(invite), cb, None)),
    ]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
async def test_ids_with_nul_newline_or_space_are_refused(dev_server, bad):
    """A C caller's `const char*` ends at the NUL: such IDs return TIM_ERR_PARAM and never call
    back; TIMLogin refuses them too, and nothing reaches the server."""
    calls = Calls()
    assert capi.TIMInit(dev_server.sdk_app_id, config(dev_server)) == TIM_SUCC
    try:
        assert capi.TIMLogin(bad, sig(dev_server, bad), calls.cb, None) == TIM_ERR_PARAM
        assert capi.TIMLogin(LOGIN_ID, sig(dev_server), calls.cb, None) == TIM_SUCC
        assert (await calls.wait_async())[0] == 0
        results = {name: call(calls.cb) for name, call in _id_calls(bad)}
        assert results == dict.fromkeys(results, TIM_ERR_PARAM)
        await asyncio.sleep(0.05)
        assert calls.results.empty()
    finally:
        capi.TIMUninit()
        await asyncio.sleep(0.05)
