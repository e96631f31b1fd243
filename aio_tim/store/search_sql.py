"""The SQL of a local search, built per query shape: only the conditions a query has are written,
so each shape uses its index (the trigram FTS5 table for keywords, `messages_by_sender`,
`messages_by_type` or the locator index otherwise).

A keyword of three characters or more is looked up in `messages_fts` (trigram: any substring,
case-insensitive); a shorter one cannot use trigrams and is matched with LIKE over the indexed
text (a scan of it, still never of the messages' JSON). Keywords are bound, never spliced: an
FTS5 phrase is the keyword in double quotes (inner quotes doubled), a LIKE pattern escapes `%`
and `_`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Final

from ..seams.search import SearchQuery

__all__ = ["TRIGRAM", "query_sql", "types_page_sql"]

TRIGRAM: Final = 3  # shortest keyword the trigram index can look up
_ORDER: Final = "ORDER BY m.time DESC, m.seq DESC, m.rand DESC"
_FOUND: Final = "m.status NOT IN (4, 6)"  # deleted and revoked messages are never found
_UNSEARCHABLE: Final = "(5, 6)"  # faces and group tips, as in the C SDK


def phrase(keyword: str) -> str:
    return '"' + keyword.replace('"', '""') + '"'


def like(keyword: str) -> str:
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _hits(keywords: Sequence[str], match_all: bool) -> tuple[str, list[Any]]:
    """The rowids of `messages_fts` rows holding the keywords (all or any)."""
    long = [k for k in keywords if len(k) >= TRIGRAM]
    short = [k for k in keywords if len(k) < TRIGRAM]
    where: list[str] = []
    params: list[Any] = []
    if long and (match_all or not short):
        where.append("messages_fts MATCH ?")
        params.append((" AND " if match_all else " OR ").join(phrase(k) for k in long))
        rest = short
    else:  # OR with a short keyword: every keyword by LIKE (MATCH cannot sit under an OR)
        rest = list(keywords)
    where += ["body LIKE ? ESCAPE '\\'"] * len(rest)
    params += [like(k) for k in rest]
    joiner = " AND " if match_all or len(where) == 1 else " OR "
    return f"SELECT rowid FROM messages_fts WHERE {joiner.join(where)}", params


def _conditions(query: SearchQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = [_FOUND]
    params: list[Any] = []
    if query.conv is not None:
        where.append("m.conv_type = ? AND m.conv_id = ?")
        params += list(query.conv)
    if query.senders:
        where.append(f"m.sender IN ({', '.join('?' * len(query.senders))})")
        params += list(query.senders)
    if query.types:
        where.append(f"m.elem_type IN ({', '.join('?' * len(query.types))})")
        params += list(query.types)
    elif not query.keywords:  # the FTS table holds searchable types only
        where.append(f"m.elem_type NOT IN {_UNSEARCHABLE}")
    if query.low is not None:
        where.append("m.time >= ?")
        params.append(query.low)
    if query.high is not None:
        where.append("m.time <= ?")
        params.append(query.high)
    return where, params


def query_sql(query: SearchQuery) -> tuple[str, list[Any]]:
    """The statement for `query` and its parameters.

    One conversation: rows (json, status, is_read, total). All: rows (conv_type, conv_id, count,
    json, status, is_read, total) per conversation, json only when its count is 1. `total` is a
    window count, so the page and the total come from one pass over the matches; that pass reads
    the narrow columns only, and the JSON is read for the page's rows alone.
    """
    source, params = "messages AS m", list[Any]()
    if query.keywords:
        hits, params = _hits(query.keywords, query.match_all)
        # CROSS JOIN keeps the hits outermost: the planner would otherwise walk a whole
        # conversation's index and probe the hits for each row.
        source = f"({hits}) AS h CROSS JOIN messages AS m ON m.id = h.rowid"
    where, more = _conditions(query)
    params += more
    limit = -1 if query.limit is None else query.limit
    params += [limit, query.offset]
    if query.conv is not None:
        return (
            f"WITH page AS (SELECT m.id, m.time, m.seq, m.rand, count(*) OVER () AS total FROM {source} "
            f"WHERE {' AND '.join(where)} {_ORDER} LIMIT ? OFFSET ?) "
            "SELECT m.json, m.status, m.is_read, page.total "
            "FROM page CROSS JOIN messages AS m ON m.id = page.id "
            "ORDER BY page.time DESC, page.seq DESC, page.rand DESC"
        ), params
    return (
        "WITH page AS (SELECT m.conv_type, m.conv_id, count(*) AS n, max(m.time) AS newest, "
        f"min(m.id) AS one, count(*) OVER () AS total FROM {source} WHERE {' AND '.join(where)} "
        "GROUP BY m.conv_type, m.conv_id ORDER BY newest DESC, m.conv_type, m.conv_id LIMIT ? OFFSET ?) "
        "SELECT page.conv_type, page.conv_id, page.n, m.json, m.status, m.is_read, page.total FROM page "
        "LEFT JOIN messages AS m ON m.id = page.one AND page.n = 1 "
        "ORDER BY page.newest DESC, page.conv_type, page.conv_id"
    ), params


@cache
def types_page_sql(n_types: int, *, forward: bool, anchored: bool, low: bool, high: bool) -> str:
    """A page of one conversation keeping `n_types` element types: one index range of
    `messages_by_type` per type, each cut at the page's size, merged in locator order.
    Parameters per arm: conv_type, conv_id, the type, [anchor time, seq, rand], [low], [high],
    limit; then the page's limit."""
    op, order = (">", "ASC") if forward else ("<", "DESC")
    where = "conv_type = ? AND conv_id = ? AND elem_type = ? AND status != 4"
    where += f" AND (time, seq, rand) {op} (?, ?, ?)" if anchored else ""
    where += " AND time >= ?" if low else ""
    where += " AND time <= ?" if high else ""
    by = f"ORDER BY time {order}, seq {order}, rand {order}"
    columns = "json, status, is_read, time, seq, rand"
    arm = f"SELECT * FROM (SELECT {columns} FROM messages WHERE {where} {by} LIMIT ?)"
    arms = " UNION ALL ".join([arm] * n_types)
    return f"SELECT json, status, is_read FROM ({arms}) {by} LIMIT ?"
