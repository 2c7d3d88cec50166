"""Issue 17 end to end: real pages that declare a year-1 publication date (USA Today, Detroit
News and Florida Today ship ``"datePublished": "0001-01-01T00:00:00Z"`` in their JSON-LD),
served with feeds whose own dates are broken too, through ``run --once``, ``digest preview``
and ``digest send`` to the file channel. Every matched article must be in the digest, dated
as the fallback chain (watcher/dates.py) chose. Real local peers only: the HTTP server on
127.0.0.1, a real SQLite index, real worker processes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.data import FLORIDA_TODAY, corpus_page
from tests.support.servers import LocalHTTPServer
from watcher.cli import main
from watcher.config import load_config
from watcher.store import Store


def year_one_page(title: str, paragraphs: list[str], *, publisher: str, site: str,
                  visible_date: str = "") -> str:
    """A page in the shape of the Gannett sites' pages: a NewsArticle JSON-LD block whose
    dates are all year 1, a terse og:site_name, and no other date in the metadata."""
    ld = {"@context": "http://schema.org", "@type": "NewsArticle", "author": {},
          "dateModified": "0001-01-01T00:00:00Z", "datePublished": "0001-01-01T00:00:00Z",
          "headline": title, "image": {}, "mainEntityOfPage": {},
          "publisher": {"@type": "Organization", "logo": {}, "name": publisher}}
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    stamp = f'<p class="byline"><time datetime="{visible_date}">{visible_date}</time></p>' \
        if visible_date else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta property="og:site_name" content="{site}">
<meta property="og:title" content="{html.escape(title, quote=True)}">
<script type="application/ld+json">{json.dumps(ld)}</script>
</head><body><header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<main><article><h1>{html.escape(title)}</h1>{stamp}
{body}
</article></main><footer><p>Copyright {publisher}. All rights reserved.</p></footer>
</body></html>"""


USA_TODAY = [
    "The public impeachment hearings entered a second week on Tuesday as four witnesses "
    "testified before the House Intelligence Committee about the July phone call.",
    "Lawmakers from both parties questioned the witnesses for more than nine hours, and "
    "the committee chairman said further hearings would follow later in the week.",
    "Republicans on the panel argued that the witnesses had no first-hand knowledge of the "
    "decisions, while Democrats said the testimony confirmed the account given earlier.",
]
DETROIT_NEWS = [
    "Several downtown streets will close this weekend for the annual tree lighting, the "
    "city's transportation department said in a statement released on Monday afternoon.",
    "Drivers should expect detours around Campus Martius from Friday evening until early "
    "Monday morning, and buses on four routes will use temporary stops during the event.",
    "The department asked visitors to use the people mover or park outside the closed area, "
    "where extra parking attendants will be on duty for the whole weekend.",
]
NO_DATE = [
    "The county commission approved a new contract for road repairs on Tuesday after a "
    "long debate about the cost of resurfacing the busiest roads before winter arrives.",
    "Commissioners said the work would begin in the spring and take about six months, "
    "with most lanes kept open during the day and the heaviest work done at night.",
    "Residents who spoke at the meeting asked for better lighting at two intersections "
    "where several crashes happened last year, and the commission agreed to study it.",
]

RULES = """\
rules:
  - name: everything
    any: [the, Rockledge]  # the Florida Today page is a box score
"""


def _rss(server: LocalHTTPServer, items: list[tuple[str, str, str | None]]) -> str:
    entries = "".join(
        f"<item><title>{html.escape(title)}</title><link>{server.url(path)}</link>"
        f"<guid isPermaLink=\"false\">{path}</guid>"
        + (f"<pubDate>{date}</pubDate>" if date else "") + "</item>"
        for path, title, date in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Gannett</title><link>{server.url('/')}</link><description>news"
            f"</description>{entries}</channel></rss>")


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


def test_year_one_dates_fall_back_and_every_article_reaches_the_digest(
        tmp_path: Path, server: LocalHTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    florida_path = ("/story/sports/high-school/2019/11/20/"
                    "hs-roundup-viera-defeats-rockledge-remain-undefeated/4246736002/")
    usa_path = "/story/news/politics/2019/11/19/impeachment-hearing-second-week/4236655002/"
    detroit_path = "/story/news/local/detroit-city/downtown-road-closures-tree-lighting/"
    nodate_path = "/story/news/local/county-road-repairs-contract/"
    server.route(florida_path, corpus_page(FLORIDA_TODAY))
    server.route(usa_path, year_one_page("Impeachment hearings enter a second week", USA_TODAY,
                                         publisher="USA Today", site="usatoday"))
    server.route(detroit_path, year_one_page(
        "Downtown streets close for the tree lighting", DETROIT_NEWS,
        publisher="The Detroit News", site="detroitnews", visible_date="2019-11-18"))
    server.route(nodate_path, year_one_page("County approves road repairs", NO_DATE,
                                            publisher="Florida Today", site="floridatoday"))
    florida_title = "HS Roundup: Viera defeats Rockledge to remain undefeated"
    server.route("/gannett/rss", _rss(server, [
        # Broken feed dates as feedparser returns them: 1900, 9999, none.
        (florida_path, florida_title, "Mon, 01 Jan 1900 00:00:00 GMT"),
        (usa_path, "Impeachment hearings enter a second week", "Tue, 19 Nov 2019 14:05:00 GMT"),
        (detroit_path, "Downtown streets close for the tree lighting",
         "Fri, 31 Dec 9999 23:59:59 GMT"),
        (nodate_path, "County approves road repairs", None),
    ]), content_type="application/rss+xml")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    config = tmp_path / "watcher.yaml"
    config.write_text(f"""\
state_dir: state
rules: rules.yaml
network:
  allow: [127.0.0.1]
  per_host_min_gap: 0
extract:
  workers: 2
feeds:
  - name: gannett
    url: {server.url("/gannett/rss")}
channels:
  - name: archive
    type: file
    dir: digests
digests:
  - name: morning
    schedule: "0 7 * * *"
    timezone: Europe/London  # year 1 in London overflowed before (issue 17)
    channels: [archive]
""", encoding="utf-8")

    started = datetime.now(UTC)
    assert main(["run", "--once", "--config", str(config)]) == 0
    finished = datetime.now(UTC)
    capsys.readouterr()

    with Store.open(load_config(config)) as store:
        rows = {s.article.url.removeprefix(server.url("")): s.article
                for s in store.recent_articles(datetime(1970, 1, 1, tzinfo=UTC))}
    assert set(rows) == {florida_path, usa_path, detroit_path, nodate_path}
    # JSON-LD says year 1 and the feed 1900: the URL's date.
    assert rows[florida_path].published == datetime(2019, 11, 20, tzinfo=UTC)
    # JSON-LD says year 1: the feed entry's date.
    assert rows[usa_path].published == datetime(2019, 11, 19, 14, 5, tzinfo=UTC)
    # JSON-LD year 1, feed 9999, no date in the URL: htmldate reads the page's <time>.
    assert rows[detroit_path].published == datetime(2019, 11, 18, tzinfo=UTC)
    # Nothing plausible anywhere: the fetch time.
    nodate = rows[nodate_path]
    assert nodate.published == nodate.fetched and started <= nodate.fetched <= finished
    # The index records which source won, and the outlet by the name its pages give it.
    assert {path: (a.published_source, a.site_name) for path, a in rows.items()} == {
        florida_path: ("url", "Florida Today"), usa_path: ("feed", "USA Today"),
        detroit_path: ("htmldate", "The Detroit News"), nodate_path: ("fetched", "Florida Today")}
    assert main(["rules", "test", "Rockledge", "--explain", "--config", str(config)]) == 0
    assert "dated 2019-11-20 00:00 UTC from: url; outlet: Florida Today" in \
        capsys.readouterr().out

    assert main(["digest", "preview", "--config", str(config)]) == 0
    preview = capsys.readouterr().out
    fetched_shown = nodate.fetched.astimezone(ZoneInfo("Europe/London")).strftime(
        "%a %d %b %Y %H:%M %Z")
    for title, shown in ((florida_title, "Wed 20 Nov 2019 00:00 GMT"),
                         ("Impeachment hearings enter a second week", "Tue 19 Nov 2019 14:05 GMT"),
                         ("Downtown streets close for the tree lighting",
                          "Mon 18 Nov 2019 00:00 GMT"),
                         ("County approves road repairs", fetched_shown)):
        assert f"* {title}" in preview
        item = preview.split(f"* {title}", 1)[1].split("\n\n", 1)[0]
        assert shown in item, (title, item)
    # The real Florida Today page names its outlet (og:site_name "floridatoday" spelled
    # "Florida Today" by its JSON-LD publisher): the item shows that, not the host.
    florida_item = preview.split(f"* {florida_title}", 1)[1].split("\n\n", 1)[0]
    assert "\n  Florida Today · Wed 20 Nov 2019 00:00 GMT" in florida_item
    # Newest first: the fetch-dated article leads, the others in date order.
    order = [preview.index(t) for t in ("County approves", "HS Roundup", "Impeachment",
                                        "Downtown streets")]
    assert order == sorted(order)

    assert main(["digest", "send", "--config", str(config)]) == 0
    sent = capsys.readouterr().out
    assert "archive: sent" in sent
    folder = tmp_path / "digests"
    text = next(folder.glob("*.txt")).read_text(encoding="utf-8")
    page = next(folder.glob("*.html")).read_text(encoding="utf-8")
    mail = message_from_bytes(next(folder.glob("*.eml")).read_bytes(), policy=policy.strict)
    assert not mail.defects
    for title in (florida_title, "Impeachment hearings enter a second week",
                  "Downtown streets close for the tree lighting", "County approves road repairs"):
        assert title in text and html.escape(title) in page
    assert "Wed 20 Nov 2019 00:00 GMT" in text and "Wed 20 Nov 2019 00:00 GMT" in page
    assert "Florida Today · Wed 20 Nov 2019 00:00 GMT" in text
    assert "Florida Today · Wed 20 Nov 2019 00:00 GMT" in page
    assert "127.0.0.1 ·" not in text  # every page named its outlet
    assert "0001" not in text
