"""`aio-tim batch-send --to-file IDS TEXT`: one text to every UserID in a file, resumable.

The whole file is checked first (every bad line named by its number, nothing sent), repeated
UserIDs are sent to once (and counted), then the recipients go out in chunks of 500 with a
progress bar on stderr. A checkpoint keyed by the campaign's content (`checkpoint.py`) records
who is done: after Ctrl-C or a crash, the same command resumes. Every recipient not delivered is
written to a failures file with its code and what it means; `--retry-failed` sends to them again
(say, after `aio-tim account import` of the 70107s).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client import Client
from ..errors import UsageError, error_for
from ..protocol.validate import check_identifier
from ..types import BatchSendParam, Message, TextElem
from .checkpoint import Checkpoint, CheckpointBusy, CheckpointError, campaign_key, checkpoint_folder
from .commands import add_command
from .console import console, progress_console
from .errors import CliError, ExitCode, say
from .options import add_target_options
from .progress import batch_progress
from .target import check_reachable, target_of

__all__ = ["register", "run_batch_send"]

_BAD_LINES_SHOWN = 5
_EXAMPLES_SHOWN = 5
# Codes that mean "this UserID is not an account (yet)": `account import` is the cure.
_NOT_IMPORTED = frozenset({70107, 20003, 90012, 90048})


def register(commands: Any) -> None:
    batch = add_command(commands, "batch-send",
                        "Checks the whole file first, sends once to each distinct UserID in chunks "
                        "of 500 with a progress bar, and writes who was not delivered (code and "
                        "meaning) to a failures file. A checkpoint keyed by the message and the "
                        "recipients records who is done: after Ctrl-C or a crash, the same command "
                        "resumes where it stopped.")  # fmt: skip
    add_target_options(batch)
    batch.add_argument("--to-file", required=True, type=Path, help="one UserID per line")
    again = batch.add_mutually_exclusive_group()
    again.add_argument("--restart", action="store_true", help="ignore the checkpoint: send to everyone again")
    again.add_argument(
        "--retry-failed", action="store_true",
        help="send again to the recipients this campaign failed to deliver to (e.g. after `account import`)",
    )  # fmt: skip
    batch.add_argument(
        "--failures", type=Path, default=None, metavar="FILE",
        help="where to write the recipients not delivered (default: next to the checkpoint)",
    )  # fmt: skip
    batch.add_argument("text", help="the message's text")
    batch.set_defaults(run=run_batch_send)


@dataclass(frozen=True)
class Recipients:
    """The distinct UserIDs of a --to-file, in file order, and how many lines repeated one."""

    ids: list[str]
    duplicates: int = 0
    first_duplicate: str = ""


async def run_batch_send(args: argparse.Namespace) -> int:
    target = target_of(args)
    recipients = await asyncio.to_thread(read_recipients, args.to_file)
    if recipients.duplicates:
        repeated, distinct = recipients.duplicates, len(recipients.ids)
        say(f"--to-file {args.to_file}: {_count(repeated, 'repeated UserID')} skipped (the first: "
            f"{recipients.first_duplicate!r}); {_count(distinct, 'distinct recipient')}")  # fmt: skip
    await check_reachable(target)
    sender = args.user or target.admin
    ids = recipients.ids
    key = campaign_key(target.url, target.instance, sender, args.text, ids)
    folder = checkpoint_folder()
    with _open_checkpoint(folder, key, restart=args.restart) as checkpoint:
        if args.retry_failed:
            checkpoint.forget_failures()
        pending = checkpoint.pending(ids)
        tally = _Tally(total=len(ids), before=dict(checkpoint.done))
        _say_resuming(tally, pending, checkpoint)
        try:
            if pending:
                async with target.client(sender) as tim:
                    await _send_batch(tim, pending, args.text, checkpoint, tally)
        except BaseException as exc:
            checkpoint.flush()
            _say_stopped(exc, tally, checkpoint)
            raise
        failures_file = args.failures or folder / f"{key}.failed.tsv"
        failures = _write_failures(failures_file, ids, checkpoint.done)
        delivered = sum(1 for identifier in ids if checkpoint.done.get(identifier) == 0)
    return _batch_report(tally, delivered, failures, failures_file, target.store_path(sender))


def _open_checkpoint(folder: Path, key: str, *, restart: bool) -> Checkpoint:
    try:
        return Checkpoint.open(folder, key, restart=restart)
    except CheckpointBusy:
        raise CliError("another `aio-tim batch-send` of this campaign (same server, sender, text and "
                       "recipients) is running; let it finish, then rerun to see its result",
                       ExitCode.LOCAL) from None  # fmt: skip
    except CheckpointError as error:
        raise CliError(f"{error}, or pass --restart", ExitCode.LOCAL) from None


def _say_resuming(tally: _Tally, pending: list[str], checkpoint: Checkpoint) -> None:
    if not tally.before:
        return
    failed = sum(1 for code in tally.before.values() if code)
    what = "resuming" if pending else "nothing to send"
    retry = f", {failed:,} of them not delivered (--retry-failed sends to those again)" if failed else ""
    say(f"{what}: {len(tally.before):,} of {tally.total:,} recipients already done{retry} "
        f"(checkpoint {checkpoint.path}; --restart sends to everyone again)")  # fmt: skip


def _say_stopped(exc: BaseException, tally: _Tally, checkpoint: Checkpoint) -> None:
    """What was done before the run stopped; "resumes" only where a rerun would indeed resume."""
    if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
        say(f"interrupted: {tally.line()}; the same command resumes (checkpoint {checkpoint.path})")
    else:
        say(f"stopped by the error below: {tally.line()}; once it is fixed, the same command resumes "
            f"(checkpoint {checkpoint.path})")  # fmt: skip


@dataclass
class _Tally:
    """What a batch send did: results of this run, on top of those a checkpoint had."""

    total: int
    before: dict[str, int]
    delivered: int = 0
    failed: int = 0

    def add(self, code: int) -> None:
        if not code:
            self.delivered += 1
        else:
            self.failed += 1

    def line(self) -> str:
        sent = self.delivered + self.failed
        return (
            f"delivered {self.delivered:,}, failed {self.failed:,} in this run; "
            f"{len(self.before) + sent:,} of {self.total:,} recipients done"
        )


async def _send_batch(
    tim: Client, pending: list[str], text: str, checkpoint: Checkpoint, tally: _Tally
) -> None:
    msg = Message(elem_array=[TextElem(content=text)], rand=checkpoint.rand)
    param = BatchSendParam(identifier_array=pending, msg=msg)
    done_before = len(tally.before)
    with batch_progress(progress_console) as bar:
        task = bar.add_task("batch-send", total=tally.total, completed=done_before, delivered=0, failed=0)
        async for result in tim.msg.iter_batch_send(param):
            checkpoint.record(result.identifier, result.code)
            tally.add(result.code)
            bar.update(task, advance=1, delivered=tally.delivered, failed=tally.failed)
            if (tally.delivered + tally.failed) % 500 == 0:
                checkpoint.flush()
    checkpoint.flush()


def _write_failures(path: Path, ids: list[str], done: dict[str, int]) -> dict[int, list[str]]:
    """Every recipient not delivered, `identifier<TAB>code<TAB>meaning` in file order; the
    failed UserIDs by code. An earlier failures file of the campaign is replaced (or removed)."""
    failures: dict[int, list[str]] = {}
    for identifier in ids:
        code = done.get(identifier, 0)
        if code:
            failures.setdefault(code, []).append(identifier)
    if not failures:
        path.unlink(missing_ok=True)
        return failures
    lines = [f"{i}\t{code}\t{_meaning(code)}\n" for i in ids if (code := done.get(i, 0))]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines), encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--failures {path}: cannot write it ({exc.strerror})", ExitCode.LOCAL) from None
    return failures


def _meaning(code: int) -> str:
    return error_for(code).desc


def _batch_report(
    tally: _Tally, delivered: int, failures: dict[int, list[str]], failures_file: Path, store: str
) -> int:
    """The summary on stdout: delivered, each failure code with its count, meaning and what to do,
    the failures file; exit 1 when some recipient was not delivered."""
    console.print(f"delivered {delivered} of {tally.total}", soft_wrap=True, highlight=False)
    for code, ids in sorted(failures.items(), key=lambda item: -len(item[1])):
        examples = ", ".join(ids[:_EXAMPLES_SHOWN]) + (", ..." if len(ids) > _EXAMPLES_SHOWN else "")
        console.print(f"  {len(ids):,} failed with {code}: {_meaning(code)}{_cure(code)} ({examples})",
                      soft_wrap=True, highlight=False, markup=False)  # fmt: skip
    if failures:
        console.print(f"  every recipient not delivered, with its code: {failures_file}", soft_wrap=True,
                      highlight=False)  # fmt: skip
    console.print(f"  ({tally.line()}; history kept in {store})", soft_wrap=True, highlight=False)
    return int(ExitCode.PARTIAL) if delivered < tally.total else 0


def _cure(code: int) -> str:
    if code in _NOT_IMPORTED:
        return "; import them (`aio-tim account import`), then rerun with --retry-failed"
    return ""


def read_recipients(path: Path) -> Recipients:
    """The file's distinct UserIDs; every invalid line is a usage error before anything is sent."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"--to-file {path}: no such file", ExitCode.LOCAL) from None
    except OSError as exc:
        raise CliError(f"--to-file {path}: cannot read it ({exc.strerror})", ExitCode.LOCAL) from None
    seen: set[str] = set()
    ids: list[str] = []
    bad: list[str] = []
    duplicates, first_duplicate = 0, ""
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            identifier = raw.decode("utf-8").strip()
            if identifier:
                check_identifier(identifier, f"line {number}")
        except UnicodeDecodeError:
            bad.append(f"line {number} is not UTF-8 text")
            continue
        except UsageError as error:
            bad.append(_why(error.desc, identifier, number))
            continue
        if not identifier:
            continue
        if identifier in seen:
            duplicates, first_duplicate = duplicates + 1, first_duplicate or identifier
            continue
        seen.add(identifier)
        ids.append(identifier)
    if bad:
        more = f"; and {len(bad) - _BAD_LINES_SHOWN:,} more" if len(bad) > _BAD_LINES_SHOWN else ""
        what = "1 line is not a UserID" if len(bad) == 1 else f"{len(bad):,} lines are not UserIDs"
        raise CliError(f"--to-file {path}: {what} (1 to 32 bytes of UTF-8), nothing was sent: "
                       f"{'; '.join(bad[:_BAD_LINES_SHOWN])}{more}")  # fmt: skip
    if not ids:
        raise CliError(f"--to-file {path} lists no UserID (one per line)")
    return Recipients(ids, duplicates, first_duplicate)


def _why(desc: str, identifier: str, number: int) -> str:
    size = len(identifier.encode("utf-8", "surrogatepass"))
    return f"line {number} is {size} bytes" if size > 32 else desc


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
