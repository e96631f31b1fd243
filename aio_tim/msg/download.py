"""Downloads: an element's file to a path, through the client's `TransferManager`."""

from __future__ import annotations

import os
from typing import Any

from ..transfer import Download
from .context import SendContext

__all__ = ["download_elem_to_path"]


def download_elem_to_path(
    ctx: SendContext, param: Any, path: str | os.PathLike[str], *, file_name: str | None, overwrite: bool
) -> Download:
    """A `Download` started by the client's transfers; RuntimeError when there are none."""
    if ctx.transfers is None:
        raise RuntimeError("this MsgManager has no TransferManager")
    return ctx.transfers.download(param, path, file_name=file_name, overwrite=overwrite)
