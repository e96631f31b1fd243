"""`aio-tim listen` and `aio-tim serve --webhook-url/--webhook-token`, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from cli_support import CLI, free_port, start_serve, stop

from aio_tim.cli import main

KEY = "cli-listen-secret-key-0123456789abcdef"


def test_listen_prints_what_serve_fires(tmp_path: Path) -> None:
    """A message sent through `aio-tim serve --webhook-url` reaches `aio-tim listen` as JSON lines."""
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    port = free_port()
    hook = f"http://127.0.0.1:{port}/tim/callback"
    server, url = start_serve(env, "--secret-key", KEY, "--webhook-url", hook, "--webhook-token", "tok")
    listener = None
    try:
        target = ["--url", url, "--sdk-app-id", "1400000000", "--secret-key", KEY]
        listen = [*CLI, "listen", *target, "--user", "bob",
                  "--port", str(port), "--token", "tok", "--store", str(tmp_path / "bob.db"),
                  "--count", "1"]  # fmt: skip
        listener = subprocess.Popen(
            listen, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        assert listener.stderr is not None
        assert "listening for TIM's webhooks at " + hook in listener.stderr.readline()
        assert main(["send", *target, "--user", "alice", "--to", "bob", "hello bob"]) == 0
        out, _ = listener.communicate(timeout=30)
        assert listener.returncode == 0
        events = [json.loads(line) for line in out.splitlines()]
        # One message, one event: the before-send question is not printed by default.
        assert [e["command"] for e in events] == ["C2C.CallbackAfterSendMsg"]
        message = events[0]["message"]
        assert message["message_sender"] == "alice" and message["message_conv_id"] == "alice"
        assert message["message_elem_array"] == [{"elem_type": 0, "text_elem_content": "hello bob"}]
    finally:
        if listener is not None:
            if listener.poll() is None:
                listener.kill()
            listener.communicate(timeout=10)  # closes its pipes
        stop(server)
