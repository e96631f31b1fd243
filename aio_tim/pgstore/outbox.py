"""The outbox's rows in PostgreSQL: written in the caller's transaction, drained by any worker.

A row is one queued send, its idempotency keys fixed. `outbox_add_in(conn, ...)` inserts it with
the caller's asyncpg connection, inside their open transaction, and queues a NOTIFY that
PostgreSQL delivers on COMMIT (never on ROLLBACK): the message exists if and only if their
transaction commits, and the drainers wake without polling.

A claim takes the oldest unfinished row of each conversation (its head) with
`FOR UPDATE SKIP LOCKED`: two workers claiming at once never take the same conversation, and a
conversation whose head another worker holds under a live lease is left alone, so each
conversation's rows go out in order, one worker at a time. With its head, the claimer takes the
conversation's next rows (up to `LANE_ROWS`), all inflight under its name until `lease_until` (the
database's clock), renewed while it sends. A row whose owner died is taken over once its lease
ends, or put back in the queue by a worker that found its owner dead; `taken_from` names the
old owner, so the drainer first looks a C2C one up in roaming.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Protocol

import asyncpg

from ..seams.store import ClaimedRow
from ..store.rows import Conv, check_status, row_of, stamp
from ..telemetry import carry
from ..types import Message, encode
from .errors import pg_conv, pg_errors
from .listen import listen_forever
from .schema import quoted
from .sql import statements

__all__ = ["LANE_ROWS", "OutboxRows", "result_key"]

LANE_ROWS: Final = 32  # rows of one conversation taken with its head in one claim
STATES: Final = ("queued", "inflight", "sent", "failed")
_UNFINISHED: Final = "state IN ('queued', 'inflight')"
_CLAIMABLE: Final = "(o.state = 'queued' OR (o.state = 'inflight' AND o.lease_until <= now()))"
_CLAIM: Final = f"""
WITH heads AS (
    SELECT DISTINCT ON (conv_type, conv_id) id FROM {{s}}.outbox
    WHERE store = $1 AND {_UNFINISHED} ORDER BY conv_type, conv_id, id
), lanes AS (
    SELECT o.conv_type, o.conv_id FROM {{s}}.outbox AS o JOIN heads USING (id)
    WHERE {_CLAIMABLE} ORDER BY o.id LIMIT $3
    FOR UPDATE OF o SKIP LOCKED
), rows AS (
    SELECT r.id FROM lanes, LATERAL (
        SELECT id FROM {{s}}.outbox AS o
        WHERE o.store = $1 AND o.conv_type = lanes.conv_type AND o.conv_id = lanes.conv_id AND {_CLAIMABLE}
        ORDER BY id LIMIT $5) AS r
)
UPDATE {{s}}.outbox AS o SET state = 'inflight', owner = $2, updated = now(),
    lease_until = now() + make_interval(secs => $4),
    taken_from = CASE WHEN o.state = 'inflight' THEN o.owner ELSE o.taken_from END
FROM rows WHERE o.id = rows.id AND {_CLAIMABLE}
RETURNING o.id, o.conv_type, o.conv_id, o.json, o.taken_from
"""
_INSERT: Final = """
WITH ins AS (
    INSERT INTO {s}.outbox (store, conv_type, conv_id, json, result_key) VALUES ($1, $2, $3, $4, $5)
    RETURNING id
)
SELECT id, pg_notify($6, '') FROM ins
"""
# A row's outcome and its message's save (sql.SAVE, parameters $1-$12) in one statement, so one
# round trip and one commit: the data-modifying CTE runs whether or not the query reads it.
_DONE: Final = """
WITH done AS (
    UPDATE {s}.outbox SET state = $13, sent = $14, error_code = $15, error_desc = $16, owner = NULL,
        lease_until = NULL, updated = now()
    WHERE id = $17
), """
# A row put back remembers who held it: a worker that finds it left by another (dead) one looks
# it up in roaming before it sends it again.
_BACK: Final = (
    "UPDATE {s}.outbox SET state = 'queued', taken_from = owner, owner = NULL, lease_until = NULL,"
    " updated = now()"
)


@dataclass(frozen=True)
class _Sql:
    claim: str
    insert: str
    done: str
    renew: str
    owners: str
    counts: str
    requeue_ids: str
    requeue_owned: str
    requeue_owner: str
    requeue_all: str
    outcome: str
    channel: str


@cache
def _sql(schema: str) -> _Sql:
    s = quoted(schema)
    mine = "store = $1 AND state = 'inflight'"
    return _Sql(
        claim=_CLAIM.replace("{s}", s),
        insert=_INSERT.replace("{s}", s),
        done=_DONE.replace("{s}", s) + _without_with(statements(schema).save),
        renew=(
            f"UPDATE {s}.outbox SET lease_until = now() + make_interval(secs => $3)"
            f" WHERE {mine} AND owner = $2"
        ),
        owners=f"SELECT DISTINCT owner FROM {s}.outbox WHERE {mine} AND owner IS NOT NULL",
        counts=f"SELECT state, count(*) FROM {s}.outbox WHERE store = $1 GROUP BY state",
        requeue_ids=_BACK.replace("{s}", s) + f" WHERE {mine} AND id = ANY($2::bigint[])",
        requeue_owned=_BACK.replace("{s}", s) + f" WHERE {mine} AND id = ANY($2::bigint[]) AND owner = $3",
        requeue_owner=_BACK.replace("{s}", s) + f" WHERE {mine} AND owner = $2",
        requeue_all=_BACK.replace("{s}", s) + f" WHERE {mine}",
        outcome=(
            f"SELECT state, sent, error_code, error_desc, json FROM {s}.outbox"
            " WHERE store = $1 AND result_key = $2 ORDER BY id DESC LIMIT 1"
        ),
        channel=f"{schema}.outbox",
    )


def result_key(conv: Conv, message: Message) -> str:
    """How a queued message is found again: its conversation and idempotency keys."""
    return _result_key(conv, message.rand or 0, message.seq or 0)


def _result_key(conv: Conv, rand: int, seq: int) -> str:
    return f"{conv[0]}:{rand}:{seq}:{conv[1]}"


def _without_with(query: str) -> str:
    """A `WITH a AS (...) ...` statement without its `WITH`, to follow other CTEs."""
    head, _, rest = query.lstrip().partition(" ")
    assert head == "WITH", query
    return rest


class OutboxHome(Protocol):
    """What `OutboxRows` uses of the store it is mixed into (`PgStore`): its methods take a `self`
    of this type, so mypy checks that the store has them, and nothing stands in for them here."""

    _listener: asyncio.Task[None] | None

    @property
    def schema(self) -> str: ...

    @property
    def store_id(self) -> int: ...

    @property
    def pool(self) -> asyncpg.Pool: ...

    def _now(self) -> int: ...

    async def _run(self, method: str, query: str, *args: Any) -> Any: ...


class OutboxRows:
    """PgStore's outbox methods (`aio_tim.seams.SharedOutboxStore`), on an `OutboxHome`."""

    def __init__(self) -> None:
        self._listener: asyncio.Task[None] | None = None

    # --- intake ----------------------------------------------------------------------------------

    async def outbox_add(self: OutboxHome, conv: Conv, msg: Message) -> int:
        """Commit `msg` (keys already fixed) as a queued row in a transaction of its own; its id."""
        with pg_errors():
            async with self.pool.acquire() as conn:
                return await _add_in(self, conn, conv, msg)

    async def outbox_add_in(self: OutboxHome, connection: Any, conv: Conv, msg: Message) -> int:
        """Insert `msg` as a queued row with the caller's asyncpg `connection`, in its transaction
        if one is open: the row (and the drainers' wake-up) exists once that transaction commits."""
        return await _add_in(self, connection, conv, msg)

    # --- draining --------------------------------------------------------------------------------

    async def outbox_claim_rows(
        self: OutboxHome, limit: int, *, owner: str, lease: int = 30
    ) -> list[ClaimedRow]:
        """Lease the heads of up to `limit` conversations, with their next rows, to `owner`."""
        return await _claim(self, limit, owner, lease)

    async def outbox_claim(
        self: OutboxHome, limit: int, *, owner: str | None = None, lease: int = 30
    ) -> list[tuple[int, Conv, Message]]:
        """`outbox_claim_rows` without the take-over mark (the `OutboxStore` seam)."""
        rows = await _claim(self, limit, owner or "", lease)
        return [(row.id, row.conv, row.message) for row in rows]

    async def outbox_renew(self: OutboxHome, owner: str, lease: int) -> int:
        """Extend the lease of `owner`'s inflight rows to `lease` seconds from now; how many."""
        return await _update(self, _sql(self.schema).renew, owner, float(lease))

    async def outbox_owners(self: OutboxHome) -> set[str]:
        """The owners holding inflight rows of this store."""
        with pg_errors():
            rows = await self.pool.fetch(_sql(self.schema).owners, self.store_id)
        return {str(r[0]) for r in rows}

    async def outbox_sent(
        self: OutboxHome, row_id: int, conv: Conv, sent: Message, *, status: int, msg_key: str | None
    ) -> None:
        """In one transaction: the row is sent (keeping the sent message) and `sent` is saved."""
        conv, status = pg_conv(conv), check_status(status)
        stored = stamp(sent, conv, status, self._now())
        await _finish(self, row_id, row_of(conv, stored, msg_key), ("sent", encode(stored), None, None))

    async def outbox_failed(
        self: OutboxHome, row_id: int, conv: Conv, msg: Message, *, status: int, code: int, desc: str
    ) -> None:
        """In one transaction: the row failed (keeping `code` and `desc`) and `msg` is saved as failed."""
        conv, status = pg_conv(conv), check_status(status)
        row = row_of(conv, stamp(msg, conv, status, self._now()), None)
        await _finish(self, row_id, row, ("failed", None, code, desc))

    async def outbox_requeue(
        self: OutboxHome, row_ids: Sequence[int] | None = None, *, owner: str | None = None
    ) -> int:
        """Put inflight rows back in the queue; how many. `row_ids=None`: all of `owner`'s (all of
        everyone's when `owner` is None too: only when no live worker shares the store)."""
        sql = _sql(self.schema)
        if row_ids is None:
            if owner is None:
                return await _update(self, sql.requeue_all)
            return await _update(self, sql.requeue_owner, owner)
        if owner is None:
            return await _update(self, sql.requeue_ids, list(row_ids))
        return await _update(self, sql.requeue_owned, list(row_ids), owner)

    async def outbox_counts(self: OutboxHome) -> dict[str, int]:
        """This store's outbox rows per state (every state present, 0 if none)."""
        with pg_errors():
            rows = await self.pool.fetch(_sql(self.schema).counts, self.store_id)
        return dict.fromkeys(STATES, 0) | {str(r[0]): int(r[1]) for r in rows}

    async def outbox_outcome(
        self: OutboxHome, conv: Conv, rand: int, seq: int
    ) -> tuple[str, int, str, bytes] | None:
        """A queued message's row by its idempotency keys: (state, error code, error desc, the JSON
        of the message as sent, or as queued until then); None if no row has them."""
        key = _result_key(pg_conv(conv), rand, seq)
        with pg_errors():
            row = await self.pool.fetchrow(_sql(self.schema).outcome, self.store_id, key)
        if row is None:
            return None
        return (
            str(row[0]),
            int(row[2] or 0),
            str(row[3] or ""),
            bytes(row[1] if row[1] is not None else row[4]),
        )

    # --- waking the drainer (LISTEN) ---------------------------------------------------------------

    async def outbox_watch(self: OutboxHome, wake: Callable[[], None]) -> None:
        """Call `wake` whenever a row is committed (NOTIFY), and once after each (re)connection;
        a connection of the pool is held for LISTEN, and taken again if the server restarts."""
        if self._listener is None:
            listening = listen_forever(lambda: self.pool, _sql(self.schema).channel, wake)
            self._listener = asyncio.create_task(listening, name="aio_tim pgstore outbox LISTEN")

    async def _stop_watching(self: OutboxHome) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener


async def _add_in(store: OutboxHome, connection: Any, conv: Conv, msg: Message) -> int:
    conv = pg_conv(conv)
    params = (
        store.store_id,
        *conv,
        carry.stamped(encode(msg)),
        result_key(conv, msg),
        _sql(store.schema).channel,
    )
    with pg_errors():
        row = await connection.fetchrow(_sql(store.schema).insert, *params)
    return int(row[0])


async def _claim(store: OutboxHome, limit: int, owner: str, lease: int) -> list[ClaimedRow]:
    with pg_errors():
        params = (store.store_id, owner, limit, float(lease), LANE_ROWS)
        rows = await store.pool.fetch(_sql(store.schema).claim, *params)
    claimed = [ClaimedRow(r[0], (r[1], r[2]), carry.claimed(r[3]), r[4]) for r in rows]
    return sorted(claimed, key=lambda row: row.id)


async def _finish(store: OutboxHome, row_id: int, row: tuple[Any, ...], outcome: tuple[Any, ...]) -> None:
    """The row's outcome and its message's save, in one statement (`_DONE`)."""
    await store._run("fetchval", _sql(store.schema).done, store.store_id, *row, *outcome, row_id)


async def _update(store: OutboxHome, query: str, *args: Any) -> int:
    """An UPDATE of the store's outbox rows; how many it changed."""
    with pg_errors():
        status = await store.pool.execute(query, store.store_id, *args)
    return int(status.rpartition(" ")[2] or 0)
