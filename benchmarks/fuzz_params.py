"""Fuzz the C SDK JSON decoding of every parameter type (`aio_tim.types.coerce`): whatever the
input, only `TIMError` may escape, and what decodes re-encodes to the same value.

    python benchmarks/fuzz_params.py --runs 200000 [--engine random|atheris]

The first input byte picks the target type and the form the rest arrives in, as a caller may
pass it: JSON bytes, a str (possibly with lone surrogates, as `surrogateescape` makes them) or
the Python objects `json.loads` gives.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzzkit import main

from aio_tim.types import (
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

TYPES: list[Any] = [
    Message,
    GetMsgListParam,
    MsgDeleteParam,
    list[MsgLocator],
    BatchSendParam,
    DownloadElemParam,
]
FORMS = 3

MESSAGE: dict[str, Any] = {
    "message_elem_array": [
        {"elem_type": 0, "text_elem_content": "hi 😀"},
        {"elem_type": 3, "custom_elem_data": "d", "custom_elem_desc": "x", "custom_elem_ext": "e"},
        {"elem_type": 1, "image_elem_orig_path": "/tmp/a.png", "image_elem_level": 0},
        {
            "elem_type": 4,
            "file_elem_file_name": "a.txt",
            "file_elem_file_size": 3,
            "file_elem_url": "http://x",
        },
        {
            "elem_type": 7,
            "location_elem_desc": "here",
            "location_elem_longitude": 1.5,
            "location_elem_latitude": 2.5,
        },
        {"elem_type": 6, "face_elem_index": 3, "face_elem_buf": "b"},
    ],
    "message_conv_id": "bob",
    "message_conv_type": 1,
    "message_sender": "alice",
    "message_client_time": 1600000000,
    "message_server_time": 1600000001,
    "message_rand": 4294967295,
    "message_seq": 7,
    "message_cloud_custom_str": "c",
    "message_is_from_self": True,
    "message_sender_group_member_info": {"nested": {"any": [1, 2.5, None]}},
    "message_offline_push_config": {"offline_push_config_desc": "push"},
}
LOCATOR: dict[str, Any] = {
    "message_locator_conv_id": "bob",
    "message_locator_conv_type": 1,
    "message_locator_is_revoked": False,
    "message_locator_time": 1600000000,
    "message_locator_seq": 7,
    "message_locator_is_self": True,
    "message_locator_rand": 42,
    "message_locator_unique_id": 9,
}
VALUES: list[Any] = [
    MESSAGE,
    {"msg_getmsglist_param_last_msg": MESSAGE, "msg_getmsglist_param_count": 20,
     "msg_getmsglist_param_is_ramble": True, "msg_getmsglist_param_is_forward": False,
     "msg_getmsglist_param_message_type_array": [0, 1]},
    {"msg_delete_param_msg": MESSAGE, "msg_delete_param_is_remble": True},
    [LOCATOR, {"message_locator_conv_id": "g", "message_locator_conv_type": 2}],
    {"msg_batch_send_param_identifier_array": ["a", "b"], "msg_batch_send_param_msg": MESSAGE},
    {"msg_download_elem_param_flag": 2, "msg_download_elem_param_type": 1,
     "msg_download_elem_param_id": "uuid", "msg_download_elem_param_business_id": 0,
     "msg_download_elem_param_url": "http://example/x"},
]  # fmt: skip


def decoded(type_: Any, form: int, payload: bytes) -> Any:
    if form == 0:
        return coerce(payload, type_, what="fuzz")
    if form == 1:
        return coerce(payload.decode("utf-8", "surrogateescape"), type_, what="fuzz")
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        return None  # not JSON to the stdlib either: nothing to hand over as objects
    if type_ == list[MsgLocator] and isinstance(obj, list):
        return coerce_list(obj, MsgLocator, what="fuzz")
    return coerce(obj, type_, what="fuzz")


def target(data: bytes) -> None:
    selector, payload = (data[0], data[1:]) if data else (0, b"")
    type_ = TYPES[selector % len(TYPES)]
    value = decoded(type_, selector // len(TYPES) % FORMS, payload)
    if value is None:
        return
    # The oracle beyond "no crash": a decoded value survives encode -> decode unchanged.
    assert coerce(encode(value), type_, what="fuzz") == value


def seed_of(index: int, form: int = 0) -> bytes:
    return bytes([index + len(TYPES) * form]) + json.dumps(VALUES[index], ensure_ascii=False).encode()


def random_json(rng: random.Random) -> bytes:
    """A seed value with random keys retyped or dropped, in a random form."""
    index = rng.randrange(len(TYPES))
    value = json.loads(json.dumps(VALUES[index]))
    targets = value if isinstance(value, list) else [value]
    noise: list[Any] = [None, True, -1, 2**64, 1.5, "x", "\ud800", [], {}, [[[]]], {"a": {"b": []}}]
    for obj in targets:
        for key in list(obj):
            if rng.random() < 0.3:
                obj[key] = rng.choice(noise)
            elif rng.random() < 0.1:
                del obj[key]
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
    return bytes([index + len(TYPES) * rng.randrange(FORMS)]) + text.encode("utf-8", "surrogatepass")


SEEDS = [seed_of(i, form) for i in range(len(TYPES)) for form in range(FORMS)]

if __name__ == "__main__":
    modules = ["aio_tim.types._base", "aio_tim.types.params", "aio_tim.types.message"]
    sys.exit(main("fuzz_params", target, SEEDS, modules=modules, generators=[random_json]))
