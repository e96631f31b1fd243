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
import json
import os
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

import platformdirs

from ..errors import error_for

__all__ = ["Checkpoint", "campaign_key", "checkpoint_folder"]


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

    @classmethod
    def open(cls, folder: Path, key: str, *, rng: random.Random | None = None) -> Checkpoint:
        """Load the campaign's checkpoint, or start one (owner-only folder and file)."""
        path = folder / f"{key}.tsv"
        if path.exists():
            rand, done = _read(path)
        else:
            rand, done = (rng or random.SystemRandom()).randrange(1, 2**32 - 1), {}
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(json.dumps({"rand": rand}) + "\n")
        checkpoint = cls(path, rand, done)
        checkpoint._file = path.open("a", encoding="utf-8")
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

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Checkpoint {self.path} done={len(self.done)}>"


def _read(path: Path) -> tuple[int, dict[str, int]]:
    with path.open(encoding="utf-8") as file:
        rand = int(json.loads(file.readline())["rand"])
        done: dict[str, int] = {}
        for line in file:
            identifier, tab, code = line.rstrip("\n").rpartition("\t")
            if tab and code.lstrip("-").isdigit():  # a line cut short by a crash is ignored
                done[identifier] = int(code)
    return rand, done


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"
