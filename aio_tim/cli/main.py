"""`aio-tim`: the command line. `demo` and `serve` run the embedded dev server; `send`,
`batch-send`, `download`, `history`, `revoke`, `group`, `account` and `listen` talk to any TIM
REST endpoint (flags, `AIO_TIM_*` variables, or the running `aio-tim serve`); `info` says where
things are.

Every failure is one line on stderr with its own exit code; `-v` adds tracebacks and INFO logs,
`-vv` a DEBUG line per REST call."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import importlib
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

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
        parser.command = named
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
    """argparse, but a usage error is one line, "aio-tim: [command: ]what is wrong", with a
    "did you mean" for a mistyped command or option (the usage itself is one `--help` away)."""

    command = ""  # the command named on the line, for errors argparse reports at the top

    def error(self, message: str) -> NoReturn:
        prog = self.prog
        if prog == "aio-tim" and self.command and message.startswith("unrecognized arguments:"):
            prog = f"aio-tim {self.command}"  # a command's unknown option, reported by the top
        where = prog.removeprefix("aio-tim").strip()
        say(f"{where + ': ' if where else ''}{message}{self._suggestion(message)} (see `{prog} --help`)")
        raise SystemExit(int(ExitCode.USAGE))

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """An unknown command (or `--type`) names the closest choice instead of listing them all."""
        choices = action.choices
        if choices is None or value in choices:
            return
        if isinstance(action, argparse._SubParsersAction):
            what, names = str(action.metavar or "command").lower(), list(choices)
            close = difflib.get_close_matches(value, names, n=1)
            hint = f"; did you mean {close[0]}?" if close else f" (one of {', '.join(names)})"
            raise argparse.ArgumentError(None, f"unknown {what} {value!r}{hint}")
        super()._check_value(action, value)

    def _suggestion(self, message: str) -> str:
        """ "; did you mean --limit?" for the first unrecognized option close to a known one."""
        if not message.startswith("unrecognized arguments:"):
            return ""
        known = sorted(set(_option_strings(self)))
        for word in message.split(":", 1)[1].split():
            # a cutoff of 0.75, not difflib's 0.6: --limt finds --limit, --nope finds no --no-store
            if word.startswith("--") and (
                close := difflib.get_close_matches(word.split("=")[0], known, 1, 0.75)
            ):
                return f"; did you mean {close[0]}?"
        return ""


def _option_strings(parser: argparse.ArgumentParser) -> Iterator[str]:
    """Every long option of `parser` and of the commands under it."""
    for action in parser._actions:
        yield from (flag for flag in action.option_strings if flag.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                yield from _option_strings(command)
