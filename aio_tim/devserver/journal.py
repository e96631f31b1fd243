"""What the dev server did, for the web inspector: REST calls, webhook deliveries, message changes.

A bounded ring buffer per kind of entry (the oldest entries fall out, so a server that runs for
days holds a fixed amount) and subscribers that receive each new entry. A subscriber that does
not keep up loses entries rather than holding memory: the inspector's SSE stream tells the page
to reload what it shows.

Nothing recorded here carries a query string: the REST caller is its identifier, never its
UserSig, and a webhook's URL is kept without the query that holds its signature.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

__all__ = ["KINDS", "Entry", "Journal", "Subscriber", "conversation_of", "message_action"]

KINDS: Final = ("rest", "webhook", "message")
CAPACITY: Final = {"rest": 2000, "webhook": 500, "message": 2000}
SUBSCRIBER_BACKLOG: Final = 10_000  # entries a slow subscriber may fall behind before it overflows

# REST commands that change messages, and what the inspector calls the change.
_MESSAGE_ACTIONS: Final = {
    "openim/sendmsg": "sent",
    "openim/batchsendmsg": "sent",
    "openim/importmsg": "imported",
    "openim/admin_msgwithdraw": "recalled",
    "openim/admin_set_msg_read": "read",
    "openim/modify_c2c_msg": "modified",
    "openim/modify_group_msg": "modified",
    "group_open_http_svc/send_group_msg": "sent",
    "group_open_http_svc/import_group_msg": "imported",
    "group_open_http_svc/group_msg_recall": "recalled",
    "group_open_http_svc/clear_group_msg": "cleared",
    "group_open_http_svc/delete_group_msg_by_sender": "recalled",
    "openim/c2c_msg_read_receipt": "read",
    "group_open_http_svc/group_msg_receipt": "read",
    "openim_msg_ext_http_svc/set_key_values": "extended",
    "openim_msg_ext_http_svc/group_set_key_values": "extended",
}


class Entry:
    """One journal line: `public` is what the inspector may show; `extra` stays on the server
    (a webhook's callback Struct, kept for redelivery)."""

    __slots__ = ("extra", "public")

    def __init__(self, public: dict[str, Any], extra: Any = None) -> None:
        self.public = public
        self.extra = extra

    @property
    def id(self) -> int:
        return int(self.public["id"])

    def __repr__(self) -> str:
        return f"<Entry #{self.id} {self.public['kind']}>"


class Subscriber:
    """New entries for one listener, taken in batches; `overflowed` once it fell too far behind."""

    def __init__(self, backlog: int = SUBSCRIBER_BACKLOG) -> None:
        self._backlog = backlog
        self._pending: list[dict[str, Any]] = []
        self._ready = asyncio.Event()
        self.overflowed = False

    def push(self, entry: dict[str, Any]) -> None:
        if len(self._pending) >= self._backlog:
            self.overflowed = True
            self._pending.clear()
        self._pending.append(entry)
        self._ready.set()

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    async def batch(self) -> list[dict[str, Any]]:
        """Wait for at least one entry; every entry pending by then."""
        await self._ready.wait()
        self._ready.clear()
        taken, self._pending = self._pending, []
        return taken


class Journal:
    """Recent entries per kind, and the subscribers that see new ones as they are added."""

    def __init__(
        self, capacity: dict[str, int] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        sizes = CAPACITY | (capacity or {})
        self._entries: dict[str, deque[Entry]] = {kind: deque(maxlen=sizes[kind]) for kind in KINDS}
        self._by_id: dict[int, Entry] = {}
        self._ids = itertools.count(1)
        self._subscribers: set[Subscriber] = set()
        self._clock = clock
        self.last_id = 0  # the newest entry's id
        self.counts = dict.fromkeys(KINDS, 0)  # entries ever added, per kind (the rings forget)

    def __repr__(self) -> str:
        counts = " ".join(f"{kind}={len(entries)}" for kind, entries in self._entries.items())
        return f"<Journal {counts} subscribers={len(self._subscribers)}>"

    def add(self, kind: str, fields: dict[str, Any], extra: Any = None) -> Entry:
        """Record an entry of `kind` ("rest", "webhook", "message") and hand it to every subscriber."""
        entries = self._entries[kind]
        self.counts[kind] += 1
        if len(entries) == entries.maxlen:
            self._by_id.pop(entries[0].id, None)
        self.last_id = next(self._ids)
        entry = Entry({"id": self.last_id, "kind": kind, "at": self._clock(), **fields}, extra)
        entries.append(entry)
        self._by_id[entry.id] = entry
        for subscriber in self._subscribers:
            subscriber.push(entry.public)
        return entry

    def get(self, entry_id: int) -> Entry | None:
        return self._by_id.get(entry_id)

    def recent(self, kind: str, limit: int = 200) -> list[dict[str, Any]]:
        """The newest `limit` entries of `kind`, newest first."""
        entries = self._entries[kind]
        return [entries[i].public for i in range(len(entries) - 1, max(len(entries) - limit, 0) - 1, -1)]

    @contextmanager
    def subscribe(self) -> Iterator[Subscriber]:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    # --- what the REST front records -------------------------------------------------------------

    def rest_call(self, endpoint: str, caller: str, code: int, latency: float, call: Any = None) -> None:
        """One answered REST call (`latency` in seconds) and, for a successful one that changed
        messages, a message entry naming the conversations it touched (`caller` sent what names
        no sender)."""
        ms = round(latency * 1000, 2)
        self.add("rest", {"endpoint": endpoint, "caller": caller, "code": code, "ms": ms})
        action = message_action(endpoint)
        if code == 0 and action is not None and call is not None:
            conversations = conversation_of(call, caller)
            if conversations:
                self.add("message", {"action": action, "endpoint": endpoint, "conversations": conversations})


def message_action(endpoint: str) -> str | None:
    return _MESSAGE_ACTIONS.get(endpoint)


MAX_NAMED: Final = 50  # a batch send to 500 recipients names only the first conversations


def conversation_of(call: Any, sender: str) -> list[list[str]]:
    """The conversations a message request touches: ["group", id] or ["c2c", a, b] (a <= b);
    lists, not joined strings, since a UserID may hold any character. `sender` stands in for
    a missing From_Account (the admin sends)."""
    group = getattr(call, "GroupId", None)
    if isinstance(group, str):
        return [["group", group]]
    one = (
        getattr(call, "From_Account", None)
        or getattr(call, "Report_Account", None)
        or getattr(call, "Operator_Account", None)
        or sender
    )
    other = getattr(call, "To_Account", None) or getattr(call, "Peer_Account", None)
    peers = other if isinstance(other, list) else [other]
    return [["c2c", *sorted((one, p))] for p in peers[:MAX_NAMED] if isinstance(p, str)]
