"""The REST v4 front: route, authenticate, read, decode, run the handler, answer an envelope.

Every answer to `/v4/...` is HTTP 200 with a TIM envelope, whatever went wrong: malformed
input gets TIM's error code, and an unexpected exception becomes 70500 with a generic
ErrorInfo (the traceback goes to the log, never to the client).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from aiohttp import web

from ..errors import TIMError, error_for
from ..protocol import Envelope, Request
from . import (
    accounts,
    appdata,
    blacklist,
    c2c,
    c2c_history,
    edits,
    extensions,
    friends,
    group_admin,
    group_members,
    group_ops,
    groups,
    profiles,
    push,
    receipts,
    recent,
)
from .admission import Admission, ClientGone
from .authn import AdminGuard
from .context import Context, Handler
from .faults import FaultSwitches
from .journal import Journal
from .limits import RateLimiter
from .refusals import refuse_send
from .tracing import ERROR_CODE
from .validation import RequestDecoder

__all__ = ["MAX_BODY", "RestEndpoint", "Route", "build_routes", "default_routes", "to_wire"]

MAX_BODY: Final = 1024 * 1024  # bytes; larger bodies get 93000 "JSON too long"
ERR_BAD_URL: Final = 60002
ERR_TOO_LONG: Final = 93000
ERR_INTERNAL: Final = 70500

_log = logging.getLogger("aio_tim.devserver")
_encoder: Final = msgspec.json.Encoder()


@dataclass(frozen=True)
class Route:
    decoder: RequestDecoder
    handler: Handler


def build_routes(tables: Iterable[Mapping[type[Request], Handler]]) -> dict[str, Route]:
    """ "service/command" -> Route, from handler tables keyed by request Struct class."""
    return {
        request_type.endpoint: Route(RequestDecoder(request_type), handler)
        for table in tables
        for request_type, handler in table.items()
    }


def default_routes() -> dict[str, Route]:
    return build_routes(
        [
            accounts.HANDLERS,
            c2c.HANDLERS,
            c2c_history.HANDLERS,
            groups.HANDLERS,
            group_admin.HANDLERS,
            group_members.HANDLERS,
            group_ops.HANDLERS,
            edits.HANDLERS,
            receipts.HANDLERS,
            extensions.HANDLERS,
            push.HANDLERS,
            recent.HANDLERS,
            friends.HANDLERS,
            blacklist.HANDLERS,
            profiles.HANDLERS,
            appdata.HANDLERS,
        ]
    )


class RestEndpoint:
    """The aiohttp handler for `/v4/{service}/{command}`."""

    def __init__(
        self,
        ctx: Context,
        guard: AdminGuard,
        routes: Mapping[str, Route],
        limiter: RateLimiter | None = None,
        admission: Admission | None = None,
        faults: FaultSwitches | None = None,
        journal: Journal | None = None,
    ) -> None:
        self._faults = faults
        self._journal = journal
        self._admission = admission if admission is not None else Admission()
        self._ctx = ctx
        self._guard = guard
        self._routes = routes
        self._limiter = limiter

    async def handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        decoded: list[Any] = []  # where _answer leaves the decoded request, for the journal
        try:
            reply = await self._answer(request, decoded)
        except TIMError as exc:
            reply = failure(exc.code, exc.desc)
        except ClientGone:
            # A disconnect is the client's business: one DEBUG line, not an ERROR traceback.
            _log.debug("client went away before %s was answered", request.path)
            return web.Response(status=499)
        except Exception:
            # The path is ours to log; the query string holds the UserSig and is never logged.
            _log.exception("internal error answering %s", request.path)
            reply = failure(ERR_INTERNAL, "internal server error")
        request[ERROR_CODE] = reply.ErrorCode  # for the dev server's span (devserver.tracing)
        if self._journal is not None:
            # The caller is its identifier: the query string (and its UserSig) is never recorded.
            caller = request.query.get("identifier", "")[:64]
            elapsed = time.perf_counter() - started
            call = decoded[0] if decoded else None
            self._journal.rest_call(_endpoint(request), caller, reply.ErrorCode, elapsed, call)
        return web.Response(body=encode(reply), content_type="application/json")

    async def unknown_path(self, request: web.Request) -> web.Response:
        """Anything under /v4/ not shaped /v4/{service}/{command}: TIM's envelope, never a bare 404."""
        reply = failure(ERR_BAD_URL, "REST paths are /v4/{service}/{command}")
        return web.Response(body=encode(reply), content_type="application/json")

    async def _answer(self, request: web.Request, decoded: list[Any]) -> Envelope:
        if request.method != "POST":
            raise error_for(ERR_BAD_URL, "REST calls must be POST")
        self._guard.check(request.query, request.remote)
        route = self._route(request)
        if self._faults is not None:
            await self._faults.before_call(_endpoint(request))  # a switched-on fault answers instead
        if self._limiter is not None:
            self._limiter.check(_endpoint(request))  # TIM counts authenticated calls
        _check_content_type(request, route.decoder.family.syntax)
        body = await _read_body(request, route.decoder.family.syntax)
        call = route.decoder.decode(body)
        decoded.append(call)
        await refuse_send(self._ctx, call)  # a globally muted sender: refused before any webhook
        hooks = self._ctx.webhooks
        if hooks is not None:
            # A before-send callback may refuse, drop or rewrite the message before anything is
            # stored; it is awaited before admission, so a slow app holds no place in the backlog.
            group_type = self._ctx.state.group_type
            decided = await hooks.before(call, self._ctx.admin, self._ctx.now(), group_type)
            if isinstance(decided, Envelope):
                return decided
            call = decided
        collecting: contextlib.AbstractContextManager[list[Any]] = (
            hooks.collect() if hooks is not None else contextlib.nullcontext([])
        )
        try:
            with collecting as fired:
                async with self._admission.admit(), self._ctx.state.transaction():
                    self._admission.check_present(request)  # it may have waited long for its turn
                    reply = await route.handler(self._ctx, call)
        except TIMError as exc:
            if hooks is not None:
                error = (exc.code, exc.desc)
                await hooks.send_failed(
                    call, error, self._ctx.admin, self._ctx.now(), self._ctx.state.group_type
                )
            raise
        if hooks is not None:
            hooks.release(fired, call)  # after-callbacks leave only once the transaction has committed
        return reply

    def _route(self, request: web.Request) -> Route:
        route = self._routes.get(_endpoint(request))
        if route is None:
            raise error_for(ERR_BAD_URL, "unknown REST command")
        return route


def _endpoint(request: web.Request) -> str:
    return f"{request.match_info['service']}/{request.match_info['command']}"


async def _read_body(request: web.Request, unreadable: int) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise error_for(ERR_TOO_LONG, f"request body exceeds {MAX_BODY} bytes") from None
    except web.RequestPayloadError:
        # e.g. `Content-Encoding: gzip` over bytes that are not gzip: as unparseable as bad JSON.
        raise error_for(unreadable, "request body cannot be decoded") from None
    except ConnectionError:  # the client disconnected mid-body
        raise ClientGone from None


# TIM's body is JSON (the URL says `contenttype=json`) whatever the header says: its own examples
# post it with curl -d (form-urlencoded), and HTTP libraries label raw bytes octet-stream or
# text/plain. A body declared as another structured format (multipart parts, XML, media) is
# refused with the code an unparseable body gets, before it is read.
_NOT_JSON_TYPES: Final = ("multipart/", "image/", "audio/", "video/")


def _check_content_type(request: web.Request, unreadable: int) -> None:
    if request.query.get("contenttype", "json").lower() != "json":
        raise error_for(ERR_BAD_URL, "contenttype must be json")
    media = request.content_type
    if media.startswith(_NOT_JSON_TYPES) or media.endswith("xml"):
        raise error_for(unreadable, f"the body must be JSON, not {media}")


def failure(code: int, info: str) -> Envelope:
    return Envelope(ActionStatus="FAIL", ErrorCode=code, ErrorInfo=info)


def encode(reply: Envelope) -> bytes:
    return _encoder.encode(to_wire(reply))


@functools.cache
def _wire_fields(struct_type: type[msgspec.Struct]) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, f.encode_name) for f in msgspec.structs.fields(struct_type))


def to_wire(value: Any) -> Any:
    """Builtins for a reply, keeping default values that `omit_defaults` would drop.

    TIM always sends ActionStatus, ErrorCode, ErrorInfo, Complete, IsPlaceMsg ... even when
    they hold their default; third-party clients read them. Only None (absent) is left out.
    """
    if isinstance(value, msgspec.Struct):
        pairs = ((wire, getattr(value, name)) for name, wire in _wire_fields(type(value)))
        return {wire: to_wire(v) for wire, v in pairs if v is not None}
    if isinstance(value, list):
        return [to_wire(item) for item in value]
    return value
