"""The capi stress run, as its own process (not a test module): 8 threads call every capi message
function (the thirteen TIMMsg* ones) while another cycles TIMUninit / TIMInit / TIMLogin, for
`seconds` (argv[1]).

Prints one JSON line of counts and exits 0 only if every call that returned TIM_SUCC called back
exactly once, nothing else called back, and no exception escaped a capi function. Run by
tests/test_capi_stress.py, which also checks that the process exits cleanly.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from aio_tim import capi
from aio_tim.auth import mint_usersig
from aio_tim.capi import runtime
from aio_tim.devserver import DevServer

THREADS = 8
LOGIN_ID = "user1"


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: set[tuple[int, int]] = set()
        self.called: collections.Counter[Any] = collections.Counter()
        self.codes: collections.Counter[int] = collections.Counter()
        self.results: collections.Counter[int] = collections.Counter()
        self.escaped: list[str] = []

    def cb(self, code: int, desc: str, json_params: str, user_data: Any) -> None:
        with self.lock:
            self.called[user_data] += 1
            self.codes[code] += 1


class ErrorRecords(logging.Handler):
    """Counts asyncio's and aio_tim's ERROR records (a task destroyed while pending, a 6017)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


def calls(url: str, folder: str) -> list[Callable[[Callable[..., None], Any], int]]:
    """Every capi message function, as `call(cb, user_data) -> TIMResult`."""
    now = int(time.time())
    msg = {
        capi.kTIMMsgElemArray: [{capi.kTIMElemType: capi.kTIMElem_Text, capi.kTIMTextElemContent: "hi"}],
        capi.kTIMMsgSender: LOGIN_ID,
        capi.kTIMMsgClientTime: now,
        capi.kTIMMsgServerTime: now,
    }
    sent = dict(msg, message_seq=1, message_rand=7, message_server_time=now)
    modified = dict(sent, message_conv_id="user2", message_conv_type=capi.kTIMConv_C2C)
    text = json.dumps(msg)
    locators = json.dumps(
        [{"message_locator_time": now, "message_locator_seq": 1, "message_locator_rand": 7}]
    )
    page = json.dumps({"msg_getmsglist_param_count": 20})
    delete = json.dumps({"msg_delete_param_msg": {}, "msg_delete_param_is_remble": False})
    batch = json.dumps(
        {"msg_batch_send_param_identifier_array": ["user2", "user3"], "msg_batch_send_param_msg": msg}
    )
    download = json.dumps(
        {"msg_download_elem_param_type": 2, "msg_download_elem_param_url": f"{url}/files/nope"}
    )
    c2c = capi.kTIMConv_C2C
    return [
        lambda cb, data: capi.TIMMsgSendNewMsg("user2", c2c, text, cb, data),
        lambda cb, data: capi.TIMMsgReportReaded("user2", c2c, None, cb, data),
        lambda cb, data: capi.TIMMsgRevoke("user2", c2c, json.dumps(sent), cb, data),
        lambda cb, data: capi.TIMMsgFindByMsgLocatorList("user2", c2c, locators, cb, data),
        lambda cb, data: capi.TIMMsgImportMsgList("user2", c2c, json.dumps([msg]), cb, data),
        lambda cb, data: capi.TIMMsgSaveMsg("user2", c2c, text, cb, data),
        lambda cb, data: capi.TIMMsgGetMsgList("user2", c2c, page, cb, data),
        lambda cb, data: capi.TIMMsgDelete("user2", c2c, delete, cb, data),
        lambda cb, data: capi.TIMMsgBatchSend(batch, cb, data),
        lambda cb, data: capi.TIMMsgDownloadElemToPath(download, f"{folder}/{data[0]}-{data[1]}", cb, data),
        lambda cb, data: capi.TIMMsgModifyMessage(json.dumps(modified), cb, data),
        lambda cb, data: capi.TIMMsgListDelete("user2", c2c, json.dumps([sent]), cb, data),
        lambda cb, data: capi.TIMMsgClearHistoryMessage("user2", c2c, cb, data),
    ]


def caller(thread: int, ledger: Ledger, stop: threading.Event, functions: list[Any]) -> None:
    n = 0
    while not stop.is_set():
        key = (thread, n)
        try:
            result = functions[n % len(functions)](ledger.cb, key)
        except BaseException as error:  # the contract: nothing escapes
            with ledger.lock:
                ledger.escaped.append(f"{type(error).__name__}: {error}")
            result = None
        if result is not None:
            with ledger.lock:
                ledger.results[result] += 1
                if result == capi.TIM_SUCC:
                    ledger.accepted.add(key)
        n += 1
        if result != capi.TIM_SUCC or n % 20 == 0:
            time.sleep(0.001)  # let the cycler and the logic thread in (2 cores for 10 threads)


def cycler(
    server: DevServer,
    config: str,
    ledger: Ledger,
    stop: threading.Event,
    cycles: list[int],
    uninits: list[float],
) -> None:
    sig = mint_usersig(server.sdk_app_id, server.secret_key, LOGIN_ID)
    while not stop.is_set():
        try:
            started = time.monotonic()
            capi.TIMUninit()
            uninits.append(time.monotonic() - started)
            capi.TIMInit(server.sdk_app_id, config)
            key = ("login", cycles[0])
            if capi.TIMLogin(LOGIN_ID, sig, ledger.cb, key) == capi.TIM_SUCC:
                with ledger.lock:
                    ledger.accepted.add(key)  # type: ignore[arg-type]
        except BaseException as error:
            with ledger.lock:
                ledger.escaped.append(f"cycler {type(error).__name__}: {error}")
        cycles[0] += 1
        time.sleep(0.2)  # logged in (once TIMLogin calls back) for most of this


def run(seconds: float) -> dict[str, Any]:
    # The 8 threads submit far faster than one logic thread can finish calls: with the default
    # 10 s drain a cycle would mostly wait. A short one cuts more calls short (6013), which is
    # what this run is about; the contract is the same.
    runtime.DRAIN_SECONDS = 0.5  # type: ignore[misc]
    errors = ErrorRecords()
    for name in ("asyncio", "aio_tim"):
        logging.getLogger(name).addHandler(errors)
    loop = asyncio.new_event_loop()
    server = DevServer()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    server_thread = threading.Thread(target=serve, daemon=True)
    server_thread.start()
    assert ready.wait(10)
    config = json.dumps({"aio_tim_base_url": server.url, "aio_tim_secret_key": server.secret_key})
    ledger, stop, cycles, uninits = Ledger(), threading.Event(), [0], []
    with tempfile.TemporaryDirectory() as folder:
        functions = calls(server.url, folder)
        threads = [threading.Thread(target=caller, args=(t, ledger, stop, functions)) for t in range(THREADS)]
        threads.append(threading.Thread(target=cycler, args=(server, config, ledger, stop, cycles, uninits)))
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        capi.TIMUninit()  # from plain code: returns once every accepted call has called back
    asyncio.run_coroutine_threadsafe(server.aclose(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    server_thread.join(10)
    loop.close()
    with ledger.lock:
        never = [key for key in ledger.accepted if ledger.called[key] == 0]
        twice = [key for key, n in ledger.called.items() if n > 1]
        unasked = [key for key in ledger.called if key not in ledger.accepted]
        return {
            "seconds": seconds,
            "cycles": cycles[0],
            "uninit_seconds_max": round(max(uninits, default=0.0), 3),
            "uninit_seconds_median": round(sorted(uninits)[len(uninits) // 2], 3) if uninits else 0.0,
            "calls": sum(ledger.results.values()),
            "accepted": len(ledger.accepted),
            "called_back": sum(ledger.called.values()),
            "never_called_back": len(never),
            "called_back_twice": len(twice),
            "called_back_unasked": len(unasked),
            "escaped": len(ledger.escaped),
            "escaped_examples": ledger.escaped[:3],
            "results": {str(k): v for k, v in sorted(ledger.results.items())},
            "codes": {str(k): v for k, v in sorted(ledger.codes.items())},
            "error_records": len(errors.messages),
            "error_examples": errors.messages[:3],
            "logic_threads_left": sum(t.name == "aio_tim-logic" for t in threading.enumerate()),
        }


if __name__ == "__main__":
    report = run(float(sys.argv[1]) if len(sys.argv) > 1 else 4.0)
    print(json.dumps(report), flush=True)
    clean = not (
        report["never_called_back"]
        or report["called_back_twice"]
        or report["called_back_unasked"]
        or report["escaped"]
        or report["error_records"]
        or report["logic_threads_left"]
    )
    sys.exit(0 if clean else 1)
