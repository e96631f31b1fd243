"""How `aio-tim` reports a failure: one line on stderr, in the CLI's words, with its own exit code.

Every subcommand runs inside `reported()` (`aio_tim.cli.main` does it for all of them), so a
new command gets the same treatment without doing anything:

    aio-tim: cannot reach http://127.0.0.1:9 (connection refused): is `aio-tim serve` running?
    aio-tim: ids.txt: no such file (--to-file)

`-v` adds the traceback. Exit codes, one per kind of failure (see `ExitCode`):

    0 done  1 done, but some recipients failed  2 usage  3 server unreachable
    4 credentials refused  5 the server refused the request  6 local file or OS  70 a bug  130 Ctrl-C
"""

from __future__ import annotations

import enum
import errno
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, TextIO

from ..errors import AuthError, TIMError, TransportError, UsageError

__all__ = ["CliError", "ExitCode", "describe", "reported", "say"]


class ExitCode(enum.IntEnum):
    OK = 0
    PARTIAL = 1  # the command ran; some recipients failed (batch-send)
    USAGE = 2  # a flag or an argument is wrong (argparse uses 2 too)
    UNREACHABLE = 3  # no server answered
    AUTH = 4  # the server refused the credentials
    REFUSED = 5  # the server answered with a TIM error
    LOCAL = 6  # a local file or the OS refused (missing file, port in use)
    BUG = 70  # EX_SOFTWARE: an unexpected exception
    INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """A failure the CLI has already put in its own words."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


# Library wording -> CLI wording: the user typed flags, not keyword arguments.
_CLI_WORDS: Final = (
    (re.compile(r"pass overwrite=True to replace it"), "pass --overwrite to replace it"),
    (re.compile(r"message_elem_array is empty: a message needs an element"), "a message needs text"),
    (
        re.compile(r"(message_elem_array\[\d+\]: )?text_elem_content is empty: a text message needs text"),
        "a message needs text",
    ),
    (re.compile(r"\bmsg_id\b"), "--msg-id"),
    (re.compile(r"msg_batch_send_param_identifier_array item"), "a UserID in --to-file"),
    (re.compile(r"msg_batch_send_param_identifier_array is empty"), "--to-file lists no UserID"),
    (re.compile(r"\bconv_id\b"), "the conversation (--to)"),
)


def say(line: str, stream: TextIO | None = None) -> None:
    """Write `aio-tim: <line>` as exactly one line (never wrapped, whatever the terminal)."""
    out = stream or sys.stderr
    out.write("aio-tim: " + " ".join(line.split()) + "\n")
    out.flush()


@contextmanager
def reported(verbose: int = 0) -> Iterator[list[int]]:
    """Run a command; a failure becomes one line on stderr and its exit code in `status[0]`.

    with reported(args.verbose) as status:
        status[0] = run()
    sys.exit(status[0])
    """
    status = [0]
    try:
        yield status
    except SystemExit:
        raise
    except BaseException as exc:
        code, line = describe(exc)
        if verbose and not isinstance(exc, KeyboardInterrupt | CliError):
            traceback.print_exception(exc, file=sys.stderr)
        if line:
            say(line if verbose or code is not ExitCode.BUG else f"{line} (run with -v for the traceback)")
        status[0] = int(code)


def describe(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one line for a failure."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED, ""
    if isinstance(exc, CliError):
        return exc.code, str(exc)
    if isinstance(exc, TIMError):
        return _tim_error(exc)
    if isinstance(exc, OSError):
        return ExitCode.LOCAL, _os_error(exc)
    return ExitCode.BUG, f"internal error: {type(exc).__name__}: {exc}"


def _tim_error(error: TIMError) -> tuple[ExitCode, str]:
    desc = in_cli_words(error.desc)
    if isinstance(error, AuthError):
        return ExitCode.AUTH, (
            f"the server refused the credentials [{error.code}] {desc}: "
            "check --secret-key / AIO_TIM_SECRET_KEY and --sdk-app-id / AIO_TIM_SDK_APP_ID"
        )
    if isinstance(error, UsageError):
        return ExitCode.USAGE, f"{desc} [{error.code}]"
    if isinstance(error, TransportError):
        return ExitCode.UNREACHABLE, f"{desc} [{error.code}]"
    return ExitCode.REFUSED, f"{desc} [{error.code}]"


def in_cli_words(text: str) -> str:
    for pattern, words in _CLI_WORDS:
        text = pattern.sub(words, text)
    return text


def _os_error(exc: OSError) -> str:
    name = f"{exc.filename}: " if exc.filename else ""
    if exc.errno == errno.EADDRINUSE:
        return f"address already in use: {exc.strerror or exc}; pick another --port (0 = any free port)"
    reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
    return f"{name}{reason}"
