"""The dev server's web inspector at `/_dev/inspector/`: a live view of what the server did.

Static HTML, CSS and plain JavaScript shipped in this package (no build step), a JSON API over
the dev server's tables and journal, and a Server-Sent Events stream for live updates. Every
`/_dev/` route passes `dev_api.DevAccess` first (loopback only, or the admin's credentials), and
a change (the redeliver button) must be a JSON POST, which no page of another site can send
without a CORS preflight, never granted.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any, Final

from aiohttp import web

from ..dev_api import DevAccess
from ..journal import Journal
from ..state import State
from ..webhooks import Webhooks
from .api import Handler, InspectorApi

__all__ = ["PATH", "Inspector"]

PATH: Final = "/_dev/inspector/"
_STATIC: Final = {
    "inspector.css": "text/css",
    "inspector.js": "text/javascript",
}
# The page loads its own script and style only; images may come from anywhere a message points.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' http: https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


class Inspector:
    """Mounts the page, its assets and its API on the dev server's aiohttp app."""

    def __init__(
        self,
        access: DevAccess,
        state: State,
        journal: Journal,
        webhooks: Webhooks,
        server: Callable[[], dict[str, Any]],
    ) -> None:
        self._access = access
        self._api = InspectorApi(state, journal, webhooks, server)
        self._assets = {name: _asset(name) for name in ("index.html", *_STATIC)}

    def mount(self, app: web.Application) -> None:
        router = app.router
        router.add_get(PATH.rstrip("/"), self._guarded(self._to_page))
        router.add_get(PATH, self._guarded(self._page))
        router.add_get(PATH + "static/{name}", self._guarded(self._static))
        for path, handler in self._api.routes().items():
            router.add_get(PATH + "api/" + path, self._guarded(handler))
        router.add_post(PATH + "api/webhooks/{entry}/redeliver", self._guarded(self._api.redeliver))

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            self._access.check(request)
            if request.method == "POST" and request.content_type != "application/json":
                raise web.HTTPUnsupportedMediaType(
                    text="changes are JSON POSTs (Content-Type: application/json)"
                )
            return await handler(request)

        return guarded

    async def _to_page(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PATH)

    async def _page(self, request: web.Request) -> web.StreamResponse:
        page = self._assets["index.html"]
        return web.Response(body=page, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        body, kind = self._assets[name], _STATIC[name]
        return web.Response(body=body, content_type=kind, charset="utf-8", headers=_PAGE_HEADERS)
