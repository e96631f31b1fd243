"""Issue 11, item 6: the dev server's secret key on disk is readable by its owner only, and
`aio-tim serve` removes its state file on SIGTERM."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

from cli_support import start_serve

from aio_tim.devserver import DevServer
from aio_tim.devserver.private import make_private, write_private_json


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_serve_keeps_its_secrets_0600_and_sigterm_removes_the_state_file(tmp_path: Path) -> None:
    """A pre-existing 0644 --db file: serve leaves it 0600 (its WAL too), writes its record (which
    holds the secret key) 0600, and SIGTERM stops it with the record removed. (A loose file at the
    record's own path is replaced by a 0600 one: test_write_private_json_replaces_a_loose_file.)"""
    db = tmp_path / "serve.db"
    db.write_text("")
    db.chmod(0o644)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    server, _ = start_serve(env, "--db", str(db))
    try:
        (record,) = (tmp_path / "aio_tim-serve").glob("*.json")
        modes = {p.name: oct(mode(p)) for p in [*sorted(tmp_path.iterdir()), record]}
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()
    left = sorted(p.name for p in tmp_path.rglob("*"))
    print(f"\nserve file modes: {modes}; after SIGTERM exit {code}, files left {left}")
    files = {name: m for name, m in modes.items() if not (tmp_path / name).is_dir()}
    assert set(files.values()) == {"0o600"}  # folders (the file service's) are 0700
    assert {record.name, "serve.db", "serve.db-wal"} <= set(files)
    assert not record.exists()
    assert code in (0, 130)


def test_write_private_json_replaces_a_loose_file(tmp_path: Path) -> None:
    """An existing 0666 file is replaced by a 0600 one holding the new content (no temp file left)."""
    path = tmp_path / "state.json"
    path.write_text("old")
    path.chmod(0o666)
    write_private_json(path, {"secret_key": "k"})
    assert mode(path) == 0o600 and path.read_text() == '{"secret_key": "k"}'
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


async def test_a_dev_server_db_file_is_0600(tmp_path: Path) -> None:
    """DevServer(db_path=...) creates its database 0600 and tightens an existing one."""
    fresh, loose = tmp_path / "fresh.db", tmp_path / "loose.db"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    for path in (fresh, loose):
        async with DevServer(db_path=path):
            pass
    make_private(":memory:")  # nothing to do, no error
    assert (mode(fresh), mode(loose)) == (0o600, 0o600)
