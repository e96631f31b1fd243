"""The base Struct and the one coercion every public operation applies to its parameters.

A parameter may arrive as a Struct, a `dict` in the C SDK's keys, or JSON `str`/`bytes` (code ported
from C passes the JSON string it already has). All three end up as the same Struct, or as a
`UsageError` with the C SDK's `TIM_ERR_JSON` code that names the offending key.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Final, TypeVar

import msgspec

from ..errors import TIM_ERR_JSON, UsageError

__all__ = ["TIMStruct", "UInt", "UInt32", "UInt64", "coerce", "decoder_for", "encode", "prefixed"]

UInt = Annotated[int, msgspec.Meta(ge=0)]
UInt32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
UInt64 = UInt  # msgspec cannot bound above int64; JSON ints past uint64 fail anyway

T = TypeVar("T")


def prefixed(prefix: str) -> Callable[[str], str]:
    """The rename rule of one C SDK object: JSON key = prefix + Python attribute."""
    return lambda name: prefix + name


class TIMStruct(msgspec.Struct, omit_defaults=True, repr_omit_defaults=True):
    """Base of every C SDK object: absent keys stay absent, so JSON round-trips exactly."""


_ENCODER: Final = msgspec.json.Encoder()


# The encoder's own bound method, not a wrapper function: one Python frame less per call (a store
# import encodes every row; 1.70 -> 1.55 µs a row to build).
encode: Final[Callable[[Any], bytes]] = _ENCODER.encode
"""Encode a Struct (or list of Structs) to the C SDK's JSON: `encode(msg) -> bytes`."""


@cache
def decoder_for(type_: Any) -> msgspec.json.Decoder[Any]:
    """One reused decoder per target type (msgspec's perf advice)."""
    return msgspec.json.Decoder(type_)


def coerce(value: Any, type_: type[T], *, what: str) -> T:
    """Turn a Struct, dict or JSON text into `type_`, or raise UsageError(TIM_ERR_JSON)."""
    if isinstance(type_, type) and isinstance(value, type_):
        return value
    try:
        if isinstance(value, str | bytes | bytearray | memoryview):
            return decoder_for(type_).decode(value)  # type: ignore[no-any-return,arg-type]
        result = msgspec.convert(value, type_)
        _ENCODER.encode(result)  # Python objects may hold lone surrogates, which JSON cannot carry
        return result
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UsageError(TIM_ERR_JSON, f"invalid {what}: {exc}") from None
    except UnicodeError:
        # msgspec raises these, not DecodeError, for bytes that are not UTF-8 and for a str
        # holding lone surrogates; the text would quote the bad character, so name it only.
        raise UsageError(TIM_ERR_JSON, f"invalid {what}: not valid UTF-8 text") from None
    except RecursionError:
        raise UsageError(TIM_ERR_JSON, f"invalid {what}: nested too deeply") from None


def coerce_list(value: Any, item_type: type[T], *, what: str) -> list[T]:
    """Like `coerce`, for the C SDK's JSON arrays (a list of Structs/dicts, or JSON text)."""
    if isinstance(value, list) and all(isinstance(v, item_type) for v in value):
        return value
    return coerce(value, list[item_type], what=what)  # type: ignore[valid-type]
