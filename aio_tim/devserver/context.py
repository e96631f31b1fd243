"""What every endpoint handler receives: the state, the server's settings, its clock and rng."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..protocol import Envelope
from .state import State
from .webhooks import Webhooks

__all__ = ["Context", "Handler"]


@dataclass(frozen=True)
class Context:
    state: State
    admin: str
    auto_accounts: bool
    c2c_dedup_window: int
    clock: Callable[[], float]
    rng: random.Random
    group_dedup_window: int
    # Login state per account for query_online_status ("Online", "PushOnline"); no entry is
    # "Offline". Nobody logs in to a dev server, so tests set it (DevServer.set_online_state).
    online: dict[str, str] = field(default_factory=dict)
    webhooks: Webhooks | None = None  # fires the app's callbacks (after commit; before-send inline)
    sdk_app_id: int = 0  # getappinfo's AppId
    host: str = "127.0.0.1"  # GetIPList's answer: where this server listens

    def now(self) -> int:
        """The server's time in whole unix seconds, the unit of every TIM timestamp."""
        return int(self.clock())

    def random_u32(self) -> int:
        return self.rng.getrandbits(32)


# A handler takes its decoded request Struct (typed per endpoint) and returns its reply.
Handler = Callable[[Context, Any], Awaitable[Envelope]]
