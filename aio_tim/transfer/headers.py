"""Reading the HTTP headers a resumable download depends on (pure functions, tested as tables).

Malformed values give None rather than raise:

    >>> parse_content_range("bytes 100-199/1000")
    ContentRange(start=100, end=199, total=1000)
    >>> strong_etag('W/"abc"') is None
    True
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

__all__ = ["ContentRange", "parse_content_range", "public_url", "repr_sha256", "strong_etag"]

# ASCII digits, at most 18 (int() refuses over 4,300 and no file is 10**18 bytes): longer is malformed.
_CONTENT_RANGE: Final = re.compile(r"bytes\s+([0-9]{1,18})-([0-9]{1,18})/([0-9]{1,18}|\*)", re.IGNORECASE)
_ETAG: Final = re.compile(r'"[\x21\x23-\x7e\x80-\xff]*"')
_SHA256_MEMBER: Final = re.compile(r"(?:^|,)\s*sha-256\s*=\s*:([A-Za-z0-9+/=]*):", re.IGNORECASE)


@dataclass(frozen=True)
class ContentRange:
    start: int
    end: int  # inclusive
    total: int | None  # None for "*" (unknown)


def parse_content_range(value: str | None) -> ContentRange | None:
    """`bytes first-last/complete` of a 206, or None when absent or malformed."""
    match = _CONTENT_RANGE.fullmatch(value.strip()) if value else None
    if match is None:
        return None
    start, end = int(match[1]), int(match[2])
    total = None if match[3] == "*" else int(match[3])
    if end < start or (total is not None and end >= total):
        return None
    return ContentRange(start, end, total)


def strong_etag(value: str | None) -> str | None:
    """The ETag when it is a strong validator (RFC 9110 §8.8.3); weak or malformed ones give None:
    only a strong one may go into If-Range, and only it promises byte-identical content."""
    if value is None:
        return None
    value = value.strip()
    return value if _ETAG.fullmatch(value) else None


def repr_sha256(value: str | None) -> str | None:
    """The hex sha-256 of a `Repr-Digest` (RFC 9530) field, e.g. `sha-256=:X48E9q...=:`."""
    match = _SHA256_MEMBER.search(value) if value else None
    if match is None:
        return None
    try:
        raw = base64.b64decode(match[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def public_url(url: str) -> str:
    """`url` without user info, query and fragment: signed storage URLs carry credentials there,
    and exception texts and reprs must not."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"
