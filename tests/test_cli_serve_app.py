"""Issue 33: `aio-tim serve --sdk-app-id N --admin NAME` (or AIO_TIM_SDK_APP_ID / AIO_TIM_ADMIN)
answers to a service's fixed app id and admin, so the service points at it unchanged."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cli_support import one_line, run_cli, start_serve, stop

from aio_tim.auth import mint_usersig

KEY = "0d2a321b087fdb8fd5ed5ea14fe0489139086eb1b03541774fc9feeab8f2bfd3"
APP = 1400564830


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    names = ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_STATE_HOME")
    fresh = {**os.environ, **{name: str(tmp_path / name.lower()) for name in names}}
    for name in ("AIO_TIM_URL", "AIO_TIM_SDK_APP_ID", "AIO_TIM_SECRET_KEY", "AIO_TIM_USER", "AIO_TIM_ADMIN"):
        fresh.pop(name, None)
    return fresh


def call(url: str, app: int, admin: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    query = (
        f"sdkappid={app}&identifier={admin}&usersig={mint_usersig(app, KEY, admin)}&random=1&contenttype=json"
    )
    request = urllib.request.Request(
        f"{url}/v4/{endpoint}?{query}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        reply: dict[str, Any] = json.loads(resp.read())
    return reply


@pytest.mark.parametrize("by_env", [False, True], ids=["flags", "env"])
def test_serve_answers_to_the_app_id_and_admin_given(env: dict[str, str], by_env: bool) -> None:
    if by_env:
        env |= {"AIO_TIM_SDK_APP_ID": str(APP), "AIO_TIM_ADMIN": "boss"}
        server, url = start_serve(env, "--secret-key", KEY)
    else:
        server, url = start_serve(env, "--secret-key", KEY, "--sdk-app-id", str(APP), "--admin", "boss")
    try:
        assert call(url, APP, "boss", "ConfigSvc/GetIPList", {})["ErrorCode"] == 0
        assert call(url, 1400000000, "boss", "ConfigSvc/GetIPList", {})["ErrorCode"] != 0  # another app
        assert call(url, APP, "administrator", "ConfigSvc/GetIPList", {})["ErrorCode"] != 0  # not the admin
        info = call(url, APP, "boss", "openconfigsvr/getappinfo", {"RequestField": ["AppId"]})
        assert info["Result"] == [{"AppId": str(APP)}]
    finally:
        stop(server)


def test_bad_app_id_or_admin_is_one_line(env: dict[str, str]) -> None:
    assert "--sdk-app-id: 0 is less than 1" in one_line(run_cli("serve", "--sdk-app-id", "0", env=env))
    result = run_cli("serve", "--port", "0", "--admin", "x" * 33, env=env)
    assert result.returncode != 0
    assert "admin" in one_line(result)
    env["AIO_TIM_SDK_APP_ID"] = "nope"
    assert "AIO_TIM_SDK_APP_ID" in one_line(run_cli("serve", "--port", "0", env=env))
