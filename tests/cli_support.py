"""`aio-tim serve` as a user starts it, for the CLI tests: a subprocess, and the URL it prints."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

__all__ = ["CLI", "free_port", "start_serve", "stop"]

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
