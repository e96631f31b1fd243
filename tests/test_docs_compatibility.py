"""docs/compatibility.md stays true: one row per routed endpoint, every spelling it names is read
by the server, every alias the server reads is named, and every constant it quotes is the code's."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aio_tim.devserver import DevServer
from aio_tim.devserver.rest import default_routes
from aio_tim.devserver.validation import ALIASES

PAGE = Path(__file__).parent.parent / "docs" / "compatibility.md"
ROUTES = default_routes()


def rows() -> dict[str, tuple[str, str]]:
    """endpoint -> (spellings cell, differences cell), from the page's endpoint table."""
    table = PAGE.read_text().split("## Endpoints", 1)[1]
    found: dict[str, tuple[str, str]] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and (name := re.fullmatch(r"`([\w/]+)`", cells[0])):
            assert name[1] not in found, f"{name[1]} has two rows"
            found[name[1]] = (cells[1], cells[2])
    return found


def wire_fields(request_type: type[msgspec.Struct]) -> set[str]:
    """Every JSON key the request reads, nested objects included."""
    _, components = msgspec.json.schema_components([request_type])
    return {key for schema in components.values() for key in schema.get("properties", {})}


def test_every_routed_endpoint_has_exactly_one_row() -> None:
    """The table and the router name the same endpoints."""
    assert sorted(rows()) == sorted(ROUTES)


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_spellings_are_what_the_server_reads(endpoint: str) -> None:
    """`Old` → `New` pairs are exactly the server's aliases; other names are request fields."""
    spellings = rows()[endpoint][0]
    arrows = dict(re.findall(r"`(\w+)` → `(\w+)`", spellings))
    assert arrows == dict(ALIASES.get(endpoint, {}))
    fields = wire_fields(ROUTES[endpoint].decoder.request_type)
    named = set(re.findall(r"`([A-Za-z_]\w*)`", spellings)) - set(arrows)
    assert named - fields == set(), f"{endpoint}: not fields of the request"
    assert set(arrows.values()) <= fields


def test_quoted_constants_are_the_codes_values() -> None:
    """`aio_tim.x.NAME = value` on the page equals the constant; window defaults match DevServer."""
    text = PAGE.read_text()
    quoted = re.findall(r"`(aio_tim(?:\.\w+)+)\.([A-Z_]+) = (\d+)`", text)
    assert len(quoted) >= 10
    wrong = [(m, n, v) for m, n, v in quoted if getattr(importlib.import_module(m), n) != int(v)]
    assert wrong == []
    defaults: dict[str, Any] = {p.name: p.default for p in inspect.signature(DevServer).parameters.values()}
    windows = re.findall(r"`(\w+_window)` seconds \(default (\d+)\)", text)
    assert {name for name, _ in windows} == {"c2c_dedup_window", "group_dedup_window"}
    assert all(defaults[name] == int(value) for name, value in windows)
