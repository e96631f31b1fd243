"""Options shared by the commands, and `option()`: an option and its `AIO_TIM_*` variable, declared
once, side by side.

    option(parser, "--url", env="AIO_TIM_URL", help="REST base URL")

The variable gives the default, `--help` names it ("REST base URL (env AIO_TIM_URL)"), and a
value the option's type refuses is blamed on the variable, not on the flag nobody typed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from .errors import CliError

__all__ = ["add_target_options", "at_least", "option", "port"]


class _FromEnv(str):
    """A default read from a variable: argparse converts it with the option's type like a typed
    value, and the conversion knows to name the variable when it fails."""

    __slots__ = ()


def option(parser: argparse.ArgumentParser | Any, *flags: str, env: str | None = None, **kwargs: Any) -> Any:
    """`parser.add_argument(*flags, **kwargs)`, the default taken from the variable `env` when set.

    A flag (`action="store_true"`) is on when the variable is set to anything but "" or "0".
    """
    if env is not None:
        value = os.environ.get(env)
        if kwargs.get("action") == "store_true":
            kwargs["default"] = value not in (None, "", "0")
            name = f"{env}=1"
        else:
            if value is not None:
                kwargs["default"] = _FromEnv(value)
            if "type" in kwargs:
                kwargs["type"] = _blaming(env, flags[0], kwargs["type"])
            name = env
        kwargs["help"] = f"{kwargs['help']} (env {name})" if kwargs.get("help") else f"env {name}"
    return parser.add_argument(*flags, **kwargs)


def _blaming(env: str, flag: str, convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """`convert`, but a refused value that came from `env` is a one-line error naming `env`."""

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            if not isinstance(text, _FromEnv):
                raise
            reason = str(exc) if isinstance(exc, argparse.ArgumentTypeError) else f"{text!r} is not valid"
            raise CliError(f"{env}: {reason} (the variable sets {flag})") from None

    parse.__name__ = getattr(convert, "__name__", "value")  # argparse's "invalid <name> value"
    return parse


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than `minimum`."""

    def number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    return number


def port(text: str) -> int:
    """An argparse type: a TCP port, 0-65535 (0 = any free port)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port number (0-65535; 0 = any free port)")
    return number


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """--url, --sdk-app-id, --secret-key, --admin, --user and --no-store: where a command sends,
    as whom (`target.target_of` resolves them, with the `aio-tim serve` record for the rest)."""
    option(parser, "--url", env="AIO_TIM_URL", help="REST base URL, e.g. https://console.tim.qq.com")
    option(parser, "--sdk-app-id", env="AIO_TIM_SDK_APP_ID", type=at_least(1), help="the app's SDKAppID")
    option(parser, "--secret-key", env="AIO_TIM_SECRET_KEY", help="the app's secret key")
    option(parser, "--admin", env="AIO_TIM_ADMIN", help="the app admin's UserID (default: administrator)")
    option(parser, "--user", env="AIO_TIM_USER", help="act as this UserID (default: the admin)")
    option(
        parser, "--no-store", env="AIO_TIM_NO_STORE", action="store_true", help="keep no local message store"
    )
