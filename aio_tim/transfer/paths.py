"""Where a download lands: safe file names, the partial file beside the target, its sidecar.

A partial download lives next to its target as `.<name>.<hash>.part`, where the hash is of the
target's absolute path: a later download to the same path finds it and resumes. The sidecar
`<part>.json` records which representation the bytes belong to (URL, element id, strong ETag,
size, digest), so a resume never appends bytes of another version.

    >>> safe_file_name("../../etc/passwd")
    'passwd'
    >>> safe_file_name("CON.txt")
    '_CON.txt'
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

from ..errors import TIM_ERR_PARAM, UsageError, error_for

__all__ = ["PartFile", "Sidecar", "finalize", "resolve_target", "safe_file_name", "target_exists"]

MAX_NAME_BYTES: Final = 255  # NAME_MAX on Linux, macOS and NTFS (in UTF-16 units there)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED_ON_WINDOWS: Final = re.compile(r'[<>:"|?*]')
_DEVICE_NAMES: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")}
)
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY: Final = getattr(os, "O_BINARY", 0)
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


def safe_file_name(name: str | None, fallback: str = "download") -> str:
    """A name that is one plain file in a folder on any OS; `fallback` when nothing is left.

    Only the last path component survives (`../x` -> `x`, `/etc/passwd` -> `passwd`); control
    characters and the characters Windows forbids become `_`; Windows device names (`CON`,
    `nul.txt`, `COM1`) get a `_` prefix; trailing dots and spaces go (Windows drops them).
    """
    return _sanitize(name or "") or _sanitize(fallback) or "download"


def _sanitize(name: str) -> str:
    text = _CONTROL.sub("_", name.replace("\\", "/")).rsplit("/", 1)[-1]
    text = _RESERVED_ON_WINDOWS.sub("_", text).strip().rstrip(". ")
    if text in ("", ".", ".."):
        return ""
    if text.split(".", 1)[0].upper().rstrip(" ") in _DEVICE_NAMES:
        text = "_" + text
    return _truncate(text)


def _truncate(name: str) -> str:
    """`name` cut to MAX_NAME_BYTES of UTF-8, keeping its extension when that is short."""
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = f".{ext}" if dot and stem and len(ext.encode()) <= 16 else ""
    budget = MAX_NAME_BYTES - len(suffix.encode())
    head = (stem if suffix else name).encode()[:budget].decode(errors="ignore")
    return head + suffix


def resolve_target(path: str | os.PathLike[str], file_name: str | None, fallback: str) -> Path:
    """The file a download writes: `path` itself, or a sanitized name inside `path` when it is a
    folder. Either way its folder must exist; the result never leaves that folder."""
    target = Path(os.path.abspath(path))
    if _names_folder(path) and not target.is_dir():
        # "inbox/" means "into inbox": never a file named inbox.
        raise UsageError(TIM_ERR_PARAM, f"download folder {target} does not exist")
    if target.is_dir():
        folder = target
        target = folder / safe_file_name(file_name, fallback)
        # Belt and braces: the sanitizer already guarantees one plain component.
        if target.parent != folder:
            raise UsageError(TIM_ERR_PARAM, "file name escapes the download folder")
    elif not target.parent.is_dir():
        raise UsageError(TIM_ERR_PARAM, f"download folder {target.parent} does not exist")
    return target


def _names_folder(path: str | os.PathLike[str]) -> bool:
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) if isinstance(text, str) else text.endswith(b"/")


class Sidecar(msgspec.Struct, omit_defaults=True):
    """What the partial file's bytes are: they may be resumed only for the same representation."""

    url: str
    etag: str
    file_id: str | None = None
    total: int | None = None
    sha256: str | None = None  # hex, from the server's Repr-Digest

    def same_source(self, url: str, file_id: str | None) -> bool:
        # Signed object-storage URLs change between requests; the element id does not.
        return (file_id is not None and self.file_id == file_id) or self.url == url


_SIDECAR_DECODER: Final = msgspec.json.Decoder(Sidecar)


@dataclass(frozen=True)
class PartFile:
    """The partial file of one target and its sidecar; their names depend only on the target."""

    path: Path
    sidecar: Path

    @classmethod
    def for_target(cls, target: Path) -> PartFile:
        digest = hashlib.sha256(os.fsencode(target)).hexdigest()[:12]
        stem = target.name.encode()[:150].decode(errors="ignore")
        path = target.with_name(f".{stem}.{digest}.part")
        return cls(path, path.with_name(path.name + ".json"))

    def read_sidecar(self) -> Sidecar | None:
        """The sidecar, or None when it is missing, unreadable or not ours."""
        try:
            fd = os.open(self.sidecar, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_BINARY)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as file:
            try:
                return _SIDECAR_DECODER.decode(file.read(64 * 1024))
            except (msgspec.DecodeError, msgspec.ValidationError):
                return None

    def write_sidecar(self, sidecar: Sidecar) -> None:
        """Replace the sidecar atomically, so a crash leaves the old one or the new one."""
        tmp = self.sidecar.with_name(self.sidecar.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC | _O_BINARY
        fd = os.open(tmp, flags, 0o666)
        with os.fdopen(fd, "wb") as file:
            file.write(msgspec.json.encode(sidecar))
        os.replace(tmp, self.sidecar)

    def remove_sidecar(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sidecar)

    def remove(self) -> None:
        """Drop the partial file and its sidecar (their content is of no further use)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.remove_sidecar()

    def open(self) -> tuple[int, bool]:
        """Open the partial file for writing: (fd, whether it existed before).

        A new one is created with O_EXCL; an existing one must be a plain file with one link
        (never a symlink: O_NOFOLLOW), so a planted link cannot redirect the write.
        """
        flags = os.O_RDWR | _O_NOFOLLOW | _O_CLOEXEC | _O_BINARY
        try:
            return os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o666), False
        except FileExistsError:
            pass
        fd = os.open(self.path, flags)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            raise error_for(6022, f"{self.path.name} is not a plain file; remove it")
        return fd, True


def finalize(part: Path, target: Path, *, overwrite: bool) -> None:
    """Move the complete file to `target` in one step; without `overwrite`, never replace a file.

    A hard link fails atomically with EEXIST when the target exists, which a check followed by a
    rename cannot promise; filesystems without hard links fall back to that check.
    """
    if overwrite:
        os.replace(part, target)
    else:
        _rename_no_clobber(part, target)
    _fsync_folder(target.parent)


def _rename_no_clobber(part: Path, target: Path) -> None:
    try:
        os.link(part, target, follow_symlinks=False)
    except FileExistsError:
        raise target_exists(target) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(target):
            raise target_exists(target) from None
        os.rename(part, target)
        return
    os.unlink(part)


def target_exists(target: Path) -> UsageError:
    return UsageError(TIM_ERR_PARAM, f"{target.name} already exists; pass overwrite=True to replace it")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a folder, and needs not."""
    try:
        fd = os.open(folder, os.O_RDONLY | _O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the data itself is already synced
    finally:
        os.close(fd)
