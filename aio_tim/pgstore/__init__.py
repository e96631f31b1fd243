"""The message store in PostgreSQL (`pip install 'aio_tim[postgres]'`): one state for a fleet of workers.

    async with Client(sdk_app_id=..., user_id="alice", secret_key=KEY,
                      store="postgresql://app@db/app") as tim:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE orders SET paid = true WHERE id = $1", order_id)
            await tim.msg.enqueue_new_msg("bob", ConvType.C2C, msg, connection=conn)

`PgStore` implements `aio_tim.seams.MessageStore` and the outbox's rows (`OutboxStore`), with
numbered migrations (`migrations/NNNN_*.sql`). Only this package imports asyncpg.
"""

from typing import TYPE_CHECKING

from .outbox import LANE_ROWS, result_key
from .schema import SCHEMA_VERSION
from .store import CHUNK, PgStore

__all__ = ["CHUNK", "LANE_ROWS", "SCHEMA_VERSION", "PgStore", "result_key"]

if TYPE_CHECKING:  # the store seam, checked by mypy
    from ..seams.store import SharedOutboxStore

    _: SharedOutboxStore = PgStore("", sdk_app_id=1, user_id="u")
