"""`aio-tim serve` as a user starts it, for the CLI tests: a subprocess, and the URL it prints."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["CLI", "free_port", "one_line", "run_cli", "start_serve", "stop", "user_env"]

CLI = [sys.executable, "-m", "aio_tim.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_serve(env: dict[str, str], *flags: str) -> tuple[subprocess.Popen[str], str]:
    """Start `aio-tim serve --port 0 FLAGS`; return the process and the URL it listens on."""
    server = subprocess.Popen(
        [*CLI, "serve", "--port", "0", *flags], stdout=subprocess.PIPE, text=True, env=env
    )
    assert server.stdout is not None
    for line in server.stdout:
        if found := re.search(r"listening on (http://\S+)", line):
            return server, found.group(1)
    stop(server)
    raise AssertionError("the server printed no URL")


def stop(server: subprocess.Popen[str]) -> None:
    if server.poll() is None:
        server.terminate()
    server.wait(timeout=10)
    if server.stdout is not None:
        server.stdout.close()


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`aio-tim ARGS` as a user runs it, its output captured."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (asserting there is exactly one, one prefix)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aio-tim: ") and lines[0].count("aio-tim:") == 1, lines[0]
    return lines[0]


def user_env(home: Path) -> dict[str, str]:
    """A user environment of its own under `home`: HOME, serve records, stores, checkpoints."""
    names = ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
    env = {**os.environ, "HOME": str(home), **{name: str(home / name.lower()) for name in names}}
    for name in [name for name in env if name.startswith("AIO_TIM_")]:
        del env[name]
    return env
