"""Who may open the inspector and the other `/_dev/` pages.

On a loopback address (the default) anyone on this machine may, and only by a loopback name: a
page elsewhere cannot point its own domain at 127.0.0.1 and read the inspector through the user's
browser (DNS rebinding), since its requests carry that domain in `Host`. Bound elsewhere on purpose
(`aio-tim serve --host 0.0.0.0`), every request needs the admin's credentials: HTTP Basic with the
admin's UserID and a UserSig for it (what a REST call needs, in a header instead of the URL).

Requests that change something (POST, DELETE) must come from the inspector's own script: a custom
header no cross-site form can send without a CORS preflight, which is never answered.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Final

from aiohttp import web

from ...errors import TIMError
from ..authn import AdminGuard

__all__ = ["ACTION_HEADER", "DevAccess", "is_loopback"]

ACTION_HEADER: Final = "X-Aio-Tim-Inspector"
_REALM: Final = 'Basic realm="aio_tim dev server", charset="UTF-8"'
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or name, IPv6 with or without brackets) names this machine only."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The host of a Host header without its port ("[::1]:8765" -> "::1")."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class DevAccess:
    """Checks a request to `/_dev/...`; `check()` raises the HTTP error that refuses it."""

    def __init__(self, *, bound_host: str, sdk_app_id: int, admin: str, guard: AdminGuard) -> None:
        self.loopback_only = is_loopback(bound_host)
        self._sdk_app_id = sdk_app_id
        self._admin = admin
        self._guard = guard

    def __repr__(self) -> str:
        return f"<DevAccess loopback_only={self.loopback_only}>"

    def check(self, request: web.Request) -> None:
        if self.loopback_only:
            self._check_local(request)
        else:
            self._check_credentials(request)
        if request.method not in ("GET", "HEAD"):
            self._check_action(request)

    def _check_local(self, request: web.Request) -> None:
        if not is_loopback(request.remote or ""):
            raise web.HTTPForbidden(text="the inspector answers on loopback only")
        if not is_loopback(_host_name(request.headers.get("Host", ""))):
            raise web.HTTPForbidden(text="open the inspector at 127.0.0.1 or localhost")

    def _check_credentials(self, request: web.Request) -> None:
        user, usersig = _basic_credentials(request.headers.get("Authorization", ""))
        query = {"sdkappid": str(self._sdk_app_id), "identifier": user, "usersig": usersig}
        try:
            self._guard.check(query, request.remote)
        except TIMError:
            raise web.HTTPUnauthorized(
                text="the admin's UserID and a UserSig for it (HTTP Basic) are needed here",
                headers={"WWW-Authenticate": _REALM},
            ) from None

    def _check_action(self, request: web.Request) -> None:
        if request.headers.get(ACTION_HEADER) != "1":
            raise web.HTTPForbidden(text=f"changes need the {ACTION_HEADER} header")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise web.HTTPForbidden(text="changes from another origin are refused")


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, _, password = decoded.partition(":")
    return user, password
