"""`aio-tim search` and `aio-tim edit`, run as a user runs them against a served dev server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import start_serve, stop

from aio_tim.cli import main

KEY = "cli-test-secret-key-0123456789abcdef"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[str]]:
    """`aio-tim serve` in a subprocess; yields the flags that point another command at it."""
    server, url = start_serve({**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}, "--secret-key", KEY)
    try:
        yield ["--url", url, "--sdk-app-id", "1400000000", "--secret-key", KEY]
    finally:
        stop(server)


def test_search_finds_what_send_stored_and_edit_changes_it(served, capsys):
    """send keeps the message in alice's store; search finds it; edit replaces its text there and
    on the server (bob's history shows the new text)."""
    assert main(["send", *served, "--user", "alice", "--to", "bob", "the invoice is overdue"]) == 0
    assert main(["send", *served, "--user", "alice", "--to", "carol", "invoice attached"]) == 0
    msg_id = re.findall(r"msg_id=(\d+_\d+_\d+)", capsys.readouterr().out)[-1]  # carol's
    assert main(["search", *served, "--user", "alice", "invoice"]) == 0
    out = capsys.readouterr().out
    assert "2 conversations" in out and "c2c bob: 1 matching" in out and "invoice attached" in out
    assert main(["search", *served, "--user", "alice", "invoice", "overdue", "--all", "--conv", "bob"]) == 0
    assert "the invoice is overdue" in capsys.readouterr().out
    assert main(["edit", *served, "--user", "alice", "carol", "--msg-id", msg_id, "bill attached"]) == 0
    assert "edited" in capsys.readouterr().out
    assert main(["search", *served, "--user", "alice", "bill", "--conv", "carol"]) == 0
    assert "bill attached" in capsys.readouterr().out
    assert main(["history", *served, "--user", "carol", "alice"]) == 0
    assert "bill attached" in capsys.readouterr().out


def test_group_edit_by_seq_and_bad_input(served, capsys):
    assert main(["group", "create", *served, "--user", "alice", "team", "--id", "g9"]) == 0
    capsys.readouterr()
    assert main(["send", *served, "--user", "alice", "--to", "g9", "--group", "first text"]) == 0
    seq = re.search(r"seq=(\d+)", capsys.readouterr().out)
    assert seq
    assert (
        main(["edit", *served, "--user", "alice", "g9", "--group", "--seq", seq.group(1), "second text"]) == 0
    )
    assert main(["history", *served, "--user", "alice", "g9", "--group"]) == 0
    assert "second text" in capsys.readouterr().out
    assert main(["edit", *served, "--user", "alice", "g9", "--seq", "1", "x"]) == 2
    assert "add --group" in capsys.readouterr().err
    assert main(["edit", *served, "--user", "alice", "bob", "--msg-id", "nope", "x"]) == 2
    assert "edit: --msg-id must look like" in capsys.readouterr().err
    assert main(["search", *served, "--user", "alice", "a", "b", "c", "d", "e", "f"]) != 0
    assert "at most 5 keywords" in capsys.readouterr().err
    assert main(["search", *served, "--user", "alice", "nothing-like-this"]) == 0
    assert "no stored message matches" in capsys.readouterr().err
