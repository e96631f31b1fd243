"""The documentation site (mkdocs.yml, docs/) builds cleanly, and what its pages show holds."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

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
PYTHON_BLOCK = re.compile(r"```python\n(.*?)\n```", re.DOTALL)
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


def runnable_examples() -> list[Any]:
    """The Python blocks of the docs that are whole programs (they end in `asyncio.run(main())`)."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        for block in PYTHON_BLOCK.finditer(text):
            if "asyncio.run(main())" in block[1]:
                line = text[: block.start()].count("\n") + 1
                found.append(pytest.param(block[1], id=f"{page.name}:{line}"))
    return found


@pytest.mark.parametrize("program", runnable_examples())
def test_documented_program_runs(program: str) -> None:
    """A complete program shown in the docs runs against its embedded dev server, warning-free."""
    ran = subprocess.run(
        [sys.executable, "-W", "error", "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert "Exception ignored" not in ran.stderr, ran.stderr


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
