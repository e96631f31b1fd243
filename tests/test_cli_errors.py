"""The CLI's one place where a failure becomes an exit code and one line, tested as a table."""

from __future__ import annotations

import errno

import pytest

from aio_tim.cli.errors import CliError, ExitCode, describe, reported
from aio_tim.errors import AuthError, NotFoundError, TransportError, UsageError


@pytest.mark.parametrize(
    ("exc", "code", "words"),
    [
        (CliError("--to-file x: no such file", ExitCode.LOCAL), ExitCode.LOCAL, "--to-file x"),
        (UsageError(-4, "a.txt already exists; pass overwrite=True to replace it"), ExitCode.USAGE,
         "--overwrite"),
        (UsageError(-4, "message_elem_array is empty: a message needs an element"), ExitCode.USAGE,
         "a message needs text"),
        (AuthError(70009, "bad signature"), ExitCode.AUTH, "--secret-key / AIO_TIM_SECRET_KEY"),
        (TransportError(9501, "openim/sendmsg: cannot connect", sent=False), ExitCode.UNREACHABLE,
         "cannot connect"),
        (NotFoundError(70107, "account does not exist"), ExitCode.REFUSED, "[70107]"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "ids.txt"), ExitCode.LOCAL,
         "ids.txt: no such file"),
        (OSError(errno.EADDRINUSE, "address already in use"), ExitCode.LOCAL, "--port"),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED, ""),
        (ZeroDivisionError("boom"), ExitCode.BUG, "internal error: ZeroDivisionError: boom"),
    ],
)  # fmt: skip
def test_each_failure_has_its_code_and_cli_words(exc, code, words):
    """describe() maps each kind of failure to its exit code and a line in the CLI's words."""
    got_code, line = describe(exc)
    assert got_code is code
    assert words in line
    assert "\n" not in line and "overwrite=True" not in line


def test_an_unexpected_error_points_at_v(capsys):
    """A bug is one line suggesting -v, exit 70; with -v the traceback is printed as well."""
    with reported(0) as status:
        raise RuntimeError("surprise\nsecond line")
    assert status[0] == ExitCode.BUG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run with -v" in err and "surprise second line" in err
    with reported(1) as status:
        raise RuntimeError("surprise")
    assert "Traceback" in capsys.readouterr().err
