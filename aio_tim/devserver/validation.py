"""Strict request decoding and MsgBody checks, failing with the code TIM uses for each mistake.

Each REST service has its own family of codes: a body that is not JSON is 90001 for `openim`,
10011 for groups and 60003 elsewhere; a field of the wrong type gets the code TIM documents
for that field (90005 for MsgRandom, ...) or the family's generic "invalid parameters".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from ..errors import TIMError, error_for
from ..protocol import MsgBodyItem, Request, msg_body_size
from ..protocol.msgbody import content_type_for

__all__ = [
    "ALIASES",
    "MAX_MSG_BODY",
    "RECENTCONTACT",
    "ErrorFamily",
    "RequestDecoder",
    "check_msg_body",
    "check_msg_body_size",
    "family_for",
]

MAX_MSG_BODY: Final = 12 * 1024  # bytes of JSON MsgBody; TIM answers 80002 beyond
_MAX_INFO: Final = 200  # ErrorInfo is for humans; never echo unbounded input
_INT64: Final = range(-(2**63), 2**63)  # what sqlite stores; msgspec's `int` also takes uint64
_ONE_PER_MESSAGE: Final = frozenset({"TIMCustomElem"})
_PATH: Final = re.compile(r" - at `\$\.(?P<top>[A-Za-z_]\w*)(?P<rest>[^`]*)`$")
_MISSING: Final = re.compile(r"^Object missing required field `(?P<top>\w+)`$")


@dataclass(frozen=True)
class ErrorFamily:
    """The codes one REST service uses for a malformed request."""

    syntax: int  # not JSON, or not a JSON object
    params: int  # a field is missing or has the wrong type or value
    msg_body_item: int  # an element of MsgBody is malformed
    fields: Mapping[str, int] = field(default_factory=dict)  # codes TIM gives specific fields

    def code_for(self, top: str, nested: bool) -> int:
        if top == "MsgBody" and nested:
            return self.msg_body_item
        return self.fields.get(top, self.params)


OPENIM: Final = ErrorFamily(
    syntax=90001,
    params=90001,
    msg_body_item=90002,
    fields={
        "To_Account": 90003,
        "Peer_Account": 90003,
        "MsgRandom": 90005,
        "MsgTimeStamp": 90006,
        "MsgBody": 90007,
        "From_Account": 90008,
        "Operator_Account": 90008,
        "Report_Account": 90008,
        "SyncOtherMachine": 90031,
        "MsgLifeTime": 90044,
        "MsgKey": 90054,
    },
)
GROUP: Final = ErrorFamily(syntax=10011, params=10004, msg_body_item=10004)
COMMON: Final = ErrorFamily(syntax=60003, params=70402, msg_body_item=70402)
# recentcontact/*: 50002 for any bad parameter (tencentcloud.com/document/product/1047/43088); a body
# that is not JSON gets the common 60003.
RECENTCONTACT: Final = ErrorFamily(syntax=60003, params=50002, msg_body_item=50002)
# The relationship chain, profiles and app config have codes of their own (TIM's error table).
SNS: Final = ErrorFamily(syntax=30001, params=30001, msg_body_item=30001)
PROFILE: Final = ErrorFamily(syntax=40001, params=40001, msg_body_item=40001)
CONFIG: Final = ErrorFamily(syntax=90001, params=90001, msg_body_item=90001)
# all_member_push answers like openim (90001 unparseable, 90005 MsgRandom, ...: trtc.io 37166);
# openim_msg_ext_http_svc's pages name no codes of their own: its requests are checked as openim's.
_FAMILIES: Final = {
    "openim": OPENIM,
    "group_open_http_svc": GROUP,
    "all_member_push": OPENIM,
    "recentcontact": RECENTCONTACT,
    "openim_msg_ext_http_svc": OPENIM,
    "sns": SNS,
    "profile": PROFILE,
    "openconfigsvr": CONFIG,
    "open_msg_svc": CONFIG,
}


# Older spellings TIM still accepts, per endpoint: {older name: current name}. Third-party
# clients and older SDKs send them; when a body holds both, the current spelling wins.
ALIASES: Final[Mapping[str, Mapping[str, str]]] = {
    # The official OpenAPI spec's GetRoamMsgRequest, still sent by older SDKs.
    "openim/admin_getroammsg": {"From_Account": "Operator_Account", "To_Account": "Peer_Account"},
    # The 2020 doc and the third-party libraries.
    "im_open_login_svc/account_import": {"Identifier": "UserID"},
    "im_open_login_svc/kick": {"Identifier": "UserID"},
    # dobyte/tencent-im spells the conversation type in lower case.
    "recentcontact/delete": {"type": "Type"},
    # Older group docs and SDKs.
    "group_open_http_svc/send_group_msg": {"MsgOnlineOnlyFlag": "OnlineOnlyFlag"},
    # create_group's cap is MaxMemberCount on TIM's page; aio_tim up to 0.x sent the profile's name.
    "group_open_http_svc/create_group": {"MaxMemberNum": "MaxMemberCount"},
    # TIM renamed the mute-all switch; older docs, SDKs and libraries send ShutUpAllMember.
    "group_open_http_svc/modify_group_base_info": {"ShutUpAllMember": "MuteAllMember"},
    # import_group takes create_group's fields, the cap included.
    "group_open_http_svc/import_group": {"MaxMemberNum": "MaxMemberCount"},
    # The Go client dobyte/tencent-im sends the group type filter as Type.
    "group_open_http_svc/get_appid_group_list": {"Type": "GroupType"},
    # dobyte/tencent-im names the lists Attrs and Tags, as their items do.
    "all_member_push/im_set_attr": {"Attrs": "UserAttrs"},
    "all_member_push/im_remove_attr": {"Attrs": "UserAttrs"},
    "all_member_push/im_add_tag": {"Tags": "UserTags"},
    "all_member_push/im_remove_tag": {"Tags": "UserTags"},
}


def family_for(endpoint: str) -> ErrorFamily:
    """The error family of an endpoint ("service/command")."""
    return _FAMILIES.get(endpoint.partition("/")[0], COMMON)


def _info(text: str) -> str:
    return text if len(text) <= _MAX_INFO else text[: _MAX_INFO - 3] + "..."


class RequestDecoder:
    """Decodes one endpoint's JSON body into its request Struct, or raises TIM's error."""

    def __init__(self, request_type: type[Request]) -> None:
        self.request_type = request_type
        self.family = family_for(request_type.endpoint)
        self.aliases = ALIASES.get(request_type.endpoint, {})
        self._decoder = msgspec.json.Decoder(request_type)
        # A quoted key in the raw bytes is the cheap test that sends a body the slow way.
        self._alias_marks = tuple(f'"{old}"'.encode() for old in self.aliases)

    def decode(self, body: bytes) -> Request:
        try:
            if any(mark in body for mark in self._alias_marks):
                request: Request = self._decode_aliased(body)
            else:
                request = self._decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise self._validation_error(str(exc)) from None
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            # msgspec recurses into deeply nested arrays ([[[[...) and raises
            # UnicodeDecodeError, not DecodeError, for strings that are not UTF-8.
            raise error_for(self.family.syntax, _info(f"request is not valid JSON: {exc}")) from None
        path = _oversized_int(request)
        if path is not None:
            raise self._validation_error(f"Integer out of range - at `${path}`")
        return request

    def _decode_aliased(self, body: bytes) -> Request:
        """Decode a body that may use older spellings: rename them, then validate as usual."""
        raw = msgspec.json.decode(body)
        if not isinstance(raw, dict):
            return self._decoder.decode(body)  # raises the usual "not an object" error
        for old, new in self.aliases.items():
            if old in raw:
                raw.setdefault(new, raw.pop(old))
        request: Request = msgspec.convert(raw, self.request_type, strict=True)
        return request

    def _validation_error(self, message: str) -> TIMError:
        """msgspec names the field in its message; pick the field's code from it."""
        at = _PATH.search(message)
        missing = _MISSING.match(message)
        if at is not None:
            code = self.family.code_for(at["top"], nested=bool(at["rest"]))
        elif missing is not None:
            code = self.family.code_for(missing["top"], nested=False)
        else:  # the body is JSON but not an object
            code = self.family.syntax
        return error_for(code, _info(f"invalid request: {message}"))


@functools.cache
def _field_names(struct_type: type[msgspec.Struct]) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, f.encode_name) for f in msgspec.structs.fields(struct_type))


def _oversized_int(value: Any) -> str | None:
    """Where the first integer sqlite cannot store sits (msgspec accepts up to 2**64-1), as a
    path below `value` ("" for `value` itself). The path is built only for a hit: a batch's 500
    recipient names cost an isinstance each, not a formatted string each."""
    if isinstance(value, int) and not isinstance(value, bool):
        return None if value in _INT64 else ""
    if isinstance(value, msgspec.Struct):
        for name, wire_name in _field_names(type(value)):
            hit = _oversized_int(getattr(value, name))
            if hit is not None:
                return f".{wire_name}{hit}"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            hit = None if isinstance(item, str) else _oversized_int(item)
            if hit is not None:
                return f"[{index}]{hit}"
    return None  # dicts (MsgContent) are stored as JSON text, whatever their numbers


def check_msg_body(items: list[MsgBodyItem], code: int) -> None:
    """Every element must be a known MsgType whose MsgContent has the right shape."""
    if not items:
        raise error_for(code, "MsgBody is empty")
    seen: set[str] = set()
    for index, item in enumerate(items):
        _check_item(index, item, code)
        if item.MsgType in _ONE_PER_MESSAGE and item.MsgType in seen:
            raise error_for(code, f"MsgBody holds more than one {item.MsgType}")
        seen.add(item.MsgType)


def _check_item(index: int, item: MsgBodyItem, code: int) -> None:
    content_type = content_type_for(item.MsgType)
    if content_type is None:
        raise error_for(code, f"MsgBody[{index}].MsgType is not a known element type")
    try:
        msgspec.convert(item.MsgContent, content_type, strict=True)
    except msgspec.ValidationError as exc:
        raise error_for(code, _info(f"MsgBody[{index}].MsgContent: {exc}")) from None


def body_too_long(items: list[MsgBodyItem]) -> bool:
    return msg_body_size(items) > MAX_MSG_BODY


def check_msg_body_size(items: list[MsgBodyItem]) -> None:
    if body_too_long(items):
        raise error_for(80002, f"MsgBody is longer than {MAX_MSG_BODY} bytes")
