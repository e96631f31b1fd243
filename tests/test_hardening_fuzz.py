"""Issue 6, part 5: small, fast, seeded runs of the fuzz harnesses in benchmarks/, and the
minimal inputs they found, each as its own regression test.

Decoders of untrusted input must raise only `TIMError` subclasses. The harnesses run for
millions of inputs from the command line (`python benchmarks/fuzz_usersig.py --runs N`); here
each runs 2,000 inputs with a fixed seed, so a failure reproduces exactly.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aio_tim import ConvType
from aio_tim.auth import decode_usersig, mint_usersig, verify_usersig
from aio_tim.connection.manager import _decode_reply
from aio_tim.errors import AuthError, TIMError, TransportError, UsageError
from aio_tim.protocol import MsgBodyItem, from_msg_body
from aio_tim.protocol.openim import AdminGetRoamMsgResponse, SendMsgResponse
from aio_tim.testing import client_for
from aio_tim.types import Message, MsgLocator, coerce

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
RUNS = 2000


def harness(name: str) -> ModuleType:
    """Load benchmarks/<name>.py as a module (benchmarks/ is not a package)."""
    module_name = f"_harness_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "generator"),
    [("fuzz_usersig", "random_document"), ("fuzz_params", "random_json"), ("fuzz_envelope", "random_reply")],
)
def test_fuzz_harness_finds_nothing_but_tim_errors(name: str, generator: str) -> None:
    """2,000 seeded inputs per harness: only TIMError escapes (the report names what did not)."""
    module = harness(name)
    fuzzkit = sys.modules["_fuzzkit"]
    stats = fuzzkit.random_loop(
        module.target, module.SEEDS, RUNS, seed=1, generators=[getattr(module, generator)]
    )
    assert stats.executions == RUNS
    assert not stats.unexpected, stats.report(name)


def test_fuzz_seeds_are_valid_inputs() -> None:
    """The seeds decode cleanly: the harnesses start from the accepted path, not from errors."""
    usersig = harness("fuzz_usersig")
    usersig.target(usersig.SEEDS[0])  # a valid UserSig verifies
    for module_name in ("fuzz_params", "fuzz_envelope"):
        module = harness(module_name)
        for seed in module.SEEDS:
            module.target(seed)


def test_fuzz_command_line_reports_and_fails_on_findings(capsys: pytest.CaptureFixture[str]) -> None:
    """`main` prints executions, unexpected and exec/s; exit status 1 only with findings."""
    fuzzkit = harness("fuzz_usersig") and sys.modules["_fuzzkit"]

    def picky(data: bytes) -> None:
        if data == b"!":
            raise KeyError("not a TIMError")
        raise TIMError(1, "fine")

    assert fuzzkit.main("demo", picky, [b"a"], modules=[], argv=["--runs", "50", "--engine", "random"]) == 0
    assert fuzzkit.main("demo", picky, [b"!"], modules=[], argv=["--runs", "50", "--engine", "random"]) == 1
    out = capsys.readouterr().out
    assert "executions=50 unexpected=0 exec/s=" in out and "builtins.KeyError" in out


# --- what the harnesses found: one minimal input per bug ------------------------------------------


def wrap(doc: bytes) -> str:
    return base64.b64encode(zlib.compress(doc)).decode().translate(str.maketrans("+/=", "*-_"))


def test_usersig_with_invalid_utf8_is_70003() -> None:
    """auth._parse misses UnicodeDecodeError: msgspec raises it for a non-UTF-8 string."""
    doc = json.loads(zlib.decompress(base64.b64decode(
        mint_usersig(1400000000, "key", "admin", now=1).translate(str.maketrans("*-_", "+/=")))))  # fmt: skip
    raw = json.dumps(doc).encode().replace(b'"2.0"', b'"2.0\xff"')
    with pytest.raises(AuthError) as caught:
        decode_usersig(wrap(raw))
    assert caught.value.code == 70003
    with pytest.raises(AuthError):
        verify_usersig(wrap(raw), sdk_app_id=1400000000, secret_key="key", identifier="admin", now=1)


@pytest.mark.parametrize(
    ("value", "type_"),
    [
        pytest.param(b'{"message_conv_id": "\xff"}', Message, id="bytes, invalid UTF-8"),
        pytest.param('{"message_conv_id": "\ud800"}', Message, id="str, lone surrogate"),
        pytest.param(b'[{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}]", list[MsgLocator], id="deep nesting"),
        pytest.param(b'{"message_custom_str": ' + b"[" * 5000, Message, id="deep nesting, cut"),
    ],
)
def test_coerce_raises_only_usage_error(value: Any, type_: Any) -> None:
    """types.coerce lets UnicodeDecodeError, UnicodeEncodeError and RecursionError out."""
    with pytest.raises(UsageError) as caught:
        coerce(value, type_, what="fuzz")
    assert caught.value.code == -3


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"ActionStatus": "OK", "ErrorInfo": "\xff"}', id="invalid UTF-8"),
        pytest.param(b'{"ActionStatus": "OK", "X": ' + b"[" * 5000 + b"]" * 5000 + b"}", id="deep nesting"),
        pytest.param(
            b'{"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": "\xc3"}', id="failed, invalid UTF-8"
        ),
    ],
)
def test_garbled_replies_are_transport_errors(raw: bytes) -> None:
    """connection.manager._decode_reply lets UnicodeDecodeError and RecursionError out."""
    for reply_type in (SendMsgResponse, AdminGetRoamMsgResponse):
        with pytest.raises(TransportError):
            _decode_reply("openim/sendmsg", raw, reply_type)


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}, id="text not a string"),
        pytest.param(
            {"MsgType": "TIMImageElem", "MsgContent": {"ImageInfoArray": [{"Type": "x"}]}}, id="image"
        ),
    ],
)
def test_roaming_records_with_malformed_elements_are_tim_errors(item: dict[str, Any]) -> None:
    """protocol.msgbody.from_msg_body lets msgspec.ValidationError out of history decoding."""
    with pytest.raises(TIMError):
        from_msg_body([MsgBodyItem(item["MsgType"], item["MsgContent"])])


# --- text JSON cannot carry: lone surrogates (from surrogateescape, or "\ud800" via json.loads) ---

LONE = "\ud800"
TEXT_MSG = {"message_elem_array": [{"elem_type": 0, "text_elem_content": "hi"}]}


def test_coerced_values_always_re_encode() -> None:
    """coerce() of Python objects accepts lone surrogates that encode() then cannot write."""
    with pytest.raises(UsageError):
        coerce({"message_cloud_custom_str": LONE}, Message, what="fuzz")


@pytest.mark.parametrize(
    ("conv_id", "msg"),
    [
        pytest.param("bob", {"message_elem_array": [{"elem_type": 0, "text_elem_content": LONE}]}, id="text"),
        pytest.param("bob", {**TEXT_MSG, "message_cloud_custom_str": LONE}, id="cloud custom data"),
        pytest.param("b" + LONE, TEXT_MSG, id="conv_id"),
    ],
)
async def test_send_refuses_lone_surrogates_with_a_usage_error(tim: Any, conv_id: str, msg: Any) -> None:
    """send_new_msg raises UnicodeEncodeError (from msg_body_size, the request encoder or
    sqlite) instead of a UsageError."""
    with pytest.raises(UsageError):
        await tim.msg.send_new_msg(conv_id, ConvType.C2C, msg)


def test_client_refuses_a_user_id_with_a_lone_surrogate(dev_server: Any) -> None:
    """validate.check_identifier calls identifier.encode(), which raises UnicodeEncodeError."""
    with pytest.raises(UsageError):
        client_for(dev_server, "alice" + LONE)
