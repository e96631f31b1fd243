"""The transfer layer's pure parts as tables: names, headers, image headers, progress."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from test_transfer_support import image_bytes

from aio_tim.transfer import Progress, safe_file_name
from aio_tim.transfer.headers import ContentRange, parse_content_range, public_url, repr_sha256, strong_etag
from aio_tim.transfer.imageinfo import ImageInfo, image_info
from aio_tim.transfer.paths import MAX_NAME_BYTES, PartFile
from aio_tim.transfer.progress import ProgressBoard
from aio_tim.types import DownloadElemResult


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../x", "x"),
        ("a/b/../../c", "c"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("a\x00b", "a_b"),
        ("tab\there\x7f", "tab_here_"),
        ("what?.txt", "what_.txt"),
        ("CON", "_CON"),
        ("con.tar.gz", "_con.tar.gz"),
        ("COM1", "_COM1"),
        ("LPT9.log", "_LPT9.log"),
        ("COMPUTER.txt", "COMPUTER.txt"),
        ("trailing. . ", "trailing"),
        ("..", "fallback"),
        (".", "fallback"),
        ("", "fallback"),
        (None, "fallback"),
        ("../", "fallback"),
        ("/", "fallback"),
        ("\x00", "_"),
        ("名前.txt", "名前.txt"),
    ],
)
def test_safe_file_name(name: str | None, expected: str) -> None:
    """One plain component survives: no separators, no dot-dot, no control chars, no device names."""
    assert safe_file_name(name, "fallback") == expected


def test_safe_file_name_never_gives_an_unusable_name() -> None:
    """An unusable fallback falls back to "download"."""
    assert safe_file_name("..", "../") == "download"


def test_safe_file_name_truncates_long_names_keeping_the_extension() -> None:
    """Names past 255 UTF-8 bytes are cut (never mid-character) and keep a short extension."""
    name = safe_file_name("é" * 300 + ".pdf")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert name.endswith(".pdf")
    name.encode().decode()  # valid UTF-8


def test_the_partial_file_name_depends_only_on_the_target(tmp_path: Path) -> None:
    """The same target always maps to the same hidden partial file beside it (and its sidecar)."""
    first, again = PartFile.for_target(tmp_path / "a.bin"), PartFile.for_target(tmp_path / "a.bin")
    other = PartFile.for_target(tmp_path / "b.bin")
    assert first == again != other
    assert first.path.parent == tmp_path and first.path.name.startswith(".a.bin.")
    assert first.sidecar.name == first.path.name + ".json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 0-9/100", ContentRange(0, 9, 100)),
        ("bytes 10-99/100", ContentRange(10, 99, 100)),
        ("BYTES 5-5/*", ContentRange(5, 5, None)),
        ("bytes 9-0/100", None),
        ("bytes 0-100/100", None),
        ("bytes */100", None),
        ("bytes=0-9/100", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_content_range(value: str | None, expected: ContentRange | None) -> None:
    """Only a well-formed, consistent `bytes first-last/total` is accepted."""
    assert parse_content_range(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"abc"', '"abc"'),
        (' "abc" ', '"abc"'),
        ('W/"abc"', None),
        ("abc", None),
        ('"a"b"', None),
        (None, None),
    ],
)
def test_strong_etag(value: str | None, expected: str | None) -> None:
    """Weak and malformed ETags are not validators a resume may rely on."""
    assert strong_etag(value) == expected


DIGEST = hashlib.sha256(b"x").digest()
B64 = base64.b64encode(DIGEST).decode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"sha-256=:{B64}:", DIGEST.hex()),
        (f"sha-512=:AAAA:, sha-256=:{B64}:", DIGEST.hex()),
        (f"SHA-256=:{B64}:", DIGEST.hex()),
        ("sha-512=:AAAA:", None),
        ("sha-256=:AAAA:", None),
        ("sha-256=:!!!:", None),
        (None, None),
    ],
)
def test_repr_sha256(value: str | None, expected: str | None) -> None:
    """The sha-256 member of Repr-Digest, as hex; other algorithms and bad values give None."""
    assert repr_sha256(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@cos.example/a/b?sign=SECRET#x", "https://cos.example/a/b"),
        ("http://127.0.0.1:8080/files/1", "http://127.0.0.1:8080/files/1"),
    ],
)
def test_public_url_drops_credentials(url: str, expected: str) -> None:
    """Error texts name the host and path, never user info or a signed query."""
    assert public_url(url) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("png", 640, 480), ImageInfo(3, 640, 480)),
        (image_bytes("gif", 20, 10), ImageInfo(2, 20, 10)),
        (image_bytes("bmp", 300, 200), ImageInfo(4, 300, 200)),
        (image_bytes("jpeg", 1920, 1080), ImageInfo(1, 1920, 1080)),
        (b"\xff\xd8\xff\xe0\x00\x10", ImageInfo(1)),
        (b"\x89PNG\r\n\x1a\n", ImageInfo(255)),
        (b"not an image", ImageInfo(255)),
        (b"", ImageInfo(255)),
    ],
)
def test_image_info(data: bytes, expected: ImageInfo) -> None:
    """Format code and size come from PNG/GIF/BMP/JPEG headers; anything else is 255."""
    assert image_info(data) == expected


def test_progress_derives_speed_and_eta() -> None:
    """Speed is the mean since the start; ETA the rest at that speed; unknowns are None."""
    assert Progress(current=50, total=200, elapsed=2.0).speed == 25.0
    assert Progress(current=50, total=200, elapsed=2.0).eta == 6.0
    assert Progress(current=0, total=None, elapsed=0.0).speed is None
    assert Progress(current=10, total=None, elapsed=1.0).eta is None
    assert Progress(current=10, total=10, elapsed=1.0, finished=True).as_result() == DownloadElemResult(
        current_size=10, total_size=10
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_board_throttles_by_bytes_and_time() -> None:
    """A snapshot goes out after 64 KiB or 50 ms, never more often, and a total change always shows."""
    clock = FakeClock()
    board = ProgressBoard(clock)
    board.update(0, 1_000_000)
    assert board.version == 1
    board.update(1000, 1_000_000)
    assert board.version == 1  # too soon, too little
    clock.now = 0.06
    board.update(2000, 1_000_000)
    assert (board.version, board.latest) == (2, DownloadElemResult(current_size=2000, total_size=1_000_000))
    board.update(2000 + 64 * 1024, 1_000_000)
    assert board.version == 3


def test_progress_board_never_goes_back_and_only_finish_reaches_the_total() -> None:
    """After a restart from zero the mark holds; before finish() the total is never reported reached."""
    clock = FakeClock()
    board = ProgressBoard(clock)
    board.update(500_000, 1_000_000)
    board.update(1_000_000, 1_000_000)
    assert board.latest == DownloadElemResult(current_size=999_999, total_size=1_000_000)
    clock.now = 1.0
    board.update(10, 1_000_000)  # started over
    assert board.latest is not None and board.latest.current_size == 999_999
    board.finish(1_000_000)
    assert board.latest == DownloadElemResult(current_size=1_000_000, total_size=1_000_000)
    assert board.progress().finished
