"""MkDocs hook: tables generated from the code at build time, so the docs cannot drift from it.

A page asks for a table with an HTML comment alone on its line:

    <!-- aio_tim:keys MsgLocator -->     the JSON keys of a Struct of `aio_tim.types`
    <!-- aio_tim:error-codes -->         every code of `aio_tim.errors.CODES`, by range
    <!-- aio_tim:rate-limits -->         TIM's documented call frequency limits
    <!-- aio_tim:devserver-routes -->    the REST endpoints the dev server implements
    <!-- aio_tim:capi-keys -->           the key-name constants of `aio_tim.capi`

An unknown marker or Struct name fails the build.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec
from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!-- aio_tim:([a-z-]+)(?: (\w+))? -->$", re.MULTILINE)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return MARKER.sub(_expand, markdown)


def _expand(match: re.Match[str]) -> str:
    name, argument = match[1], match[2]
    generator = GENERATORS.get(name)
    if generator is None:
        raise PluginError(f"unknown docs marker aio_tim:{name}")
    return generator(argument)


# --- Struct keys ----------------------------------------------------------------------------------


def struct_keys(name: str | None) -> str:
    import aio_tim.types
    from aio_tim.capi.constants import KEYS

    struct = getattr(aio_tim.types, name or "", None)
    if not (isinstance(struct, type) and issubclass(struct, msgspec.Struct)):
        raise PluginError(f"aio_tim:keys needs a Struct of aio_tim.types, not {name!r}")
    constants: dict[str, list[str]] = {}
    for constant, key in KEYS.items():
        constants.setdefault(key, []).append(f"`{constant}`")
    rows = ["| JSON key | attribute | type | C SDK constant |", "|---|---|---|---|"]
    for field in msgspec.inspect.type_info(struct).fields:
        required = " (required)" if field.required else ""
        names = " / ".join(constants.get(field.encode_name, [])) or "–"
        rows.append(
            f"| `{field.encode_name}` | `{field.name}` | {_type_name(field.type)}{required} | {names} |"
        )
    return "\n".join(rows)


def _type_name(info: msgspec.inspect.Type) -> str:
    inspect = msgspec.inspect
    if isinstance(info, inspect.UnionType):
        kinds = [t for t in info.types if not isinstance(t, inspect.NoneType)]
        if all(isinstance(t, inspect.StructType) and t.tag_field == "elem_type" for t in kinds):
            return "element (tagged by `elem_type`)"
        return " or ".join(_type_name(t) for t in kinds)
    if isinstance(info, inspect.IntType):
        if info.ge == 0:
            return "uint32" if info.le == 2**32 - 1 else "uint"
        return "int"
    if isinstance(info, inspect.ListType):
        return f"array of {_type_name(info.item_type)}"
    if isinstance(info, inspect.StructType):
        return f"[`{info.cls.__name__}`][{info.cls.__module__.rsplit('.', 1)[0]}.{info.cls.__name__}]"
    simple = {
        inspect.StrType: "string",
        inspect.BoolType: "bool",
        inspect.FloatType: "float",
        inspect.DictType: "object",
        inspect.AnyType: "any",
    }
    return simple.get(type(info), type(info).__name__)


# --- error codes ----------------------------------------------------------------------------------

# (lowest, highest, heading): where each code of CODES comes from.
_CODE_RANGES = (
    (-99, -1, "C SDK synchronous results (`TIMResult`), raised before any I/O"),
    (6000, 9999, "C SDK client codes and aio_tim's transport codes"),
    (10000, 19999, "Group REST calls (`group_open_http_svc/*`)"),
    (20000, 29999, "C2C REST calls (`openim/*`)"),
    (60000, 69999, "REST: common to every call"),
    (70000, 79999, "Accounts and UserSig"),
    (80000, 89999, "Content"),
    (90000, 99999, "C2C REST calls (`openim/*`): parameters"),
)


def error_codes(_: str | None) -> str:
    from aio_tim import errors

    names = {
        value: name
        for name, value in vars(errors).items()
        if name.isupper() and isinstance(value, int) and not isinstance(value, bool)
    }
    placed: set[int] = set()
    sections = []
    for low, high, heading in _CODE_RANGES:
        codes = sorted(c for c in errors.CODES if low <= c <= high)
        placed.update(codes)
        rows = ["| code | name | raised as | retryable | description |", "|---|---|---|---|---|"]
        for code in codes:
            cls, desc = errors.CODES[code]
            name = f"`{names[code]}`" if code in names else ""
            retry = "yes" if cls.retryable else "no"
            link = f"[`{cls.__name__}`][aio_tim.errors.{cls.__name__}]"
            rows.append(f"| {code} | {name} | {link} | {retry} | {desc} |")
        sections.append(f"### {heading}\n\n" + "\n".join(rows))
    missing = set(errors.CODES) - placed
    if missing:
        raise PluginError(f"error codes outside every documented range: {sorted(missing)}")
    return "\n\n".join(sections)


# --- rate limits and routes -----------------------------------------------------------------------


def rate_limits(_: str | None) -> str:
    from aio_tim.protocol.limits import DEFAULT_RATE_LIMIT, RATE_LIMITS

    rows = ["| endpoint | calls per second |", "|---|---|"]
    rows += [f"| `{endpoint}` | {limit:g} |" for endpoint, limit in RATE_LIMITS.items() if limit]
    rows.append(f"| any other endpoint | {DEFAULT_RATE_LIMIT:g} |")
    return "\n".join(rows)


def devserver_routes(_: str | None) -> str:
    from aio_tim.devserver.rest import default_routes
    from aio_tim.protocol.limits import RATE_LIMITS, limit_for

    rows = ["| `POST /v4/...` | request Struct | calls per second (default limits) |", "|---|---|---|"]
    for endpoint, route in sorted(default_routes().items()):
        request = route.decoder.request_type
        limit = limit_for(endpoint, RATE_LIMITS)
        shown = f"{limit:g}" if limit else "unlimited"
        rows.append(f"| `{endpoint}` | `{request.__module__}.{request.__name__}` | {shown} |")
    return "\n".join(rows)


# --- capi constants -------------------------------------------------------------------------------


def capi_keys(_: str | None) -> str:
    from aio_tim.capi import constants

    rows = ["| constant | JSON key |", "|---|---|"]
    rows += [f"| `{name}` | `{key}` |" for name, key in constants.KEYS.items()]
    extra = {
        name: value
        for name, value in vars(constants).items()
        if name.startswith("kTIM") and isinstance(value, str) and name not in constants.KEYS
    }
    rows += [f"| `{name}` | `{key}` |" for name, key in extra.items()]
    return "\n".join(rows)


GENERATORS: dict[str, Callable[[str | None], str]] = {
    "keys": struct_keys,
    "error-codes": error_codes,
    "rate-limits": rate_limits,
    "devserver-routes": devserver_routes,
    "capi-keys": capi_keys,
}
