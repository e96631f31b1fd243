"""The inspector's JSON API and its live stream (Server-Sent Events).

Every answer is built from the dev server's tables and its journal: neither holds a UserSig or
the secret key, and no answer copies a request's query string.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec
from aiohttp import web

from ..journal import Journal
from ..state import State
from ..webhooks import Webhooks

__all__ = ["InspectorApi"]

HEARTBEAT: Final = 15.0  # seconds between SSE comments that keep an idle stream open
COALESCE: Final = 0.1  # seconds the stream gathers entries into one event (1,000 a second: 10 events)
MAX_SEARCH: Final = 200  # characters of a search text
RECENT: Final = 200  # journal entries the first page shows per kind
_SUMMARY_DROPS: Final = frozenset({"body", "answer"})  # a webhook's bulk, fetched when opened
_encoder: Final = msgspec.json.Encoder()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=_encoder.encode(value),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _bad(reason: str, status: int = 400) -> web.Response:
    return _json({"error": reason}, status)


def _summary(entry: dict[str, Any]) -> dict[str, Any]:
    if entry["kind"] != "webhook":
        return entry
    return {k: v for k, v in entry.items() if k not in _SUMMARY_DROPS}


def _conversation(text: str) -> list[str] | None:
    """["c2c", a, b] or ["group", id] from the `conv` parameter (JSON), or None when malformed."""
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return None
    shapes = {("c2c", 3), ("group", 2)}
    return value if value and (value[0], len(value)) in shapes else None


class InspectorApi:
    """The handlers under `/_dev/inspector/api/`."""

    def __init__(
        self, state: State, journal: Journal, webhooks: Webhooks, server: Callable[[], dict[str, Any]]
    ) -> None:
        self._state = state
        self._journal = journal
        self._webhooks = webhooks
        self._server = server

    def routes(self) -> dict[str, Handler]:
        """GET path (under api/) -> handler; POSTs are added by `mount`."""
        return {
            "overview": self.overview,
            "lists": self.lists,
            "messages": self.messages,
            "members": self.members,
            "search": self.search,
            "journal": self.recent,
            "webhooks/{entry}": self.webhook,
            "events": self.events,
        }

    async def overview(self, request: web.Request) -> web.Response:
        """Everything the first screen shows, in one answer."""
        journal = {
            "server": self._server(),
            "rest": self._journal.recent("rest", RECENT),
            "webhooks": [_summary(e) for e in self._journal.recent("webhook", RECENT)],
            "last_entry": self._journal.last_id,
            "counts": self._journal.counts,
        }
        lists = await self._lists()
        newest = lists["conversations"][:1]
        first = None
        if newest:  # the page opens the newest conversation at once: its first page comes along
            conversation = newest[0]["conversation"]
            first = await self._page(conversation, 0)
        return _json(journal | lists | {"first": first})

    async def lists(self, request: web.Request) -> web.Response:
        """The totals and lists alone: what the page reloads as messages arrive."""
        return _json(await self._lists())

    async def _lists(self) -> dict[str, Any]:
        state = self._state
        return {
            "totals": await state.inspect_totals(),
            "accounts": await state.inspect_accounts(),
            "groups": await state.inspect_groups(),
            "conversations": await state.inspect_conversations(),
        }

    async def messages(self, request: web.Request) -> web.Response:
        conversation = _conversation(request.query.get("conv", ""))
        offset = request.query.get("offset", "0")
        if conversation is None:
            return _bad('conv must be ["c2c", "<UserID>", "<UserID>"] or ["group", "<GroupId>"] as JSON')
        if not (offset.isascii() and offset.isdigit() and len(offset) < 10):
            return _bad("offset must be a whole number")
        return _json(await self._page(conversation, int(offset)))

    async def _page(self, conversation: list[str], offset: int) -> dict[str, Any]:
        page = await self._state.inspect_messages(conversation, offset)
        marks = await self._state.inspect_read_marks(conversation)
        return {"conversation": conversation, "offset": offset, "messages": page, "read": marks}

    async def members(self, request: web.Request) -> web.Response:
        group = request.query.get("group", "")
        if not group:
            return _bad("group is required")
        return _json({"group": group, "members": await self._state.inspect_members(group)})

    async def search(self, request: web.Request) -> web.Response:
        field, text = request.query.get("field", "text"), request.query.get("q", "")
        if field not in ("text", "user", "group"):
            return _bad("field must be text, user or group")
        if not text or len(text) > MAX_SEARCH:
            return _bad(f"q must be 1 to {MAX_SEARCH} characters")
        return _json({"field": field, "q": text, "messages": await self._state.inspect_search(field, text)})

    async def recent(self, request: web.Request) -> web.Response:
        kind = request.query.get("kind", "rest")
        if kind not in ("rest", "webhook", "message"):
            return _bad("kind must be rest, webhook or message")
        return _json({"kind": kind, "entries": [_summary(e) for e in self._journal.recent(kind, RECENT)]})

    async def webhook(self, request: web.Request) -> web.Response:
        """One delivery in full: the body sent and the app's answer."""
        entry = self._webhook_entry(request)
        if entry is None:
            return _bad("no such webhook delivery (the journal keeps the latest 500)", 404)
        return _json(entry)

    async def redeliver(self, request: web.Request) -> web.Response:
        """POST webhooks/{entry}/redeliver: send that delivery's body again, signed afresh."""
        entry = self._webhook_entry(request)
        if entry is None:
            return _bad("no such webhook delivery (the journal keeps the latest 500)", 404)
        found = self._journal.get(int(entry["id"]))
        assert found is not None
        answer = await self._webhooks.redeliver(found.extra, found.id)
        return _json({"redelivered": found.id, "answered": answer is not None})

    def _webhook_entry(self, request: web.Request) -> dict[str, Any] | None:
        text = request.match_info["entry"]
        if not (text.isascii() and text.isdigit() and len(text) < 19):
            return None
        entry = self._journal.get(int(text))
        return entry.public if entry is not None and entry.public["kind"] == "webhook" else None

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The live stream: one SSE event per batch of journal entries ("reset" after an overflow)."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        with self._journal.subscribe() as subscriber, contextlib.suppress(ConnectionError):
            await response.write(b": connected\n\n")
            while True:
                try:
                    batch = await asyncio.wait_for(subscriber.batch(), HEARTBEAT)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                await asyncio.sleep(COALESCE)  # let the entries of a burst join this event
                batch += await subscriber.batch() if subscriber.pending else []
                if subscriber.overflowed:
                    subscriber.overflowed = False
                    await response.write(b"event: reset\ndata: {}\n\n")
                    continue
                data = _encoder.encode([_summary(e) for e in batch])
                await response.write(b"data: " + data + b"\n\n")
        return response
