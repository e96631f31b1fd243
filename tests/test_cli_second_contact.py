"""Issue 28's second contact with the command line, each mistake made as the user made it: `aio-tim`
in a subprocess, asserting the message, the stream it is on and the exit code."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import CLI, free_port, one_line, run_cli, start_serve, stop, user_env

from aio_tim.cli.commands import COMMANDS
from aio_tim.cli.errors import ExitCode
from aio_tim.cli.main import parser_for

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
            "aio-tim: history: unrecognized arguments: --limt 5; did you mean --limit? "
            "(see `aio-tim history --help`)",
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


# --- 11: batch-send checks the whole file, sends once per UserID, files its failures -----------------


def test_batch_send_sends_once_to_a_repeated_id_and_says_so(env, tmp_path):
    """alice twice in the file: "delivered 2 of 2", exit 0, the repeat counted on stderr; the rerun
    says there is nothing to send and exits 0."""
    server, _ = start_serve(env, "--secret-key", KEY)
    try:
        ids = tmp_path / "ids.txt"
        ids.write_text("alice\nbob\nalice\n")
        first = run_cli("batch-send", "--to-file", str(ids), "hello", env=env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("delivered 2 of 2\n")
        assert f"--to-file {ids}: 1 repeated UserID skipped (the first: 'alice'); 2 distinct" in first.stderr
        again = run_cli("batch-send", "--to-file", str(ids), "hello", env=env)
        assert again.returncode == 0, again.stderr
        assert "nothing to send: 2 of 2 recipients already done" in again.stderr
        assert again.stdout.startswith("delivered 2 of 2\n")
    finally:
        stop(server)


def test_batch_send_checks_every_line_before_sending(env, tmp_path):
    """A 41-character id on line 2 and bad UTF-8 on line 4: one line naming both, "nothing was
    sent", exit 2, no checkpoint, nothing on stdout (not "interrupted ... resumes")."""
    server, _ = start_serve(env, "--secret-key", KEY)
    try:
        ids = tmp_path / "ids.txt"
        ids.write_bytes(b"alice\n" + b"x" * 41 + b"\nbob\n\xff\xfe\n")
        result = run_cli("batch-send", "--to-file", str(ids), "hello", env=env)
    finally:
        stop(server)
    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    line = one_line(result)
    assert "2 lines are not UserIDs" in line and "nothing was sent" in line
    assert "line 2 is 41 bytes" in line and "line 4 is not UTF-8 text" in line
    assert "interrupted" not in line and "resumes" not in line
    assert not list(Path(env["XDG_STATE_HOME"]).rglob("*.tsv"))


def test_batch_send_explains_70107_files_every_failure_and_retries_only_those(env, tmp_path):
    """60 unknown users (serve --no-auto-accounts): the summary gives the count, the meaning of 70107
    and what to do; the failures file lists all 60; after `account import`, --retry-failed sends
    to those 60 only and everyone is delivered."""
    server, _ = start_serve(env, "--secret-key", KEY, "--no-auto-accounts")
    try:
        unknown = [f"cust{i:05d}" for i in range(60)]
        ids = tmp_path / "ids.txt"
        ids.write_text("alice\n" + "\n".join(unknown) + "\n")
        assert run_cli("account", "import", "alice", env=env).returncode == 0
        first = run_cli("batch-send", "--to-file", str(ids), "sale", env=env)
        assert first.returncode == ExitCode.PARTIAL, first.stderr
        assert first.stdout.startswith("delivered 1 of 61\n")
        assert "60 failed with 70107: account does not exist; import them (`aio-tim account import`), " \
               "then rerun with --retry-failed" in first.stdout  # fmt: skip
        failures = re.search(r"every recipient not delivered, with its code: (\S+)", first.stdout)
        assert failures, first.stdout
        rows = [line.split("\t") for line in Path(failures.group(1)).read_text().splitlines()]
        assert rows == [[user, "70107", "account does not exist"] for user in unknown]
        assert run_cli("account", "import", *unknown, env=env).returncode == 0
        retry = run_cli("batch-send", "--to-file", str(ids), "sale", "--retry-failed", env=env)
        assert retry.returncode == 0, retry.stderr
        assert retry.stdout.startswith("delivered 61 of 61\n")
        assert "delivered 60, failed 0 in this run" in retry.stdout
        assert not Path(failures.group(1)).exists()  # nobody left to file
    finally:
        stop(server)


# --- issue 25 item 12: checkpoints, listen's flags, the webhook token ---------------------------------


def _checkpoints(env: dict[str, str]) -> list[Path]:
    return sorted((Path(env["XDG_STATE_HOME"]) / "aio_tim" / "checkpoints").glob("*.tsv"))


def test_a_0_byte_checkpoint_starts_the_campaign_afresh(env, tmp_path):
    """A crash between creating the checkpoint and writing its header leaves 0 bytes: the rerun
    sends (exit 0), where it used to stop with exit 70 "internal error" every time."""
    server, _ = start_serve(env, "--secret-key", KEY)
    try:
        ids = tmp_path / "ids.txt"
        ids.write_text("alice\nbob\n")
        assert run_cli("batch-send", "--to-file", str(ids), "hello", env=env).returncode == 0
        (checkpoint,) = _checkpoints(env)
        checkpoint.write_bytes(b"")
        rerun = run_cli("batch-send", "--to-file", str(ids), "hello", env=env)
    finally:
        stop(server)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.startswith("delivered 2 of 2\n")
    assert "delivered 2, failed 0 in this run" in rerun.stdout
    assert checkpoint.read_text().startswith('{"rand": ')


def test_a_second_batch_send_of_the_same_campaign_is_refused_while_the_first_runs(env, tmp_path):
    """Two concurrent runs of one campaign: the second is one line, exit 6, and sends nothing; the
    checkpoint holds every recipient once."""
    server, _ = start_serve(env, "--secret-key", KEY)
    try:
        ids = tmp_path / "ids.txt"
        count = 20_000
        ids.write_text("".join(f"user{i:05d}\n" for i in range(count)))
        command = [*CLI, "batch-send", "--to-file", str(ids), "one campaign"]
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(p.stat().st_size > 100 for p in _checkpoints(env)):
            time.sleep(0.02)
        first.send_signal(signal.SIGSTOP)  # mid-campaign for as long as the second run takes
        try:
            second = run_cli("batch-send", "--to-file", str(ids), "one campaign", env=env)
        finally:
            first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=120)
    finally:
        stop(server)
    assert second.returncode == ExitCode.LOCAL, (second.stdout, second.stderr)
    assert second.stdout == ""
    assert "another `aio-tim batch-send` of this campaign" in one_line(second)
    assert first.returncode == 0, err
    assert out.startswith(f"delivered {count} of {count}\n")
    (checkpoint,) = _checkpoints(env)
    recorded = [line.split("\t")[0] for line in checkpoint.read_text().splitlines()[1:] if line]
    assert len(recorded) == len(set(recorded)) == count


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--path", "nopath"], "argument --path: 'nopath' is not a URL path; did you mean /nopath?"),
        (["--port", "70000"], "argument --port: 70000 is not a port number"),
    ],
)
def test_listen_refuses_a_bad_path_or_port_as_usage(env, flags, expected):
    """`listen --path nopath` and `listen --port 70000`: exit 2 with one line, not 70."""
    result = run_cli("listen", "--url", "http://127.0.0.1:1", "--sdk-app-id", "1", "--secret-key", KEY,
                     *flags, env=env)  # fmt: skip
    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    assert expected in one_line(result)


def test_listen_takes_the_webhook_token_from_the_environment(env, tmp_path):
    """AIO_TIM_WEBHOOK_TOKEN arms listen's signature check (an unsigned webhook is refused 403)
    without the token on the command line, where /proc/PID/cmdline shows it to everyone."""
    port = free_port()
    command = [*CLI, "listen", "--url", "http://127.0.0.1:1", "--sdk-app-id", "1400000000",
               "--secret-key", KEY, "--port", str(port), "--store", str(tmp_path / "inbox.db")]  # fmt: skip
    listener = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**env, "AIO_TIM_WEBHOOK_TOKEN": "tok-from-env"})  # fmt: skip
    try:
        assert listener.stderr is not None
        assert "listening for TIM's webhooks" in listener.stderr.readline()
        query = "SdkAppid=1400000000&CallbackCommand=C2C.CallbackAfterSendMsg"
        unsigned = urllib.request.Request(f"http://127.0.0.1:{port}/tim/callback?{query}", data=b"{}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(unsigned, timeout=10)
        assert refused.value.code == 403
        refused.value.close()
        assert b"tok-from-env" not in Path(f"/proc/{listener.pid}/cmdline").read_bytes()
    finally:
        listener.terminate()
        listener.communicate(timeout=10)


# --- 14: serve stops on SIGTERM however it was started --------------------------------------------


def _running(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for a parent that is not us to reap it does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def test_serve_started_in_the_background_of_a_script_stops_on_sigterm(env, tmp_path):
    """`aio-tim serve &` from a non-interactive shell inherits SIGINT ignored; `kill PID` (SIGTERM)
    still stops it within seconds, and it removes its record."""
    out = tmp_path / "serve.out"
    command = " ".join([*CLI, "serve", "--port", "0", "--secret-key", KEY])
    started = subprocess.run(["sh", "-c", f"{command} > {out} 2>&1 & echo $!"], capture_output=True,
                             text=True, env=env, check=True)  # fmt: skip
    pid = int(started.stdout)
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in out.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        records = list(Path(env["XDG_RUNTIME_DIR"]).rglob("*.json"))
        assert records, out.read_text()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(pid), "serve ignored SIGTERM"
        assert not any(record.exists() for record in records)
        assert "Traceback" not in out.read_text()
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)


# --- 12: one record per server, stale records reclaimed, a dead webhook receiver said once ----------


def _records(env: dict[str, str]) -> list[Path]:
    return sorted((Path(env["XDG_RUNTIME_DIR"]) / "aio_tim-serve").glob("*.json"))


def test_a_second_serve_stopping_leaves_the_first_ones_record(env):
    """serve A, serve B on another port, B stops: `send` still finds A (exit 0), where it said
    that no server is running."""
    first, first_url = start_serve(env, "--secret-key", KEY)
    try:
        second, second_url = start_serve(env, "--secret-key", KEY)
        assert len(_records(env)) == 2
        stop(second)
        sent = run_cli("send", "--to", "bob", "hi", env=env)
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.startswith("sent to bob: ")
        info = run_cli("info", env=env)
        assert f"{first_url} (from the `aio-tim serve` record" in info.stdout
        assert second_url not in info.stdout
    finally:
        stop(first)


def test_a_killed_serve_is_not_called_current_and_its_record_is_reclaimed(env):
    """After `kill -9` of serve: `info` says the server is no longer running (not "server URL"),
    the record holding its secret key is removed, and `send` says no server is running (exit 3)."""
    server, url = start_serve(env, "--secret-key", KEY)
    try:
        (record,) = _records(env)
    finally:
        server.kill()
        stop(server)
    info = run_cli("info", env=env)
    assert info.returncode == 0, info.stderr
    assert f"{url} (from" not in info.stdout
    assert f"removed {record}: its server ({url}, pid {server.pid}) is no longer running" in info.stdout
    assert not record.exists()
    sent = run_cli("send", "--to", "bob", "hi", env=env)
    assert sent.returncode == ExitCode.UNREACHABLE
    assert "no server given (the `aio-tim serve` at" not in one_line(sent)  # reclaimed by info already
    assert "no server given" in one_line(sent)


def test_the_next_serve_reclaims_a_killed_ones_record(env):
    """A new `serve` removes the stale record (and its secret key) and says so on stderr."""
    server, url = start_serve(env, "--secret-key", KEY)
    try:
        (record,) = _records(env)
    finally:
        server.kill()
        stop(server)
    log = Path(env["HOME"]) / "serve.err"
    with log.open("w") as err:
        again = subprocess.Popen([*CLI, "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=err,
                                 text=True, env=env)  # fmt: skip
        try:
            assert again.stdout is not None
            assert "listening on" in again.stdout.readline()
        finally:
            stop(again)
    assert not record.exists()
    assert f"removed the record of an `aio-tim serve` that is no longer running ({url}, pid {server.pid})" \
        in log.read_text()  # fmt: skip


def test_serve_says_once_that_the_webhook_receiver_does_not_answer(env):
    """serve --webhook-url to a dead receiver: one stderr line naming the URL, however many
    messages are sent, without -v."""
    hook = f"http://127.0.0.1:{free_port()}/tim/callback"
    log = Path(env["HOME"]) / "serve.err"
    with log.open("w") as err:
        server = subprocess.Popen([*CLI, "serve", "--port", "0", "--webhook-url", hook],
                                  stdout=subprocess.PIPE, stderr=err, text=True, env=env)  # fmt: skip
        try:
            assert server.stdout is not None
            assert "listening on" in server.stdout.readline()
            for text in ("one", "two", "three"):
                assert run_cli("send", "--to", "bob", text, env=env).returncode == 0
            deadline = time.monotonic() + 10
            while hook not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop(server)
    lines = log.read_text().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("aio-tim: serve: webhook ") and hook in lines[0]
    assert "is the receiver running?" in lines[0]


# --- 13: what history and group print ---------------------------------------------------------------


def test_history_shows_the_msg_id_revoke_needs_and_the_attachment_url(shared_env, tmp_path):
    """Each history line carries the msg_id `send` printed and a file's URL, whole, one per line."""
    source = tmp_path / "report.bin"
    source.write_bytes(b"x" * 5000)
    sent = run_cli("send", "--user", "hist-alice", "--to", "hist-bob", "--file", str(source), "see attached",
                   env=shared_env)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    msg_id = re.search(r"msg_id=(\S+)", sent.stdout)
    url = re.search(r"attachment report.bin \(5000 bytes\): (\S+)", sent.stdout)
    assert msg_id and url, sent.stdout
    history = run_cli("history", "--user", "hist-bob", "hist-alice", env={**shared_env, "COLUMNS": "60"})
    assert history.returncode == 0, history.stderr
    (line,) = history.stdout.splitlines()
    assert f"msg_id={msg_id.group(1)}" in line
    assert f"see attached <file report.bin (5000 bytes) {url.group(1)}>" in line
    assert "from=hist-alice" in line


def test_group_commands_print_words_local_times_and_one_member_count(shared_env):
    """create names owner and members (no count that disagrees with info's); add says "added", not
    handled_suc; info's join times are local dates, not epoch seconds."""
    created = run_cli("group", "create", "--user", "grp-owner", "Room", "--id", "room13", "--members",
                      "grp-a,grp-b", env=shared_env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert created.stdout == "created group room13 (Public): owner grp-owner, members grp-a, grp-b\n"
    added = run_cli("group", "add", "room13", "grp-c,grp-a", env=shared_env)
    assert added.returncode == 0, added.stderr
    assert added.stdout == "grp-c: added\ngrp-a: already a member\n"
    info = run_cli("group", "info", "room13", env={**shared_env, "COLUMNS": "120"})
    assert info.returncode == 0, info.stderr
    assert "owner grp-owner, 4 members with the owner" in info.stdout
    assert re.search(r"grp-c\s.*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", info.stdout), info.stdout
    assert not re.search(r"\b1\d{9}\b", info.stdout), info.stdout  # no epoch seconds


# --- 7: every option has help; docs/cli.md covers every command and variable -------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _parsers() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command's parser, and every action's under `group` and `account`."""
    for name in COMMANDS:
        top = parser_for([name])
        (commands,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
        parser = commands.choices[name]
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if actions:
            for action, sub in actions[0].choices.items():
                yield f"{name} {action}", sub
        else:
            yield name, parser


def test_every_option_and_argument_has_help():
    """`--host`, `--group`, `--page-size`, `text`...: nothing in any `--help` is left unexplained."""
    missing = [
        f"{command} {action.option_strings[0] if action.option_strings else action.dest}"
        for command, parser in _parsers()
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert not missing, missing


def test_the_cli_page_covers_every_command_and_variable():
    """docs/cli.md documents every command (group, account and listen too) and every AIO_TIM_*
    variable an option reads."""
    page = DOCS.read_text(encoding="utf-8")
    for command, _ in _parsers():
        assert f"`{command}" in page, command
    variables = {
        name for _, parser in _parsers() for action in parser._actions for name in re.findall(
            r"env (AIO_TIM_\w+)", action.help or "")
    }  # fmt: skip
    assert {"AIO_TIM_URL", "AIO_TIM_WEBHOOK_TOKEN"} <= variables
    for name in sorted(variables):
        assert f"`{name}" in page, name
