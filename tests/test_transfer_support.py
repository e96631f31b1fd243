"""Shared fixtures and builders of the transfer and file-service tests (no tests of its own).

Everything runs over real loopback HTTP against `DevServer`; faults come from the file
service's test-only hooks (`fail_next(CutAt(..))`, `ignore_range`, `replace_content`, ...).
"""

from __future__ import annotations

import random
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from aio_tim.auth import UserSigCache
from aio_tim.connection import ConnectionManager
from aio_tim.devserver import DevServer
from aio_tim.transfer import DownloadOptions, TransferManager

__all__ = [
    "FAST",
    "conn_fixture",
    "data_of",
    "image_bytes",
    "param",
    "transfers_fixture",
]

# Short stalls and retry delays keep fault tests fast; the logic is the same as the defaults'.
FAST = DownloadOptions(stall_timeout=0.5, connect_timeout=2.0, retry_delay=0.01, max_stuck_attempts=3)


def data_of(size: int, seed: int = 0) -> bytes:
    """Deterministic incompressible bytes."""
    return random.Random(seed).randbytes(size)


def param(stored: Any) -> dict[str, Any]:
    """The C SDK JSON `DownloadElemParam` of a stored file."""
    return {"msg_download_elem_param_url": stored.url, "msg_download_elem_param_id": stored.id}


@pytest_asyncio.fixture(name="conn")
async def conn_fixture(dev_server: DevServer) -> AsyncIterator[ConnectionManager]:
    """A ConnectionManager signed as the dev server's admin."""
    signer = UserSigCache(dev_server.sdk_app_id, dev_server.secret_key, dev_server.admin)
    async with ConnectionManager(dev_server.url, dev_server.sdk_app_id, signer) as manager:
        yield manager


@pytest_asyncio.fixture(name="transfers")
async def transfers_fixture(conn: ConnectionManager) -> AsyncIterator[TransferManager]:
    """A TransferManager on `conn` with fast fault handling."""
    async with TransferManager(conn, options=FAST) as manager:
        yield manager


def image_bytes(fmt: str, width: int, height: int, pad: int = 2048) -> bytes:
    """The first bytes of a PNG/JPEG/GIF/BMP of the given size (enough for its header)."""
    if fmt == "png":
        head = (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
            + struct.pack(">II", width, height)
            + b"\x08\x06\x00\x00\x00"
        )
    elif fmt == "gif":
        head = b"GIF89a" + struct.pack("<HH", width, height)
    elif fmt == "bmp":
        head = b"BM" + b"\x00" * 12 + struct.pack("<Iii", 40, width, -height)
    else:  # jpeg: SOI, an APP0 segment, then SOF0 with the frame size
        app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
        head = b"\xff\xd8" + app0 + b"\xff\xc0" + struct.pack(">HBHH", 17, 8, height, width)
    return head + data_of(pad, seed=width)
