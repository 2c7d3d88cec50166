"""Article files in a folder or an S3 bucket (moto's real S3 server on 127.0.0.1).

Both kinds pass the same tests: same names and bytes, whole-or-nothing writes, listing,
orphan reconciliation; the same article gives the same name and bytes in both; then the
whole watcher (`run --once`, `rules test`, `digest preview`) runs on
`articles: s3://bucket/prefix`.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.store.test_index import NOW, entry, seed_article
from tests.support.newsroom import rss, serve_seeds
from tests.support.s3 import S3Server
from tests.support.servers import LocalHTTPServer
from tests.test_end_to_end import write_config
from watcher.cli import main
from watcher.config import load_config
from watcher.errors import StoreError
from watcher.store import Store
from watcher.store.files import file_name, render
from watcher.store.objects import (
    ArticleFiles,
    ArticleFilesError,
    LocalArticleFiles,
    S3ArticleFiles,
    open_article_files,
)

SEED = "004_f3f2e1a6f771f557.txt"
URL = "https://e.org/a"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch,
       request: pytest.FixtureRequest) -> S3Server:
    """The server, with its endpoint and credentials in the environment, as a user sets them."""
    for name, value in s3_server.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TEST_BUCKET", _bucket_name(request.node.name))
    s3_server.client().create_bucket(Bucket=_bucket_name(request.node.name))
    return s3_server


def _bucket_name(test_name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in test_name.lower())
    return f"b-{zlib.crc32(cleaned.encode())}"


@pytest.fixture(params=["folder", "s3"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> ArticleFiles:
    if request.param == "folder":
        return LocalArticleFiles(tmp_path / "articles")
    server: S3Server = request.getfixturevalue("s3")
    del server
    return open_article_files(f"s3://{_bucket_name(request.node.name)}/news/articles")


def test_write_read_list_and_remove(files: ArticleFiles) -> None:
    name = file_name(7, URL)
    assert files.read(name) is None
    assert list(files.names()) == []
    files.write(name, "Title\nbody é")
    assert files.read(name) == "Title\nbody é"
    files.write(name, "Title\nrewritten")
    assert files.read(name) == "Title\nrewritten"
    assert list(files.names()) == [name]
    files.remove(name)
    files.remove(name)  # gone already: no error
    assert files.read(name) is None and list(files.names()) == []


def test_strays_are_unnamed_article_files(files: ArticleFiles) -> None:
    known, orphan = file_name(1, URL), file_name(2, "https://e.org/b")
    files.write(known, "kept")
    files.write(orphan, "left by a crash")
    files.write("notes.md", "not an article file")
    assert files.strays({known}) == [orphan]
    assert sorted(files.names()) == [known, orphan]


def test_the_bucket_holds_the_seed_bytes_under_the_prefix(s3: S3Server, tmp_path: Path
                                                          ) -> None:
    bucket = _bucket_name("test_the_bucket_holds_the_seed_bytes_under_the_prefix")
    with Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}",
                  open_article_files(f"s3://{bucket}/watch/")) as store:
        stored = store.store_article(seed_article(SEED, URL), [], entry_row_id=None,
                                     write_file=True, now=NOW)
    assert stored is not None and stored.file_name
    seed_bytes = render(seed_article(SEED, URL)).encode("utf-8")
    assert s3.objects(bucket) == {f"watch/{stored.file_name}": seed_bytes}
    # The same article in a folder: the same name, the same bytes.
    with Store.at(f"sqlite:///{tmp_path / 'local.sqlite3'}", tmp_path / "articles") as store:
        store.store_article(seed_article(SEED, URL), [], entry_row_id=None, write_file=True,
                            now=NOW)
    assert (tmp_path / "articles" / stored.file_name).read_bytes() == seed_bytes


def test_reconcile_in_a_bucket_removes_orphans_and_restores_lost_objects(
        s3: S3Server, tmp_path: Path) -> None:
    bucket = _bucket_name(
        "test_reconcile_in_a_bucket_removes_orphans_and_restores_lost_objects")
    files = open_article_files(f"s3://{bucket}/p")
    with Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", files) as store:
        article = seed_article(SEED, URL)
        stored = store.store_article(article, [], entry_row_id=None, write_file=True, now=NOW)
        assert stored is not None and stored.file_name
        files.write("002_0123456789abcdef.txt", "orphan of a crash")
        files.remove(stored.file_name)
        assert store.reconcile_files() == (1, 1)
    assert s3.objects(bucket) == {f"p/{stored.file_name}": render(article).encode("utf-8")}


def test_an_unreachable_bucket_stores_nothing(s3: S3Server, tmp_path: Path) -> None:
    files = open_article_files("s3://no-such-bucket/p")
    with Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", files) as store:
        store.register_entries("one", [(entry("1", URL), URL)], NOW)
        row = store.pending_entries("one")[0].row_id
        with pytest.raises(StoreError, match=r"cannot write article file in s3://no-such-bucket/"
                                             r"p/: .*NoSuchBucket"):
            store.store_article(seed_article(SEED, URL), [], entry_row_id=row,
                                write_file=True, now=NOW)
        assert store.article_count() == 0
        assert [p.row_id for p in store.pending_entries("one")] == [row]  # tried again later


def test_an_object_store_error_is_an_os_error() -> None:
    # The store already turns an OSError while writing (a full disk) into a clean rollback.
    assert issubclass(ArticleFilesError, OSError)


def test_a_reader_sees_a_whole_object_or_none(s3: S3Server) -> None:
    bucket = _bucket_name("test_a_reader_sees_a_whole_object_or_none")
    files = S3ArticleFiles(bucket, "p")
    name = file_name(3, URL)
    versions = [f"version {n}\n" + ("x" * 200_000) for n in range(6)]
    seen: list[str | None] = []
    done = threading.Event()

    def read_until_done() -> None:
        while not done.is_set():
            seen.append(files.read(name))

    reader = threading.Thread(target=read_until_done)
    reader.start()
    try:
        for text in versions:
            files.write(name, text)
    finally:
        done.set()
        reader.join()
    assert seen and all(text is None or text in versions for text in seen)


def test_s3_location_needs_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="names no bucket"):
        open_article_files("s3:///prefix")
    (tmp_path / "watcher.yaml").write_text("articles: s3:///x\n")
    assert main(["check", "--config", str(tmp_path / "watcher.yaml")]) == 2


def test_articles_folder_is_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "watcher.yaml").write_text("articles: ../team/articles\n")
    config = load_config(tmp_path / "watcher.yaml", environ={})
    assert config.articles_dir == (tmp_path / "../team/articles").resolve()
    assert config.articles_location == str(config.articles_dir)
    (tmp_path / "watcher.yaml").write_text("state_dir: st\n")
    config = load_config(tmp_path / "watcher.yaml", environ={})
    assert config.articles_dir == config.state_dir / "articles"


def test_the_watcher_on_a_bucket_keeps_the_files_the_index_names(
        s3: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bucket = _bucket_name("test_the_watcher_on_a_bucket_keeps_the_files_the_index_names")
    with LocalHTTPServer() as server:
        seeds = serve_seeds(server)
        server.route("/world/rss", rss(list(seeds.values()), server),
                     content_type="application/rss+xml")
        digest = "digests:\n  - {name: morning, schedule: '0 7 * * *'}\nchannels: []\n"
        config = write_config(tmp_path, server, {"world": "/world/rss"},
                              extra="articles: s3://${TEST_BUCKET}/news\n" + digest)
        assert main(["run", "--once", "--config", str(config)]) == 0
        assert not (tmp_path / "state" / "articles").exists()
        # Each object is named as its index row says and holds the article's seed-format text.
        with Store.open(load_config(config)) as store:
            stored = [store.get_article(number) for number in (1, 2)]
        expected = {f"news/{s.file_name}": render(s.article).encode("utf-8")
                    for s in stored if s is not None and s.file_name}
        assert len(expected) == 2
        assert s3.objects(bucket) == expected
        capsys.readouterr()

        assert main(["rules", "test", "MI6 defect*", "--config", str(config)]) == 0
        assert "MI6" in capsys.readouterr().out
        assert main(["digest", "preview", "--config", str(config)]) == 0
        assert "MI6" in capsys.readouterr().out
        # A second run finds nothing new and leaves the bucket as it was.
        assert main(["run", "--once", "--config", str(config)]) == 0
    assert s3.objects(bucket) == expected


def test_orphans_newer_than_the_limit_are_spared(files: ArticleFiles) -> None:
    # In a cluster another process writes the file before it commits the file's row.
    files.write(file_name(2, URL), "being written by another process")
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    assert files.strays(set(), written_before=long_ago) == []
    later = datetime.now(UTC) + timedelta(minutes=10)
    assert files.strays(set(), written_before=later) == [file_name(2, URL)]
