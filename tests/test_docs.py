"""The documentation site (mkdocs.yml, docs/) builds cleanly, and what its pages show holds."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from docs_snippets import Snippet, SnippetContext, python_fences, snippets
from redis_support import free_port

import aio_tim
import aio_tim.types
from aio_tim.devserver import DevServer
from aio_tim.transfer import DownloadOptions

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
C_FUNCTIONS = (
    "TIMMsgSendNewMsg",
    "TIMMsgReportReaded",
    "TIMMsgRevoke",
    "TIMMsgFindByMsgLocatorList",
    "TIMMsgImportMsgList",
    "TIMMsgSaveMsg",
    "TIMMsgGetMsgList",
    "TIMMsgDelete",
    "TIMMsgDownloadElemToPath",
    "TIMMsgBatchSend",
)
# A JSON example on the mapping page names the Struct it decodes to in a comment just above it.
JSON_EXAMPLE = re.compile(r"<!-- decodes: (?P<type>[\w\[\]]+) -->\n```json\n(?P<json>.*?)\n```", re.DOTALL)
# Every HTTP(S) request goes to a dead proxy: a build that needs the network fails.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    return env | OFFLINE | {k.lower(): v for k, v in OFFLINE.items()}


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None,
    reason="mkdocs is not installed; `pip install -e '.[docs]'` installs it to build the docs",
)
def test_site_builds_strictly_offline(tmp_path: Path) -> None:
    """`mkdocs build --strict` succeeds without network, and the mapping page names all ten C functions."""
    site = tmp_path / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    built = subprocess.run(command, cwd=ROOT, env=offline_env(), capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr + built.stdout
    mapping = (site / "mapping" / "index.html").read_text(encoding="utf-8")
    assert [name for name in C_FUNCTIONS if name not in mapping] == []
    cut = asyncio.run(blocks_cut_at_1280(sorted(site.glob("*/index.html"))))
    assert cut == {}, f"code blocks wider than their box at a 1280 px window: {cut}"


async def blocks_cut_at_1280(pages: list[Path]) -> dict[str, int]:
    """page -> how many of its code blocks overflow their box in headless Chromium at 1280 px."""
    chromium = shutil.which("chromium")
    if chromium is None or importlib.util.find_spec("playwright") is None:
        reason = "chromium and playwright are needed to look at the built pages (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    cut: dict[str, int] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        for html in pages:
            await page.goto(html.as_uri())
            wide = await page.evaluate(
                "() => [...document.querySelectorAll('.rst-content pre, .rst-content pre code')]"
                ".filter(e => e.scrollWidth > e.clientWidth + 1).length"
            )
            if wide:
                cut[html.parent.name] = wide
        await browser.close()
    return cut


def json_examples() -> list[Any]:
    """(Struct name, JSON text) of each labelled example, with its line as the test id."""
    text = (DOCS / "mapping.md").read_text()
    return [
        pytest.param(m["type"], m["json"], id=f"mapping.md:{text[: m.start()].count(chr(10)) + 2}")
        for m in JSON_EXAMPLE.finditer(text)
    ]


def struct_type(name: str) -> Any:
    """`Message` or `list[Message]`, looked up in aio_tim.types."""
    item = re.fullmatch(r"list\[(\w+)\]", name)
    return list[getattr(aio_tim.types, item[1])] if item else getattr(aio_tim.types, name)


def test_every_json_example_names_its_struct() -> None:
    """Each JSON block of the mapping page is preceded by the Struct it decodes to."""
    text = (DOCS / "mapping.md").read_text()
    assert text.count("```json") == len(json_examples()) >= 10


@pytest.mark.parametrize(("type_name", "example"), json_examples())
def test_json_example_round_trips(type_name: str, example: str) -> None:
    """A JSON example decodes into its Struct and re-encodes to the same JSON (no unknown key)."""
    decoded = msgspec.json.decode(example, type=struct_type(type_name))
    assert json.loads(aio_tim.types.encode(decoded)) == json.loads(example)


SNIPPETS = snippets()
# Printed at the end of the session (conftest.py): how many snippets mypy checked and the tests ran.
SNIPPET_COUNTS = {"type-checked": 0, "ran": 0}


def test_every_python_block_is_a_snippet() -> None:
    """No ```python block escapes the extraction (a malformed context comment would hide one)."""
    assert len(SNIPPETS) == python_fences() >= 38
    assert {snippet.kind for snippet in SNIPPETS} == {"program", "serves", "pytest", "async", "sync"}


@pytest.fixture(scope="module")
def snippet_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every snippet as a module of its own (a fragment wrapped in its context), in one folder."""
    folder = tmp_path_factory.mktemp("snippets")
    for snippet in SNIPPETS:
        (folder / f"{snippet.module}.py").write_text(snippet.source(), encoding="utf-8")
    return folder


def test_snippets_pass_mypy_strict(snippet_folder: Path) -> None:
    """One `mypy --strict` run over all snippets, as written (fragments inside their context)."""
    files = sorted(str(path) for path in snippet_folder.glob("snippet_*.py"))
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--cache-dir",
        str(snippet_folder / ".mypy_cache"),
        *files,
    ]
    checked = subprocess.run(command, cwd=snippet_folder, capture_output=True, text=True, timeout=600)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    SNIPPET_COUNTS["type-checked"] = len(files)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[snippet.id for snippet in SNIPPETS])
async def test_snippet_runs(
    snippet: Snippet,
    snippet_folder: Path,
    dev_server: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A snippet runs as written against a dev server (a fragment inside its declared context)."""
    path = snippet_folder / f"{snippet.module}.py"
    async with asyncio.timeout(120):
        if snippet.kind in ("async", "sync"):
            monkeypatch.chdir(tmp_path)  # what a fragment writes lands there, next to a report.pdf
            (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 the report")
            await run_fragment(snippet, path, dev_server, tmp_path)
        else:
            await run_file(snippet, path, dev_server, tmp_path)
    SNIPPET_COUNTS["ran"] += 1


async def run_fragment(snippet: Snippet, path: Path, server: DevServer, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(snippet.module, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    async with contextlib.AsyncExitStack() as stack:
        given = SnippetContext(server, stack, tmp_path)
        values = {name: await given.value(name, annotation) for name, annotation in snippet.params}
        if snippet.kind == "async":
            await module.snippet(**values)
        else:
            await asyncio.to_thread(module.snippet, **values)


async def run_file(snippet: Snippet, path: Path, server: DevServer, tmp_path: Path) -> None:
    """A program (pointed at the dev server), a test module (pytest), or a service (until SIGINT)."""
    env = os.environ | {
        "AIO_TIM_URL": server.url,
        "AIO_TIM_SDK_APP_ID": str(server.sdk_app_id),
        "AIO_TIM_SECRET_KEY": server.secret_key,
        "PORT": str(free_port()),
    }
    command = [sys.executable, "-W", "error", str(path)]
    if snippet.kind == "pytest":
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
                   "-o", "asyncio_default_fixture_loop_scope=function",
                   "-W", "error", str(path)]  # fmt: skip
    child = await asyncio.create_subprocess_exec(
        *command, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    if snippet.kind == "serves":
        await until_listening(int(env["PORT"]), child)
        child.send_signal(signal.SIGINT)
    out, err = await child.communicate()
    assert child.returncode == 0, (out + err).decode()
    assert b"Exception ignored" not in err and b"Traceback" not in err, err.decode()


async def until_listening(port: int, child: asyncio.subprocess.Process) -> None:
    while child.returncode is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"the service exited with {child.returncode} before it listened on {port}")


# (page, "## heading", object, parameters the table leaves out): option tables written by hand.
OPTION_TABLES = [
    ("configuration.md", "Client options", aio_tim.Client, ()),
    ("configuration.md", "Timeouts", aio_tim.Timeouts, ()),
    ("configuration.md", "The pipeline: retries and rate limits", aio_tim.RetryPolicy, ()),
    (
        "configuration.md",
        "The pipeline: retries and rate limits",
        aio_tim.MessagePipeline,
        ("call", "max_in_flight", "retry", "rng", "clock", "sleep"),  # given by Client, or test hooks
    ),
    ("configuration.md", "Downloads", DownloadOptions, ()),
    ("devserver.md", "`DevServer`", DevServer, ()),
]


def option_rows(page: str, heading: str) -> dict[str, str]:
    """`name` -> default cell, from the tables of one `## heading` section of a page."""
    section = (DOCS / page).read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2:
            rows |= dict.fromkeys(re.findall(r"`(\w+)`", cells[0]), cells[1])
    return rows


@pytest.mark.parametrize(
    ("page", "heading", "documented", "left_out"),
    OPTION_TABLES,
    ids=[f"{page}:{obj.__name__}" for page, _, obj, _ in OPTION_TABLES],
)
def test_option_tables_match_the_code(
    page: str, heading: str, documented: Any, left_out: tuple[str, ...]
) -> None:
    """Every option of the object has a row, and a literal default shown is the code's default."""
    rows = option_rows(page, heading)
    params = [p for p in inspect.signature(documented).parameters.values() if p.name not in left_out]
    assert [p.name for p in params if p.name not in rows] == []
    wrong = []
    for param in params:
        shown = re.search(r"`([^`]+)`", rows[param.name])
        try:
            value = ast.literal_eval(shown[1]) if shown else param.default
        except (ValueError, SyntaxError):
            continue  # an expression such as `Timeouts()`: described, not compared
        if param.default is not inspect.Parameter.empty and value != param.default:
            wrong.append((param.name, shown[1] if shown else None, param.default))
    assert wrong == []


def test_the_broadcast_guide_is_findable() -> None:
    """Searching the site for broadcast, 100,000, 100000 or mass send finds the guide; the README and
    the site's navigation link it, and it names the example."""
    guide = (DOCS / "broadcast.md").read_text(encoding="utf-8")
    words = ("broadcast", "100,000", "100000", "mass send", "70107")
    assert [word for word in words if word not in guide] == []
    assert "examples/broadcaster.py" in guide and "--retry-failed" in guide and "iter_batch_send" in guide
    assert "broadcast.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "(docs/broadcast.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


# Commands as the README prints them: a new user copies them into a shell where only the venv's
# bin folder has `aio-tim`, and whose `python` does not see the package.
BARE_COMMAND = re.compile(r"(?<![\w/.])(aio-tim|python3?) (?!-m venv)[\w./-]")


def test_the_readme_writes_every_command_as_it_runs_from_a_fresh_clone() -> None:
    """README commands say `.venv/bin/aio-tim` / `.venv/bin/python` (a bare one fails from a fresh clone)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"`([^`\n]+)`", readme) + re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
    bare = [c for c in commands if BARE_COMMAND.search(c) and "python3 -m venv" not in c]
    assert bare == [], f"write these as .venv/bin/...: {bare}"


def test_no_file_points_at_a_document_the_repository_does_not_have() -> None:
    """Docstrings, comments and docs name the mapping page or TIM's pages, never a missing protocol file."""
    missing = "TIM-PROTOCOL"
    places = [
        *ROOT.joinpath("aio_tim").rglob("*.py"),
        *ROOT.joinpath("tests").glob("*.py"),
        *DOCS.glob("*.md"),
    ]
    found = [str(p.relative_to(ROOT)) for p in places if missing in p.read_text(encoding="utf-8")]
    assert found == [str(Path(__file__).relative_to(ROOT))]  # this test names it, nothing else
