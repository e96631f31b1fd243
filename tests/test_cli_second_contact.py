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
    """An empty HOME of its own: no serve record, store or checkpoint from another test."""
    return user_env(tmp_path)


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One HOME, with one `aio-tim serve` running in it, for the tests that only read or send."""
    env = user_env(tmp_path_factory.mktemp("home"))
    server, _ = start_serve(env, "--secret-key", KEY)
    try:
        yield env
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


# --- 10: errors on the right stream, with the right code, naming what the user typed ---------------


def test_send_a_missing_file_is_exit_6_on_stderr_and_nothing_on_stdout(shared_env, tmp_path):
    """`send --file nope.pdf`: "--file nope.pdf: no such file", exit 6 as the docs say, stdout empty."""
    missing = tmp_path / "nope.pdf"
    result = run_cli("send", "--to", "bob", "--file", str(missing), env=shared_env)
    assert result.returncode == ExitCode.LOCAL
    assert result.stdout == ""
    assert one_line(result) == f"aio-tim: --file {missing}: no such file"


def test_revoke_by_seq_without_group_says_to_add_group(shared_env):
    """`revoke team --seq 1` without --group names --group, not --msg-id; exit 2."""
    result = run_cli("revoke", "team", "--seq", "1", env=shared_env)
    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    assert "add --group" in one_line(result)


def test_group_info_of_an_unknown_group_is_stderr_exit_5_like_delete(shared_env):
    """`group info nosuchgroup` fails as `group delete nosuchgroup` does: one stderr line, exit 5."""
    info = run_cli("group", "info", "nosuchgroup", env=shared_env)
    delete = run_cli("group", "delete", "nosuchgroup", env=shared_env)
    for result in (info, delete):
        assert result.returncode == ExitCode.REFUSED, result
        assert result.stdout == ""
        assert one_line(result).endswith("[10010]")
    assert "nosuchgroup" in one_line(info)


def test_a_bad_variable_is_blamed_not_the_flag(env):
    """AIO_TIM_SDK_APP_ID=abc: the line names the variable, not `argument --sdk-app-id`; exit 2."""
    result = run_cli("send", "--to", "bob", "hi", env={**env, "AIO_TIM_SDK_APP_ID": "abc"})
    assert result.returncode == ExitCode.USAGE
    line = one_line(result)
    assert line.startswith("aio-tim: AIO_TIM_SDK_APP_ID: 'abc' is not a whole number"), line
    assert "argument --sdk-app-id" not in line
    typed = run_cli("send", "--to", "bob", "--sdk-app-id", "abc", "hi", env=env)
    assert "argument --sdk-app-id: 'abc' is not a whole number" in one_line(typed)


@pytest.mark.parametrize("value", ["-1", "0"])
def test_history_limit_must_be_positive(env, value):
    """`history --limit -1` is refused by the parser: one line naming --limit, exit 2."""
    result = run_cli("history", "bob", "--limit", value, env=env)
    assert result.returncode == ExitCode.USAGE
    assert f"argument --limit: {value} is less than 1" in one_line(result)
