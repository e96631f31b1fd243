"""DESIGN.md §2 import rules, enforced by reading every module's imports from its AST.

Every `import`, `from ... import` (relative ones resolved to absolute names) and literal
`importlib.import_module("...")`/`__import__("...")` counts, including those under
`if TYPE_CHECKING:`: a layering rule is about dependencies, not only about run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aio_tim._moved import MOVED

PACKAGE = "aio_tim"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of a file under ROOT, and whether it is a package `__init__`."""
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of `from <level dots><name> import ...` written in `module`."""
    if level == 0:
        assert name is not None
        return name
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 >= len(parts):
        raise ImportError(f"relative import beyond top-level package in {module}")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _is_dynamic_import(func: ast.expr) -> bool:
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return called in ("import_module", "__import__")


def imports_of(source: str, module: str, is_package: bool) -> set[str]:
    """Every absolute name `source` imports; `from m import a` yields `m.a` (a may be a submodule)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                found.add(base if alias.name == "*" else f"{base}.{alias.name}")
        elif isinstance(node, ast.Call) and node.args and _is_dynamic_import(node.func):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                target = first.value
                if target.startswith("."):
                    dots = len(target) - len(target.lstrip("."))
                    target = resolve(module, is_package, dots, target.lstrip(".") or None)
                found.add(target)
    return found


def walk_package() -> dict[str, set[str]]:
    """module name -> the absolute names it imports, for every .py file under aio_tim/."""
    table: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        name, is_package = module_name(path)
        table[name] = imports_of(path.read_text(encoding="utf-8"), name, is_package)
    return table


IMPORTS = walk_package()
MODULES = sorted(IMPORTS)


def under(name: str, *packages: str) -> bool:
    """Whether `name` is one of `packages` or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in packages)


def forbidden(module: str, allowed_internal: tuple[str, ...] | None, banned: tuple[str, ...]) -> list[str]:
    """The imports of `module` that are banned, or internal to aio_tim but outside `allowed_internal`."""

    def out_of_layer(target: str) -> bool:
        if allowed_internal is None or not under(target, PACKAGE):
            return False
        return not under(target, *allowed_internal)

    return [t for t in sorted(IMPORTS[module]) if under(t, *banned) or out_of_layer(t)]


# --- the walker itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "is_package", "level", "name", "expected"),
    [
        ("aio_tim.protocol.msgbody", False, 2, "types", "aio_tim.types"),
        ("aio_tim.protocol.msgbody", False, 2, None, "aio_tim"),
        ("aio_tim.protocol", True, 1, None, "aio_tim.protocol"),
        ("aio_tim.protocol", True, 1, "envelope", "aio_tim.protocol.envelope"),
        ("aio_tim.devserver.state", False, 1, "schema", "aio_tim.devserver.schema"),
        ("aio_tim.cli", False, 1, "devserver", "aio_tim.devserver"),
        ("aio_tim", True, 1, "errors", "aio_tim.errors"),
        ("aio_tim.cli", False, 0, "aiohttp.web", "aiohttp.web"),
    ],
)
def test_relative_imports_resolve_to_absolute_names(
    module: str, is_package: bool, level: int, name: str | None, expected: str
) -> None:
    """Relative imports resolve against the module's package (a package `__init__` is its own package)."""
    assert resolve(module, is_package, level, name) == expected


def test_import_collector_sees_every_form() -> None:
    """The collector finds plain, from-, relative, starred, TYPE_CHECKING and literal dynamic imports."""
    source = "\n".join(
        [
            "import asyncio, yarl as y",
            "from aiohttp import web",
            "from .. import devserver",
            "from ..errors import UsageError",
            "from .msgbody import *",
            "from typing import TYPE_CHECKING",
            "if TYPE_CHECKING:",
            "    import aiosqlite",
            "def f():",
            "    import importlib",
            "    return __import__('aio_tim.store'), importlib.import_module('.transfer', __package__)",
        ]
    )
    assert imports_of(source, "aio_tim.protocol.outgoing", False) == {
        "asyncio",
        "yarl",
        "aiohttp.web",
        "aio_tim.devserver",
        "aio_tim.errors.UsageError",
        "aio_tim.protocol.msgbody",
        "typing.TYPE_CHECKING",
        "aiosqlite",
        "importlib",
        "aio_tim.store",
        "aio_tim.protocol.transfer",
    }


def test_walk_covers_the_package() -> None:
    """The walk finds the core modules and the imports they are known to make."""
    for name in ("aio_tim", "aio_tim.errors", "aio_tim.types._base", "aio_tim.protocol.msgbody"):
        assert name in IMPORTS, name
    assert "aio_tim.errors.UsageError" in IMPORTS["aio_tim.types._base"]
    assert any(under(t, "aio_tim.types") for t in IMPORTS["aio_tim.protocol.msgbody"])
    if "aio_tim.connection.errors" in IMPORTS:
        assert "aiohttp" in IMPORTS["aio_tim.connection.errors"]


def test_forbidden_reports_banned_and_out_of_layer_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """`forbidden` names banned libraries and aio_tim modules outside the allowed layers, nothing else."""
    monkeypatch.setitem(
        IMPORTS,
        "aio_tim.types.fake",
        {
            "aiohttp.web",
            "asyncio",
            "msgspec",
            "aio_tim.errors.UsageError",
            "aio_tim.client.Client",
            "aio_tim",
        },
    )
    bad = forbidden(
        "aio_tim.types.fake",
        allowed_internal=("aio_tim.types", "aio_tim.errors"),
        banned=("aiohttp", "asyncio"),
    )
    assert bad == ["aio_tim", "aio_tim.client.Client", "aiohttp.web", "asyncio"]


# --- the rules ---------------------------------------------------------------------------------------

PURE = [m for m in MODULES if under(m, "aio_tim.types", "aio_tim.protocol")]
DEVSERVER = [m for m in MODULES if under(m, "aio_tim.devserver")]
MAY_IMPORT_DEVSERVER = ("aio_tim.devserver", "aio_tim.cli", "aio_tim.testing")
MAY_IMPORT_AIOHTTP = (
    "aio_tim.connection",
    "aio_tim.devserver",
    "aio_tim.transfer",
    "aio_tim.testing",
    "aio_tim.cli",
    "aio_tim.events",  # the webhook receiver is an aiohttp.web handler
)
MAY_IMPORT_AIOSQLITE = ("aio_tim.store", "aio_tim.devserver")


@pytest.mark.parametrize("module", PURE)
def test_types_and_protocol_are_pure(module: str) -> None:
    """types/ and protocol/ import no I/O library and nothing of aio_tim but types, protocol, errors."""
    bad = forbidden(
        module,
        allowed_internal=("aio_tim.types", "aio_tim.protocol", "aio_tim.errors"),
        banned=("aiohttp", "aiosqlite", "asyncio", "yarl"),
    )
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", [m for m in MODULES if not under(m, *MAY_IMPORT_DEVSERVER)])
def test_client_side_does_not_import_devserver(module: str) -> None:
    """Only devserver itself, the CLI and aio_tim.testing import aio_tim.devserver."""
    bad = forbidden(module, allowed_internal=None, banned=("aio_tim.devserver",))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", DEVSERVER)
def test_devserver_imports_only_shared_layers(module: str) -> None:
    """devserver imports from aio_tim only types, protocol, auth, errors, telemetry (its own spans
    under `aio-tim serve --otel`) and itself."""
    bad = forbidden(
        module,
        allowed_internal=(
            "aio_tim.types",
            "aio_tim.protocol",
            "aio_tim.auth",
            "aio_tim.errors",
            "aio_tim.telemetry",
            "aio_tim.devserver",
        ),
        banned=(),
    )
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", [m for m in MODULES if not under(m, *MAY_IMPORT_AIOHTTP)])
def test_only_the_io_layers_import_aiohttp(module: str) -> None:
    """aiohttp is imported only by connection/, devserver/, transfer/, testing and cli."""
    bad = forbidden(module, allowed_internal=None, banned=("aiohttp",))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", [m for m in MODULES if not under(m, *MAY_IMPORT_AIOSQLITE)])
def test_only_store_and_devserver_import_aiosqlite(module: str) -> None:
    """aiosqlite is imported only by store/ and devserver/."""
    bad = forbidden(module, allowed_internal=None, banned=("aiosqlite",))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", [m for m in MODULES if not under(m, "aio_tim.coordination")])
def test_only_coordination_imports_redis(module: str) -> None:
    """redis (an optional extra) is imported only by aio_tim.coordination."""
    bad = forbidden(module, allowed_internal=None, banned=("redis",))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", [m for m in MODULES if not under(m, "aio_tim.telemetry")])
def test_only_telemetry_imports_opentelemetry(module: str) -> None:
    """opentelemetry (the optional `otel` extra) is imported only by aio_tim.telemetry."""
    bad = forbidden(module, allowed_internal=None, banned=("opentelemetry",))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", [m for m in MODULES if not under(m, "aio_tim.pgstore")])
def test_only_pgstore_imports_asyncpg(module: str) -> None:
    """asyncpg (the postgres extra) is imported only by aio_tim.pgstore."""
    bad = forbidden(module, allowed_internal=None, banned=("asyncpg",))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", ["aio_tim.seams", "aio_tim.coordination", "aio_tim.coordination.base"])
def test_the_coordination_seams_do_not_need_redis(module: str) -> None:
    """The seams the pipeline and client import load without the redis extra."""
    bad = forbidden(module, allowed_internal=None, banned=("redis",))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", [m for m in MODULES if under(m, "aio_tim.events")])
def test_events_never_import_the_pipeline(module: str) -> None:
    """The receiving side (DESIGN.md §10) imports no pipeline, connection or devserver: it never sends."""
    bad = forbidden(
        module, allowed_internal=None, banned=("aio_tim.pipeline", "aio_tim.connection", "aio_tim.devserver")
    )
    assert not bad, f"{module} imports {bad}"


# --- the command line ----------------------------------------------------------------------------------

CLI_FAMILIES = ("messages", "batch", "download", "server", "demo", "admin", "listen", "search")
CLI_MODULES = [m for m in MODULES if under(m, "aio_tim.cli")]


def _cli_imports(module: str) -> set[str]:
    """The aio_tim.cli modules `module` imports (`from .x import name` counts as importing .x)."""
    found = set()
    for target in IMPORTS[module]:
        for candidate in CLI_MODULES:
            if target == candidate or target.startswith(candidate + "."):
                found.add(candidate)
    found.discard(module)
    found.discard("aio_tim.cli")  # the package itself: `from . import records` names records
    return found


def test_the_cli_has_no_import_circle() -> None:
    """aio_tim.cli's modules import each other without a circle (a topological order exists)."""
    graph = {m: _cli_imports(m) for m in CLI_MODULES}
    ordered: list[str] = []
    while graph:
        ready = sorted(m for m, deps in graph.items() if not deps - set(ordered))
        assert ready, f"import circle among {sorted(graph)}: { {m: sorted(d) for m, d in graph.items()} }"
        ordered.extend(ready)
        for module in ready:
            del graph[module]


CLI_TOP = (*CLI_FAMILIES, "main", "__main__", "cli")
CLI_SHARED = [m for m in CLI_MODULES if m.rsplit(".", 1)[-1] not in CLI_TOP]


@pytest.mark.parametrize("module", CLI_SHARED)
def test_the_clis_shared_pieces_never_import_a_command_family(module: str) -> None:
    """options, target, errors, progress, checkpoint...: below the command families, never above."""
    families = {f"aio_tim.cli.{name}" for name in (*CLI_FAMILIES, "main")}
    assert not _cli_imports(module) & families, f"{module} imports {_cli_imports(module) & families}"


# --- the floors (docs/architecture.md) ----------------------------------------------------------------

ARCHITECTURE = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def floors_of(page: str) -> dict[str, int]:
    """room -> floor, read from the table between the page's `floors` markers."""
    table = page.split("<!-- floors:", 1)[1].split("<!-- /floors -->", 1)[0]
    floors: dict[str, int] = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit():
            for room in cells[1].split(","):
                floors[room.strip().strip("`")] = int(cells[0])
    return floors


FLOORS = floors_of(ARCHITECTURE.read_text(encoding="utf-8"))


def room_of(name: str) -> str:
    """The room of an aio_tim module: its top-level package or module (`__init__` for the root)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_of(target: str) -> str:
    """The aio_tim module an imported name lives in (`aio_tim.store.LocalStore` -> `aio_tim.store`)."""
    while target not in IMPORTS:
        target = target.rpartition(".")[0]
    return target


def internal_imports(module: str) -> set[str]:
    """The aio_tim modules `module` imports, itself excluded."""
    return {module_of(t) for t in IMPORTS[module] if under(t, PACKAGE)} - {module}


def test_floors_table_reads_every_row() -> None:
    """The floors parser reads rooms and numbers from a table like the page's."""
    page = (
        "x\n<!-- floors: -->\n| floor | rooms |\n|---:|---|\n| 0 | `a` |\n| 3 | `b`, `c` |\n<!-- /floors -->"
    )
    assert floors_of(page) == {"a": 0, "b": 3, "c": 3}


def test_every_room_has_a_floor() -> None:
    """Each top-level module and package of aio_tim is on the architecture page's floor table."""
    rooms = {room_of(m) for m in MODULES}
    assert rooms - FLOORS.keys() == set(), "add these rooms to docs/architecture.md"
    assert FLOORS.keys() - rooms == set(), "these rooms on docs/architecture.md no longer exist"


@pytest.mark.parametrize("module", MODULES)
def test_no_import_climbs_or_leans_sideways(module: str) -> None:
    """A module imports only its own room and rooms on lower floors (docs/architecture.md)."""
    mine = room_of(module)
    bad = sorted(
        target
        for target in internal_imports(module)
        if room_of(target) != mine and FLOORS[room_of(target)] >= FLOORS[mine]
    )
    assert not bad, f"{module} (floor {FLOORS[mine]}) imports {bad}"


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of two or more nodes that reach each other (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def test_strongly_connected_finds_circles_only() -> None:
    """The circle finder reports a -> b -> c -> a and nothing for a chain."""
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    """No aio_tim modules import each other in a circle, however long (inside a room too)."""
    graph = {module: internal_imports(module) for module in MODULES}
    assert strongly_connected(graph) == []


MAX_MODULE_LINES = 500


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    """Every module of the package stays small enough to read in one sitting (at most 500 lines)."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


# --- moved modules keep their old import paths ----------------------------------------------------


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_a_moved_module_is_still_importable_at_its_old_path(old: str, new: str) -> None:
    """`import <old path>` gives the module at its new address, with a DeprecationWarning saying where."""
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert not (ROOT / Path(*old.split(".")[1:])).with_suffix(".py").exists(), "no file left at the old path"
