"""The receiver: an aiohttp handler that turns TIM's webhook requests into committed inbox entries.

Stages: check the query (`verify`), read a bounded body, decode it (typed, or raw for commands aio_tim
does not know), commit it to the inbox, let a before-send handler decide, answer. It answers OK only
after the commit, so an acknowledged webhook is never lost; refusals are TIM-shaped
(`{"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": ...}`) with a 4xx status, and nothing a
request carries can make it answer 500.

Mount it where you like:

    app.router.add_post("/tim/callback", tim.webhook_handler)
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Final

import msgspec
from aiohttp import web

from ..protocol import callbacks as cb
from ..seams.inbox import Inbox, NewEntry
from .decide import BeforeSendHandler, answer_for, decide
from .model import Body, Event, RawCallback, decode_body, entry_for, message_of
from .verify import Refusal, check_query

__all__ = ["MAX_BODY", "Receiver"]

MAX_BODY: Final = 1024 * 1024  # bytes: TIM's messages are capped far below this
_QUERY_KEYS: Final = ("SdkAppid", "CallbackCommand", "contenttype", "ClientIP", "OptPlatform", "RequestTime")
_ENCODER: Final = msgspec.json.Encoder()
_OK: Final = cb.CallbackAnswer("OK", 0, "")
_OK_BYTES: Final = _ENCODER.encode(_OK)

log = logging.getLogger("aio_tim.events")


class Receiver:
    """Verifies, decodes and commits webhooks for one app, as one user sees them.

    `token` enables TIM's webhook authentication; `before_send` decides before-send callbacks
    (within `decision_timeout` seconds); `clock` is injectable for the RequestTime window.
    """

    def __init__(
        self,
        *,
        sdk_app_id: int,
        user_id: str,
        inbox: Inbox,
        token: str | None = None,
        max_body: int = MAX_BODY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sdk_app_id = sdk_app_id
        self._user_id = user_id
        self._inbox = inbox
        self._token = token
        self._max_body = max_body
        self._clock = clock
        self.before_send: BeforeSendHandler | None = None
        self.decision_timeout = 1.5
        self.counts: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler (POST)."""
        try:
            answer = await self._receive(request)
        except Refusal as refusal:
            self.counts[f"refused_{refusal.status}"] += 1
            log.info("refused a webhook request: %s", refusal.reason)
            return _reply(cb.CallbackAnswer("FAIL", 1, refusal.reason), refusal.status)
        except Exception:  # the store failed: TIM hears a failure, the next delivery may succeed
            self.counts["failed"] += 1
            log.exception("could not commit a webhook")
            return _reply(cb.CallbackAnswer("FAIL", 1, "the app could not store the event"), 503)
        self.counts["accepted"] += 1
        return _reply(answer, 200)

    async def _receive(self, request: web.Request) -> cb.CallbackAnswer:
        """Check, parse, commit; then, for a before-send callback, let the handler decide."""
        if request.method != "POST":
            raise Refusal(405, "webhooks are POST requests")
        command = check_query(request.query, self._sdk_app_id, self._token, self._clock)
        body, entry = await self._parse(request, command)
        [appended] = await self._inbox.append([entry])
        if command in cb.BEFORE_COMMANDS and self.before_send is not None:
            return await self._decide(body, entry, appended.position)
        return _OK

    async def _parse(self, request: web.Request, command: str) -> tuple[Body, NewEntry]:
        raw = await self._read(request)
        body = _decode(raw, command)
        query = {k: request.query[k] for k in _QUERY_KEYS if k in request.query}
        try:
            return body, entry_for(raw, body, query, self._user_id, self._clock())
        except ValueError as exc:
            raise Refusal(400, str(exc)) from None

    async def _decide(self, body: Body, entry: NewEntry, position: str) -> cb.CallbackAnswer:
        assert self.before_send is not None
        message = message_of(body, self._user_id)
        event = Event(entry.command, entry.key, position, body, message, entry.received, entry.query)
        return answer_for(await decide(self.before_send, event, self.decision_timeout))

    async def _read(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > self._max_body:
            raise Refusal(413, f"body larger than {self._max_body} bytes")
        try:
            raw = await request.content.read(self._max_body + 1)
        except (web.HTTPRequestEntityTooLarge, ValueError, ConnectionError) as exc:
            raise Refusal(400, f"body could not be read: {type(exc).__name__}") from None
        if len(raw) > self._max_body:
            raise Refusal(413, f"body larger than {self._max_body} bytes")
        return raw

    def __repr__(self) -> str:
        counts = dict(self.counts)
        return f"<Receiver sdk_app_id={self._sdk_app_id} user_id={self._user_id!r} counts={counts}>"


def _decode(raw: bytes, command: str) -> Body:
    """The typed body; refused when it is not JSON, does not fit its command, or names another one."""
    try:
        body = decode_body(raw)
    except ValueError as exc:
        raise Refusal(400, str(exc)) from None
    except msgspec.ValidationError as exc:
        raise Refusal(400, f"{command} body does not fit: {exc}") from None
    if isinstance(body, RawCallback) and not body.CallbackCommand:
        return RawCallback(command, body.fields)  # the query names it
    named = body.CallbackCommand if isinstance(body, RawCallback) else body.__struct_config__.tag
    if named != command:
        raise Refusal(400, "the body's CallbackCommand differs from the query's")
    return body


def _reply(answer: cb.CallbackAnswer, status: int) -> web.Response:
    body = _OK_BYTES if answer is _OK else _ENCODER.encode(answer)
    return web.Response(body=body, status=status, content_type="application/json")
