"""The README's demo install, done for real in a fresh venv (no test extra), then used as a user
would: every example with the command the README prints, a user's program under `mypy --strict`,
and `aio-tim demo`. One venv for all of it: the install is the slow part (~25 s from pip's cache)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()

USER_PROGRAM = """\
import asyncio

import aio_tim
from aio_tim import ConvType


async def main() -> None:
    async with aio_tim.Client(sdk_app_id=1400000000, user_id="alice", secret_key="k") as tim:
        sent: aio_tim.Message = await tim.msg.send_text("bob", ConvType.C2C, "hi")
        print(sent.msg_id)


asyncio.run(main())
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with `pip install -q -e .`, exactly the README's demo install."""
    assert ".venv/bin/pip install -q -e . && .venv/bin/aio-tim demo" in README
    folder = tmp_path_factory.mktemp("fresh") / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=60)
    install = subprocess.run(
        [str(folder / "bin" / "pip"), "install", "-q", "-e", str(REPO)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    yield folder


def user_env(tmp_path: Path) -> dict[str, str]:
    names = ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME")
    return {**os.environ, **{name: str(tmp_path / name.lower()) for name in names}}


def readme_command(example: str) -> list[str]:
    """The command the README prints for an example (`.venv/bin/python examples/x.py`)."""
    match = re.search(rf"`(\.venv/bin/python examples/{example}\.py)[^`]*`", README)
    assert match, f"the README prints no command for {example}"
    return match.group(1).split()


def run_example(venv: Path, example: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    python, script = readme_command(example)
    assert python == ".venv/bin/python"
    return subprocess.run(
        [str(venv / "bin" / "python"), script, *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_the_demo_install_runs_examples_type_checks_and_demo(venv: Path, tmp_path: Path) -> None:
    """After `pip install -e .` alone: pytest-asyncio is absent, yet every example runs with the
    README's command; mypy --strict sees the package; `aio-tim demo` works."""
    env = user_env(tmp_path)
    python = str(venv / "bin" / "python")
    absent = subprocess.run([python, "-c", "import pytest_asyncio"], capture_output=True, timeout=60)
    assert absent.returncode != 0, "the demo install must not bring the test extra"

    broadcast = run_example(venv, "broadcaster", "--users", "300", "--unknown", "2", env=env)
    assert broadcast.returncode == 0, broadcast.stderr
    assert "delivered 298, failed 2" in broadcast.stdout
    stream = run_example(venv, "progress_stream", "--terminal", "--mib", "1", env=env)
    assert stream.returncode == 0, stream.stderr
    echo = run_example(venv, "echo_bot", "--demo", "--port", "0", "--text", "ping", env=env)
    assert echo.returncode == 0 and "echo: ping" in echo.stdout, echo.stderr
    check_web_service(venv, env)

    program = tmp_path / "user_program.py"
    program.write_text(USER_PROGRAM)
    mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable", python]
    checked = subprocess.run([*mypy, str(program)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout
    program.write_text(USER_PROGRAM.replace("sent: aio_tim.Message", "sent: int"))
    wrong = subprocess.run([*mypy, str(program)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "Incompatible types in assignment" in wrong.stdout  # the real types, not Any

    demo = subprocess.run(
        [str(venv / "bin" / "aio-tim"), "demo", "--recipients", "30"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    assert "identical to what was sent: True" in demo.stdout


def check_web_service(venv: Path, env: dict[str, str]) -> None:
    """The service answers a send, answers a non-JSON body with a 400, and stops quietly on Ctrl-C."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, script = readme_command("web_service")
    service = subprocess.Popen(
        [str(venv / "bin" / "python"), script], cwd=REPO, env={**env, "PORT": str(port)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert service.stdout is not None
        for line in service.stdout:
            if "Running on" in line:
                break
        assert post(port, json.dumps({"to": "bob", "text": "hi"}).encode())[0] == 200
        status, body = post(port, b"notjson")
        assert status == 400 and "JSON" in body["error"]
    finally:
        service.send_signal(signal.SIGINT)
        _, err = service.communicate(timeout=30)
    assert "Traceback" not in err, err


def post(port: int, body: bytes) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/send", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
