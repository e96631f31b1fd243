"""Shared fixtures: the project's own pytest helpers, as users get them."""

from aio_tim.testing import client_for, dev_server, tim

__all__ = ["client_for", "dev_server", "tim"]
