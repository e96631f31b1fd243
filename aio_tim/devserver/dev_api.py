"""The dev server's own HTTP API under `/_dev/`: fault switches and the rate-limit switch.

    GET    /_dev/faults          {"faults": [{"id", "endpoint", "error_code", "count", "share",
                                              "latency_ms", "webhook", "remaining"}, ...]}
    POST   /_dev/faults          {"endpoint", "error_code", "count", "share", "latency_ms", "webhook"}
                                 -> {"id": "f1"}   (a bad body: 400 {"error": "<field> must ..."})
    DELETE /_dev/faults/{id}     -> {"removed": "f1"}   (404 when there is no such fault)
    DELETE /_dev/faults          -> {"removed": 3}      (every fault)
    GET    /_dev/limits          -> {"enabled": true}
    POST   /_dev/limits          {"enabled": false} -> {"enabled": false}

Who may call it (`DevAccess`, which guards the web inspector too): on a server bound to loopback,
loopback clients naming a loopback Host (a web page elsewhere cannot reach it by DNS rebinding); on
a server bound elsewhere on purpose, only callers signed as the admin, with `sdkappid`, `identifier`
and `usersig` in the query as REST calls are, or (a browser) HTTP Basic with the admin's UserID and
a UserSig for it as the password. A POST must say `Content-Type: application/json`, so a page on another
site cannot send one without a CORS preflight, which this API never grants.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web

from ..errors import TIMError
from .authn import AdminGuard
from .faults import FaultSwitches

__all__ = ["PREFIX", "DevAccess", "Handler", "mount"]

PREFIX: Final = "/_dev"
MAX_BODY: Final = 16 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CHALLENGE: Final = 'Basic realm="aio_tim dev server", charset="UTF-8"'
_FAULT_FIELDS: Final = ("endpoint", "error_code", "count", "share", "latency_ms", "webhook")


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DevAccess:
    """Who may use the `/_dev/` API (and the inspector): see the module's docstring."""

    def __init__(self, guard: AdminGuard, bound_host: str, sdk_app_id: int) -> None:
        self._guard = guard
        self._sdk_app_id = str(sdk_app_id)
        self.loopback_only = _is_loopback(bound_host)

    def guarded(self, handler: Handler) -> Handler:
        """`handler`, answering only the requests `check` lets through."""

        async def checked(request: web.Request) -> web.StreamResponse:
            self.check(request)
            return await handler(request)

        return checked

    def check(self, request: web.Request) -> None:
        """Raise an HTTP error (403, or 401 with TIM's code) unless `request` may use the API."""
        if self.loopback_only:
            if not _is_loopback(request.remote or "") or not _is_loopback(request.url.host or ""):
                raise _http_error(web.HTTPForbidden, "the dev API answers loopback clients only")
            return
        try:
            self._guard.check(self._credentials(request), request.remote)
        except TIMError as exc:
            message = f"sign as the admin (sdkappid, identifier, usersig): {exc.desc}"
            raise _http_error(web.HTTPUnauthorized, message, exc.code) from None

    def _credentials(self, request: web.Request) -> Mapping[str, str]:
        """The query's signature, or else HTTP Basic's (what a browser can send without putting the
        UserSig in the page's URLs)."""
        basic = _basic(request.headers.get("Authorization", ""))
        if "usersig" in request.query or basic is None:
            return request.query
        identifier, usersig = basic
        return {"sdkappid": self._sdk_app_id, "identifier": identifier, "usersig": usersig}


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def _http_error(kind: type[web.HTTPError], message: str, code: int | None = None) -> web.HTTPError:
    body: dict[str, Any] = {"error": message}
    if code is not None:
        body["ErrorCode"] = code
    # A 401 invites a browser to ask for the admin's UserID and UserSig (HTTP Basic).
    challenge = {"WWW-Authenticate": _CHALLENGE} if kind is web.HTTPUnauthorized else None
    return kind(text=json.dumps(body), content_type="application/json", headers=challenge)


class _DevApi:
    def __init__(self, faults: FaultSwitches, access: DevAccess) -> None:
        self._faults = faults
        self._access = access

    async def list_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"faults": [fault.to_json() for fault in self._faults.list()]})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        unknown = sorted(set(body) - set(_FAULT_FIELDS))
        if unknown:
            known = ", ".join(_FAULT_FIELDS)
            raise _http_error(web.HTTPBadRequest, f"{unknown[0]}: unknown field (known: {known})")
        fields = {name: body[name] for name in _FAULT_FIELDS if body.get(name) is not None}
        try:
            fault_id = self._faults.add(**fields)
        except (TypeError, ValueError) as exc:
            raise _http_error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response({"id": fault_id})

    async def remove_fault(self, request: web.Request) -> web.Response:
        fault_id = request.match_info["fault_id"]
        if not self._faults.remove(fault_id):
            raise _http_error(web.HTTPNotFound, f"no fault {fault_id!r} (used up, or never added)")
        return web.json_response({"removed": fault_id})

    async def clear_faults(self, request: web.Request) -> web.Response:
        count = len(self._faults.list())
        self._faults.clear()
        return web.json_response({"removed": count})

    async def get_limits(self, request: web.Request) -> web.Response:
        return web.json_response({"enabled": self._faults.limits_enabled})

    async def set_limits(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        enabled = body.get("enabled")
        if not isinstance(enabled, bool) or set(body) != {"enabled"}:
            raise _http_error(web.HTTPBadRequest, 'enabled must be true or false: {"enabled": false}')
        self._faults.limits_enabled = enabled
        return web.json_response({"enabled": enabled})


async def _json_object(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        message = "the body must be JSON (Content-Type: application/json)"
        raise _http_error(web.HTTPUnsupportedMediaType, message)
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise _http_error(web.HTTPRequestEntityTooLarge, f"the body exceeds {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _http_error(web.HTTPBadRequest, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _http_error(web.HTTPBadRequest, "the body must be a JSON object")
    return body


def mount(app: web.Application, faults: FaultSwitches, access: DevAccess) -> None:
    """Add the `/_dev/` routes, behind `access`, to the dev server's app."""
    api, only = _DevApi(faults, access), access.guarded
    app.router.add_get(f"{PREFIX}/faults", only(api.list_faults))
    app.router.add_post(f"{PREFIX}/faults", only(api.add_fault))
    app.router.add_delete(f"{PREFIX}/faults", only(api.clear_faults))
    app.router.add_delete(f"{PREFIX}/faults/{{fault_id}}", only(api.remove_fault))
    app.router.add_get(f"{PREFIX}/limits", only(api.get_limits))
    app.router.add_post(f"{PREFIX}/limits", only(api.set_limits))
