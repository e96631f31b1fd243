"""`Client`, the object a service holds; see `aio_tim.client.core`."""

from .core import DEFAULT_BASE_URL, Client

__all__ = ["DEFAULT_BASE_URL", "Client"]
