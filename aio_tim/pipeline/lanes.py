"""Waiting in line: a `Gate` of so many places (the intake, the in-flight slots) and the `Lane`
that keeps one conversation's calls one at a time, in submission order."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

__all__ = ["Gate", "Lane"]


class Gate:
    """`places` holders at a time; the others wait first come, first served.

    A freed place is handed straight to the first live waiter, so a newcomer never overtakes
    the line; `fail_waiters` wakes every waiter with an error (closing gave up on them).
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, places: int) -> None:
        self._free = places
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_enter(self) -> bool:
        if self._free > 0:
            self._free -= 1
            return True
        return False

    async def enter(self) -> None:
        if self.try_enter():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.leave()  # the place reached us as we were cancelled: pass it on
            raise

    def leave(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    def fail_waiters(self, error: Callable[[], BaseException]) -> int:
        failed = 0
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error())
                failed += 1
        return failed


class Lane:
    """The calls of one order key: one at a time, dropped when its last user leaves."""

    __slots__ = ("gate", "users")

    def __init__(self) -> None:
        self.gate = Gate(1)
        self.users = 0
