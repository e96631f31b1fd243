"""Property tests: whatever JSON a webhook body holds, decoding it either gives an event or a clean
refusal (ValueError / msgspec.ValidationError, which the receiver answers 400), never a crash."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from aio_tim.events.identity import Identities
from aio_tim.events.model import RawCallback, decode_body, entry_for, event_of
from aio_tim.protocol import callbacks as cb
from aio_tim.seams.inbox import InboxEntry

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
FIELDS = ["From_Account", "To_Account", "MsgSeq", "MsgRandom", "MsgTime", "MsgKey", "MsgBody", "GroupId",
          "Random", "MsgSeqList", "NewMemberList", "ExitMemberList", "MemberList", "Report_Account",
          "Peer_Account", "LastReadTime", "OnlineOnlyFlag", "CloudCustomData", "EventTime"]  # fmt: skip
MSG_TYPES = ["TIMTextElem", "TIMImageElem", "TIMFileElem", "TIMVideoFileElem", "TIMSoundElem",
             "TIMCustomElem", "TIMFaceElem", "TIMLocationElem", "TIMRelayElem", "x"]  # fmt: skip
CONTENT_KEYS = ["Text", "Data", "Index", "UUID", "Url", "ImageInfoArray", "FileSize", "Latitude", "Desc"]
ELEMENT = st.fixed_dictionaries(
    {
        "MsgType": st.sampled_from(MSG_TYPES),
        "MsgContent": st.dictionaries(st.sampled_from(CONTENT_KEYS), json_values, max_size=4),
    }
)
bodies = st.fixed_dictionaries(
    {"CallbackCommand": st.sampled_from([*sorted(cb.KNOWN_COMMANDS), "Other.Command", ""])},
    optional={
        **{name: json_values for name in FIELDS},
        "MsgBody": st.lists(ELEMENT, max_size=3) | json_values,
    },
)


@settings(max_examples=200, deadline=None)
@given(bodies)
def test_any_body_is_an_event_or_a_clean_refusal(body: dict[str, Any]) -> None:
    """decode -> entry -> event never raises anything but the refusals the receiver maps to 400."""
    raw = msgspec.json.encode(body)
    try:
        decoded = decode_body(raw)
        entry = entry_for(raw, decoded, {}, "bob", 1_700_000_000.0, Identities().key_for(decoded, raw))
    except (ValueError, msgspec.ValidationError):
        return
    event = event_of(InboxEntry("1", entry.key, entry.command, raw, {}, 0.0), "bob")
    assert event.id == entry.key and event.command == entry.command
    if body["CallbackCommand"] not in cb.KNOWN_COMMANDS:
        assert isinstance(event.body, RawCallback)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_an_event_or_a_clean_refusal(raw: bytes) -> None:
    """Arbitrary bytes: decoded, or refused with ValueError / ValidationError."""
    with contextlib.suppress(ValueError, msgspec.ValidationError):
        decode_body(raw)
