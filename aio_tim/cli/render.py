"""How the CLI shows a message in one line: its elements, status and local time."""

from __future__ import annotations

from datetime import datetime

from ..types import FileElem, ImageElem, Message, SoundElem, TextElem, VideoElem

__all__ = ["local_time", "status_name", "summary", "text_message"]

_STATUS_NAMES = {2: "sent", 3: "failed", 4: "deleted", 5: "imported", 6: "revoked"}


def text_message(text: str) -> Message:
    return Message(elem_array=[TextElem(content=text)])


def local_time(timestamp: int | None) -> str:
    """A server time (Unix seconds) as the local date and time, to the second."""
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def status_name(msg: Message) -> str:
    return _STATUS_NAMES.get(msg.status or 0, str(msg.status))


def summary(msg: Message) -> str:
    """A one-line view of a message's elements: text as it is, an attachment with its URL (what
    `aio-tim download` takes)."""
    parts = []
    for elem in msg.elem_array:
        content = getattr(elem, "content", None)
        parts.append(content if isinstance(content, str) else _attachment(elem))
    return " ".join(parts)


def _attachment(elem: object) -> str:
    if isinstance(elem, FileElem):
        return f"<file {elem.file_name} ({elem.file_size} bytes) {elem.url or '(no URL)'}>"
    if isinstance(elem, ImageElem):
        return f"<image {elem.orig_url or elem.large_url or elem.thumb_url or '(no URL)'}>"
    if isinstance(elem, SoundElem):
        return f"<sound {elem.url or '(no URL)'}>"
    if isinstance(elem, VideoElem):
        return f"<video {elem.video_url or '(no URL)'}>"
    return f"<{type(elem).__name__}>"
