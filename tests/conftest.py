"""Shared fixtures: the project's own pytest helpers as users get them, and the operation tests'
scenario (a dev server with group g1, clients alice and bob, one settable clock), Redis
(`redis_url`: fails under CI=true, skips elsewhere, when Redis is unreachable; `redis_prefix`;
`redis_cluster`: a three-master Redis Cluster of the session's own; `redis_target`: a test run
on both) and PostgreSQL (`pg_url`, the same way; `pg_schema`: a schema of the test's own, dropped
afterwards)."""

import atexit
import os
import shutil
import sys
import tempfile

import pytest
from disk_support import tiny_fs
from pg_support import pg_schema, pg_url
from redis_support import redis_cluster, redis_prefix, redis_target, redis_url
from scenario import alice, bob, clock, server

from aio_tim.testing import client_for, dev_server, tim

__all__ = [
    "alice",
    "bob",
    "client_for",
    "clock",
    "dev_server",
    "pg_schema",
    "pg_url",
    "redis_cluster",
    "redis_prefix",
    "redis_target",
    "redis_url",
    "server",
    "tim",
    "tiny_fs",
]

# Nothing a test does may land in the real HOME: a Client with its default store, the CLI's
# serve record and checkpoints all resolve their folders from these variables (platformdirs).
# Set at import, before any test (or subprocess it starts) reads them.
_HOME = tempfile.mkdtemp(prefix="aio_tim-test-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
# The fresh-venv tests' pip keeps its cache in the temporary HOME too, unless the caller named a
# cache of their own (PIP_CACHE_DIR): even pip's downloads stay out of the real HOME.
os.environ.setdefault("PIP_CACHE_DIR", os.path.join(_HOME, "pip-cache"))
for _name in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"):
    os.environ[_name] = os.path.join(_HOME, _name.lower())
os.environ["HOME"] = _HOME


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many README/docs snippets mypy checked and the tests ran (test_docs.py), when it ran."""
    counts = getattr(sys.modules.get("test_docs"), "SNIPPET_COUNTS", None)
    if counts and any(counts.values()):
        terminalreporter.write_line(
            f"docs snippets: {counts['type-checked']} type-checked with mypy --strict, {counts['ran']} ran"
        )
