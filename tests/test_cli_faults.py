"""`aio-tim faults`: switching a running dev server's faults and rate limits from the shell."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from cli_support import run_cli, start_serve, stop, user_env

from aio_tim.cli import main
from aio_tim.devserver import DevServer

SEND = "openim/sendmsg"


@pytest_asyncio.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(rng=random.Random(3)) as srv:
        yield srv


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`aio-tim ARGS` in a thread (the server answers on this loop): exit code, stdout, stderr."""
    try:
        status = await asyncio.to_thread(main, list(args))
    except SystemExit as exit_:  # argparse refused the line
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


async def test_add_list_remove_and_clear(server: DevServer, capsys: pytest.CaptureFixture[str]) -> None:
    where = ("--server", server.url)
    status, out, _ = await cli(capsys, "faults", "add", SEND, "--code", "60018", "--count", "2", *where)
    assert status == 0
    fault_id = out.strip()
    [fault] = server.faults.list()
    assert (fault.id, fault.endpoint, fault.error_code, fault.remaining) == (fault_id, SEND, 60018, 2)
    await cli(capsys, "faults", "add", "*", "--latency-ms", "50", "--share", "0.5", *where)
    status, out, _ = await cli(capsys, "faults", "list", *where)
    lines = out.splitlines()
    assert status == 0 and lines[0] == f"{fault_id}  {SEND}  code=60018  remaining=2/2"
    assert lines[1].endswith("*  latency=50ms  share=0.5")
    assert (await cli(capsys, "faults", "remove", fault_id, *where))[0] == 0
    status, _, err = await cli(capsys, "faults", "remove", fault_id, *where)
    assert status == 5 and f"no fault '{fault_id}'" in err
    status, out, _ = await cli(capsys, "faults", "clear", *where)
    assert (status, out.strip(), server.faults.list()) == (0, "removed 1 fault", [])


async def test_limits_off_and_on(server: DevServer, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = await cli(capsys, "faults", "limits", "off", "--server", server.url)
    assert (status, out.strip(), server.faults.limits_enabled) == (0, "rate limits off", False)
    await cli(capsys, "faults", "limits", "on", "--server", server.url)
    assert server.faults.limits_enabled


async def test_a_bad_fault_is_one_line_naming_the_field(
    server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = await cli(capsys, "faults", "add", "openim/nope", "--code", "1", "--server", server.url)
    assert status == 5 and err.count("\n") == 1 and "endpoint must be" in err
    status, _, err = await cli(capsys, "faults", "add", SEND, "--share", "2", "--server", server.url)
    assert status == 2 and "--share" in err
    assert server.faults.list() == []


async def test_a_server_bound_elsewhere_is_signed_for(capsys: pytest.CaptureFixture[str]) -> None:
    """Beyond loopback the API wants the admin's signature: given the key, the CLI signs."""
    async with DevServer(host="0.0.0.0") as srv:
        where = ("--server", f"http://127.0.0.1:{srv.port}")
        status, _, err = await cli(capsys, "faults", "list", *where)
        assert status == 4 and "sign as the admin" in err
        keys = ("--sdk-app-id", str(srv.sdk_app_id), "--secret-key", srv.secret_key)
        status, out, _ = await cli(capsys, "faults", "list", *where, *keys)
        assert (status, out.strip()) == (0, "no faults")


async def test_nothing_listening_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = await cli(capsys, "faults", "list", "--server", "http://127.0.0.1:9")
    assert status == 3 and "cannot reach http://127.0.0.1:9" in err


async def test_a_webhook_fault_from_the_shell(server: DevServer, capsys: pytest.CaptureFixture[str]) -> None:
    hook = "C2C.CallbackAfterSendMsg"
    line = ("faults", "add", hook, "--webhook", "--code", "503", "--latency-ms", "20", "--server", server.url)
    status, out, _ = await cli(capsys, *line)
    [fault] = server.faults.list()
    assert status == 0 and (fault.id, fault.webhook, fault.error_code, fault.latency_ms) == (
        out.strip(),
        True,
        503,
        20,
    )
    status, out, _ = await cli(capsys, "faults", "list", "--server", server.url)
    assert f"webhook {hook}  code=503  latency=20ms" in out
    status, _, err = await cli(
        capsys, "faults", "add", hook, "--webhook", "--code", "60018", "--server", server.url
    )
    assert status == 5 and "HTTP status 400..599" in err


def test_the_running_serve_is_found_without_flags(tmp_path: Path) -> None:
    """As a user runs it: `aio-tim serve --host 0.0.0.0` (so the API wants the admin's signature),
    then `aio-tim faults` with no --server and no key: the serve record gives both."""
    env = user_env(tmp_path)
    server, url = start_serve(env, "--host", "0.0.0.0")
    try:
        added = run_cli("faults", "add", SEND, "--code", "20003", "--count", "1", env=env)
        assert added.returncode == 0, added.stderr
        listed = run_cli("faults", "list", env=env)
        assert listed.stdout.startswith(f"{added.stdout.strip()}  {SEND}  code=20003"), listed.stdout
        unsigned = run_cli("faults", "list", "--server", url.replace("0.0.0.0", "127.0.0.1"), env={
            **env, "XDG_RUNTIME_DIR": str(tmp_path / "elsewhere")})  # fmt: skip
        assert unsigned.returncode == 4 and "sign as the admin" in unsigned.stderr
    finally:
        stop(server)
