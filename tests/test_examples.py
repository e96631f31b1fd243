"""The runnable examples, each exercised end to end against the dev server."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
from aiohttp import web
from redis_support import free_port  # a port nothing listens on once it returns

from aio_tim.testing import client_for

EXAMPLES = Path(__file__).parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def test_web_service_answers_with_the_message_id():
    """POST /send awaits send_new_msg and answers with its msg_id; bad input is a 400 naming the code."""
    runner, url = await serve(load("web_service").make_app())
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/send", json={"to": "bob", "text": "hi"}) as reply:
                assert reply.status == 200
                body = await reply.json()
            assert body["msg_id"].count("_") == 2 and body["seq"] > 0
            async with http.post(f"{url}/send", json={"to": "", "text": "hi"}) as reply:
                assert reply.status == 400
                assert (await reply.json())["code"] == -5
    finally:
        await runner.cleanup()


async def test_broadcaster_reports_failures_and_resumes(tmp_path, capsys):
    """The broadcast delivers to all registered users, files the unknown ones saying what they are,
    and a rerun says the announcement already went out; a new announcement is not swallowed."""
    broadcaster = load("broadcaster")
    argv = ["--users", "12000", "--unknown", "7", "--workdir", str(tmp_path)]
    assert await broadcaster.main(argv) == (11993, 7)
    [failures_file] = tmp_path.glob("*.failures.tsv")
    failures = failures_file.read_text().splitlines()
    assert len(failures) == 7 and all(line.endswith("\t70107") for line in failures)
    first = capsys.readouterr().out
    assert "delivered 11,993, failed 7" in first and "7 x 70107: account does not exist" in first
    assert "the 7 users this demo leaves unregistered" in first and str(failures_file) in first
    assert await broadcaster.main(argv) == (0, 0)  # every recipient is checkpointed
    assert "nothing to send: this announcement already went to every recipient" in capsys.readouterr().out
    assert len(failures_file.read_text().splitlines()) == 7
    assert await broadcaster.main([*argv, "--text", "a new announcement"]) == (11993, 7)


async def test_broadcaster_keeps_its_files_out_of_the_working_folder(tmp_path, monkeypatch):
    """Without --workdir, the checkpoint goes to the per-user state folder, not the current folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert await load("broadcaster").main(["--users", "50", "--unknown", "0"]) == (50, 0)
    assert list(tmp_path.iterdir()) == [tmp_path / "state"]
    assert list((tmp_path / "state" / "aio_tim" / "checkpoints" / "broadcaster").glob("*.tsv"))


async def test_progress_stream_sends_monotonic_events_ending_at_the_total(dev_server, tmp_path):
    """/progress streams snapshots that never go back and end at the file size, then a done event."""
    example = load("progress_stream")
    size = 3 * 1024 * 1024 + 17
    async with client_for(dev_server, "alice") as tim:
        param = await example.attachment(tim, tmp_path, size)
        runner, url = await serve(example.make_app(tim, param, tmp_path))
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{url}/progress") as reply:
                text = await reply.text()
        finally:
            await runner.cleanup()
    snapshots = [line[6:] for line in text.splitlines() if line.startswith("data: {") and "_size" in line]
    events = [json.loads(snapshot) for snapshot in snapshots]
    current = [e["msg_download_elem_result_current_size"] for e in events]
    assert current == sorted(current) and current[-1] == size
    assert all(e["msg_download_elem_result_total_size"] == size for e in events)
    done = json.loads(text.split("event: done\ndata: ", 1)[1].split("\n", 1)[0])
    assert done["total"] == size and done["elapsed"] > 0
    assert all(e["elapsed"] >= 0 for e in events) and events[-1]["speed"] > 0
    assert (tmp_path / "download-1.bin").stat().st_size == size


async def test_progress_stream_survives_a_browser_leaving(dev_server, tmp_path, caplog):
    """A browser that disconnects mid-stream ends the handler quietly and stops the download."""
    example = load("progress_stream")
    async with client_for(dev_server, "alice") as tim:
        param = await example.attachment(tim, tmp_path, 48 * 1024 * 1024)
        runner, url = await serve(example.make_app(tim, param, tmp_path))
        try:
            port = int(url.rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /progress HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"data: {" in await reader.readuntil(b"data: {")
            writer.transport.abort()  # the tab closes
            for _ in range(200):
                await asyncio.sleep(0.02)
                if tim.transfers.statistics().downloads_running == 0:
                    break
            assert tim.transfers.statistics().downloads_running == 0
        finally:
            await runner.cleanup()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_broadcaster_ctrl_c_is_one_line_and_resumable(tmp_path):
    """Ctrl-C during a broadcast stops after the slice in flight: exit 130, one line, no traceback."""
    script = str(EXAMPLES / "broadcaster.py")
    command = [sys.executable, script, "--users", "60000", "--workdir", str(tmp_path)]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run.poll() is None:
        logs = list(tmp_path.glob("*.tsv"))
        if any(len(p.read_text().splitlines()) > 1 for p in logs if not p.name.endswith("failures.tsv")):
            break
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 130, err
    assert "Traceback" not in err and "run the same command again to resume" in err
    [checkpoint] = [p for p in tmp_path.glob("*.tsv") if not p.name.endswith("failures.tsv")]
    assert 1 < len(checkpoint.read_text().splitlines()) <= 60_000  # progress kept for the rerun


async def test_echo_bot_answers_a_message_received_through_webhooks():
    """`echo_bot.py --demo`: alice's message reaches the bot by webhook and the bot's echo reaches alice."""
    assert await load("echo_bot").main(["--demo", "--port", "0", "--text", "ping"]) == "echo: ping"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _browser_or_skip() -> str:
    """Debian's chromium; under CI its absence fails the run, elsewhere the test is skipped."""
    missing = [what for what, ok in (("chromium", CHROMIUM), ("playwright", _has_playwright())) if not ok]
    if missing:
        reason = f"{' and '.join(missing)} not installed (apt-get install chromium; pip install playwright)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    assert CHROMIUM is not None
    return CHROMIUM


def _has_playwright() -> bool:
    return importlib.util.find_spec("playwright") is not None


async def test_progress_page_in_a_real_browser(dev_server, tmp_path):
    """Headless Chromium: two downloads show percent, rate and ETA, then finish; a third fails on the page."""
    from playwright.async_api import async_playwright

    from aio_tim.devserver.files import StallAt

    chromium = _browser_or_skip()
    example = load("progress_stream")
    size = 8 * 1024 * 1024
    async with client_for(dev_server, "alice") as tim:
        param = await example.attachment(tim, tmp_path, size)
        dev_server.files.fail_next(StallAt(size // 2, seconds=2.0))  # the first download pauses halfway
        runner, url = await serve(example.make_app(tim, param, tmp_path))
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                await page.goto(url)
                await page.click("#go")
                await page.wait_for_function(
                    "() => { const r = document.querySelector('#download-1 .eta');"
                    " return r && /ETA \\d/.test(r.textContent); }",
                    timeout=20_000,
                )
                midway = {
                    name: await page.inner_text(f"#download-1 .{name}") for name in ("percent", "rate", "eta")
                }
                await page.click("#go")
                await page.click("#broken")
                await page.wait_for_selector("#download-1 .done", timeout=30_000)
                await page.wait_for_selector("#download-2 .done", timeout=30_000)
                await page.wait_for_selector("#download-3 .failed", timeout=30_000)
                rows = {n: await page.inner_text(f"#download-{n} .status") for n in (1, 2, 3)}
                await page.screenshot(path=str(tmp_path / "progress.png"))
                if os.environ.get("AIO_TIM_PROGRESS_SCREENSHOT"):  # how docs/img/progress_stream.png is made
                    await page.screenshot(path=os.environ["AIO_TIM_PROGRESS_SCREENSHOT"])
                await browser.close()
        finally:
            await runner.cleanup()
    print(f"midway: {midway}; rows: {rows}")
    percent = float(midway["percent"].rstrip("%"))
    assert 0 < percent < 100 and midway["rate"].endswith("MiB/s") and midway["eta"].startswith("ETA ")
    assert rows[1].startswith("done: 8.0 MiB in ") and rows[2].startswith("done: 8.0 MiB in ")
    assert rows[3].startswith("failed: [") and (tmp_path / "progress.png").stat().st_size > 0
    assert [(tmp_path / f"download-{n}.bin").stat().st_size for n in (1, 2)] == [size, size]


def test_workers_demo_without_redis_says_so_once_and_exits_1():
    """Redis at a closed port: one line naming the URL, no false "answers again", no traceback, status 1."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    command = [sys.executable, str(EXAMPLES / "workers.py"), "--workers", "2", "--redis", url]
    ran = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1, ran.stderr
    assert ran.stdout == ""
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    assert f"Redis at {url} cannot be reached" in lines[0]
    assert "start Redis or pass --redis URL" in lines[0]
    assert "answers again" not in ran.stderr and "Traceback" not in ran.stderr


async def test_workers_worker_without_redis_keeps_running_and_stops_on_sigterm(dev_server):
    """A worker with Redis down says so once (URL, what it does meanwhile), never that Redis answers
    again, keeps draining-ready until SIGTERM, then exits 0 without a traceback."""
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "workers.py"), "worker", "--base-url", dev_server.url,
        "--sdk-app-id", str(dev_server.sdk_app_id), "--admin", dev_server.admin, "--redis", url,
        "--workers", "3", "--visibility", "0.6",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=os.environ | {"AIO_TIM_SECRET_KEY": dev_server.secret_key},
    )  # fmt: skip
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), 30) == b"ready\n"
    await asyncio.sleep(2.0)  # several lease rounds and drainer loops with Redis still down
    assert child.returncode is None
    child.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(child.communicate(), 30)
    stderr = err.decode()
    assert child.returncode == 0, stderr
    said = [line for line in stderr.splitlines() if line.startswith("worker worker: Redis at")]
    assert len(said) == 1, stderr
    assert f"redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in said[0] and "hunter2" not in stderr
    assert "paces at 1/3 of each limit and drains the shared outbox once Redis answers" in said[0]
    assert "answers again" not in stderr and "Traceback" not in stderr
    assert out == b""
