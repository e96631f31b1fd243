"""Disk space for a download, allocated ahead of its writes: Linux `fallocate(FALLOC_FL_KEEP_SIZE)`.

Writing into space the file system has already allocated skips the allocation inside `write`
(tmpfs: allocating and charging pages; ext4: delayed block allocation), so that work moves to a
worker thread while the loop thread receives: a download without digest checking went from
~1.0x to 1.07-1.30x a plain aiohttp copy on tmpfs, and 256 MiB on ext4 from 0.27 s to
0.18-0.24 s (bench_download.py; docs/performance.md). On tmpfs fallocate zeroes the pages the
writes then fill: with no free core that extra pass makes the download a little slower.
Download managers do the same (aria2's --file-allocation=falloc).

`KEEP_SIZE` matters: the file's size stays the count of bytes written, which is what a resumed
download trusts (`posix_fallocate` would extend it with zeros that look like received data).
Python's `os` has no `fallocate`, hence ctypes. Where the call does not exist (macOS, Windows)
or the file system refuses it, `reserve` says so and the download writes as before.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import sys
from collections.abc import Callable
from typing import Final

__all__ = ["SpaceUnsupported", "reserve"]

FALLOC_FL_KEEP_SIZE: Final = 1  # linux/falloc.h
DISK_FULL: Final = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})


class SpaceUnsupported(Exception):
    """This platform or file system cannot allocate ahead; write without it."""


def reserve(fd: int, offset: int, length: int) -> None:
    """Allocate [offset, offset + length) of `fd` without changing its size.

    Raises OSError when the disk is full (the writes would fail the same way), and
    SpaceUnsupported when allocating ahead is not available here."""
    fallocate = _fallocate()
    if fallocate is None:
        raise SpaceUnsupported("no fallocate on this platform")
    if fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, length) == 0:
        return
    code = ctypes.get_errno()
    if code == errno.EINTR:
        return  # a signal: the writes allocate what this did not
    if code in DISK_FULL:
        raise OSError(code, os.strerror(code))
    raise SpaceUnsupported(os.strerror(code))  # EOPNOTSUPP (e.g. some FUSE, NFSv3), EINVAL, ...


@functools.cache
def _fallocate() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None  # 32-bit: fallocate's off_t may be 32 bits wide; not worth the guesswork
    try:
        function = ctypes.CDLL(None, use_errno=True).fallocate
    except (AttributeError, OSError):  # a libc without it (very old musl)
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    function.restype = ctypes.c_int
    return function
