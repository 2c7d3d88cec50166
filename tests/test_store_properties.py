"""Issue 17 §4: generated hostile articles through the store (file names, seed-format files,
index rows) and ``watcher rules test`` output. Nothing raises; the files stay in the seed
format; what is read back is what was stored. A real SQLite index in a temporary folder.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.digest.test_properties import HOSTILE, any_datetime
from watcher.cli import main
from watcher.dates import as_utc
from watcher.store import Store
from watcher.store.files import FILE_NAME
from watcher.textsafe import encodable
from watcher.types import Article, Hit, RuleMatch

NOW = datetime.now(UTC)
line_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
paragraphs = st.lists(line_text, max_size=4).map(tuple)


@st.composite
def articles(draw: st.DrawFn) -> Article:
    path = draw(st.sampled_from(["a", "ü/ß?x=<1>&y=\"2\"", "%00%0d%0a", "x" * 2000,
                                 "..%2f..%2fetc", "a b\tc"]))
    url = f"https://example.org/{path}/{draw(st.integers(0, 10**6))}"
    return Article(
        url=url, canonical_url=url, feed=draw(st.sampled_from(["f", "feed with spaces"])),
        site="example.org", title=draw(line_text) + " MI6", description=draw(line_text),
        paragraphs=(*draw(paragraphs), "MI6 said so."),
        # Sane fetch times (``rules test`` looks back from now); any claimed publication.
        fetched=NOW - timedelta(minutes=draw(st.integers(0, 60 * 24 * 30))),
        published=draw(st.none() | any_datetime.filter(lambda d: d.tzinfo is not None)),
        author=draw(line_text), language=draw(st.sampled_from([None, "en", "zz-Hant"])),
        text_source=draw(st.sampled_from(["page", "feed", "partial"])))


def _seed_format(text: str, article: Article) -> None:
    assert not text.endswith("\n")
    lines = text.split("\n")
    assert lines[0].strip() == lines[0] and "MI6" in lines[0]
    assert len(lines) >= 2 and lines[-1] == "MI6 said so."
    assert all(line and line.strip() == line for line in lines[1:])


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(batch=st.lists(articles(), min_size=1, max_size=3, unique_by=lambda a: a.canonical_url))
def test_generated_articles_survive_the_store_and_rules_test(
        batch: list[Article], capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        with Store.at(f"sqlite:///{root / 'index.sqlite3'}", root / "articles") as store:
            for article in batch:
                at = article.title.index("MI6")
                found = (RuleMatch("mi6", (Hit("title", at, at + 3, "MI6"),)),)
                stored = store.store_article(article, found, entry_row_id=None,
                                             write_file=True, now=NOW)
                assert stored is not None and stored.file_name is not None
                assert FILE_NAME.match(stored.file_name)
                written = (root / "articles" / stored.file_name).read_bytes().decode("utf-8")
                _seed_format(written, article)
            back = {s.article.canonical_url: s.article
                    for s in store.recent_articles(NOW - timedelta(days=31))}
        assert set(back) == {a.canonical_url for a in batch}
        for article in batch:
            row = back[article.canonical_url]
            assert (row.title, row.description, row.author) == (
                encodable(article.title), encodable(article.description),
                encodable(article.author))
            assert row.published == (as_utc(article.published) if article.published else None)

        (root / "rules.yaml").write_text("rules:\n  - name: mi6\n    query: MI6\n")
        (root / "watcher.yaml").write_text(
            f"state_dir: {root}\nrules: rules.yaml\nfeeds: []\n", encoding="utf-8")
        capsys.readouterr()
        assert main(["rules", "test", "mi6", "--since", "40d",
                     "--config", str(root / "watcher.yaml")]) == 0
        out = capsys.readouterr().out
        assert f"{len(batch)} of {len(batch)} articles" in out
        for line in out.split("\n"):
            assert "\r" not in line and "\x1b" not in line
