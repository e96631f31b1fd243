"""Downloads and uploads of message attachments, with progress (DESIGN.md §7).

Modules: `manager` (TransferManager: the client's transfers under one concurrency limit),
`download` (the awaitable, iterable `Download` handle), `fetch` (resume, validation and
verification), `sink` (writing and hashing off the event loop), `paths` (safe names, partial
files, atomic rename), `headers` (Range/ETag/Repr-Digest parsing), `progress` (snapshots,
speed/ETA, upload watches), `upload` (the `Uploader` protocol and the dev-server uploader),
`attach` (elements <-> files) and `imageinfo` (image format and size from header bytes).
"""

from .attach import download_param, elem_file_name
from .download import Download
from .fetch import DownloadOptions, DownloadStats
from .manager import HttpSource, TransferManager, TransferStats
from .paths import safe_file_name
from .progress import Progress, UploadWatch
from .upload import (
    MAX_SIZE,
    DevServerUploader,
    FileKind,
    ProgressCallback,
    UploadedFile,
    Uploader,
    UploadProgress,
)

__all__ = [
    "MAX_SIZE",
    "DevServerUploader",
    "Download",
    "DownloadOptions",
    "DownloadStats",
    "FileKind",
    "HttpSource",
    "Progress",
    "ProgressCallback",
    "TransferManager",
    "TransferStats",
    "UploadProgress",
    "UploadWatch",
    "UploadedFile",
    "Uploader",
    "download_param",
    "elem_file_name",
    "safe_file_name",
]
