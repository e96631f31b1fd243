"""Disks for the tests that need particular ones: a really full one (a tiny tmpfs mounted for
the test), and whether a folder's file system can allocate space ahead (fallocate KEEP_SIZE)."""

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aio_tim.transfer import space

__all__ = ["can_reserve_space", "tiny_fs", "tiny_tmpfs"]


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path`; skips the test when mounting is not allowed."""
    path.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if mount is None or umount is None:
        pytest.skip("disk-full test needs mount(8) to create a tiny tmpfs")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, check=False
    )
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip()
        pytest.skip(f"cannot mount a tmpfs (needs root/CAP_SYS_ADMIN): {reason}")
    try:
        yield path
    finally:
        subprocess.run([umount, str(path)], check=True)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs, so that the disk really fills up."""
    with tiny_tmpfs(tmp_path / "tiny", "512k") as mount_point:
        yield mount_point


def can_reserve_space(folder: Path) -> bool:
    """Whether files in `folder` can have space allocated ahead (Linux fallocate, KEEP_SIZE)."""
    probe = folder / ".probe"
    fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        space.reserve(fd, 0, 4096)
    except space.SpaceUnsupported:
        return False
    finally:
        os.close(fd)
        probe.unlink()
    return True
