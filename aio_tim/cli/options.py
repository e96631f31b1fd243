"""Options shared by the commands, and `option()`: an option and its `AIO_TIM_*` variable, declared
once, side by side.

    option(parser, "--url", env="AIO_TIM_URL", help="REST base URL")

The variable gives the default, and `--help` names it ("REST base URL (env AIO_TIM_URL)").
"""

from __future__ import annotations

import argparse
import os
from typing import Any

__all__ = ["add_target_options", "option", "port"]


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
                kwargs["default"] = value
            name = env
        kwargs["help"] = f"{kwargs['help']} (env {name})" if kwargs.get("help") else f"env {name}"
    return parser.add_argument(*flags, **kwargs)


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
    option(parser, "--sdk-app-id", env="AIO_TIM_SDK_APP_ID", type=int, help="the app's SDKAppID")
    option(parser, "--secret-key", env="AIO_TIM_SECRET_KEY", help="the app's secret key")
    option(parser, "--admin", env="AIO_TIM_ADMIN", help="the app admin's UserID (default: administrator)")
    option(parser, "--user", env="AIO_TIM_USER", help="act as this UserID (default: the admin)")
    option(
        parser, "--no-store", env="AIO_TIM_NO_STORE", action="store_true", help="keep no local message store"
    )
