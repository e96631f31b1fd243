"""Image format and size from a file's first bytes: PNG, JPEG, GIF, BMP (no Pillow needed).

The format is `image_elem_format`'s code (1 JPG, 2 GIF, 3 PNG, 4 BMP, 255 unknown):

    >>> size = (640).to_bytes(4, "big") + (480).to_bytes(4, "big")
    >>> image_info(b"\\x89PNG\\r\\n\\x1a\\n\\0\\0\\0\\rIHDR" + size)
    ImageInfo(format=3, width=640, height=480)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

__all__ = ["FORMAT_EXTENSIONS", "UNKNOWN_FORMAT", "ImageInfo", "image_info"]

# `image_elem_format` codes (the C SDK's TIMImageFormat... values)
JPG: Final = 1
GIF: Final = 2
PNG: Final = 3
BMP: Final = 4
UNKNOWN_FORMAT: Final = 0xFF
FORMAT_EXTENSIONS: Final = {JPG: "jpg", GIF: "gif", PNG: "png", BMP: "bmp"}

# SOFn markers carry the frame size; C4 (DHT), C8 (JPG extension) and CC (DAC) share the range.
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})


@dataclass(frozen=True)
class ImageInfo:
    format: int
    width: int | None = None
    height: int | None = None


def image_info(head: bytes) -> ImageInfo:
    """What the header says; unknown or truncated data gives format 255 and no size."""
    for parse in (_png, _gif, _bmp, _jpeg):
        try:
            info = parse(head)
        except (struct.error, IndexError):
            info = None
        if info is not None:
            return info
    return ImageInfo(UNKNOWN_FORMAT)


def _png(head: bytes) -> ImageInfo | None:
    if not head.startswith(b"\x89PNG\r\n\x1a\n") or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return ImageInfo(PNG, width, height)


def _gif(head: bytes) -> ImageInfo | None:
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    width, height = struct.unpack("<HH", head[6:10])
    return ImageInfo(GIF, width, height)


def _bmp(head: bytes) -> ImageInfo | None:
    if not head.startswith(b"BM"):
        return None
    header_size = struct.unpack("<I", head[14:18])[0]
    if header_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        width, height = struct.unpack("<HH", head[18:22])
    else:
        width, height = struct.unpack("<ii", head[18:26])
    return ImageInfo(BMP, abs(width), abs(height))  # a negative height means top-down rows


def _jpeg(head: bytes) -> ImageInfo | None:
    if not head.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return ImageInfo(JPG)  # not at a marker: corrupt, but it is a JPEG
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        length = struct.unpack(">H", head[pos + 2 : pos + 4])[0]
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return ImageInfo(JPG, width, height)
        pos += 2 + length
    return ImageInfo(JPG)
