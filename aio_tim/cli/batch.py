"""`aio-tim batch-send --to-file IDS TEXT`: one text to every UserID in a file, resumable.

Sends in chunks of 500 with a progress bar on stderr. A checkpoint keyed by the campaign's
content (`checkpoint.py`) records who is done: after Ctrl-C or a crash, the same command resumes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import Client
from ..types import BatchSendParam, Message, TextElem
from .checkpoint import Checkpoint, campaign_key, checkpoint_folder
from .commands import add_command
from .console import console, progress_console
from .errors import CliError, ExitCode, say
from .options import add_target_options
from .progress import batch_progress
from .target import check_reachable, target_of

__all__ = ["register", "run_batch_send"]

_FAILURES_SHOWN = 20


def register(commands: Any) -> None:
    batch = add_command(commands, "batch-send",
                        "Sends in chunks of 500 with a progress bar. A checkpoint keyed by the message "
                        "and the recipients records who is done: after Ctrl-C or a crash, the same "
                        "command resumes where it stopped.")  # fmt: skip
    add_target_options(batch)
    batch.add_argument("--to-file", required=True, type=Path, help="one UserID per line")
    batch.add_argument("--restart", action="store_true", help="ignore the checkpoint: send to everyone again")
    batch.add_argument("text")
    batch.set_defaults(run=run_batch_send)


async def run_batch_send(args: argparse.Namespace) -> int:
    target = target_of(args)
    recipients = _read_recipients(args.to_file)
    await check_reachable(target)
    sender = args.user or target.admin
    key = campaign_key(target.url, target.instance, sender, args.text, recipients)
    folder = checkpoint_folder()
    if args.restart:
        (folder / f"{key}.tsv").unlink(missing_ok=True)
    with Checkpoint.open(folder, key) as checkpoint:
        pending = checkpoint.pending(recipients)
        tally = _Tally(total=len(recipients), before=dict(checkpoint.done))
        if tally.before:
            what = "resuming" if pending else "nothing to send"
            say(f"{what}: {len(tally.before):,} of {len(recipients):,} recipients already done "
                f"(checkpoint {checkpoint.path}; --restart sends to everyone again)")  # fmt: skip
        try:
            if pending:
                async with target.client(sender) as tim:
                    await _send_batch(tim, pending, args.text, checkpoint, tally)
        except BaseException:
            checkpoint.flush()
            say(f"interrupted: {tally.line()}; the same command resumes (checkpoint {checkpoint.path})")
            raise
    return _batch_report(tally, target.store_path(sender))


@dataclass
class _Tally:
    """What a batch send did: results of this run, on top of those a checkpoint had."""

    total: int
    before: dict[str, int]
    delivered: int = 0
    failed: int = 0
    failures: list[tuple[str, int]] = field(default_factory=list)

    def add(self, identifier: str, code: int) -> None:
        if not code:
            self.delivered += 1
            return
        self.failed += 1
        if len(self.failures) < _FAILURES_SHOWN:
            self.failures.append((identifier, code))

    def line(self) -> str:
        done_before = len(self.before)
        sent = self.delivered + self.failed
        return (
            f"delivered {self.delivered:,}, failed {self.failed:,} in this run; "
            f"{done_before + sent:,} of {self.total:,} recipients done"
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
            tally.add(result.identifier, result.code)
            bar.update(task, advance=1, delivered=tally.delivered, failed=tally.failed)
            if (tally.delivered + tally.failed) % 500 == 0:
                checkpoint.flush()
    checkpoint.flush()


def _batch_report(tally: _Tally, store: str) -> int:
    """The summary on stdout; exit 1 when some recipient was not delivered."""
    delivered = tally.delivered + sum(1 for code in tally.before.values() if not code)
    console.print(f"delivered {delivered} of {tally.total}", soft_wrap=True)
    for identifier, code in tally.failures[:_FAILURES_SHOWN]:
        console.print(f"  [red]{identifier}[/red] {code}", soft_wrap=True)
    if tally.failed > _FAILURES_SHOWN:
        console.print(f"  ... and {tally.failed - _FAILURES_SHOWN:,} more", soft_wrap=True)
    console.print(f"  ({tally.line()}; history kept in {store})", soft_wrap=True, highlight=False)
    return int(ExitCode.PARTIAL) if delivered < tally.total else 0


def _read_recipients(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"--to-file {path}: no such file", ExitCode.LOCAL) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"--to-file {path}: cannot read it ({exc})", ExitCode.LOCAL) from None
    recipients = [line.strip() for line in text.splitlines() if line.strip()]
    if not recipients:
        raise CliError(f"--to-file {path} lists no UserID (one per line)")
    return recipients
