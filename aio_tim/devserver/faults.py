"""Fault switches: make the dev server fail or slow down on purpose, from a test or the inspector.

A fault names an endpoint ("openim/sendmsg", or "*" for every one) and what happens to the calls
it picks: TIM's `error_code` (answered in place of running the call: nothing is stored) and/or
`latency_ms` added before the answer. `count` picks the next N calls, `share` a random share of
them (0..1, drawn from the server's rng), both together up to N calls of that share; neither
picks every call until the fault is removed. A fault whose count is used up goes away.

With `webhook=True` the fault applies to webhook deliveries instead, and `endpoint` is a
CallbackCommand ("C2C.CallbackAfterSendMsg") or "*": `latency_ms` holds the delivery back (past
the delivery's timeout, 2 s before-send and 5 s after, it fails as a timeout, and nothing reaches
the app), `error_code` is the HTTP status (400..599) the delivery fails with, never sent. A failed
before-send callback lets the message through, as on TIM.

    rule = server.faults.add("openim/sendmsg", error_code=60018, count=2)
    server.faults.add("*", latency_ms=300, share=0.5)
    server.faults.add("C2C.CallbackAfterSendMsg", webhook=True, error_code=503, count=1)
    server.faults.limits_enabled = False      # TIM's call frequency limits off, on again with True
    server.faults.remove(rule); server.faults.clear()

Several faults may pick one call: their latencies add up, the first picked error is answered.
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
import logging
import math
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import TIMError, error_for
from .limits import RateLimiter

__all__ = ["ANY", "MAX_LATENCY_MS", "Fault", "FaultSwitches", "WebhookFault"]

ANY: Final = "*"
# Failed deliveries are logged where real ones are: `aio-tim serve` reports the first one.
_webhook_log: Final = logging.getLogger("aio_tim.devserver.webhooks")
MAX_LATENCY_MS: Final = 60_000  # a minute: longer only hangs the test that asked for it
_MAX_CODE: Final = 2**31 - 1


@dataclass
class Fault:
    """One switch; `remaining` counts down the calls it still picks (None: no count)."""

    id: str
    endpoint: str
    error_code: int | None = None
    count: int | None = None
    share: float | None = None
    latency_ms: int = 0
    webhook: bool = False
    remaining: int | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        """The agreed `GET /_dev/faults` shape of one fault."""
        return {
            "id": self.id, "endpoint": self.endpoint, "error_code": self.error_code, "count": self.count,
            "share": self.share, "latency_ms": self.latency_ms, "webhook": self.webhook,
            "remaining": self.remaining,
        }  # fmt: skip


@dataclass(frozen=True)
class WebhookFault:
    """What the faults picked for one webhook delivery."""

    latency: float  # seconds to hold it back
    status: int | None  # the HTTP status it fails with, unsent (None: it goes out)


class FaultSwitches:
    """The faults a dev server applies, and its rate-limit switch.

    `rest_endpoints` and `webhook_commands` are what an endpoint may name. The picks draw from
    an rng seeded from `rng` (the server's) and kept apart from it, so a test that injects a
    seeded rng gets the same picks every run, whatever the handlers draw meanwhile.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        rng: random.Random,
        rest_endpoints: Collection[str],
        webhook_commands: Collection[str],
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._limiter = limiter
        self._rng = random.Random(rng.getrandbits(64))
        self._rest_endpoints = frozenset(rest_endpoints)
        self._webhook_commands = frozenset(webhook_commands)
        self._faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)
        self._sleep = sleep
        self._listeners: builtins.list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every change: a fault added, removed or cleared, a count going
        down, the rate limits switched (a live page re-reads `list()` then)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def __repr__(self) -> str:
        return f"<FaultSwitches faults={len(self._faults)} limits_enabled={self.limits_enabled}>"

    # --- the switches ---------------------------------------------------------------------------

    def add(
        self,
        endpoint: str = ANY,
        *,
        error_code: int | None = None,
        count: int | None = None,
        share: float | None = None,
        latency_ms: int = 0,
        webhook: bool = False,
    ) -> str:
        """Add a fault; its id (for `remove`). ValueError naming the field for a bad value."""
        self._check(endpoint, error_code, count, share, latency_ms, webhook)
        fault_id = f"f{next(self._ids)}"
        share = None if share is None else float(share)  # JSON's 1 is the share 1.0
        self._faults[fault_id] = Fault(
            fault_id, endpoint, error_code, count, share, latency_ms, webhook, remaining=count
        )
        self._changed()
        return fault_id

    def remove(self, fault_id: str) -> bool:
        """Remove one fault; False when there is none by that id (used up, or never added)."""
        removed = self._faults.pop(fault_id, None) is not None
        if removed:
            self._changed()
        return removed

    def clear(self) -> None:
        """Remove every fault (the rate-limit switch stays as it is)."""
        self._faults.clear()
        self._changed()

    def list(self) -> builtins.list[Fault]:
        """The faults in force, oldest first (copies: changing them changes nothing)."""
        return [Fault(**vars(fault)) for fault in self._faults.values()]

    @property
    def limits_enabled(self) -> bool:
        """Whether TIM's call frequency limits are enforced (set False to switch them off)."""
        return self._limiter.enabled

    @limits_enabled.setter
    def limits_enabled(self, enabled: bool) -> None:
        self._limiter.enabled = bool(enabled)
        self._changed()

    # --- applying them ----------------------------------------------------------------------------

    async def before_call(self, endpoint: str) -> None:
        """Hold a REST call back by the picked latency; raise the picked TIM error, if any."""
        if not self._faults:
            return
        latency, code = self._draw(endpoint, webhook=False)
        if latency:
            await self._sleep(latency)
        if code is not None:
            raise answer_for(code)

    async def hold_delivery(self, command: str, limit: float) -> float:
        """Apply the faults to one webhook delivery of `command` that may take `limit` seconds:
        the seconds left of it once held back, or 0 when it failed (logged as a real failure is)."""
        fault = self.for_delivery(command)
        if fault is None:
            return limit
        await self._sleep(min(fault.latency, limit))
        if fault.latency >= limit:
            _webhook_log.info("webhook %s failed: TimeoutError (fault switch)", command)
            return 0.0
        if fault.status is not None:
            _webhook_log.info("webhook %s answered HTTP %s (fault switch)", command, fault.status)
            return 0.0
        return limit - fault.latency

    def for_delivery(self, command: str) -> WebhookFault | None:
        """What happens to one webhook delivery of `command` (None: nothing, it goes out as is)."""
        if not self._faults:
            return None
        latency, status = self._draw(command, webhook=True)
        return WebhookFault(latency, status) if latency or status is not None else None

    def _draw(self, endpoint: str, *, webhook: bool) -> tuple[float, int | None]:
        latency_ms, code, counted = 0, None, False
        for fault in list(self._faults.values()):
            if fault.webhook != webhook or fault.endpoint not in (ANY, endpoint) or not self._picks(fault):
                continue
            latency_ms += fault.latency_ms
            counted = counted or fault.count is not None
            if code is None:
                code = fault.error_code
        if counted:
            self._changed()  # a `remaining` went down (or ran out)
        return latency_ms / 1000, code

    def _picks(self, fault: Fault) -> bool:
        if fault.share is not None and self._rng.random() >= fault.share:
            return False
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[fault.id]  # used up
        return True

    # --- checks -------------------------------------------------------------------------------------

    def _check(self, endpoint: Any, code: Any, count: Any, share: Any, latency_ms: Any, webhook: Any) -> None:
        if not isinstance(webhook, bool):
            raise ValueError("webhook must be true or false")
        known = self._webhook_commands if webhook else self._rest_endpoints
        if not isinstance(endpoint, str) or (endpoint != ANY and endpoint not in known):
            what = "a CallbackCommand" if webhook else 'a REST command ("openim/sendmsg")'
            raise ValueError(f'endpoint must be {what} or "*", not {endpoint!r}')
        _check_code(code, webhook)
        if count is not None and (not _is_int(count) or count < 1):
            raise ValueError(f"count must be a whole number of at least 1 (or null), not {count!r}")
        if share is not None and not _is_share(share):
            raise ValueError(f"share must be a number above 0 and at most 1 (or null), not {share!r}")
        if not _is_int(latency_ms) or not 0 <= latency_ms <= MAX_LATENCY_MS:
            bounds = f"a whole number from 0 to {MAX_LATENCY_MS}"
            raise ValueError(f"latency_ms must be {bounds}, not {latency_ms!r}")
        if code is None and latency_ms == 0:
            raise ValueError("error_code or latency_ms: a fault needs at least one of them")


def _check_code(code: Any, webhook: bool) -> None:
    if code is None:
        return
    if webhook and not (_is_int(code) and 400 <= code <= 599):
        raise ValueError(f"error_code of a webhook fault must be an HTTP status 400..599, not {code!r}")
    if not webhook and not (_is_int(code) and 0 < code <= _MAX_CODE):
        raise ValueError(f"error_code must be a TIM ErrorCode (a positive whole number), not {code!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_share(value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and math.isfinite(value) and 0 < value <= 1


def answer_for(code: int) -> TIMError:
    """The error a faulted call answers: TIM's ErrorInfo for codes the client knows
    (errors.CODES, after https://cloud.tencent.com/document/product/269/1671), a generic one else."""
    error = error_for(code)
    return error if error.desc != "unknown error" else error_for(code, f"error {code} (fault switch)")
