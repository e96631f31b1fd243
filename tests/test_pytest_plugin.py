"""aio_tim's pytest plugin, as a user gets it: registered by the `pytest11` entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "devserver.md"


def documented_test_file() -> str:
    """The complete example test file the testing docs show."""
    match = re.search(r"```python\n(# test_greeting\.py\n.*?)\n```", DOCS.read_text(), re.DOTALL)
    assert match, "docs/devserver.md shows no complete test file"
    return match.group(1)


def run_pytest(folder: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *flags, "test_greeting.py"]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)


def test_the_documented_test_runs_with_no_conftest(tmp_path: Path) -> None:
    """The docs' example test passes in a folder with no conftest: the fixtures come from the entry
    point, and disabling the plugin (`-p no:aio_tim`) makes them unknown."""
    (tmp_path / "test_greeting.py").write_text(documented_test_file())
    ran = run_pytest(tmp_path)
    assert ran.returncode == 0 and "1 passed" in ran.stdout, ran.stdout + ran.stderr
    without = run_pytest(tmp_path, "-p", "no:aio_tim")
    assert without.returncode != 0 and "fixture 'tim' not found" in without.stdout
