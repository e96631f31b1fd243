"""The `aio-tim` command line, run as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import start_serve, stop

from aio_tim.cli import main

KEY = "cli-test-secret-key-0123456789abcdef"


def test_demo_shows_every_step(capsys):
    """`aio-tim demo` sends C2C, group and batch messages and shows history, read and revoke."""
    assert main(["demo", "--recipients", "40"]) == 0
    out = capsys.readouterr().out
    for expected in (
        "hello bob",
        "group seq=1",
        "page 1: ['fifth', 'fourth']",
        "5 before, 0 after",
        "identical to what was sent: True",
    ):
        assert expected in out
    assert "['revoked']" in out
    assert re.search(r"0\s+│ delivered\s+│ 33", out)
    assert re.search(r"70107\s+│ account does not exist\s+│ 7", out)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[str]]:
    """`aio-tim serve` in a subprocess; yields the flags that point another command at it."""
    server, url = start_serve({**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}, "--secret-key", KEY)
    try:
        yield ["--url", url, "--sdk-app-id", "1400000000", "--secret-key", KEY]
    finally:
        stop(server)


def test_send_history_and_revoke_against_a_served_dev_server(served, capsys):
    """send prints the message id; history lists it; revoke by that id marks it revoked."""
    assert main(["send", *served, "--user", "alice", "--to", "bob", "hello from the cli"]) == 0
    sent = capsys.readouterr().out
    msg_id = re.search(r"msg_id=(\d+_\d+_\d+)", sent)
    assert msg_id, sent
    assert main(["history", *served, "--user", "bob", "alice"]) == 0
    assert "hello from the cli" in capsys.readouterr().out
    assert main(["revoke", *served, "--user", "alice", "bob", "--msg-id", msg_id.group(1)]) == 0
    assert main(["history", *served, "--user", "bob", "alice"]) == 0
    assert "revoked" in capsys.readouterr().out


def test_batch_send_reads_recipients_from_a_file(served, tmp_path, capsys):
    """batch-send sends to every id in the file and reports how many were delivered."""
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"user{i}\n" for i in range(30)))
    assert main(["batch-send", *served, "--to-file", str(ids), "notice"]) == 0
    assert "delivered 30 of 30" in capsys.readouterr().out


def test_send_without_a_server_explains_what_to_do(tmp_path, monkeypatch, capsys):
    """With no flags, no variables and no running serve, send says how to name a server (exit 3)."""
    monkeypatch.setattr("aio_tim.cli.records.FOLDER", tmp_path / "no-records")
    for name in ("AIO_TIM_URL", "AIO_TIM_SDK_APP_ID", "AIO_TIM_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["send", "--to", "bob", "hi"]) == 3
    assert "aio-tim serve" in capsys.readouterr().err


def test_wrong_key_is_reported_not_a_traceback(served, capsys):
    """A wrong secret key is one line naming --secret-key and AIO_TIM_SECRET_KEY, exit status 4."""
    flags = [*served[:-1], "not-the-key"]
    assert main(["send", *flags, "--to", "bob", "hi"]) == 4
    err = capsys.readouterr().err
    assert "70009" in err and "not-the-key" not in err
    assert "--secret-key" in err and "AIO_TIM_SECRET_KEY" in err and len(err.splitlines()) == 1


def test_send_file_then_download_it(served, tmp_path, capsys):
    """send --file uploads the file; download of its URL saves identical bytes."""
    source = tmp_path / "notes.txt"
    source.write_bytes(os.urandom(300_000))
    assert main(["send", *served, "--user", "alice", "--to", "bob", "--file", str(source)]) == 0
    url = re.search(r"attachment notes.txt \(300000 bytes\): (\S+)", capsys.readouterr().out)
    assert url, "send printed no attachment URL"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    assert main(["download", *served, url.group(1), "--to", str(inbox / "copy.txt")]) == 0
    assert (inbox / "copy.txt").read_bytes() == source.read_bytes()


def test_help_loads_no_command_family():
    """`aio-tim --help` builds its list from the command table: no family module, no dev server."""
    code = (
        "import sys, contextlib, io\n"
        "from aio_tim.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('aio_tim.cli.', 'aio_tim.devserver'))))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for family in ("messages", "batch", "download", "server", "demo", "admin", "listen", "search"):
        assert f"aio_tim.cli.{family}'" not in loaded, loaded
    assert "aio_tim.devserver" not in loaded, loaded
