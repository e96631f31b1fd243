"""`aio-tim`: the command line. `demo` and `serve` run the embedded dev server; `send`,
`batch-send`, `download`, `history`, `revoke`, `group`, `account` and `listen` talk to any TIM
REST endpoint (flags, `AIO_TIM_*` variables, or the running `aio-tim serve`); `info` says where
things are.

Every failure is one line on stderr with its own exit code; `-v` adds tracebacks and INFO logs,
`-vv` a DEBUG line per REST call."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from .commands import COMMANDS, add_command, package_version
from .errors import ExitCode, reported, say

__all__ = ["main", "parser_for"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure is one line on stderr and a distinct exit code."""
    args_list, verbose = _take_verbose(sys.argv[1:] if argv is None else list(argv))
    _setup_logging(verbose)
    with reported(verbose) as status:
        args = parser_for(args_list).parse_args(args_list)
        args.verbose = verbose
        status[0] = int(asyncio.run(args.run(args)) or 0)
    return status[0]


def parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser for this command line: the named command's family in full (its module is
    imported only now), every other command by its one-line summary, for `--help`."""
    parser = _Parser(
        prog="aio-tim", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"aio-tim {package_version()}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="show tracebacks and INFO logs; -vv adds a DEBUG line per REST call (anywhere on the line)",
    )  # fmt: skip
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    named = _command_word(argv)
    if named in COMMANDS:
        family = importlib.import_module(f"{__package__}.{COMMANDS[named].module}")
        family.register(commands)
    for name in COMMANDS:
        if name not in commands.choices:
            add_command(commands, name, COMMANDS[name].summary)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is not an option (the program's own
    options, --version, --help and -v, take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _take_verbose(argv: list[str]) -> tuple[list[str], int]:
    """Count and drop -v/-vv/--verbose anywhere before `--`, so `aio-tim send ... -v` works for
    every subcommand."""
    verbose, rest = 0, []
    for index, arg in enumerate(argv):
        if arg == "--":
            rest.extend(argv[index:])
            break
        if arg == "--verbose" or (arg.startswith("-v") and arg[1:] == "v" * (len(arg) - 1)):
            verbose += 1 if arg == "--verbose" else len(arg) - 1
        else:
            rest.append(arg)
    return rest, verbose


def _setup_logging(verbose: int) -> None:
    if verbose:
        level = logging.DEBUG if verbose > 1 else logging.INFO
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("aio_tim").setLevel(level)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage itself is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        say(f"{self.prog}: {message} (see `{self.prog} --help`)")
        raise SystemExit(int(ExitCode.USAGE))
