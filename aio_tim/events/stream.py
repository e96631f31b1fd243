"""`tim.events()`: an async iterator over the inbox that acknowledges as it goes.

The loop acknowledges an event when it asks for the next one; `auto_ack=False` leaves that to
`await event.ack()` (for consumers that hand events to workers). Either way the consumer's cursor
only moves past an event once it and every event before it are acknowledged, so a consumer that
crashes resumes after the last event it finished: at-least-once, each event with a stable `id`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from typing import Final

from ..seams.inbox import Inbox, InboxEntry
from ..telemetry import Telemetry
from ..telemetry.core import Processing
from .model import Event, event_of

__all__ = ["BEFORE_SEND_SUFFIX", "EventStream"]

_POLL: Final = 1.0  # seconds a read waits for new entries before looking again
# C2C.CallbackBeforeSendMsg and Group.CallbackBeforeSendMsg: a question about a message, which its
# after-send webhook then reports as delivered; by default only the latter is an event.
BEFORE_SEND_SUFFIX: Final = ".CallbackBeforeSendMsg"


class EventStream:
    """Events for `consumer`, from its first unacknowledged one, waiting for new ones as they come.

        async for event in tim.events():
            handle(event)          # acknowledged when the loop asks for the next one

    A message comes out once: the `*.CallbackBeforeSendMsg` webhooks (TIM asking whether to deliver
    it) are acknowledged unseen unless `before_send=True` or `commands` names them; the
    `*.CallbackAfterSendMsg` of each delivered message is the event. `commands` keeps only those
    CallbackCommands (the others are acknowledged unseen); `batch` is how many entries one read
    fetches. The iteration ends when the client closes.
    """

    def __init__(
        self,
        inbox: Inbox,
        user_id: str,
        consumer: str = "default",
        *,
        auto_ack: bool = True,
        commands: Collection[str] | None = None,
        batch: int = 100,
        before_send: bool = False,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._inbox = inbox
        self._user_id = user_id
        self.consumer = consumer
        self._auto_ack = auto_ack
        self._commands = frozenset(commands) if commands is not None else None
        self._batch = batch
        self._before_send = before_send
        self._buffer: deque[InboxEntry] = deque()
        self._read_after: str | None = None
        self._delivered: deque[str] = deque()  # positions handed out and not yet past the cursor
        self._acked: set[str] = set()
        self._current: Event | None = None
        self._closed = False
        self._telemetry = telemetry
        self._processing: dict[str, Processing] = {}  # position -> its `process webhook` span

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._auto_ack and self._current is not None:
            current, self._current = self._current, None
            if _inbox_closed(self._inbox):  # the client closed: the event stays unacknowledged
                self._end_processing()
                raise StopAsyncIteration
            await self._ack(current.position)
        while not self._closed:
            entry = await self._next_entry()
            if entry is None:
                continue
            if not self._wanted(entry.command):
                await self._ack(entry.position)
                continue
            event = event_of(entry, self._user_id)
            event._ack = self._ack_event
            self._current = event
            if self._telemetry is not None and self._telemetry.active:
                self._processing[entry.position] = self._telemetry.processing(entry.command, self.consumer)
            return event
        self._end_processing()
        raise StopAsyncIteration

    def _wanted(self, command: str) -> bool:
        if self._commands is not None:
            return command in self._commands
        return self._before_send or not command.endswith(BEFORE_SEND_SUFFIX)

    async def _next_entry(self) -> InboxEntry | None:
        if not self._buffer:
            try:
                entries = await self._inbox.read(
                    self.consumer, after=self._read_after, limit=self._batch, block=_POLL
                )
            except Exception:
                if _inbox_closed(self._inbox):
                    self._closed = True
                    return None
                raise
            if not entries and _inbox_closed(self._inbox):
                self._closed = True
            self._buffer.extend(entries)
        if not self._buffer:
            return None
        entry = self._buffer.popleft()
        self._read_after = entry.position
        self._delivered.append(entry.position)
        return entry

    async def _ack_event(self, event: Event) -> None:
        await self._ack(event.position)

    async def _ack(self, position: str) -> None:
        """Mark `position` done; persist the cursor past every leading done position."""
        if position not in self._delivered or position in self._acked:
            return
        self._acked.add(position)
        processing = self._processing.pop(position, None)
        if processing is not None:
            processing.end()
        passed: list[str] = []
        while self._delivered and self._delivered[0] in self._acked:
            done = self._delivered.popleft()
            self._acked.discard(done)
            passed.append(done)
        if passed:
            await self._inbox.ack(self.consumer, passed)

    async def aclose(self) -> None:
        """Stop iterating (the current event stays unacknowledged unless acked already)."""
        self._closed = True
        self._end_processing()

    def _end_processing(self) -> None:
        """End the spans of events handed out and never acknowledged (they will come out again)."""
        for processing in self._processing.values():
            processing.end(acknowledged=False)
        self._processing.clear()

    @property
    def unacknowledged(self) -> int:
        """Events handed out and not yet behind the cursor."""
        return len(self._delivered)

    def __repr__(self) -> str:
        return f"<EventStream consumer={self.consumer!r} unacknowledged={self.unacknowledged}>"


def _inbox_closed(inbox: Inbox) -> bool:
    return bool(getattr(inbox, "closed", False))
