"""Where the CLI writes: results on stdout (fit for a pipe), progress bars on stderr."""

from __future__ import annotations

from rich.console import Console

__all__ = ["console", "progress_console"]

console = Console()
# Progress bars go to stderr: stdout stays the command's result, fit for a pipe.
progress_console = Console(stderr=True)
