"""`aio-tim conv list|pin|unpin|delete` against a served dev server, run as a user runs it."""

from __future__ import annotations

from test_cli import KEY, served

from aio_tim.cli import main

__all__ = ["KEY", "served"]


def test_conv_list_pin_and_delete(served, capsys):
    for peer in ("bob", "carol"):
        assert main(["send", *served, "--user", "alice", "--to", peer, f"hi {peer}"]) == 0
    capsys.readouterr()
    assert main(["conv", *served, "--user", "alice", "pin", "bob"]) == 0
    assert main(["conv", *served, "--user", "alice", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()[-2:]
    assert "bob" in lines[0] and "pinned" in lines[0] and "carol" in lines[1] and "pinned" not in lines[1]
    assert main(["conv", *served, "--user", "alice", "delete", "carol"]) == 0
    assert main(["conv", *served, "--user", "alice", "list"]) == 0
    out = capsys.readouterr().out
    assert "carol" not in out.splitlines()[-1] and "bob" in out


def test_conv_pin_needs_a_conversation(served, capsys):
    assert main(["conv", *served, "--user", "alice", "pin"]) != 0
    assert "name the conversation" in capsys.readouterr().err
