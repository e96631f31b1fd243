"""`aio-tim receipts` against a served dev server: a group message's readers, a C2C message's
read state, sending a receipt, and the mistakes refused before any request."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import start_serve, stop

from aio_tim.cli import main
from aio_tim.cli.errors import ExitCode

KEY = "cli-receipts-secret-key-0123456789ab"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[str]]:
    server, url = start_serve({**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}, "--secret-key", KEY)
    try:
        yield ["--url", url, "--sdk-app-id", "1400000000", "--secret-key", KEY]
    finally:
        stop(server)


def test_group_and_c2c_receipts(served, capsys):
    assert main(["group", "create", "team", *served, "--user", "alice", "--id", "team", "--type", "Private",
                 "--members", "bob,carol"]) == 0  # fmt: skip
    assert main(["send", *served, "--user", "alice", "--to", "team", "--group", "--receipt", "at 3"]) == 0
    seq = re.search(r"seq=(\d+)", capsys.readouterr().out)
    assert seq
    assert main(["receipts", "send", *served, "--user", "bob", "team", "--group", "--seq", seq[1]]) == 0
    assert main(["receipts", "show", *served, "--user", "alice", "team", "--group", "--seq", seq[1]]) == 0
    out = capsys.readouterr().out
    assert f"seq {seq[1]}: read 1, unread 1" in out and out.rstrip().endswith("bob")
    assert main(["receipts", "show", *served, "team", "--group", "--seq", seq[1], "--unread"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("carol")

    assert main(["send", *served, "--user", "alice", "--to", "bob", "--receipt", "hi bob"]) == 0
    msg_id = re.search(r"msg_id=(\d+_\d+_\d+)", capsys.readouterr().out)
    assert msg_id
    assert main(["receipts", "show", *served, "--user", "alice", "bob", "--msg-id", msg_id[1]]) == 0
    assert "not read by bob" in capsys.readouterr().out
    assert main(["receipts", "send", *served, "--user", "bob", "alice", "--msg-id", msg_id[1]]) == 0
    assert main(["receipts", "show", *served, "--user", "alice", "bob", "--msg-id", msg_id[1]]) == 0
    assert f"{msg_id[1]}: read by bob" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["receipts", "show", "team", "--seq", "1"], "add --group"),
        (["receipts", "show", "team", "--group", "--msg-id", "1_2_3"], "by --seq"),
        (["receipts", "send", "bob", "--msg-id", "nope"], "SEQ_RAND_TIME"),
        (["receipts", "show", "team", "--group", "--seq", "0"], "positive"),
    ],
)
def test_mistakes_are_refused_before_any_request(argv, says, capsys):
    """No server is running: a mistake in the arguments is found first (exit 2)."""
    assert (
        main([*argv, "--url", "http://127.0.0.1:9", "--sdk-app-id", "1", "--secret-key", KEY])
        == ExitCode.USAGE
    )
    assert says in capsys.readouterr().err
