"""What `aio-tim trigger` and `aio-tim listen --forward-to` share: realistic callback bodies, TIM's
signed query, `--set` overrides, and the check of an app's answer.

The bodies carry every field of the command's TIM page (product 1047 on tencentcloud.com, e.g.
https://intl.cloud.tencent.com/document/product/1047/34364 for C2C.CallbackBeforeSendMsg), with
the pages' kind of values: accounts "jared" and "Jonh", group "@TGS#2J4SZEAEL", a text message.
Times are now, as TIM's would be.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import msgspec

from ..protocol import callbacks as cb
from ..protocol.msgbody import MsgBodyItem

__all__ = ["COMMANDS", "answer_problems", "apply_set", "sample_body", "signed_query", "verdict"]

_GROUP: Final = ("@TGS#2J4SZEAEL", "Public")
_TEXT: Final = [MsgBodyItem("TIMTextElem", {"Text": "red packet"})]
_CUSTOM: Final = "your cloud custom data"
_SEQ, _RANDOM = 48374, 2837546


def _c2c_message(now: int) -> dict[str, Any]:
    key = f"{_SEQ}_{_RANDOM}_{now}"
    return {"From_Account": "jared", "To_Account": "Jonh", "MsgSeq": _SEQ, "MsgRandom": _RANDOM,
            "MsgTime": now, "MsgKey": key, "MsgBody": list(_TEXT), "CloudCustomData": _CUSTOM,
            "EventTime": now * 1000}  # fmt: skip


def _group_message(now: int) -> dict[str, Any]:
    return {"GroupId": _GROUP[0], "Type": _GROUP[1], "Operator_Account": "leckie", "From_Account": "leckie",
            "Random": 123456, "OnlineOnlyFlag": 0, "MsgBody": list(_TEXT), "CloudCustomData": _CUSTOM,
            "EventTime": now * 1000}  # fmt: skip


def _members(*names: str) -> list[cb.Member]:
    return [cb.Member(name) for name in names]


def _group(now: int) -> dict[str, Any]:
    return {"GroupId": _GROUP[0], "Type": _GROUP[1], "Operator_Account": "leckie", "EventTime": now * 1000}


# One per command of `protocol.callbacks.KNOWN_COMMANDS`: a command added there needs its sample here
# (tests/test_cli_trigger_forward.py fails until it has one).
_SAMPLES: Final[dict[str, Callable[[int], cb.Callback]]] = {
    cb.C2C_BEFORE_SEND_MSG: lambda now: cb.C2CBeforeSendMsg(
        **_c2c_message(now), MsgId=f"144115233874815003-{now}-{_RANDOM}", OnlineOnlyFlag=0
    ),
    cb.C2C_AFTER_SEND_MSG: lambda now: cb.C2CAfterSendMsg(
        **_c2c_message(now),
        MsgId=f"144115233874815003-{now}-{_RANDOM}",
        OnlineOnlyFlag=0,
        SendMsgResult=0,
        ErrorInfo="send msg succeed",
        UnreadMsgNum=1,
    ),
    cb.C2C_AFTER_MSG_WITHDRAW: lambda now: cb.C2CAfterMsgWithDraw(
        From_Account="jared",
        To_Account="Jonh",
        MsgKey=f"{_SEQ}_{_RANDOM}_{now - 30}",
        UnreadMsgNum=0,
        EventTime=now * 1000,
    ),
    cb.C2C_AFTER_MSG_REPORT: lambda now: cb.C2CAfterMsgReport(
        Report_Account="Jonh", Peer_Account="jared", LastReadTime=now, UnreadMsgNum=0, EventTime=now * 1000
    ),
    cb.C2C_AFTER_MSG_READ_RECEIPT: lambda now: cb.C2CAfterMsgReadReceipt(
        Operator_Account="Jonh",
        Peer_Account="jared",
        EventTime=now * 1000,
        C2CMsgInfo=[
            cb.C2CMsgInfoItem(
                "jared", "Jonh", f"{_SEQ}_{_RANDOM}_{now - 30}", f"144115233874815003-{now - 30}-{_RANDOM}"
            )
        ],
    ),
    cb.C2C_AFTER_MODIFY_MSG: lambda now: cb.C2CAfterModifyMsg(
        Operator_Account="jared",
        **{**_c2c_message(now), "MsgTime": now - 30, "MsgKey": f"{_SEQ}_{_RANDOM}_{now - 30}"},
    ),
    cb.GROUP_BEFORE_SEND_MSG: lambda now: cb.GroupBeforeSendMsg(**_group_message(now)),
    cb.GROUP_AFTER_SEND_MSG: lambda now: cb.GroupAfterSendMsg(
        **_group_message(now), MsgSeq=123, MsgTime=now, MsgId=f"144115233874815003-{now}-123456"
    ),
    cb.GROUP_SEND_MSG_EXCEPTION: lambda now: cb.GroupSendMsgException(
        **_group_message(now), ErrorCode=10017, ErrorInfo="the sender is muted in this group"
    ),
    cb.GROUP_AFTER_RECALL_MSG: lambda now: cb.GroupAfterRecallMsg(
        **_group(now), MsgSeqList=[cb.SeqItem(123)]
    ),
    cb.AFTER_NEW_MEMBER_JOIN: lambda now: cb.GroupAfterNewMemberJoin(
        **_group(now), JoinType="Apply", NewMemberList=_members("peter", "bob")
    ),
    cb.AFTER_MEMBER_EXIT: lambda now: cb.GroupAfterMemberExit(
        **_group(now), ExitType="Kicked", ExitMemberList=_members("peter")
    ),
    cb.AFTER_CREATE_GROUP: lambda now: cb.GroupAfterCreateGroup(
        **_group(now),
        Name="MyFirstGroup",
        Owner_Account="leckie",
        MemberList=_members("leckie", "peter"),
        UserDefinedDataList=[cb.UserDefinedData("UserDefined1", "hello")],
    ),
    cb.AFTER_MEMBER_FIELD_CHANGED: lambda now: cb.GroupAfterMemberFieldChanged(
        **_group(now), Member_Account="peter", Role="Admin", NameCard="Peter (ops)"
    ),
    cb.AFTER_GROUP_DESTROYED: lambda now: cb.GroupAfterGroupDestroyed(
        **_group(now), Name="MyFirstGroup", Owner_Account="leckie", MemberList=_members("leckie", "peter")
    ),
}
COMMANDS: Final = tuple(sorted(_SAMPLES))
"""Every CallbackCommand the dev server fires (`protocol.callbacks.KNOWN_COMMANDS`)."""


def sample_body(command: str, now: int | None = None) -> dict[str, Any]:
    """A realistic body for `command` as TIM sends it: every field, zeros too, CallbackCommand first."""
    body = _SAMPLES[command](int(time.time()) if now is None else now)
    fields = {name: value for name, value in msgspec.to_builtins(body).items() if value is not None}
    # to_builtins leaves defaults out (omit_defaults); TIM sends OnlineOnlyFlag 0 and SendMsgResult 0.
    for name in msgspec.structs.fields(type(body)):
        value = getattr(body, name.name)
        if value is not None and name.name not in fields:
            fields[name.name] = msgspec.to_builtins(value)
    return {"CallbackCommand": command, **fields}


def apply_set(body: dict[str, Any], assignment: str) -> None:
    """`--set Key=Value`: Value is JSON when it parses as JSON ("5", "[...]", "true"), else text;
    a dotted Key reaches inside ("MsgBody.0.MsgContent.Text=hello"). ValueError says what is wrong."""
    path, sep, text = assignment.partition("=")
    if not sep or not path:
        raise ValueError(f"--set {assignment!r}: write Key=Value")
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = text
    *parents, last = path.split(".")
    if not parents and last == "CallbackCommand":
        raise ValueError("--set CallbackCommand: name the command instead")
    holder: Any = body
    for step, name in enumerate(parents):
        holder = _child(holder, name, ".".join(parents[: step + 1]))
    if isinstance(holder, list):
        index = _index(holder, last, path)
        holder[index] = value
    elif isinstance(holder, dict):
        holder[last] = value
    else:
        raise ValueError(f"--set {path}: {'.'.join(parents)} is not an object or a list")


def _child(holder: Any, name: str, where: str) -> Any:
    if isinstance(holder, dict) and name in holder:
        return holder[name]
    if isinstance(holder, list):
        return holder[_index(holder, name, where)]
    raise ValueError(f"--set {where}: the body has no such field")


def _index(items: list[Any], name: str, where: str) -> int:
    if not name.isdigit() or int(name) >= len(items):
        raise ValueError(f"--set {where}: {name!r} is not an index of a list of {len(items)}")
    return int(name)


def signed_query(command: str, sdk_app_id: int, token: str | None, now: int | None = None) -> dict[str, str]:
    """TIM's query for one callback: with a token, `RequestTime` and `Sign` = sha256(token + RequestTime)."""
    query = {"SdkAppid": str(sdk_app_id), "CallbackCommand": command, "contenttype": "json",
             "ClientIP": "127.0.0.1", "OptPlatform": "RESTAPI"}  # fmt: skip
    if token is not None:
        request_time = str(int(time.time()) if now is None else now)
        query |= {"RequestTime": request_time, "Sign": cb.sign(token, request_time)}
    return query


# --- the app's answer -------------------------------------------------------------------------------------

_REQUIRED: Final = (("ActionStatus", str), ("ErrorCode", int), ("ErrorInfo", str))
_BEFORE_EXTRAS: Final = frozenset({"MsgBody", "CloudCustomData"})
_MSG_BODY: Final = msgspec.json.Decoder(list[MsgBodyItem])


def answer_problems(command: str, status: int, raw: bytes) -> list[str]:
    """What makes an HTTP answer not a valid TIM callback answer for `command` ([] when it is one):
    HTTP 200, a JSON object with ActionStatus "OK"/"FAIL", ErrorCode >= 0 and ErrorInfo; only a
    before-send answer may add MsgBody (TIM's message elements) and CloudCustomData, and its
    ErrorCode is 0 allow, 1 refuse, 2 drop, or 120001..130000 refuse with that code."""
    if status != 200:
        return [f"HTTP {status}: TIM counts anything but 200 as a failed callback"]
    try:
        answer = json.loads(raw)
    except ValueError:
        return ["the answer is not JSON"]
    if not isinstance(answer, dict):
        return ["the answer is not a JSON object"]
    problems = [f"{name} missing" for name, _ in _REQUIRED if name not in answer]
    problems += [
        f"{name} must be {kind.__name__ if kind is int else 'a string'}, not {json.dumps(answer[name])}"
        for name, kind in _REQUIRED
        if name in answer and (not isinstance(answer[name], kind) or isinstance(answer[name], bool))
    ]
    if answer.get("ActionStatus") not in (None, "OK", "FAIL") and isinstance(answer.get("ActionStatus"), str):
        problems.append(f'ActionStatus must be "OK" or "FAIL", not {json.dumps(answer["ActionStatus"])}')
    before = command in cb.BEFORE_COMMANDS
    problems += _extras(answer, before)
    code = answer.get("ErrorCode")
    if isinstance(code, int) and not isinstance(code, bool):
        problems += _code_problems(code, before)
    return problems


def _extras(answer: dict[str, Any], before: bool) -> Iterable[str]:
    for name in sorted(set(answer) - {name for name, _ in _REQUIRED}):
        if not before or name not in _BEFORE_EXTRAS:
            yield f"{name}: not a field of this answer (before-send answers may add MsgBody, CloudCustomData)"
        elif name == "CloudCustomData" and not isinstance(answer[name], str):
            yield "CloudCustomData must be a string"
        elif name == "MsgBody":
            try:
                _MSG_BODY.decode(json.dumps(answer[name]))
            except msgspec.ValidationError as exc:
                yield f"MsgBody is not TIM's message elements: {exc}"


def _code_problems(code: int, before: bool) -> list[str]:
    if code < 0:
        return ["ErrorCode must be 0 or more"]
    if before and code not in (cb.ALLOW, cb.REJECT, cb.DISCARD) and code not in cb.CUSTOM_REJECT_CODES:
        return [f"ErrorCode {code}: a before-send answer is 0 allow, 1 refuse, 2 drop or 120001..130000"]
    return []


def verdict(command: str, raw: bytes) -> str:
    """What TIM does with a valid answer, in a few words."""
    answer = json.loads(raw)
    code, rewrites = answer["ErrorCode"], "MsgBody" in answer
    if command not in cb.BEFORE_COMMANDS:
        return "acknowledged" if code == 0 else f"acknowledged (ErrorCode {code} is logged by TIM)"
    if code == cb.ALLOW:
        return "allow, with the message rewritten" if rewrites else "allow"
    if code == cb.DISCARD:
        return "drop silently (the sender sees success)"
    return f"refuse (the sender gets {code})" if code in cb.CUSTOM_REJECT_CODES else "refuse"
