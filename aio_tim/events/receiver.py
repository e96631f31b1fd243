"""The receiver: an aiohttp handler that turns TIM's webhook requests into committed inbox entries.

Stages: check the query (`verify`), read a bounded body, decode it (typed, or raw for commands aio_tim
does not know), commit it to the inbox, answer. It answers OK only after the commit, so an
acknowledged webhook is never lost. A before-send callback is decided while it commits, and the
decision is answered within its time whatever the store does; refusals are TIM-shaped
(`{"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": ...}`) with a 4xx status, and nothing a
request carries can make it answer 500.

Mount it where you like:

    app.router.add_post("/tim/callback", tim.webhook_handler)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Final

import msgspec
from aiohttp import StreamReader, web

from ..protocol import callbacks as cb
from ..seams.inbox import Appended, Inbox, NewEntry
from .decide import DEFAULT_TIMEOUT, BeforeSendHandler, OnTimeout, decide
from .identity import Identities
from .model import Body, Event, RawCallback, decode_body, entry_for, message_of
from .verify import Refusal, check_query

__all__ = ["BODY_TIMEOUT", "MAX_BODY", "Receiver"]

MAX_BODY: Final = 1024 * 1024  # bytes: TIM's messages are capped far below this
BODY_TIMEOUT: Final = 10.0  # seconds for a body to arrive: TIM gave up on an answer long before
_QUERY_KEYS: Final = ("SdkAppid", "CallbackCommand", "contenttype", "ClientIP", "OptPlatform", "RequestTime")
_ENCODER: Final = msgspec.json.Encoder()
_OK: Final = cb.CallbackAnswer("OK", 0, "")
_OK_BYTES: Final = _ENCODER.encode(_OK)

log = logging.getLogger("aio_tim.events")


class Receiver:
    """Verifies, decodes and commits webhooks for one app, as one user sees them.

    `token` enables TIM's webhook authentication; `before_send` decides before-send callbacks
    (within `decision_timeout` seconds, else `on_timeout`); a body must arrive within
    `body_timeout` seconds; `clock` is injectable for the RequestTime window.
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
        self.decision_timeout = DEFAULT_TIMEOUT
        self.body_timeout = BODY_TIMEOUT
        self.on_timeout: OnTimeout = "allow"
        self._late_commits: set[asyncio.Future[list[Appended]]] = set()
        self.counts: Counter[str] = Counter()
        self._last_failure: str | None = None
        self._identities = Identities()

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler (POST)."""
        try:
            answer = await self._receive(request)
        except Refusal as refusal:
            self.counts[f"refused_{refusal.status}"] += 1
            log.info("refused a webhook request: %s", refusal.reason)
            return _reply(cb.CallbackAnswer("FAIL", 1, refusal.reason), refusal.status)
        except Exception as exc:  # the store failed: TIM hears a failure, the next delivery may succeed
            self.counts["failed"] += 1
            self._log_failure(exc)
            return _reply(cb.CallbackAnswer("FAIL", 1, "the app could not store the event"), 503)
        self.counts["accepted"] += 1
        self._last_failure = None
        return _reply(answer, 200)

    def _log_failure(self, exc: Exception) -> None:
        """Log a store failure once while it lasts (a full disk or a deleted file fails every webhook
        until it is fixed): with its traceback the first time, at DEBUG while it repeats."""
        failure = f"{type(exc).__name__}: {exc}"
        if failure == self._last_failure:
            log.debug("could not commit a webhook, again: %s", failure)
            return
        self._last_failure = failure
        log.error("could not commit a webhook (refused with 503 while this lasts)", exc_info=exc)

    async def _receive(self, request: web.Request) -> cb.CallbackAnswer:
        """Check, parse, commit; then, for a before-send callback, let the handler decide."""
        if request.method != "POST":
            raise Refusal(405, "webhooks are POST requests")
        command = check_query(request.query, self._sdk_app_id, self._token, self._clock)
        body, entry = await self._parse(request, command)
        if command in cb.BEFORE_COMMANDS and self.before_send is not None:
            return await self._decide(body, entry)
        await self._inbox.append([entry])
        return _OK

    async def _parse(self, request: web.Request, command: str) -> tuple[Body, NewEntry]:
        raw = await self._read(request)
        body = _decode(raw, command)
        query = {k: request.query[k] for k in _QUERY_KEYS if k in request.query}
        try:
            message_key = self._identities.key_for(body, raw)
            return body, entry_for(raw, body, query, self._user_id, self._clock(), message_key)
        except ValueError as exc:
            raise Refusal(400, str(exc)) from None

    async def _decide(self, body: Body, entry: NewEntry) -> cb.CallbackAnswer:
        """Decide while the event commits. The answer waits for the commit only while the decision
        budget lasts: a store that is slow or failing must not turn the answer into a late one or a
        503, both of which TIM takes as "allow"."""
        assert self.before_send is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.decision_timeout
        commit = asyncio.ensure_future(self._inbox.append([entry]))
        message = message_of(body, self._user_id)
        event = Event(entry.command, entry.key, "", body, message, entry.received, entry.query)
        answer = await decide(self.before_send, event, self.decision_timeout, self.on_timeout)
        done, _ = await asyncio.wait({commit}, timeout=max(0.0, deadline - loop.time()))
        if not done:
            self.counts["decided_before_commit"] += 1
            self._late_commits.add(commit)
            commit.add_done_callback(self._late_commit_done)
        elif commit.exception() is not None:
            self.counts["decided_commit_failed"] += 1
            log.error("could not commit a before-send event (decided anyway)", exc_info=commit.exception())
        return answer

    def _late_commit_done(self, commit: asyncio.Future[list[Appended]]) -> None:
        self._late_commits.discard(commit)
        if not commit.cancelled() and commit.exception() is not None:
            self.counts["decided_commit_failed"] += 1
            log.error("could not commit a before-send event (decided anyway)", exc_info=commit.exception())

    async def drain(self) -> None:
        """Wait for the commits of before-send events answered before their commit finished."""
        if self._late_commits:
            await asyncio.wait(set(self._late_commits))

    async def _read(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > self._max_body:
            raise Refusal(413, f"body larger than {self._max_body} bytes")
        try:
            async with asyncio.timeout(self.body_timeout):
                return await _read_capped(request.content, self._max_body)
        except TimeoutError:
            raise Refusal(408, f"body not received within {self.body_timeout:g} s") from None
        except (ValueError, ConnectionError) as exc:
            raise Refusal(400, f"body could not be read: {type(exc).__name__}") from None

    def __repr__(self) -> str:
        counts = dict(self.counts)
        return f"<Receiver sdk_app_id={self._sdk_app_id} user_id={self._user_id!r} counts={counts}>"


async def _read_capped(content: StreamReader, cap: int) -> bytes:
    """The whole body, however many writes it arrived in (`read(n)` answers with what has arrived so
    far: a body cut there would be refused, and a 4xx is final for TIM); 413 past `cap` bytes."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.read(cap + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise Refusal(413, f"body larger than {cap} bytes")
    return b"".join(chunks)


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
