"""Waiting in line: who holds a queue place, a conversation's lane and an in-flight slot.

A submitted operation gets a `Ticket` and moves through these stages, in order:

    BLOCKED  no queue place yet (`max_queued` are taken)
    BEHIND   a place; another operation with its order key is ahead (one per key at a time,
             in submission order)
    READY    a place and its key's lane; waiting for an in-flight slot (`max_in_flight`)
    RUNNING  a slot and its lane (the place is given up)
    DONE     finished, withdrawn or failed

The `Dispatcher` moves tickets along itself, as places, lanes and slots come free, and wakes a
ticket's caller once, when it is RUNNING: a pending operation costs one ticket and one future
however long the line, and no caller is woken only to find it must wait again. Every step is
O(1): a withdrawn ticket is marked and skipped when its turn comes, never searched for.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable

__all__ = ["BEHIND", "BLOCKED", "DONE", "READY", "RUNNING", "Dispatcher", "Ticket"]

BLOCKED, BEHIND, READY, RUNNING, DONE = range(5)


class Ticket:
    """One operation's place in line. `waiter` exists only once its caller has had to wait."""

    __slots__ = ("key", "stage", "waiter")

    def __init__(self, key: Hashable | None) -> None:
        self.key = key
        self.stage = BLOCKED
        self.waiter: asyncio.Future[None] | None = None

    def park(self) -> asyncio.Future[None]:
        """The future the caller awaits until the ticket is RUNNING."""
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def fail(self, error: BaseException) -> int:
        """End a waiting ticket with `error`; 1 if its caller is told, else 0."""
        self.stage = DONE
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)
            return 1
        return 0


class Dispatcher:
    """Queue places, per-key lanes and in-flight slots, each handed out first come, first served.

    dispatcher = Dispatcher(places=10_000, slots=64)
    ticket = Ticket(("c2c", "bob"))
    dispatcher.admit(ticket, wait=True)
    if ticket.stage != RUNNING:
        await ticket.park()
    ...  # the call
    dispatcher.finish(ticket)
    """

    __slots__ = (
        "_blocked",
        "_free_places",
        "_free_slots",
        "_lanes",
        "_ready",
        "blocked",
        "in_flight",
        "queued",
    )

    def __init__(self, places: int, slots: int) -> None:
        self._free_places = places
        self._free_slots = slots
        self._blocked: deque[Ticket] = deque()
        self._ready: deque[Ticket] = deque()
        self._lanes: dict[Hashable, deque[Ticket]] = {}  # a key here: its lane is held; the BEHIND
        self.blocked = self.queued = self.in_flight = 0

    def admit(self, ticket: Ticket, *, wait: bool) -> bool:
        """Give `ticket` a place (and its lane and a slot, if free), or line it up for one; False,
        and nothing held, when the queue is full and `wait` is false."""
        if self._free_places > 0:
            self._enqueue(ticket)
        elif wait:
            self._blocked.append(ticket)
            self.blocked += 1
        else:
            return False
        return True

    def finish(self, ticket: Ticket) -> None:
        """A RUNNING ticket is done: its lane and slot go to the next in line."""
        ticket.stage = DONE
        self.in_flight -= 1
        if ticket.key is not None:
            self._pass_lane(ticket.key)
        self._free_slots += 1
        self._start_ready()

    def withdraw(self, ticket: Ticket) -> None:
        """Its caller gave up (cancelled): give back what the ticket holds."""
        stage = ticket.stage
        if stage == RUNNING:  # woken as it was cancelled: pass the slot and lane on
            self.finish(ticket)
            return
        ticket.stage = DONE  # left in its line, skipped when its turn comes
        if stage == BLOCKED:
            self.blocked -= 1
        elif stage in (BEHIND, READY):
            self.queued -= 1
            if stage == READY and ticket.key is not None:
                self._pass_lane(ticket.key)
                self._start_ready()
            self._free_place()

    # --- moving tickets along ---------------------------------------------------------------------

    def _enqueue(self, ticket: Ticket) -> None:
        self._free_places -= 1
        self.queued += 1
        key = ticket.key
        if key is not None:
            behind = self._lanes.get(key)
            if behind is not None:
                ticket.stage = BEHIND
                behind.append(ticket)
                return
            self._lanes[key] = deque()
        ticket.stage = READY
        self._ready.append(ticket)
        self._start_ready()

    def _start_ready(self) -> None:
        while self._free_slots > 0 and self._ready:
            ticket = self._ready.popleft()
            if ticket.stage == READY:
                self._free_slots -= 1
                self._start(ticket)

    def _start(self, ticket: Ticket) -> None:
        ticket.stage = RUNNING
        self.queued -= 1
        self.in_flight += 1
        ticket.wake()
        self._free_place()

    def _free_place(self) -> None:
        """A place came free: the first live blocked ticket takes it, without being woken."""
        while self._blocked:
            ticket = self._blocked.popleft()
            if ticket.stage == BLOCKED:
                self.blocked -= 1
                self._enqueue(ticket)
                return
        self._free_places += 1

    def _pass_lane(self, key: Hashable) -> None:
        """The lane's holder is done: the next live ticket behind it is READY, or the lane goes."""
        behind = self._lanes[key]
        while behind:
            ticket = behind.popleft()
            if ticket.stage == BEHIND:
                ticket.stage = READY
                self._ready.append(ticket)
                return
        del self._lanes[key]

    # --- closing ----------------------------------------------------------------------------------

    def fail_blocked(self, error: Callable[[], BaseException]) -> int:
        """Turn away every blocked ticket with `error()`; how many callers were told."""
        failed = 0
        while self._blocked:
            ticket = self._blocked.popleft()
            if ticket.stage == BLOCKED:
                self.blocked -= 1
                failed += ticket.fail(error())
        return failed

    def fail_queued(self, error: Callable[[], BaseException]) -> int:
        """Give up on every queued ticket, BEHIND or READY, with `error()`; RUNNING ones go on."""
        failed = 0
        for behind in self._lanes.values():
            failed += self._fail_line(behind, BEHIND, error)
        for ticket in self._ready:
            if ticket.stage == READY and ticket.key is not None:
                del self._lanes[ticket.key]  # it held the lane; nobody is behind it any more
        failed += self._fail_line(self._ready, READY, error)
        return failed

    def _fail_line(self, line: deque[Ticket], stage: int, error: Callable[[], BaseException]) -> int:
        failed = 0
        while line:
            ticket = line.popleft()
            if ticket.stage == stage:
                self.queued -= 1
                self._free_places += 1
                failed += ticket.fail(error())
        return failed
