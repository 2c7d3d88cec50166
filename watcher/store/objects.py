"""Where the article files live: a folder (on this machine or shared) or an S3 bucket.

Both keep the seed-format names and bytes of ``files.py``, and both let a reader see a
whole file or none: the folder through temp file, fsync and rename; S3 because a PUT
replaces an object in one step. ``articles: s3://bucket/prefix`` in watcher.yaml picks the
bucket; its endpoint, region and credentials come from the environment as for any AWS
tool (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``), so they are never written in the config. Why boto3 (called
directly, not aiobotocore): docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence, Set
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from watcher.config.model import S3_SCHEME
from watcher.errors import StoreError
from watcher.store.files import FILE_NAME, TEMP_PREFIX, write_all_atomic, write_atomic


class ArticleFilesError(OSError):
    """An object store refused or could not be reached (an OSError, like a full disk)."""


class ArticleFiles(Protocol):
    """The article files of one index, by file name (``012_0123456789abcdef.txt``)."""

    @property
    def location(self) -> str:
        """Where they are, for messages (a folder, or ``s3://bucket/prefix``)."""
        ...

    def write(self, name: str, text: str) -> None:
        """Whole or not at all: no reader ever sees part of ``text``."""
        ...

    def write_many(self, files: Sequence[tuple[str, str]]) -> None:
        """``write`` of each (name, text); all durable once it returns."""
        ...

    def read(self, name: str) -> str | None:
        """The file's text, or None when there is no such file."""
        ...

    def names(self) -> Iterator[str]:
        """The article files present (seed-format names only)."""
        ...

    def strays(self, known: Set[str], *, written_before: datetime | None = None) -> list[str]:
        """Leftovers of a crash: partial writes, and article files no index row names.

        ``written_before`` spares newer files: in a cluster another process may have
        written one whose row it has not committed yet.
        """
        ...

    def remove(self, name: str) -> None:
        """Gone afterwards; no error when it was gone already."""
        ...


def is_object_store(location: str) -> bool:
    return location.startswith(S3_SCHEME)


def open_article_files(location: str | Path) -> ArticleFiles:
    """``s3://bucket/prefix`` or a folder (created when missing)."""
    if isinstance(location, str) and is_object_store(location):
        return S3ArticleFiles.from_url(location)
    return LocalArticleFiles(Path(location))


class LocalArticleFiles:
    """A folder on this machine, or one shared by several (NFS, SMB)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def location(self) -> str:
        return str(self.folder)

    def write(self, name: str, text: str) -> None:
        write_atomic(self.folder / name, text)

    def write_many(self, files: Sequence[tuple[str, str]]) -> None:
        write_all_atomic(self.folder, files)

    def read(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def names(self) -> Iterator[str]:
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if FILE_NAME.match(path.name) and path.is_file():
                yield path.name

    def strays(self, known: Set[str], *, written_before: datetime | None = None) -> list[str]:
        if not self.folder.is_dir():
            return []
        limit = written_before.timestamp() if written_before else None
        return sorted(p.name for p in self.folder.iterdir() if p.is_file() and (
            p.name.startswith(TEMP_PREFIX) or (FILE_NAME.match(p.name) and p.name not in known))
            and (limit is None or p.stat().st_mtime < limit))

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / name).unlink()


class S3ArticleFiles:
    """Objects ``prefix/NNN_HHHH.txt`` in an S3-compatible bucket."""

    def __init__(self, bucket: str, prefix: str, client_factory: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client_factory = client_factory or _default_client
        self._clients: dict[int, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> S3ArticleFiles:
        parts = urlsplit(url)
        if not parts.netloc:
            raise StoreError(f"articles: {url} names no bucket (s3://bucket/prefix)")
        return cls(parts.netloc, parts.path)

    @property
    def location(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}"

    def _client(self) -> Any:
        # One client per process: a botocore client is shared safely by threads but must
        # not cross a fork (its connection pool would be shared with the child).
        pid = os.getpid()
        with self._lock:
            client = self._clients.get(pid)
            if client is None:
                client = self._clients[pid] = self._client_factory()
            return client

    def write(self, name: str, text: str) -> None:
        with _translated(self.location, name):
            self._client().put_object(Bucket=self.bucket, Key=self.prefix + name,
                                      Body=text.encode("utf-8"),
                                      ContentType="text/plain; charset=utf-8")

    def write_many(self, files: Sequence[tuple[str, str]]) -> None:
        for name, text in files:
            self.write(name, text)

    def read(self, name: str) -> str | None:
        client = self._client()
        with _translated(self.location, name):
            try:
                answer = client.get_object(Bucket=self.bucket, Key=self.prefix + name)
            except client.exceptions.NoSuchKey:
                return None
            body: bytes = answer["Body"].read()
        return body.decode("utf-8")

    def _objects(self) -> Iterator[tuple[str, datetime]]:
        """(name, last modified) of the article files under the prefix."""
        paginator = self._client().get_paginator("list_objects_v2")
        with _translated(self.location, ""):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", ()):
                    name = str(item["Key"])[len(self.prefix):]
                    if FILE_NAME.match(name):
                        yield name, item["LastModified"]

    def names(self) -> Iterator[str]:
        return (name for name, _ in self._objects())

    def strays(self, known: Set[str], *, written_before: datetime | None = None) -> list[str]:
        # A PUT leaves no partial object behind, so only unnamed article files are strays.
        return sorted(name for name, modified in self._objects() if name not in known
                      and (written_before is None or modified < written_before))

    def remove(self, name: str) -> None:
        with _translated(self.location, name):
            self._client().delete_object(Bucket=self.bucket, Key=self.prefix + name)


@contextlib.contextmanager
def _translated(location: str, name: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ArticleFilesError(
            f"{location}{name}: {error.get('Code', 'error')} {error.get('Message', '')}".strip()
        ) from exc
    except BotoCoreError as exc:
        raise ArticleFilesError(f"{location}{name}: {exc}") from exc


def _default_client() -> Any:
    try:
        import boto3
        from botocore.config import Config as BotoConfig
    except ImportError as exc:
        raise StoreError("articles: s3://... needs boto3: pip install 'watcher[s3]'") from exc
    # A store other than AWS (MinIO, Ceph, moto) is named by AWS_ENDPOINT_URL and is
    # usually reached by path (host/bucket/key), since its host has no per-bucket names.
    custom = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = BotoConfig(retries={"mode": "standard"},
                        s3={"addressing_style": "path" if custom else "auto"})
    return boto3.session.Session().client("s3", config=config)
