"""Fuzz the client's REST reply decoding (`connection.manager._decode_reply`): whatever bytes a
server or a proxy sends back, only `TIMError` may escape.

    python benchmarks/fuzz_envelope.py --runs 200000 [--engine random|atheris]

The first input byte picks the reply type; the rest is the HTTP body. A decoded reply has the
requested type, and a failed one maps to a `TIMError` through `error_for`.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzzkit import main

from aio_tim.connection.manager import _decode_reply
from aio_tim.errors import TIMError, error_for
from aio_tim.protocol import Envelope
from aio_tim.protocol.group import GroupMsgGetSimpleResponse, ImportGroupMsgResponse
from aio_tim.protocol.incoming import from_group_roam, from_roam
from aio_tim.protocol.openim import (
    AdminGetRoamMsgResponse,
    BatchSendMsgResponse,
    GetC2CUnreadMsgNumResponse,
    SendMsgResponse,
)

REPLY_TYPES: list[type[Envelope]] = [
    Envelope,
    SendMsgResponse,
    BatchSendMsgResponse,
    AdminGetRoamMsgResponse,
    GetC2CUnreadMsgNumResponse,
    GroupMsgGetSimpleResponse,
    ImportGroupMsgResponse,
]
TEXT: list[dict[str, Any]] = [
    {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}},
    {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "d"}},
    {"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "x", "Latitude": 1.5, "Longitude": 2.5}},
    {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "d", "Desc": "x", "Ext": "e", "Sound": "s"}},
    {
        "MsgType": "TIMSoundElem",
        "MsgContent": {"Url": "u", "UUID": "i", "Size": 1, "Second": 2, "Download_Flag": 2},
    },
    {
        "MsgType": "TIMImageElem",
        "MsgContent": {
            "UUID": "i",
            "ImageFormat": 1,
            "ImageInfoArray": [{"Type": 1, "Size": 1, "Width": 2, "Height": 3, "URL": "u"}],
        },
    },
    {
        "MsgType": "TIMFileElem",
        "MsgContent": {"Url": "u", "UUID": "i", "FileSize": 1, "FileName": "f", "Download_Flag": 2},
    },
    {
        "MsgType": "TIMVideoFileElem",
        "MsgContent": {
            "VideoUrl": "u",
            "VideoSize": 1,
            "VideoSecond": 2,
            "VideoFormat": "mp4",
            "ThumbUrl": "t",
            "ThumbWidth": 1,
        },
    },
    {"MsgType": "TIMRelayElem", "MsgContent": {"Anything": True}},
]
OK = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
REPLIES: list[dict[str, Any]] = [
    {"ActionStatus": "FAIL", "ErrorCode": 70001, "ErrorInfo": "UserSig expired", "ErrorDisplay": "",
     "RequestId": "r"},
    {**OK, "MsgTime": 1600000000, "MsgKey": "1_2_1600000000", "MsgId": "m"},
    {**OK, "MsgKey": "1_2_3", "ErrorList": [{"To_Account": "ghost", "ErrorCode": 70107}]},
    {**OK, "Complete": 0, "MsgCnt": 1, "LastMsgTime": 1600000000, "LastMsgKey": "1_2_3",
     "MsgList": [{"From_Account": "a", "To_Account": "b", "MsgSeq": 1, "MsgRandom": 2, "MsgTimeStamp": 3,
                  "MsgKey": "1_2_3", "MsgBody": TEXT, "MsgFlagBits": 0, "IsPeerRead": 1, "MsgClientTime": 3,
                  "CloudCustomData": "c"}]},
    {**OK, "AllC2CUnreadMsgNum": 2, "C2CUnreadMsgNumList": [{"Peer_Account": "a", "C2CUnreadMsgNum": 2}],
     "ErrorList": [{"Peer_Account": "ghost", "ErrorCode": 70107}]},
    {**OK, "GroupId": "g", "IsFinished": 1,
     "RspMsgList": [{"From_Account": "a", "MsgSeq": 1, "MsgRandom": 2, "MsgTimeStamp": 3, "MsgBody": TEXT,
                     "IsPlaceMsg": 0, "IsSystemMsg": 0, "MsgPriority": 1, "MsgKey": "k"}]},
    {**OK, "ImportMsgResult": [{"MsgSeq": 1, "MsgTime": 2, "Result": 0}]},
]  # fmt: skip


def target(data: bytes) -> None:
    selector, raw = (data[0], data[1:]) if data else (0, b"")
    reply_type = REPLY_TYPES[selector % len(REPLY_TYPES)]
    reply = _decode_reply("openim/sendmsg", raw, reply_type)
    assert isinstance(reply, reply_type)
    if reply.failed:
        assert isinstance(error_for(reply.ErrorCode, reply.ErrorInfo), TIMError)
    # History replies go on to become C SDK messages: that conversion sees the same bytes.
    if isinstance(reply, AdminGetRoamMsgResponse):
        for record in reply.MsgList:
            from_roam(record, "a", "b")
    elif isinstance(reply, GroupMsgGetSimpleResponse):
        for group_record in reply.RspMsgList:
            from_group_roam(group_record, "a", "g")


NOISE: list[Any] = [None, True, -1, 2**64, 1.5, "x", "\ud800", [], {}, "FAIL", 0, [[[]]], {"Type": "x"}]


def perturb(value: Any, rng: random.Random) -> Any:
    """The value with some members, at any depth, retyped or dropped."""
    if isinstance(value, dict):
        out = {}
        for key, member in value.items():
            roll = rng.random()
            if roll < 0.08:
                continue
            out[key] = rng.choice(NOISE) if roll < 0.2 else perturb(member, rng)
        return out
    if isinstance(value, list):
        return [rng.choice(NOISE) if rng.random() < 0.1 else perturb(v, rng) for v in value]
    return value


def random_reply(rng: random.Random) -> bytes:
    """A reply with members at any depth retyped or dropped, sometimes a failure with odd codes."""
    index = rng.randrange(len(REPLIES))
    text = json.dumps(perturb(REPLIES[index], rng), ensure_ascii=rng.random() < 0.5)
    return bytes([index if rng.random() < 0.8 else rng.randrange(len(REPLY_TYPES))]) + text.encode(
        "utf-8", "surrogatepass"
    )


SEEDS = [bytes([i]) + json.dumps(REPLIES[i]).encode() for i in range(len(REPLIES))] + [
    bytes([i]) + b'{"ActionStatus": "FAIL", "ErrorCode": 60007}' for i in range(len(REPLY_TYPES))
]

if __name__ == "__main__":
    modules = ["aio_tim.connection.manager", "aio_tim.connection.errors", "aio_tim.protocol.msgbody",
               "aio_tim.protocol.incoming"]  # fmt: skip
    sys.exit(main("fuzz_envelope", target, SEEDS, modules=modules, generators=[random_reply]))
