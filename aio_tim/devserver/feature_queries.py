"""The dev server's queries over what a message carries besides its body: whether it asked for
read receipts, who sent one, and its extensions (schema v5). A message is named by its `msg_ref`:
`c2c_ref(row id)` or `group_ref(group, seq)`."""

from __future__ import annotations

from dataclasses import dataclass

from .db import Database
from .rows import json_list

__all__ = ["ExtRow", "FeatureQueries", "Features", "c2c_ref", "group_ref"]


def c2c_ref(msg_id: int) -> str:
    return f"c:{msg_id}"


def group_ref(group_id: str, msg_seq: int) -> str:
    return f"g:{msg_seq}:{group_id}"


@dataclass(frozen=True, slots=True)
class Features:
    need_receipt: bool
    extensible: bool
    latest_seq: int
    clear_seq: int


@dataclass(frozen=True, slots=True)
class ExtRow:
    key: str
    value: str
    seq: int


class FeatureQueries(Database):
    """Queries over msg_features, msg_receipts and msg_extensions."""

    async def set_features(self, ref: str, *, need_receipt: bool, extensible: bool) -> None:
        await self._run(
            "INSERT OR REPLACE INTO msg_features (msg_ref, need_receipt, extensible) VALUES (?, ?, ?)",
            (ref, int(need_receipt), int(extensible)),
        )

    async def features(self, ref: str) -> Features:
        row = await self._one(
            "SELECT need_receipt, extensible, ext_latest_seq, ext_clear_seq FROM msg_features "
            "WHERE msg_ref = ?",
            (ref,),
        )
        return Features(False, False, 0, 0) if row is None else Features(bool(row[0]), bool(row[1]), *row[2:])

    # --- receipts --------------------------------------------------------------------------------

    async def add_receipt(self, ref: str, reader: str, now: int) -> bool:
        """Record `reader`'s receipt (the first one counts); False if it was already there."""
        row = await self._one(
            "INSERT OR IGNORE INTO msg_receipts (msg_ref, reader, read_time) VALUES (?, ?, ?) RETURNING 1",
            (ref, reader, now),
        )
        return row is not None

    async def readers(self, ref: str) -> set[str]:
        rows = await self._all("SELECT reader FROM msg_receipts WHERE msg_ref = ?", (ref,))
        return {str(r[0]) for r in rows}

    async def c2c_receipted(self, msg_ids: list[int]) -> set[int]:
        """Which of these C2C messages their recipient acknowledged."""
        if not msg_ids:
            return set()
        rows = await self._all(
            "SELECT msg_ref FROM msg_receipts WHERE msg_ref IN (SELECT value FROM json_each(?))",
            (json_list([c2c_ref(i) for i in msg_ids]),),
        )
        return {int(str(r[0])[2:]) for r in rows}

    # --- extensions ------------------------------------------------------------------------------

    async def extensions(self, ref: str, start_seq: int = 0) -> list[ExtRow]:
        rows = await self._all(
            "SELECT key, value, seq FROM msg_extensions WHERE msg_ref = ? AND seq >= ? ORDER BY seq, key",
            (ref, start_seq),
        )
        return [ExtRow(str(k), str(v), int(s)) for k, v, s in rows]

    async def count_extensions(self, ref: str) -> int:
        row = await self._one("SELECT count(*) FROM msg_extensions WHERE msg_ref = ?", (ref,))
        return int(row[0])

    async def next_ext_seq(self, ref: str) -> int:
        """Advance the message's LatestSeq and return it: the Seq of the write under way."""
        row = await self._one(
            "UPDATE msg_features SET ext_latest_seq = ext_latest_seq + 1 WHERE msg_ref = ? "
            "RETURNING ext_latest_seq",
            (ref,),
        )
        return int(row[0])

    async def put_extension(self, ref: str, item: ExtRow) -> None:
        await self._run(
            "INSERT OR REPLACE INTO msg_extensions (msg_ref, key, value, seq) VALUES (?, ?, ?, ?)",
            (ref, item.key, item.value, item.seq),
        )

    async def drop_extension(self, ref: str, key: str) -> None:
        await self._run("DELETE FROM msg_extensions WHERE msg_ref = ? AND key = ?", (ref, key))

    async def clear_extensions(self, ref: str) -> None:
        await self._run("DELETE FROM msg_extensions WHERE msg_ref = ?", (ref,))
        await self._run("UPDATE msg_features SET ext_clear_seq = ext_latest_seq WHERE msg_ref = ?", (ref,))
