"""What a new user runs into, run as they run it: `aio-tim` in a subprocess, one line per failure."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import CLI, free_port, stop
from cli_support import start_serve as serve_with

from aio_tim.cli.checkpoint import Checkpoint, campaign_key
from aio_tim.cli.download import disposition_file_name
from aio_tim.cli.errors import ExitCode
from aio_tim.cli.main import parser_for
from aio_tim.cli.target import Target

KEY = "first-contact-secret-key-0123456789"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ)
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (asserting there is exactly one)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aio-tim: ")
    return lines[0]


def start_serve(env: dict[str, str], *flags: str) -> tuple[subprocess.Popen[str], str]:
    return serve_with(env, "--secret-key", KEY, *flags)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A user environment of its own: serve record, store and checkpoints under tmp_path."""
    names = ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_STATE_HOME")
    fresh = {**os.environ, **{name: str(tmp_path / name.lower()) for name in names}}
    for name in ("AIO_TIM_URL", "AIO_TIM_SDK_APP_ID", "AIO_TIM_SECRET_KEY", "AIO_TIM_USER"):
        fresh.pop(name, None)
    return fresh


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    """`aio-tim serve` as the user starts it; its record lets other commands run without flags."""
    server, url = start_serve(env)
    try:
        yield url
    finally:
        stop(server)


# --- an unreachable server ---------------------------------------------------------------------------


def test_unreachable_url_fails_within_seconds_with_a_hint(env):
    """Nothing listening at --url: one line naming the URL and what to check, exit 3, in seconds."""
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run("send", "--url", url, "--sdk-app-id", "1", "--secret-key", KEY, "--to", "bob", "hi", env=env)
    assert time.monotonic() - started < 15  # the library alone would retry for a minute
    assert result.returncode == ExitCode.UNREACHABLE
    line = one_line(result)
    assert f"cannot reach {url}" in line and "refused" in line and "--url" in line


def test_unknown_host_fails_fast(env):
    """An unknown host name is reported as such, exit 3."""
    result = run("send", "--url", "http://no-such-host.invalid", "--sdk-app-id", "1", "--secret-key", KEY,
                 "--to", "bob", "hi", env=env)  # fmt: skip
    assert result.returncode == ExitCode.UNREACHABLE
    assert "unknown host" in one_line(result)


def test_stale_serve_record_says_the_server_is_gone(env):
    """A record left by a killed `aio-tim serve` gives one line saying so, not a minute of silence,
    and is removed (it holds the secret key)."""
    record = Path(env["XDG_RUNTIME_DIR"]) / "aio_tim-serve" / "127.0.0.1_1.json"
    record.parent.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid is now free: the server of this record is gone
    url = f"http://127.0.0.1:{free_port()}"
    record.write_text(json.dumps({"url": url, "sdk_app_id": 1400000000, "secret_key": KEY, "admin": "a",
                                  "pid": gone.pid}))  # fmt: skip
    result = run("send", "--to", "bob", "hi", env=env)
    assert result.returncode == ExitCode.UNREACHABLE
    line = one_line(result)
    assert f"the `aio-tim serve` at {url}, pid {gone.pid} is no longer running" in line
    assert not record.exists()


def test_url_without_scheme_says_so(env):
    """`--url 127.0.0.1:8765` is a usage error suggesting http://127.0.0.1:8765."""
    result = run("send", "--url", "127.0.0.1:8765", "--sdk-app-id", "1", "--secret-key", KEY,
                 "--to", "bob", "hi", env=env)  # fmt: skip
    assert result.returncode == ExitCode.USAGE
    assert "did you mean http://127.0.0.1:8765?" in one_line(result)


# --- one line instead of a traceback ---------------------------------------------------------------


def test_missing_recipients_file_is_one_line(env, tmp_path):
    """batch-send --to-file nope.txt: one line naming the flag and the file, exit 6."""
    result = run("batch-send", "--url", "http://127.0.0.1:1", "--sdk-app-id", "1", "--secret-key", KEY,
                 "--to-file", str(tmp_path / "nope.txt"), "hi", env=env)  # fmt: skip
    assert result.returncode == ExitCode.LOCAL
    line = one_line(result)
    assert "--to-file" in line and "nope.txt: no such file" in line


def test_serve_on_a_port_in_use_is_one_line_and_v_shows_the_traceback(env):
    """serve on a busy port: one line suggesting --port, exit 6; with -v the traceback comes too."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = run("serve", "--port", port, env=env)
        assert result.returncode == ExitCode.LOCAL
        assert "address already in use" in one_line(result) and "--port" in result.stderr
        verbose = run("serve", "--port", port, "-v", env=env)
    assert verbose.returncode == ExitCode.LOCAL
    assert "Traceback" in verbose.stderr and "address already in use" in verbose.stderr.splitlines()[-1]


def test_serve_port_out_of_range_is_a_usage_line(env):
    """serve --port 99999 is refused by the parser in one line, exit 2 (no OverflowError)."""
    result = run("serve", "--port", "99999", env=env)
    assert result.returncode == ExitCode.USAGE
    assert "0-65535" in one_line(result)


def test_error_lines_do_not_wrap_when_piped(env):
    """A long error stays one line even with a narrow terminal width."""
    long_url = "http://127.0.0.1:1/" + "x" * 300
    result = run("send", "--url", long_url, "--sdk-app-id", "1", "--secret-key", KEY, "--to", "bob", "hi",
                 env={**env, "COLUMNS": "40"})  # fmt: skip
    assert long_url in one_line(result)


def test_send_without_text_says_a_message_needs_text(env, served):
    """send with nothing to send: `a message needs text`, exit 2."""
    result = run("send", "--to", "bob", env=env)
    assert result.returncode == ExitCode.USAGE
    assert "a message needs text" in one_line(result)


# --- completeness ------------------------------------------------------------------------------------


def test_version_prints_the_package_version(env):
    """`aio-tim --version` prints the installed version."""
    result = run("--version", env=env)
    assert result.returncode == 0
    assert re.fullmatch(r"aio-tim \d+\.\d+\.\d+\S*\n", result.stdout)


@pytest.mark.parametrize(
    "command",
    ["send", "batch-send", "download", "history", "revoke", "info", "listen", "group create", "group delete",
     "group add", "group remove", "group info", "account import", "account check", "account delete"],
)  # fmt: skip
def test_help_names_every_variable_and_describes_the_command(command, capsys):
    """Every target option's help names its AIO_TIM_* variable; the command has a description."""
    argv = [*command.split(), "--help"]
    with pytest.raises(SystemExit):
        parser_for(argv).parse_args(argv)
    text = " ".join(capsys.readouterr().out.split())
    for name in ("AIO_TIM_URL", "AIO_TIM_SDK_APP_ID", "AIO_TIM_SECRET_KEY", "AIO_TIM_ADMIN", "AIO_TIM_USER"):
        assert name in text, name
    description = text.split("options:")[0].split("[-h]", 1)[1]
    assert re.search(r"[A-Z][a-z]+ .*\.", description), description  # a sentence, not just usage


def test_every_command_has_a_summary_in_the_main_help(capsys):
    """`aio-tim --help` lists each command with a one-line summary."""
    with pytest.raises(SystemExit):
        parser_for(["--help"]).parse_args(["--help"])
    text = capsys.readouterr().out
    for command in ("demo", "serve", "send", "batch-send", "download", "history", "revoke", "info"):
        assert re.search(rf"^\s+{command}\s+\w", text, re.MULTILINE), command


def test_history_shows_local_times_and_unknown_users_fail_without_auto_accounts(env):
    """serve --no-auto-accounts: a send to an unknown user is TIM's 90012 in one line (exit 5);
    history prints human local times, not Unix seconds."""
    server, _ = start_serve(env, "--no-auto-accounts")
    try:
        unknown = run("send", "--to", "nobody", "hi", env=env)
        assert unknown.returncode == ExitCode.REFUSED
        assert "not registered [90012]" in one_line(unknown)
        assert unknown.stdout == ""
    finally:
        stop(server)
    server, _ = start_serve(env)
    try:
        sent = run("send", "-vv", "--user", "alice", "--to", "bob", "hello", env=env)
        assert sent.returncode == 0
        assert "DEBUG aio_tim.pipeline: openim/sendmsg code=0 attempt=1" in sent.stderr  # -vv: REST calls
        assert KEY not in sent.stderr
        history = run("history", "--user", "bob", "alice", env=env)
    finally:
        stop(server)
    assert history.returncode == 0, history.stderr
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", history.stdout), history.stdout


def test_info_says_where_the_store_is_and_no_store_keeps_none(env, served):
    """info names the server, its origin and the store file; --no-store makes it :memory:."""
    result = run("info", env=env)
    assert result.returncode == 0, result.stderr
    assert served in result.stdout and "aio-tim serve" in result.stdout
    store = re.search(r"local store\s+(\S+)", result.stdout)
    assert store and store.group(1).startswith(env["XDG_DATA_HOME"])
    assert ":memory: (--no-store)" in run("info", "--no-store", env=env).stdout
    assert "checkpoints" in result.stdout and env["XDG_STATE_HOME"] in result.stdout


def test_two_in_memory_serve_runs_do_not_share_a_store():
    """The store of a serve run with state in memory is keyed by that run's instance tag."""
    first = Target("http://127.0.0.1:8765", 1400000000, KEY, "admin", "record", instance="aaa")
    second = Target("http://127.0.0.1:8765", 1400000000, KEY, "admin", "record", instance="bbb")
    assert first.store_path("alice") != second.store_path("alice")
    assert Target("http://h:1", 1, KEY, "a", store=False).store_path("alice") == ":memory:"


# --- downloads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("attachment; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf", "报告.pdf"),
        ("attachment; filename=\"plain.txt\"; filename*=UTF-8''better%20name.txt", "better name.txt"),
        ('attachment; filename="plain.txt"', "plain.txt"),
        ("inline", None),
        ("garbage;;=", None),
        (None, None),
    ],
)
def test_content_disposition_file_name(header, name):
    """RFC 6266: filename* wins over filename; no name, or a malformed header, gives None."""
    assert disposition_file_name(header) == name


def test_download_into_a_folder_uses_the_servers_file_name(env, served, tmp_path):
    """`download URL --to inbox/` creates inbox and saves the file under the name the server gives;
    a second download without --overwrite is one line naming --overwrite."""
    source = tmp_path / "quarterly report.txt"
    source.write_bytes(os.urandom(50_000))
    sent = run("send", "--to", "bob", "--file", str(source), env=env)
    assert sent.returncode == 0, sent.stderr
    url = re.search(r"attachment .* \(50000 bytes\): (\S+)", sent.stdout)
    assert url, sent.stdout
    inbox = tmp_path / "inbox"
    result = run("download", url.group(1), "--to", f"{inbox}/", env=env)
    assert result.returncode == 0, result.stderr
    assert (inbox / "quarterly report.txt").read_bytes() == source.read_bytes()
    again = run("download", url.group(1), "--to", str(inbox), env=env)
    assert again.returncode == ExitCode.USAGE
    assert "pass --overwrite to replace it" in one_line(again)


# --- batch-send: progress, Ctrl-C, resume ------------------------------------------------------------


def test_batch_send_interrupted_says_what_was_sent_and_resumes(env, served, tmp_path):
    """Ctrl-C prints a summary and exits 130; the same command resumes and sends only the rest."""
    ids = tmp_path / "ids.txt"
    count = 20_000
    ids.write_text("".join(f"user{i:05d}\n" for i in range(count)))
    command = [*CLI, "batch-send", "--to-file", str(ids), "maintenance tonight"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    folder = Path(env["XDG_STATE_HOME"]) / "aio_tim" / "checkpoints"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:
        logs = list(folder.glob("*.tsv"))
        if logs and len(logs[0].read_text().splitlines()) > 600:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=30)
    assert first.returncode == ExitCode.INTERRUPTED, (out, err)
    summary = re.search(r"interrupted: delivered ([\d,]+), failed 0 in this run", err)
    assert summary, err
    sent_first = int(summary.group(1).replace(",", ""))
    assert 0 < sent_first < count
    assert "Traceback" not in err
    second = run("batch-send", "--to-file", str(ids), "maintenance tonight", env=env)
    assert second.returncode == 0, second.stderr
    assert "resuming:" in second.stderr
    assert f"delivered {count} of {count}" in second.stdout
    rerun = re.search(r"delivered ([\d,]+), failed 0 in this run", second.stdout)
    assert rerun, second.stdout
    resent = int(rerun.group(1).replace(",", ""))
    assert sent_first + resent >= count and resent < count
    # A new announcement to the same list is a new campaign, not "already done".
    third = run("batch-send", "--to-file", str(ids), "a new announcement", env=env)
    assert "resuming:" not in third.stderr and third.returncode == 0


def test_checkpoint_ignores_a_line_cut_short_and_keeps_transient_failures_pending(tmp_path):
    """A crash mid-line loses only that line; a transient code is not 'done'; the key follows content."""
    key = campaign_key("http://x", "admin", "text", ["a", "b", "c"])
    assert key != campaign_key("http://x", "admin", "other text", ["a", "b", "c"])
    with Checkpoint.open(tmp_path, key) as checkpoint:
        checkpoint.record("a", 0)
        checkpoint.record("b", 9520)  # a timeout: retryable, so not done
        rand = checkpoint.rand
    with (tmp_path / f"{key}.tsv").open("a") as file:
        file.write("c\t")  # cut short
    with Checkpoint.open(tmp_path, key) as checkpoint:
        assert checkpoint.rand == rand
        assert checkpoint.pending(["a", "b", "c"]) == ["b", "c"]
        checkpoint.record("c", 70107)
    with Checkpoint.open(tmp_path, key) as checkpoint:
        assert checkpoint.done == {"a": 0, "c": 70107}
    assert (tmp_path / f"{key}.tsv").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("command", [["history", "bob"], ["account", "import", "alice"]])
def test_every_command_gets_the_fast_unreachable_check(env, command):
    """Commands registered elsewhere (account, group) fail fast with the same hint as send."""
    url = f"http://127.0.0.1:{free_port()}"
    result = run(*command, "--url", url, "--sdk-app-id", "1", "--secret-key", KEY, env=env)
    assert result.returncode == ExitCode.UNREACHABLE
    assert f"cannot reach {url} (connection refused)" in one_line(result)
