"""The dev server's OpenAPI 3.1 description, served at `GET /openapi.json`.

Built from the same request Structs the router decodes with (`rest.Route`), so the document
cannot drift from what the server accepts: each `/v4/{service}/{command}` is one POST
operation whose body and reply schemas come from `msgspec.json.schema_components`.

TIM answers every REST call with HTTP 200 and an envelope (failures included), so each
operation has the one response; links from `openim/sendmsg` carry its `MsgKey` on to recall
and roaming, which lets schemathesis chain calls statefully.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final

import msgspec
from aiohttp import web

from ..protocol.msgbody import content_type_for
from .rest import Route

__all__ = ["AUTH_PARAMETERS", "openapi_document", "openapi_handler", "operation_id"]

OPENAPI_VERSION: Final = "3.1.0"
_REF: Final = "#/components/schemas/{name}"
_JSON: Final = "application/json"

# The query every REST call carries (TIM's REST API overview page); all are required.
AUTH_PARAMETERS: Final[dict[str, dict[str, Any]]] = {
    "sdkappid": {"type": "integer", "minimum": 1, "description": "SDKAppID of the app"},
    "identifier": {"type": "string", "minLength": 1, "description": "an App admin account"},
    "usersig": {"type": "string", "minLength": 1, "description": "the admin's UserSig (Part 3)"},
    "random": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1, "description": "per-request uint32"},
    "contenttype": {"type": "string", "enum": ["json"]},
}

# REST MsgTypes whose content has a Struct; MsgBodyItem's schema lists them one by one.
_MSG_TYPES: Final = (
    "TIMTextElem",
    "TIMFaceElem",
    "TIMLocationElem",
    "TIMCustomElem",
    "TIMSoundElem",
    "TIMImageElem",
    "TIMFileElem",
    "TIMVideoFileElem",
)
_ENVELOPE_KEYS: Final = ["ActionStatus", "ErrorCode", "ErrorInfo"]
_DESCRIPTION: Final = (
    "TIM REST v4 as aio_tim's dev server implements it. Every call is a POST signed in the query "
    "string and answered with HTTP 200 and a TIM envelope, failures included."
)

# Link name -> (target endpoint, requestBody template); `$...` strings are runtime expressions.
# From_Account is optional in sendmsg (the admin sends): then the link has no value for it.
_SENDMSG_LINKS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "Withdraw": (
        "openim/admin_msgwithdraw",
        {
            "From_Account": "$request.body#/From_Account",
            "To_Account": "$request.body#/To_Account",
            "MsgKey": "$response.body#/MsgKey",
        },
    ),
    "RoamAfter": (
        "openim/admin_getroammsg",
        {
            "Operator_Account": "$request.body#/To_Account",
            "Peer_Account": "$request.body#/From_Account",
            "LastMsgKey": "$response.body#/MsgKey",
        },
    ),
}


def operation_id(endpoint: str) -> str:
    """The operationId of an endpoint: "openim/sendmsg" -> "openim.sendmsg" (readable in test ids)."""
    return endpoint.replace("/", ".")


def openapi_document(routes: Mapping[str, Route], *, title: str = "aio_tim dev server") -> dict[str, Any]:
    """The OpenAPI document of `routes` (as built by `rest.default_routes`), plus /healthz."""
    endpoints = sorted(routes)
    schemas = _component_schemas(routes[e] for e in endpoints)
    paths = {f"/v4/{e}": {"post": _operation(e, routes[e])} for e in endpoints}
    paths["/healthz"] = {"get": _healthz_operation()}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": "4", "description": _DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {name: _query_parameter(name, schema) for name, schema in AUTH_PARAMETERS.items()},
        },
    }


def _component_schemas(routes: Iterable[Route]) -> dict[str, Any]:
    types: list[Any] = []
    for route in routes:
        types += [route.decoder.request_type, route.decoder.request_type.Response]
    _, components = msgspec.json.schema_components(types, ref_template=_REF)
    if "MsgBodyItem" in components:
        components.update(_msg_body_schemas())
    return components


def _msg_body_schemas() -> dict[str, Any]:
    """MsgBodyItem as one alternative per MsgType, its MsgContent typed by the content Struct.

    The Struct alone says `MsgContent: object`; spelling out the kinds lets generated requests
    carry bodies the server accepts, and documents what each kind holds.
    """
    kinds = {t: c for t in _MSG_TYPES if (c := content_type_for(t)) is not None}
    _, contents = msgspec.json.schema_components(list(kinds.values()), ref_template=_REF)
    alternatives = [
        {
            "type": "object",
            "properties": {
                "MsgType": {"const": msg_type},
                "MsgContent": {"$ref": _REF.format(name=content.__name__)},
            },
            "required": ["MsgType", "MsgContent"],
        }
        for msg_type, content in kinds.items()
    ]
    return {**contents, "MsgBodyItem": {"title": "MsgBodyItem", "oneOf": alternatives}}


def _query_parameter(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    description = schema.get("description", "")
    bare = {k: v for k, v in schema.items() if k != "description"}
    return {"name": name, "in": "query", "required": True, "schema": bare, "description": description}


def _operation(endpoint: str, route: Route) -> dict[str, Any]:
    request_type = route.decoder.request_type
    service, _, command = endpoint.partition("/")
    response: dict[str, Any] = {
        "description": "A TIM envelope: ActionStatus OK with ErrorCode 0, or FAIL with TIM's code",
        "content": {_JSON: {"schema": _envelope_schema(request_type.Response.__name__)}},
    }
    links = _links(endpoint)
    if links:
        response["links"] = links
    return {
        "operationId": operation_id(endpoint),
        "tags": [service],
        "summary": f"{service}/{command}",
        "description": _aliases_text(route.decoder.aliases),
        "parameters": [{"$ref": f"#/components/parameters/{name}"} for name in AUTH_PARAMETERS],
        "requestBody": {
            "required": True,
            "content": {_JSON: {"schema": {"$ref": _REF.format(name=request_type.__name__)}}},
        },
        "responses": {"200": response},
    }


def _aliases_text(aliases: Mapping[str, str]) -> str:
    """The older spellings the endpoint also accepts (the schema shows the current ones)."""
    if not aliases:
        return "TIM's request shape; the schema names every accepted field."
    pairs = ", ".join(f"`{old}` for `{new}`" for old, new in aliases.items())
    return f"Also accepts TIM's older spellings: {pairs}."


def _envelope_schema(name: str) -> dict[str, Any]:
    # The reply Structs default every field; the envelope's three keys are always sent.
    return {"allOf": [{"$ref": _REF.format(name=name)}, {"type": "object", "required": _ENVELOPE_KEYS}]}


def _links(endpoint: str) -> dict[str, Any]:
    if endpoint != "openim/sendmsg":
        return {}
    return {
        name: {"operationId": operation_id(target), "requestBody": body}
        for name, (target, body) in _SENDMSG_LINKS.items()
    }


def _healthz_operation() -> dict[str, Any]:
    return {
        "operationId": "healthz",
        "summary": "liveness probe for process supervisors",
        "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"const": "ok"}}}}},
    }


def openapi_handler(routes: Mapping[str, Route]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp GET handler serving the document, encoded once on first use."""

    @functools.cache
    def body() -> bytes:
        return msgspec.json.encode(openapi_document(routes))

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body(), content_type=_JSON)

    return handler
