"""Issue 28's second contact with the command line, each mistake made as the user made it: `aio-tim`
in a subprocess, asserting the message, the stream it is on and the exit code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import one_line, run_cli, start_serve, stop, user_env

from aio_tim.cli.errors import ExitCode

KEY = "second-contact-secret-key-0123456789"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return user_env(tmp_path)


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    """`aio-tim serve` as the user starts it; its record lets other commands run without flags."""
    server, url = start_serve(env, "--secret-key", KEY)
    try:
        yield url
    finally:
        stop(server)


# --- 9: a mistyped command --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sned"], "aio-tim: unknown command 'sned'; did you mean send? (see `aio-tim --help`)"),
        (["group", "creat", "x"], "aio-tim: group: unknown action 'creat'; did you mean create?"),
        (
            ["history", "bob", "--limt", "5"],
            "aio-tim: unrecognized arguments: --limt 5; did you mean --limit?",
        ),
    ],
)
def test_a_typo_is_one_line_with_one_prefix_and_a_suggestion(env, argv, expected):
    """`aio-tim sned`: one line on stderr, "aio-tim:" once, "did you mean send?", exit 2, stdout empty."""
    result = run_cli(*argv, env=env)
    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    assert one_line(result).startswith(expected)
