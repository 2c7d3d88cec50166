"""The file channel: each digest as ``.eml``, ``.html`` and ``.txt`` in a folder, so a new user
sees digests with no mail server. Written atomically (temp file in the folder, fsync,
rename): a reader never sees half a file, and a resend after a crash overwrites the same
three files with the same content.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from watcher.atomic import replacing
from watcher.config import FileChannel
from watcher.errors import PermanentDeliveryError, TransientDeliveryError
from watcher.notify.base import MarkPart
from watcher.notify.message import Outgoing, build_email

FILE_SENDER = "watcher@watcher.localhost"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(message: Outgoing) -> str:
    """``2023-07-20T0600Z-morning-1a2b3c4d``: sorts by time; the token keeps runs apart."""
    when = message.digest.generated.strftime("%Y-%m-%dT%H%MZ")
    name = _UNSAFE.sub("-", f"{message.digest.kind}-{message.digest.name}").strip("-.")
    return f"{when}-{name[:80]}-{message.token[:8]}"


def write_atomic(path: Path, data: bytes) -> None:
    with replacing(path, prefix=f".{path.name}.", suffix=".tmp") as handle:
        handle.write(data)


class FileSender:
    def __init__(self, config: FileChannel) -> None:
        self.name = config.name
        self.config = config

    async def send(self, message: Outgoing, *, parts_done: int, mark_part: MarkPart) -> str:
        stem = file_stem(message)
        email = build_email(message, FILE_SENDER, (FILE_SENDER,))
        files = {".eml": email.as_bytes(), ".html": message.html.encode("utf-8"),
                 ".txt": message.text.encode("utf-8")}
        try:
            await asyncio.to_thread(self._write, stem, files)
        except PermissionError as exc:
            raise PermanentDeliveryError(f"cannot write to {self.config.dir}: {exc}") from None
        except OSError as exc:  # disk full, folder on a share that went away
            raise TransientDeliveryError(f"writing to {self.config.dir}: {exc}") from None
        mark_part(1)
        return stem

    def _write(self, stem: str, files: dict[str, bytes]) -> None:
        self.config.dir.mkdir(parents=True, exist_ok=True)
        for suffix, data in files.items():
            write_atomic(self.config.dir / f"{stem}{suffix}", data)
