"""The C SDK's message API with its own names and calling convention.

Each function checks what the C SDK checks synchronously and returns a `TIMResult`: only on
`TIM_SUCC` is the callback `cb(code, desc, json_params, user_data)` called, exactly once (a
download calls it for each progress step too).

    TIMInit(1400000000, json.dumps({"aio_tim_base_url": url, "aio_tim_secret_key": key}))
    TIMLogin("user1", user_sig, on_login, None)
    TIMMsgSendNewMsg("user2", kTIMConv_C2C, json_msg, on_sent, None)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

import msgspec

from ..auth import verify_usersig
from ..client import DEFAULT_BASE_URL, Client
from ..errors import TIMError, UsageError
from ..protocol.validate import check_conversation, check_identifier, check_identifiers, check_sendable
from ..types import (
    BatchSendParam,
    DownloadElemParam,
    GetMsgListParam,
    Message,
    MsgDeleteParam,
    MsgLocator,
    coerce,
    coerce_list,
    encode,
)
from .constants import TIM_ERR_NOTLOGIN, TIM_ERR_PARAM, TIM_ERR_SDKUNINIT, TIM_SUCC
from .conv_events import pump as conv_pump
from .receive import pump
from .runtime import Callback, Runtime, invoke

ERR_SDK_NOT_LOGGED_IN: Final = 6014  # the C SDK's code: the call's user logged out meanwhile

__all__ = [
    "TIMInit",
    "TIMLogin",
    "TIMLogout",
    "TIMMsgBatchSend",
    "TIMMsgDelete",
    "TIMMsgDownloadElemToPath",
    "TIMMsgFindByMsgLocatorList",
    "TIMMsgGetMsgList",
    "TIMMsgImportMsgList",
    "TIMMsgReportReaded",
    "TIMMsgRevoke",
    "TIMMsgSaveMsg",
    "TIMMsgSendNewMsg",
    "TIMUninit",
]


class SdkConfig(msgspec.Struct):
    """`json_sdk_config`: the C SDK's keys are accepted and ignored; aio_tim's own say where to go."""

    aio_tim_base_url: str = DEFAULT_BASE_URL
    aio_tim_secret_key: str | None = None
    aio_tim_admin: str = "administrator"
    aio_tim_admin_user_sig: str | None = None
    aio_tim_store_path: str = ":memory:"
    # Receiving (TIMAddRecvNewMsgCallback ...): where TIM's webhooks reach this process.
    aio_tim_webhook_host: str = "127.0.0.1"
    aio_tim_webhook_port: int | None = None
    aio_tim_webhook_token: str | None = None


class _Session:
    """What TIMInit and TIMLogin set up: the runtime, the config and the logged-in client."""

    def __init__(self, sdk_app_id: int, config: SdkConfig) -> None:
        self.sdk_app_id = sdk_app_id
        self.config = config
        self.client: Client | None = None
        # Clients being opened or closed: a close cut short (a loop's teardown) is finished later.
        self._unsettled: list[Client] = []
        self.runtime = Runtime(self.close)

    async def swap(self, client: Client | None) -> None:
        """Make `client` the logged-in one (None: log out) and close the one it replaces."""
        old, self.client = self.client, client
        if old is not None:
            await self._close(old)

    async def open(self, client: Client) -> None:
        self._unsettled.append(client)  # closed by `close` if the runtime shuts down meanwhile
        await client.open()
        self._unsettled.remove(client)

    async def close(self) -> None:
        """Close the logged-in client and any still opening or closing (idempotent)."""
        await self.swap(None)
        for client in list(self._unsettled):
            await self._close(client)

    async def _close(self, client: Client) -> None:
        if client not in self._unsettled:
            self._unsettled.append(client)
        await client.aclose()
        self._unsettled.remove(client)


_session: _Session | None = None


def TIMInit(sdk_app_id: int, json_sdk_config: str | None = None) -> int:
    """Initialise the SDK. From inside a running event loop, callbacks run on that loop;
    otherwise a background thread runs aio_tim's loop.

    `json_sdk_config` takes `aio_tim_base_url`, `aio_tim_secret_key` (or
    `aio_tim_admin_user_sig`), `aio_tim_admin` and `aio_tim_store_path`; the C SDK's own keys
    are ignored. Returns TIM_ERR_JSON for a config that does not decode, TIM_ERR_PARAM for a bad
    `sdk_app_id`, and TIM_SUCC (keeping the first config) when already initialised. A session
    whose event loop has ended (an earlier `asyncio.run`) is replaced.

        config = {"aio_tim_base_url": server.url, "aio_tim_secret_key": server.secret_key}
        assert TIMInit(server.sdk_app_id, json.dumps(config)) == TIM_SUCC
    """
    global _session
    if _session is not None and _session.runtime.usable:
        return TIM_SUCC
    try:
        config = coerce(json_sdk_config or "{}", SdkConfig, what="json_sdk_config")
    except UsageError as error:
        return error.code
    if isinstance(sdk_app_id, bool) or not isinstance(sdk_app_id, int) or sdk_app_id <= 0:
        return TIM_ERR_PARAM
    stale, _session = _session, _Session(sdk_app_id, config)
    if stale is not None:
        stale.runtime.shutdown()  # its loop is gone: this only calls back what it still owes
    return TIM_SUCC


def TIMUninit() -> int:
    """Log out if needed and stop the background loop (when aio_tim owns one).

    Calls in flight get up to 10 seconds to finish; any still running then call back with 6013.
    Called from a callback or a coroutine (the loop's own thread), it cannot wait: the shutdown
    goes on in the background. Returns TIM_ERR_SDKUNINIT when not initialised. Call it once,
    when done:

        try:
            ...  # TIMLogin, TIMMsg* calls
        finally:
            TIMUninit()
    """
    global _session
    session, _session = _session, None
    if session is None:
        return TIM_ERR_SDKUNINIT
    session.runtime.shutdown()
    return TIM_SUCC


def TIMLogin(user_id: str, user_sig: str, cb: Callback | None, user_data: Any = None) -> int:
    """Act as `user_id`. With the secret key configured, `user_sig` is verified like TIM does.

    `cb` gets code 0 and `""` once the client is open, or the UserSig's error (70001 expired,
    70009 bad signature, ...). Logging in again replaces the previous user. A `user_id` with a
    space or a control character (NUL, newline) returns TIM_ERR_PARAM.

        sig = mint_usersig(sdk_app_id, secret_key, "user1")
        assert TIMLogin("user1", sig, on_login, None) == TIM_SUCC
    """
    session = _session
    if session is None or not session.runtime.usable:
        return TIM_ERR_SDKUNINIT
    try:
        check_identifier(user_id, "user_id")
    except UsageError as error:
        return error.code
    if not isinstance(user_sig, str):
        return TIM_ERR_PARAM
    return session.runtime.submit(lambda: _login(session, user_id, user_sig), cb, user_data)


async def _login(session: _Session, user_id: str, user_sig: str) -> str:
    config = session.config
    if config.aio_tim_secret_key is not None:
        verify_usersig(
            user_sig, sdk_app_id=session.sdk_app_id, secret_key=config.aio_tim_secret_key, identifier=user_id
        )
    client = Client(
        sdk_app_id=session.sdk_app_id,
        user_id=user_id,
        secret_key=config.aio_tim_secret_key,
        admin_user_sig=config.aio_tim_admin_user_sig,
        base_url=config.aio_tim_base_url,
        admin=config.aio_tim_admin,
        store_path=config.aio_tim_store_path,
        webhook_token=config.aio_tim_webhook_token,
    )
    await session.open(client)
    await session.swap(client)
    session.runtime.spawn(conv_pump(client))  # the conversation listeners; ends when the client closes
    if config.aio_tim_webhook_port is not None:
        await client.listen(config.aio_tim_webhook_host, config.aio_tim_webhook_port)
        session.runtime.spawn(pump(client))  # ends when the client closes
    return ""


def TIMLogout(cb: Callback | None, user_data: Any = None) -> int:
    """Close the logged-in client; `cb` gets code 0 once it is closed.

    Returns TIM_ERR_NOTLOGIN when nobody is logged in. Message functions then return it too:

        assert TIMLogout(on_logout, None) == TIM_SUCC
    """
    session = _session
    if session is None or not session.runtime.usable:
        return TIM_ERR_SDKUNINIT
    client = session.client
    if client is None:
        return TIM_ERR_NOTLOGIN

    async def logout() -> str:
        if session.client is client:  # not replaced by a TIMLogin since
            await session.swap(None)
        return ""

    return session.runtime.submit(logout, cb, user_data)


# --- the ten message functions ---------------------------------------------------------------

Operation = Callable[[Client], Coroutine[Any, Any, str]]


def _submit(check: Callable[[], Operation], cb: Callback | None, user_data: Any) -> int:
    """The shared shape: synchronous checks -> TIMResult; then the operation -> callback."""
    session = _session
    if session is None or not session.runtime.usable:
        return TIM_ERR_SDKUNINIT
    client = session.client
    if client is None:
        return TIM_ERR_NOTLOGIN
    try:
        operation = check()
    except TIMError as error:
        return error.code
    return session.runtime.submit(lambda: _on(client, operation), cb, user_data)


async def _on(client: Client, operation: Operation) -> str:
    """Run `operation` on the client the call was made as; if that client was closed (TIMLogout,
    another TIMLogin) the call fails with ERR_SDK_NOT_LOGGED_IN, not with the client's error."""
    try:
        return await operation(client)
    except TIMError:
        raise
    except Exception:
        if client.closed:
            raise TIMError(ERR_SDK_NOT_LOGGED_IN, "logged out before the call finished") from None
        raise


def _json(value: Any) -> str:
    return "" if value is None else encode(value).decode()


def TIMMsgSendNewMsg(
    conv_id: str, conv_type: int, json_msg_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.send_new_msg`: `cb` gets the sent Message's JSON (seq, rand, msg_id, ...).

    The conversation, the JSON and the message itself are checked synchronously:

        msg = {kTIMMsgElemArray: [{kTIMElemType: kTIMElem_Text, kTIMTextElemContent: "hi"}]}
        TIMMsgSendNewMsg("user2", kTIMConv_C2C, json.dumps(msg), cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        msg = coerce(json_msg_param, Message, what="json_msg_param")
        check_sendable(msg)
        return lambda tim: _as_json(tim.msg.send_new_msg(conv_id, conv_type, msg))

    return _submit(check, cb, user_data)


def TIMMsgReportReaded(
    conv_id: str, conv_type: int, json_msg_param: str | None, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.report_readed`: mark read up to the message, or everything when it is None or "".

    `cb` gets `""`. Group read marks are local only (TIM's REST API has no group read report):

        TIMMsgReportReaded("user2", kTIMConv_C2C, None, cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        msg = coerce(json_msg_param, Message, what="json_msg_param") if json_msg_param else None
        return lambda tim: _as_json(tim.msg.report_readed(conv_id, conv_type, msg))

    return _submit(check, cb, user_data)


def TIMMsgRevoke(
    conv_id: str, conv_type: int, json_msg_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.revoke`: recall a sent message (the JSON its send returned); `cb` gets `""`.

    The message needs its seq, rand and time:

        TIMMsgRevoke("user2", kTIMConv_C2C, sent_json, cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        msg = coerce(json_msg_param, Message, what="json_msg_param")
        return lambda tim: _as_json(tim.msg.revoke(conv_id, conv_type, msg))

    return _submit(check, cb, user_data)


def TIMMsgFindByMsgLocatorList(
    conv_id: str, conv_type: int, json_msg_Locator_array: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.find_by_msg_locator_list`: `cb` gets a JSON array of the messages found.

    Each locator needs `message_locator_time`, `_seq` and `_rand`:

        locators = [{kTIMMsgLocatorTime: 1764000000, kTIMMsgLocatorSeq: 1, kTIMMsgLocatorRand: 12345678}]
        TIMMsgFindByMsgLocatorList("user2", kTIMConv_C2C, json.dumps(locators), cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        locators = coerce_list(json_msg_Locator_array, MsgLocator, what="json_msg_Locator_array")
        return lambda tim: _as_json(tim.msg.find_by_msg_locator_list(conv_id, conv_type, locators))

    return _submit(check, cb, user_data)


def TIMMsgImportMsgList(
    conv_id: str, conv_type: int, json_msg_array: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.import_msg_list`: store messages locally as imported; `cb` gets `""`.

    Locators already stored are skipped. Nothing is imported to the server from here:

        TIMMsgImportMsgList("user2", kTIMConv_C2C, json.dumps([msg]), cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        msgs = coerce_list(json_msg_array, Message, what="json_msg_array")
        return lambda tim: _as_json(tim.msg.import_msg_list(conv_id, conv_type, msgs))

    return _submit(check, cb, user_data)


def TIMMsgSaveMsg(
    conv_id: str, conv_type: int, json_msg_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.save_msg`: store a self-built message locally; `cb` gets `""`, as from the C SDK.

    Nothing is sent:

        TIMMsgSaveMsg("user2", kTIMConv_C2C, json.dumps(msg), cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        msg = coerce(json_msg_param, Message, what="json_msg_param")
        return lambda tim: _as_json(tim.msg.save_msg(conv_id, conv_type, msg), empty=True)

    return _submit(check, cb, user_data)


def TIMMsgGetMsgList(
    conv_id: str, conv_type: int, json_get_msg_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.get_msg_list`: `cb` gets a JSON array of the page's messages.

    Backward pages are newest first; `..._is_remble` fills the page from roaming history:

        param = {kTIMMsgGetMsgListParamCount: 20, kTIMMsgGetMsgListParamIsRamble: True}
        TIMMsgGetMsgList("user2", kTIMConv_C2C, json.dumps(param), cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        param = coerce(json_get_msg_param, GetMsgListParam, what="json_get_msg_param")
        return lambda tim: _as_json(tim.msg.get_msg_list(conv_id, conv_type, param))

    return _submit(check, cb, user_data)


def TIMMsgDelete(
    conv_id: str, conv_type: int, json_msgdel_param: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.delete`: one message, or the whole conversation with an empty `..._msg`.

    `cb` gets `""`. `..._is_remble` also deletes C2C roaming history (not a group's):

        param = {kTIMMsgDeleteParamMsg: {}, kTIMMsgDeleteParamIsRamble: False}
        TIMMsgDelete("user2", kTIMConv_C2C, json.dumps(param), cb, None)
    """

    def check() -> Operation:
        check_conversation(conv_id, conv_type)
        param = coerce(json_msgdel_param, MsgDeleteParam, what="json_msgdel_param")
        return lambda tim: _as_json(tim.msg.delete(conv_id, conv_type, param))

    return _submit(check, cb, user_data)


def TIMMsgBatchSend(json_batch_send_param: str, cb: Callback | None, user_data: Any = None) -> int:
    """`tim.msg.batch_send`: `cb` gets a JSON array of MsgBatchSendResult, one per identifier.

    Any number of identifiers; each result's code is that recipient's (0: delivered):

        param = {kTIMMsgBatchSendParamIdentifierArray: ["u1", "u2"], kTIMMsgBatchSendParamMsg: msg}
        TIMMsgBatchSend(json.dumps(param), cb, None)
    """

    def check() -> Operation:
        param = coerce(json_batch_send_param, BatchSendParam, what="json_batch_send_param")
        if not param.identifier_array:
            raise UsageError(TIM_ERR_PARAM, "msg_batch_send_param_identifier_array is empty")
        check_identifiers(param.identifier_array, "msg_batch_send_param_identifier_array item")
        check_sendable(param.msg)
        return lambda tim: _as_json(tim.msg.batch_send(param))

    return _submit(check, cb, user_data)


def TIMMsgDownloadElemToPath(
    json_download_elem_param: str, path: str, cb: Callback | None, user_data: Any = None
) -> int:
    """Download an element's file; `cb` gets each progress step, then the final result.

    Each call carries a MsgDownloadElemResult; the last has current_size == total_size:

        param = {kTIMMsgDownloadElemParamType: kTIMDownload_File, kTIMMsgDownloadElemParamUrl: url}
        TIMMsgDownloadElemToPath(json.dumps(param), "inbox/report.pdf", cb, None)
    """

    def check() -> Operation:
        param = coerce(json_download_elem_param, DownloadElemParam, what="json_download_elem_param")
        if not isinstance(path, str) or not path:
            raise UsageError(TIM_ERR_PARAM, "path must be a non-empty string")
        return lambda tim: _download(tim, param, path, cb, user_data)

    return _submit(check, cb, user_data)


async def _download(
    tim: Client, param: DownloadElemParam, path: str, cb: Callback | None, user_data: Any
) -> str:
    download = tim.msg.download_elem_to_path(param, path)
    async for progress in download:
        invoke(cb, 0, "", _json(progress), user_data)  # a progress step: no finish yet
    return _json(await download)


async def _as_json(work: Coroutine[Any, Any, Any], *, empty: bool = False) -> str:
    """The callback's json_params: the result's C SDK JSON (empty where the C SDK sends "")."""
    result = await work
    return "" if empty else _json(result)
