"""`aio-tim`: the command line. `demo` and `serve` run the embedded dev server; `send`,
`batch-send`, `download`, `history` and `revoke` talk to any TIM REST endpoint (flags, `AIO_TIM_*`
variables, or the running `aio-tim serve`); `info` says where things are.

Every failure is one line on stderr with its own exit code (`aio_tim.cli_errors`); `-v` adds
tracebacks and INFO logs, `-vv` a DEBUG line per REST call."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from socket import gaierror as socket_gaierror
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from . import cli_admin
from .checkpoint import Checkpoint, campaign_key, checkpoint_folder
from .cli_errors import CliError, ExitCode, reported, say
from .cli_listen import add_listen_command, add_serve_webhook_options
from .cli_progress import batch_progress
from .client import Client
from .connection import Timeouts
from .devserver import DevServer
from .devserver.private import stop_on_sigterm, write_private_json
from .pipeline import RetryPolicy
from .store import default_store_path
from .store.paths import data_folder
from .types import (
    BatchSendParam,
    ConvType,
    DownloadElemParam,
    DownloadType,
    FileElem,
    GetMsgListParam,
    Message,
    MsgDeleteParam,
    MsgLocator,
    TextElem,
)

console = Console()
# Progress bars go to stderr: stdout stays the command's result, fit for a pipe.
progress_console = Console(stderr=True)

SERVE_STATE = Path(os.environ.get("XDG_RUNTIME_DIR") or Path.home() / ".cache") / "aio_tim-serve.json"


# A CLI user waits at a prompt: an unreachable server must say so within seconds, not after the
# library's default 60 s of retries meant for long-running services.
CLI_TIMEOUTS = Timeouts(connect=3.0, read=15.0, total=30.0)
CLI_RETRY = RetryPolicy(deadline=10.0)
CONNECT_CHECK_SECONDS = 3.0


@dataclass(frozen=True)
class Target:
    """Where the CLI sends: a REST base URL and the credentials to sign with.

    `origin` says where the URL came from (for hints); `instance` tags one run of an
    `aio-tim serve` whose state is in memory, so its store is not mixed with another run's.
    """

    url: str
    sdk_app_id: int
    secret_key: str
    admin: str
    origin: str = "--url"
    instance: str = ""
    store: bool = True

    def client(self, user_id: str, store_path: str | None = None) -> Client:
        """A Client for `user_id` that, on opening, first checks within seconds that the server
        is reachable: every command gets that, including those other modules register."""
        return _CliClient(
            self,
            sdk_app_id=self.sdk_app_id,
            user_id=user_id,
            secret_key=self.secret_key,
            base_url=self.url,
            admin=self.admin,
            store_path=store_path or self.store_path(user_id),
            timeouts=CLI_TIMEOUTS,
            retry=CLI_RETRY,
            close_timeout=3.0,
        )

    def store_path(self, user_id: str) -> str:
        """The local store the CLI keeps for `user_id` here (":memory:" with --no-store)."""
        if not self.store:
            return ":memory:"
        endpoint = f"{self.url}#{self.instance}" if self.instance else self.url
        return str(default_store_path(self.sdk_app_id, user_id, endpoint))


class _CliClient(Client):
    """A Client whose `open` fails fast, with a hint, when nothing listens at the target."""

    def __init__(self, target: Target, **options: Any) -> None:
        super().__init__(**options)
        self._target = target

    async def open(self) -> None:
        await _check_reachable(self._target)
        await super().open()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure is one line on stderr and a distinct exit code."""
    argv, verbose = _take_verbose(sys.argv[1:] if argv is None else list(argv))
    _setup_logging(verbose)
    with reported(verbose) as status:
        args = _parser().parse_args(argv)
        args.verbose = verbose
        status[0] = int(asyncio.run(args.run(args)) or 0)
    return status[0]


def _take_verbose(argv: list[str]) -> tuple[list[str], int]:
    """Count and drop -v/-vv/--verbose anywhere before `--`, so `aio-tim send ... -v` works for
    every subcommand, including those registered by other modules."""
    verbose, rest = 0, []
    for index, arg in enumerate(argv):
        if arg == "--":
            rest.extend(argv[index:])
            break
        if arg == "--verbose" or (arg.startswith("-v") and arg[1:] == "v" * (len(arg) - 1)):
            verbose += 1 if arg == "--verbose" else len(arg) - 1
        else:
            rest.append(arg)
    return rest, verbose


def _setup_logging(verbose: int) -> None:
    if verbose:
        level = logging.DEBUG if verbose > 1 else logging.INFO
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("aio_tim").setLevel(level)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage itself is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        say(f"{self.prog}: {message} (see `{self.prog} --help`)")
        raise SystemExit(int(ExitCode.USAGE))


def _version() -> str:
    try:
        return version("aio_tim")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535; 0 = any free port)")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aio-tim", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"aio-tim {_version()}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="show tracebacks and INFO logs; -vv adds a DEBUG line per REST call (anywhere on the line)",
    )  # fmt: skip
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = _command(commands, "demo", "run a tour of aio_tim against an embedded dev server",
                    "Starts an embedded dev server and walks through C2C and group sends, history, "
                    "read marks, revoke, an attachment and a batch send.")  # fmt: skip
    demo.add_argument("--recipients", type=int, default=1200, help="batch-send audience size")
    demo.set_defaults(run=run_demo)

    serve = _command(commands, "serve", "run the TIM-compatible dev server",
                     "Runs the dev server until Ctrl-C and records its URL and key so that the other "
                     "commands find it without flags.")  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8765, help="0 = any free port (default: 8765)")
    serve.add_argument("--db", default=":memory:", help="sqlite file for state (default: memory)")
    serve.add_argument("--secret-key", default=None, help="default: random, kept in --db")
    serve.add_argument(
        "--no-auto-accounts", action="store_true",
        help="do not create accounts on first use: sending to an unknown UserID fails with 70107 as on TIM",
    )  # fmt: skip
    add_serve_webhook_options(serve)
    serve.set_defaults(run=run_serve)

    send = _command(commands, "send", "send a C2C or group text message",
                    "Sends one message (text, an attached file, or both) and prints its msg_id.")  # fmt: skip
    add_target_options(send)
    send.add_argument("--to", required=True, help="peer UserID, or group id with --group")
    send.add_argument("--group", action="store_true", help="--to names a group")
    send.add_argument("--file", type=Path, help="attach this file (uploaded first, with a progress bar)")
    send.add_argument("text", nargs="?", default="")
    send.set_defaults(run=run_send)

    batch = _command(commands, "batch-send", "send one text to every UserID in a file",
                     "Sends in chunks of 500 with a progress bar. A checkpoint keyed by the message "
                     "and the recipients records who is done: after Ctrl-C or a crash, the same "
                     "command resumes where it stopped.")  # fmt: skip
    add_target_options(batch)
    batch.add_argument("--to-file", required=True, type=Path, help="one UserID per line")
    batch.add_argument("--restart", action="store_true", help="ignore the checkpoint: send to everyone again")
    batch.add_argument("text")
    batch.set_defaults(run=run_batch_send)

    download = _command(commands, "download", "download an attachment URL with a progress bar",
                        "Downloads (resuming a partial file) and verifies the file. --to is a file, or "
                        "a folder (existing, or written with a trailing /) to put it in under the "
                        "server's file name.")  # fmt: skip
    add_target_options(download)
    download.add_argument("file_url", metavar="URL", help="the element's URL (e.g. file_elem_url)")
    download.add_argument("--to", default=".", help="file or folder (default: here)")
    download.add_argument("--overwrite", action="store_true", help="replace an existing file")
    download.set_defaults(run=run_download)

    history = _command(commands, "history", "page through a conversation's history",
                       "Lists a conversation's messages from the server's roaming history, newest "
                       "first, with local times.")  # fmt: skip
    add_target_options(history)
    history.add_argument("conv", help="peer UserID, or group id with --group")
    history.add_argument("--group", action="store_true")
    history.add_argument("--page-size", type=int, default=20)
    history.add_argument("--limit", type=int, default=100, help="stop after this many messages")
    history.set_defaults(run=run_history)

    revoke = _command(commands, "revoke", "recall a message",
                      "Recalls a C2C message by the msg_id `send` printed, or a group message by "
                      "its seq.")  # fmt: skip
    add_target_options(revoke)
    revoke.add_argument("conv", help="peer UserID, or group id with --group")
    revoke.add_argument("--group", action="store_true")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--msg-id", help="C2C: the msg_id (MsgKey) `send` printed")
    which.add_argument("--seq", type=int, help="group: the message's seq")
    revoke.set_defaults(run=run_revoke)
    cli_admin.register(commands)  # `group ...` and `account ...`
    add_listen_command(commands, add_target_options)

    info = _command(commands, "info", "show the version, the server in use and where files are kept",
                    "Prints the aio_tim version, which server the other commands would use (and "
                    "where that came from), the local store, the serve record and the checkpoints "
                    "folder.")  # fmt: skip
    add_target_options(info)
    info.set_defaults(run=run_info)
    return parser


def _command(commands: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=summary, description=description)
    return parser


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """--url, --sdk-app-id, --secret-key, --admin and --user, each with its AIO_TIM_* variable
    (for every command that talks to a server, including those other modules register)."""
    env = os.environ.get
    parser.add_argument("--url", default=env("AIO_TIM_URL"),
                        help="REST base URL, e.g. https://console.tim.qq.com (env AIO_TIM_URL)")  # fmt: skip
    parser.add_argument("--sdk-app-id", type=int, default=env("AIO_TIM_SDK_APP_ID"),
                        help="the app's SDKAppID (env AIO_TIM_SDK_APP_ID)")  # fmt: skip
    parser.add_argument("--secret-key", default=env("AIO_TIM_SECRET_KEY"),
                        help="the app's secret key (env AIO_TIM_SECRET_KEY)")  # fmt: skip
    parser.add_argument("--admin", default=env("AIO_TIM_ADMIN"),
                        help="the app admin's UserID (env AIO_TIM_ADMIN; default administrator)")  # fmt: skip
    parser.add_argument("--user", default=env("AIO_TIM_USER"),
                        help="act as this UserID (env AIO_TIM_USER; default: the admin)")  # fmt: skip
    no_store = env("AIO_TIM_NO_STORE", "") not in ("", "0")
    parser.add_argument("--no-store", action="store_true", default=no_store,
                        help="keep no local message store (env AIO_TIM_NO_STORE=1)")  # fmt: skip


def target_of(args: argparse.Namespace) -> Target:
    """Flags and AIO_TIM_* first; what `aio-tim serve` recorded fills the rest."""
    saved = _serve_record()
    url = args.url or saved.get("url")
    sdk_app_id = args.sdk_app_id or saved.get("sdk_app_id")
    secret_key = args.secret_key or saved.get("secret_key")
    if not (url and sdk_app_id and secret_key):
        raise CliError(
            "no server given. Start one with `aio-tim serve`, or pass --url, "
            "--sdk-app-id and --secret-key (or AIO_TIM_URL, AIO_TIM_SDK_APP_ID, AIO_TIM_SECRET_KEY).",
            ExitCode.UNREACHABLE,
        )
    _check_url(url)
    admin = args.admin or saved.get("admin") or "administrator"
    origin = "--url" if args.url else f"the `aio-tim serve` record {SERVE_STATE}"
    instance = "" if args.url else str(saved.get("instance", ""))
    return Target(url, int(sdk_app_id), secret_key, admin, origin, instance, store=not args.no_store)


def _serve_record() -> dict[str, Any]:
    try:
        saved = json.loads(SERVE_STATE.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the `aio-tim serve` record {SERVE_STATE}: {exc}; delete it") from None
    return saved if isinstance(saved, dict) else {}


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        hint = f"; did you mean http://{url}?" if "://" not in url else ""
        raise CliError(f"--url {url!r} must start with http:// or https://{hint}")


async def _check_reachable(target: Target) -> None:
    """Fail within seconds, with a hint, when nothing listens at the target (the library would
    keep retrying a refused connect for up to a minute: right for a service, not at a prompt)."""
    parts = urlsplit(target.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_CHECK_SECONDS)
    except (OSError, TimeoutError) as exc:
        reason = "no answer within 3 s" if isinstance(exc, TimeoutError) else _os_reason(exc)
        message = f"cannot reach {target.url} ({reason}): {_reach_hint(target)}"
        raise CliError(message, ExitCode.UNREACHABLE) from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, socket_gaierror):
        return "unknown host"
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def _reach_hint(target: Target) -> str:
    if target.origin == "--url":
        return "is the server running, and is --url (or AIO_TIM_URL) right?"
    return (
        f"the record was left by an `aio-tim serve` that is no longer running; start it again, "
        f"or pass --url (the record is {SERVE_STATE})"
    )


def _text_message(text: str) -> Message:
    return Message(elem_array=[TextElem(content=text)])


async def run_send(args: argparse.Namespace) -> int:
    target = target_of(args)
    if not args.text and args.file is None:
        raise CliError("a message needs text (or --file)")
    conv_type = ConvType.GROUP if args.group else ConvType.C2C
    msg = _text_message(args.text) if args.text else Message()
    if args.file is not None:
        msg.elem_array.append(FileElem(file_path=str(args.file)))
    async with target.client(args.user or target.admin) as tim:
        sent = await send_with_upload_bar(tim, args.to, conv_type, msg)
    console.print(
        f"sent to {args.to}: seq={sent.seq} rand={sent.rand} "
        f"server_time={sent.server_time} msg_id={sent.msg_id}",
        soft_wrap=True,
    )
    for elem in sent.elem_array:
        if isinstance(elem, FileElem):
            console.print(f"attachment {elem.file_name} ({elem.file_size} bytes): {elem.url}", soft_wrap=True)
    return 0


def _bar() -> Progress:
    """A transfer bar: bytes, rate and time left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


async def download_with_bar(tim: Client, param: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Download an element's file, drawing its progress; return where it landed."""
    return await _draw_download(tim.msg.download_elem_to_path(param, path, overwrite=overwrite))


async def _draw_download(download: Any) -> Path:
    with _bar() as bar:
        task = bar.add_task("download", total=None)
        async for progress in download:
            bar.update(task, completed=progress.current_size, total=progress.total_size)
    await download
    return Path(download.target)


async def send_with_upload_bar(tim: Client, conv_id: str, conv_type: ConvType, msg: Message) -> Message:
    """Send a message whose elements name local files, drawing each upload's progress."""
    if not any(isinstance(elem, FileElem) and elem.file_path for elem in msg.elem_array):
        return await tim.msg.send_new_msg(conv_id, conv_type, msg)  # nothing to upload: no bar
    watch = tim.transfers.watch_uploads()
    with _bar() as bar:
        tasks: dict[tuple[int, str], TaskID] = {}

        async def draw() -> None:
            async for event in watch:
                key = (event.index, str(event.kind))
                if key not in tasks:
                    tasks[key] = bar.add_task(f"upload {event.kind}", total=event.total_size)
                bar.update(tasks[key], completed=event.current_size)

        drawer = asyncio.create_task(draw())
        try:
            return await tim.msg.send_new_msg(conv_id, conv_type, msg)
        finally:
            drawer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drawer


async def run_download(args: argparse.Namespace) -> int:
    target = target_of(args)
    param = DownloadElemParam(type=int(DownloadType.FILE), url=args.file_url)
    destination = Path(args.to)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        name = None
        if _means_folder(args.to):
            await asyncio.to_thread(destination.mkdir, parents=True, exist_ok=True)
            name = await _served_file_name(args.file_url)
        download = tim.msg.download_elem_to_path(param, destination, file_name=name, overwrite=args.overwrite)
        path = await _draw_download(download)
    console.print(f"saved {path}", soft_wrap=True)
    return 0


def _means_folder(to: str) -> bool:
    """`--to inbox/` (trailing separator) or an existing folder: put the file in it."""
    return to.endswith(("/", os.sep)) or Path(to).is_dir()


async def _served_file_name(url: str) -> str | None:
    """The file name the server gives (`Content-Disposition`, RFC 6266, `filename*` first), else
    the URL's last path segment; the download sanitises it either way."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        timeout = aiohttp.ClientTimeout(total=10, sock_connect=CONNECT_CHECK_SECONDS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.head(url, allow_redirects=True) as reply,
        ):
            if name := disposition_file_name(reply.headers.get("Content-Disposition")):
                return name
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or None


def disposition_file_name(header: str | None) -> str | None:
    """The file name in a Content-Disposition value (RFC 6266: `filename*` wins over `filename`).

    >>> disposition_file_name("attachment; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf")
    '报告.pdf'
    """
    if not header:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # aiohttp warns on a malformed header; we just find no name
        _, params = parse_content_disposition(header)
        return content_disposition_filename(params, "filename") or None


async def run_batch_send(args: argparse.Namespace) -> int:
    target = target_of(args)
    recipients = _read_recipients(args.to_file)
    await _check_reachable(target)
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


_FAILURES_SHOWN = 20


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


async def run_history(args: argparse.Namespace) -> int:
    target = target_of(args)
    conv_type = ConvType.GROUP if args.group else ConvType.C2C
    table = Table("time", "seq", "from", "status", "content")
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        shown = 0
        async for msg in tim.msg.iter_msg_list(args.conv, conv_type, page_size=args.page_size, remble=True):
            when = _local_time(msg.server_time)
            table.add_row(when, str(msg.seq), msg.sender or "", _status(msg), _summary(msg))
            shown += 1
            if shown >= args.limit:
                break
    console.print(table)
    return 0


def _local_time(timestamp: int | None) -> str:
    """A server time (Unix seconds) as the local date and time, to the second."""
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


async def run_revoke(args: argparse.Namespace) -> int:
    target = target_of(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        if args.group:
            if args.seq is None:
                raise CliError("revoke: a group message is named by --seq, not --msg-id")
            await tim.msg.revoke(args.conv, ConvType.GROUP, Message(seq=args.seq))
        else:
            await tim.msg.revoke(args.conv, ConvType.C2C, _message_from_key(args.msg_id))
    console.print("revoked")
    return 0


def _message_from_key(msg_id: str | None) -> Message:
    """A C2C MsgKey is `{seq}_{rand}_{time}`: enough to name the message to recall."""
    parts = (msg_id or "").split("_")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise CliError(f"revoke: --msg-id must look like SEQ_RAND_TIME (as `send` prints it), not {msg_id!r}")
    seq, rand, time = map(int, parts)
    return Message(seq=seq, rand=rand, server_time=time, msg_id=msg_id)


_STATUS_NAMES = {2: "sent", 3: "failed", 4: "deleted", 5: "imported", 6: "revoked"}


def _status(msg: Message) -> str:
    return _STATUS_NAMES.get(msg.status or 0, str(msg.status))


def _summary(msg: Message) -> str:
    """A one-line view of a message's elements."""
    parts = []
    for elem in msg.elem_array:
        content = getattr(elem, "content", None)
        parts.append(content if isinstance(content, str) else f"<{type(elem).__name__}>")
    return " ".join(parts)


async def run_serve(args: argparse.Namespace) -> int:
    server = DevServer(
        db_path=args.db, host=args.host, port=args.port, secret_key=args.secret_key,
        auto_accounts=not args.no_auto_accounts,
        webhook_url=args.webhook_url, webhook_token=args.webhook_token,
    )  # fmt: skip
    # A run whose state is in memory is a new server each time: the CLI keys its local store by
    # this tag, so a second run does not show the first run's history.
    instance = secrets.token_hex(6) if args.db == ":memory:" else ""
    async with server:
        _record_serve_state(server, instance)
        console.print(f"[bold]aio_tim dev server[/bold] listening on {server.url}")
        console.print(f"  sdkappid   {server.sdk_app_id}")
        console.print(f"  admin      {server.admin}")
        console.print(f"  secret key {server.secret_key}")
        if args.webhook_url:
            console.print(f"  webhooks   {args.webhook_url}", soft_wrap=True)
        console.print(f"  (recorded in {SERVE_STATE} for `aio-tim send`; Ctrl-C stops)")
        try:
            await asyncio.Event().wait()
        finally:
            SERVE_STATE.unlink(missing_ok=True)
    return 0


def _record_serve_state(server: DevServer, instance: str = "") -> None:
    SERVE_STATE.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "url": server.url,
        "sdk_app_id": server.sdk_app_id,
        "admin": server.admin,
        "secret_key": server.secret_key,
        "instance": instance,
    }
    # The file holds the secret key: 0600 (an existing file too); SIGTERM removes it as Ctrl-C does.
    write_private_json(SERVE_STATE, state)
    stop_on_sigterm()


async def run_info(args: argparse.Namespace) -> int:
    """Where things are: version, server in use, local store, serve record, checkpoints."""
    rows = [("aio_tim", _version()), ("python", sys.version.split()[0])]
    try:
        target: Target | None = target_of(args)
    except CliError as error:
        target, rows = None, [*rows, ("server", str(error))]
    if target is not None:
        user = args.user or target.admin
        rows += [
            ("server", f"{target.url} (from {target.origin})"),
            ("sdkappid", str(target.sdk_app_id)),
            ("admin", target.admin),
            ("local store", target.store_path(user) + ("" if target.store else " (--no-store)")),
        ]
    rows += [
        ("data folder", str(data_folder())),
        ("serve record", f"{SERVE_STATE}{'' if SERVE_STATE.exists() else ' (none)'}"),
        ("checkpoints", str(checkpoint_folder())),
    ]
    for name, value in rows:
        console.print(f"{name:<13}{value}", soft_wrap=True, highlight=False)
    return 0


async def run_demo(args: argparse.Namespace) -> int:
    console.rule("[bold]aio_tim demo[/bold]")
    async with DevServer(auto_accounts=False) as server:
        console.print(f"embedded dev server at {server.url} (sdkappid {server.sdk_app_id})")
        await _demo_setup(server, args.recipients)
        target = Target(server.url, server.sdk_app_id, server.secret_key, server.admin)
        async with target.client("alice", store_path=":memory:") as tim:
            sent = await _demo_c2c(tim)
            await _demo_group(tim)
            async with target.client("bob", store_path=":memory:") as bob:
                await _demo_history(bob)
                await _demo_read(bob)
                await _demo_revoke(tim, bob, sent[1])
            await _demo_attachments(tim)
            await _demo_batch(tim, args.recipients)
    console.rule("done")
    return 0


async def _demo_setup(server: DevServer, recipients: int) -> None:
    audience = [f"user{i:05d}" for i in range(recipients)]
    # Leave a few accounts unregistered so the batch shows per-recipient failures.
    await server.add_accounts("alice", "bob", "carol", *audience[: max(0, recipients - 7)])
    await server.create_group("demo-group", owner="alice", members=("bob", "carol"))
    console.print(
        f"accounts alice, bob, carol and {max(0, recipients - 7)} of {recipients} audience "
        "users; group demo-group"
    )


async def _demo_c2c(tim: Client) -> list[Message]:
    console.rule('C2C: TIMMsgSendNewMsg("bob", kTIMConv_C2C, ...)')
    sent = []
    for text in ("hello bob", "second message, same second", "third", "fourth", "fifth"):
        msg = await tim.msg.send_new_msg("bob", ConvType.C2C, _text_message(text))
        console.print(f"  sent {text!r}: seq={msg.seq} time={msg.server_time} msg_id={msg.msg_id}")
        sent.append(msg)
    return sent


async def _demo_history(bob: Client) -> None:
    console.rule("History: bob, local store empty, pages TIMMsgGetMsgList 2 at a time")
    last: Message | None = None
    for number in range(1, 4):
        param = GetMsgListParam(count=2, is_remble=True, last_msg=last)
        page = await bob.msg.get_msg_list("alice", ConvType.C2C, param)
        console.print(f"  page {number}: {[_summary(m) for m in page]}")
        if len(page) < 2:
            break
        last = page[-1]


async def _demo_read(bob: Client) -> None:
    console.rule("Read: TIMMsgReportReaded")
    before = await bob.store.unread_count((ConvType.C2C, "alice"))
    await bob.msg.report_readed("alice", ConvType.C2C)
    after = await bob.store.unread_count((ConvType.C2C, "alice"))
    console.print(f"  bob's unread messages from alice: {before} before, {after} after")


async def _demo_revoke(alice: Client, bob: Client, msg: Message) -> None:
    console.rule("Revoke: TIMMsgRevoke; bob finds it by locator")
    await alice.msg.revoke("bob", ConvType.C2C, msg)
    await bob.msg.delete("alice", ConvType.C2C, MsgDeleteParam())  # forget bob's local copies
    locator = MsgLocator(time=msg.server_time, seq=msg.seq, rand=msg.rand, is_revoked=True)
    found = await bob.msg.find_by_msg_locator_list("alice", ConvType.C2C, [locator])
    status = [_status(m) for m in found]
    console.print(f"  alice recalled {_summary(msg)!r}; bob's roaming lookup finds it as {status}")


async def _demo_group(tim: Client) -> None:
    console.rule('Group: TIMMsgSendNewMsg("demo-group", kTIMConv_Group, ...)')
    for text in ("hi all", "agenda at 10"):
        sent = await tim.msg.send_new_msg("demo-group", ConvType.GROUP, _text_message(text))
        console.print(f"  sent {text!r}: group seq={sent.seq} time={sent.server_time}")


async def _demo_attachments(tim: Client) -> None:
    console.rule("Attachments: upload on send, TIMMsgDownloadElemToPath with progress")
    with tempfile.TemporaryDirectory() as folder:
        source = await asyncio.to_thread(_sample_file, Path(folder))
        msg = Message(elem_array=[FileElem(file_path=str(source), file_name=source.name)])
        sent = await send_with_upload_bar(tim, "bob", ConvType.C2C, msg)
        elem = sent.elem_array[0]
        assert isinstance(elem, FileElem)
        console.print(f"  sent file {elem.file_name} ({elem.file_size} bytes) at {elem.url}")
        param = DownloadElemParam(type=int(DownloadType.FILE), id=elem.file_id, url=elem.url)
        saved = await download_with_bar(tim, param, Path(folder, "inbox", source.name))
        same = await asyncio.to_thread(_same_bytes, saved, source)
        console.print(f"  downloaded to inbox/{saved.name}: identical to what was sent: {same}")


def _sample_file(folder: Path) -> Path:
    (folder / "inbox").mkdir()
    source = folder / "report.bin"
    source.write_bytes(os.urandom(8 * 1024 * 1024))
    return source


def _same_bytes(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


async def _demo_batch(tim: Client, recipients: int) -> None:
    console.rule(f"Batch: TIMMsgBatchSend to {recipients} users")
    audience = [f"user{i:05d}" for i in range(recipients)]
    param = BatchSendParam(identifier_array=audience, msg=_text_message("service notice"))
    with console.status("sending in chunks of 500..."):
        results = await tim.msg.batch_send(param)
    codes = Counter(result.code for result in results)
    table = Table("code", "meaning", "recipients")
    for code, count in sorted(codes.items()):
        meaning = "delivered" if code == 0 else next(r.desc for r in results if r.code == code)
        table.add_row(str(code), meaning, str(count))
    console.print(table)
    failed = [r.identifier for r in results if r.code]
    if failed:
        console.print(f"  not delivered: {', '.join(failed)}")


if __name__ == "__main__":
    sys.exit(main())
