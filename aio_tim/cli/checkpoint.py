"""A resumable record of a batch send: which recipients are done, keyed by the campaign's content.

The key is a digest of what is sent and to whom (endpoint, sender, message, recipients), so a
rerun of the same campaign resumes it, and a new announcement, even to the same list, starts
fresh. The file is append-only (one `identifier<TAB>code` line per result), written as results
arrive and flushed per chunk, so an interrupted run loses at most the chunk in flight, which is
resent with the campaign's fixed MsgRandom.

    checkpoint = Checkpoint.open(folder, campaign_key(url, "admin", text, recipients))
    pending = checkpoint.pending(recipients)
    async for result in tim.msg.iter_batch_send(...):
        checkpoint.record(result.identifier, result.code)
    checkpoint.close()
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

import platformdirs

from ..errors import error_for

if sys.platform != "win32":
    import fcntl

__all__ = ["Checkpoint", "CheckpointBusy", "CheckpointError", "campaign_key", "checkpoint_folder"]


def checkpoint_folder() -> Path:
    """Where `aio-tim batch-send` keeps checkpoints: the OS's per-user state folder."""
    return platformdirs.user_state_path("aio_tim", appauthor=False) / "checkpoints"


def campaign_key(*parts: str | Sequence[str]) -> str:
    """A digest of the campaign's content: every part, and every item of a list part, in order."""
    digest = hashlib.sha256()
    for part in parts:
        items = [part] if isinstance(part, str) else part
        digest.update(len(items).to_bytes(8, "big"))
        for item in items:
            data = item.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:24]


class Checkpoint:
    """The done recipients of one campaign and its fixed MsgRandom, in `<folder>/<key>.tsv`."""

    def __init__(self, path: Path, rand: int, done: dict[str, int]) -> None:
        self.path = path
        self.rand = rand
        self.done = done  # identifier -> final code (0 delivered)
        self._file: IO[str] | None = None
        self._lock: IO[bytes] | None = None

    @classmethod
    def open(
        cls, folder: Path, key: str, *, rng: random.Random | None = None, restart: bool = False
    ) -> Checkpoint:
        """Load the campaign's checkpoint, or start one (owner-only folder and file); `restart`
        starts it over. One process at a time: a second one gets `CheckpointBusy`."""
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = _lock(folder / f"{key}.lock")
        try:
            path = folder / f"{key}.tsv"
            if restart:
                path.unlink(missing_ok=True)
            loaded = _read(path) if path.exists() else None
            if loaded is None:  # none yet, or a crash came before its header: nothing recorded
                loaded = (rng or random.SystemRandom()).randrange(1, 2**32 - 1), {}
                _start(path, loaded[0])
            checkpoint = cls(path, *loaded)
            checkpoint._lock = lock
            checkpoint._file = path.open("a", encoding="utf-8")
        except BaseException:
            lock.close()
            raise
        if not _ends_with_newline(path):
            checkpoint._file.write("\n")  # end a line a crash cut short; it was ignored on reading
        return checkpoint

    def pending(self, recipients: Iterable[str]) -> list[str]:
        """The recipients not yet done, in order, each once."""
        seen = set(self.done)
        out = []
        for recipient in recipients:
            if recipient not in seen:
                seen.add(recipient)
                out.append(recipient)
        return out

    def forget_failures(self) -> list[str]:
        """Make the recipients that failed for good pending again (`--retry-failed`); their new
        results, appended later, override the old ones when the file is read."""
        failed = [identifier for identifier, code in self.done.items() if code]
        for identifier in failed:
            del self.done[identifier]
        return failed

    def record(self, identifier: str, code: int) -> None:
        """Note one result; a transient failure is left pending, so a rerun tries it again."""
        if code and error_for(code).retryable:
            return
        self.done[identifier] = code
        if self._file is not None:
            self._file.write(f"{identifier}\t{code}\n")

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.flush()
            file.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()  # releases the flock

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Checkpoint {self.path} done={len(self.done)}>"


class CheckpointError(Exception):
    """A checkpoint that cannot be used: damaged, or held by another run of the campaign."""


class CheckpointBusy(CheckpointError):
    """Another process is running the same campaign (it holds the checkpoint's lock)."""


def _lock(path: Path) -> IO[bytes]:
    """Hold `path`'s exclusive lock (released when the file is closed, or the process dies)."""
    file = path.open("ab")
    os.chmod(path, 0o600)
    if sys.platform != "win32":
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise CheckpointBusy(f"another process is sending this campaign (lock {path})") from None
    return file


def _start(path: Path, rand: int) -> None:
    """Write a fresh checkpoint, its header in place before its name appears (no 0-byte file)."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(json.dumps({"rand": rand}) + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _read(path: Path) -> tuple[int, dict[str, int]] | None:
    """The campaign's MsgRandom and results; None when the file holds no complete header and
    nothing else (a crash between creating it and writing the header: nothing was sent)."""
    with path.open(encoding="utf-8", errors="replace") as file:
        header = file.readline()
        rest = file.readline()
        try:
            rand = int(json.loads(header)["rand"])
        except (ValueError, KeyError, TypeError):
            if not rest:
                return None
            raise CheckpointError(f"checkpoint {path} is damaged (no header line); delete it") from None
        done: dict[str, int] = {}
        for line in itertools.chain([rest], file):
            identifier, tab, code = line.rstrip("\n").rpartition("\t")
            if tab and code.lstrip("-").isdigit():  # a line cut short by a crash is ignored
                done[identifier] = int(code)
    return rand, done


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"
