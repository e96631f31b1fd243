"""`aio-tim group ...` and `aio-tim account ...`, run as a user runs them against `aio-tim serve`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import start_serve, stop

from aio_tim.cli import main

KEY = "cli-admin-test-secret-key-0123456789"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[str]]:
    """`aio-tim serve` in a subprocess; yields the flags that point another command at it."""
    server, url = start_serve({**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}, "--secret-key", KEY)
    try:
        yield ["--url", url, "--sdk-app-id", "1400000000", "--secret-key", KEY]
    finally:
        stop(server)


def test_the_docs_group_example_works_after_group_create(served, capsys):
    """account import, group create --members, then `send --group` (no more 10010) and info."""
    assert main(["account", "import", *served, "alice", "bob", "carol"]) == 0
    assert "imported 3 of 3" in capsys.readouterr().out
    assert (
        main(
            ["group", "create", *served, "--user", "alice", "team", "--id", "team", "--members", "bob,carol"]
        )
        == 0
    )
    assert "created group team (Public): owner alice, members bob, carol" in capsys.readouterr().out
    assert main(["send", *served, "--to", "team", "--group", "hi, team"]) == 0
    assert "sent to team" in capsys.readouterr().out
    assert main(["group", "info", *served, "team"]) == 0
    out = capsys.readouterr().out
    assert "owner alice, 3 members with the owner, next seq 2" in out and "carol" in out


def test_group_members_add_remove_and_delete(served, capsys):
    """add prints each member's outcome; remove and delete take effect; a gone group is an error."""
    assert main(["group", "create", *served, "room"]) == 0
    gid = re.search(r"created group (\S+)", capsys.readouterr().out).group(1)  # type: ignore[union-attr]
    assert gid.startswith("@TGS#")
    assert main(["group", "add", *served, gid, "dave,erin"]) == 0
    assert "dave: added" in capsys.readouterr().out
    assert main(["group", "remove", *served, gid, "dave"]) == 0
    assert main(["group", "info", *served, gid]) == 0
    assert "2 members" in capsys.readouterr().out  # the admin (owner) and erin
    assert main(["group", "delete", *served, gid]) == 0
    assert main(["group", "info", *served, gid]) == 5  # as `group delete` of a gone group
    assert "10010" in capsys.readouterr().err


def test_account_check_and_delete_report_per_account(served, capsys):
    """check exits 1 when any account is missing; delete reports 70107 for one that never was."""
    assert main(["account", "import", *served, "zoe"]) == 0
    assert main(["account", "check", *served, "zoe", "ghost"]) == 1
    out = capsys.readouterr().out
    assert "zoe: imported" in out and "ghost: not imported" in out
    assert main(["account", "delete", *served, "zoe", "ghost"]) == 1
    out = capsys.readouterr().out
    assert "zoe: deleted" in out and "ghost: not deleted (70107)" in out
