"""OPML import and export: files as Miniflux, FreshRSS and Feedly write them (from the
OPML 1.0/2.0 specifications and the readers' export layouts), through the real CLI on a
real watcher.yaml whose comments must survive."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.feeds.conftest import config_file
from tests.support.data import DATA
from watcher.cli import main
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.feeds.opml import MAX_OUTLINES, ExportedFeed, names_for, read_opml, write_opml

OPML = DATA / "opml"
CONFIG = """\
# my watcher: comments and layout must survive an import
state_dir: state
rules: rules.yaml

poll:
  interval: 15m   # every feed

feeds:
    # hand-written, indented four spaces
    - name: world
      url: https://news.example.com/world/rss.xml   # already there
      interval: 5m

alerts:
  channels: []
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return config_file(tmp_path, CONFIG)


def test_readers_exports_are_read_with_folders_as_tags() -> None:
    miniflux = read_opml((OPML / "miniflux.opml").read_bytes(), "miniflux.opml")
    assert [(f.title, f.tags) for f in miniflux] == [
        ("Harbour Gazette", ("All",)), ("World news", ("World",)),
        ("Le Monde – International", ("World",))]
    freshrss = read_opml((OPML / "freshrss.opml").read_bytes(), "freshrss.opml")
    assert freshrss[0].title == "Wire & Co"
    assert freshrss[1].tags == ("Europe", "Politics")  # folder, then category paths
    feedly = read_opml((OPML / "feedly.opml").read_bytes(), "feedly.opml")
    assert [(f.url, f.tags) for f in feedly] == [
        ("https://tech.example.com/feed/", ("Tech",)), ("http://solo.example.org/rss", ())]


def test_import_adds_tags_reports_known_feeds_and_keeps_comments(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feeds", "import", str(OPML / "freshrss.opml"), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    # Same canonical URL (host case, default port, utm_ parameter) as the existing feed.
    assert "already present: world (https://NEWS.example.com:443/world/rss.xml" in out
    assert "2 added" in out
    text = config.read_text(encoding="utf-8")
    for line in CONFIG.splitlines():
        if line.strip():
            assert line in text  # every original line, comments included, is still there
    assert "    - name: wire-co\n      url: https://wire.example.net/atom\n" in text
    feeds = {f.name: f for f in load_config(config).feeds}
    assert feeds["wire-co"].tags == ("Uncategorized",)
    assert feeds["новости"].tags == ("Europe",)

    assert main(["feeds", "import", str(OPML / "freshrss.opml"), "--config", str(config)]) == 0
    assert "0 added" in capsys.readouterr().out
    assert len(load_config(config).feeds) == 3


def test_round_trip_import_export_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for folder in (first, second):
        folder.mkdir()
        config_file(folder, "state_dir: state\nrules: rules.yaml\n")
    for name in ("miniflux.opml", "freshrss.opml", "feedly.opml"):
        assert main(["feeds", "import", str(OPML / name),
                     "--config", str(first / "watcher.yaml")]) == 0
    exported = tmp_path / "export.opml"
    assert main(["feeds", "export", "--output", str(exported),
                 "--config", str(first / "watcher.yaml")]) == 0
    assert main(["feeds", "import", str(exported), "--config", str(second / "watcher.yaml")]) == 0
    capsys.readouterr()

    def feeds(folder: Path) -> list[tuple[str, str, tuple[str, ...]]]:
        return sorted((f.name, f.url, f.tags)
                      for f in load_config(folder / "watcher.yaml").feeds)

    assert len(feeds(first)) == 7
    assert feeds(second) == feeds(first)


def test_export_is_opml_2_with_folders_other_readers_accept() -> None:
    text = write_opml([ExportedFeed("a & b", "https://a.example/f?x=1&y=2", ("News", "EU")),
                       ExportedFeed("solo", "https://s.example/rss")], "watcher feeds",
                      __import__("datetime").datetime(2026, 12, 5, tzinfo=__import__(
                          "datetime").UTC))
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert "<dateCreated>Sat, 05 Dec 2026 00:00:00 +0000</dateCreated>" in text
    assert ('<outline type="rss" text="a &amp; b" title="a &amp; b" '
            'xmlUrl="https://a.example/f?x=1&amp;y=2" category="/News,/EU"/>') in text
    again = read_opml(text.encode(), "export.opml")
    assert [(f.title, f.url, f.tags) for f in again] == [
        ("solo", "https://s.example/rss", ()),
        ("a & b", "https://a.example/f?x=1&y=2", ("News", "EU"))]


BOMB = ('<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        '<opml version="2.0"><body><outline text="&b;" xmlUrl="https://x.example/"/></body>'
        "</opml>")


@pytest.mark.parametrize(("content", "message"), [
    ((OPML / "broken.opml").read_text(), "broken.opml:6:10: not well-formed XML"),
    (BOMB, "bad.opml:2: OPML with a DOCTYPE declaration refused"),
    ('<?xml version="1.0"?>\n<rss/>', "bad.opml:2: not OPML"),
    ('<opml version="2.0"><body>\n<outline text="x" xmlUrl="file:///etc/passwd"/>'
     "</body></opml>", "bad.opml:2: xmlUrl 'file:///etc/passwd' is not an http(s) URL"),
    ('<opml version="2.0"><body>' + '<outline text="x" xmlUrl="https://x.example/"/>'
     * (MAX_OUTLINES * 5) + "</body></opml>", "bad.opml:1: 50,000 outlines, more than the 10,000"),
], ids=["broken", "xml-bomb", "not-opml", "not-http", "50000-outlines"])
def test_bad_files_get_file_line_message_and_nothing_is_added(
        config: Path, tmp_path: Path, content: str, message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / ("broken.opml" if "broken" in content else "bad.opml")
    source.write_text(content, encoding="utf-8")
    before = config.read_bytes()
    assert main(["feeds", "import", str(source), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}/{message}" in err
    assert config.read_bytes() == before
    with pytest.raises(ConfigError):
        read_opml(content.encode(), "x")


def test_names_are_slugs_made_unique() -> None:
    assert names_for(["World news", "World  News!", "", "Новости"], ["world-news-2"]) == [
        "world-news", "world-news-3", "feed", "новости"]
