"""extract_page on whole pages: metadata, body layout, errors, determinism, safety."""

from __future__ import annotations

import contextlib
import pickle
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.data import FLORIDA_TODAY, corpus_page, ground_truth
from tests.support.newsroom import article_html, read_seed
from watcher.errors import ExtractError
from watcher.extract import extract_page

SEED = read_seed("004_f3f2e1a6f771f557.txt")
URL = "https://www.independent.co.uk/news/world/mi6-russia-spy.html"


def seed_page(**changes: str) -> bytes:
    return article_html(SEED.title, SEED.standfirst, SEED.paragraphs, **changes).encode()


def test_seed_page_has_seed_layout() -> None:
    page = extract_page(seed_page(), URL, "text/html; charset=utf-8")
    assert page.title == SEED.title
    assert page.description == SEED.standfirst
    # The <h1> and the standfirst paragraph are on lines 1 and 2, not again in the body.
    assert page.paragraphs == SEED.paragraphs
    assert page.published == datetime(2023, 7, 19, 15, 15, tzinfo=UTC)
    assert page.language == "en"
    assert page.paywall is False


def test_same_bytes_same_result() -> None:
    html = corpus_page(sorted(ground_truth())[3])
    assert extract_page(html, URL) == extract_page(html, URL)


def test_picklable_for_the_worker_pool() -> None:
    assert pickle.loads(pickle.dumps(extract_page)) is extract_page


META_PAGE = """<!DOCTYPE html><html lang="{lang}"><head>
<meta charset="utf-8">
<title>Storm hits coast | Daily Planet</title>
<meta property="og:site_name" content="Daily Planet">
<script type="application/ld+json">{{"@context": "https://schema.org", "@graph": [
  {{"@type": "WebSite", "name": "Daily Planet"}},
  {{"@type": "NewsArticle", "headline": "Storm hits the coast overnight",
    "datePublished": "2024-03-01T08:30:00+02:00", "isAccessibleForFree": {free},
    "author": [{{"@type": "Person", "name": "Lois Lane"}},
               {{"@type": "Person", "name": "Clark Kent"}}]}}]}}
</script></head><body><main><article>
<h1>Storm hits the coast overnight</h1>
{body}
</article></main></body></html>"""

EN_BODY = "".join(f"<p>{s}</p>" for s in [
    "A powerful storm battered the coast overnight, cutting power to thousands of homes "
    "and forcing the closure of several main roads across the region.",
    "Emergency services said they had received hundreds of calls from residents whose "
    "houses were flooded as rivers burst their banks in the early hours of the morning.",
    "Forecasters expect the weather to calm down by the weekend, although further rain is "
    "likely in the north, where the ground is already saturated after weeks of showers.",
])
DE_BODY = "".join(f"<p>{s}</p>" for s in [
    "Ein heftiger Sturm hat in der Nacht die Küste getroffen und tausende Haushalte von der "
    "Stromversorgung abgeschnitten. Mehrere Straßen mussten gesperrt werden.",
    "Die Rettungsdienste erhielten nach eigenen Angaben hunderte Anrufe von Anwohnern, deren "
    "Häuser überflutet wurden, nachdem Flüsse über die Ufer getreten waren.",
    "Die Meteorologen erwarten, dass sich das Wetter bis zum Wochenende beruhigt, obwohl im "
    "Norden weiterer Regen wahrscheinlich ist, wo der Boden bereits durchnässt ist.",
])


def test_json_ld_metadata() -> None:
    html = META_PAGE.format(lang="en-GB", free="false", body=EN_BODY).encode()
    page = extract_page(html, "https://planet.example/storm")
    assert page.title == "Storm hits the coast overnight"
    assert page.published == datetime(2024, 3, 1, 6, 30, tzinfo=UTC)
    assert page.author == "Lois Lane, Clark Kent"
    assert page.paywall is True
    assert page.language == "en"
    assert page.paragraphs[0].startswith("A powerful storm")


def test_declared_language_overruled_by_clear_text() -> None:
    # A shared template says lang="en" on the German edition.
    html = META_PAGE.format(lang="en", free="true", body=DE_BODY).encode()
    page = extract_page(html, "https://planet.example/de/sturm")
    assert page.language == "de"
    assert page.paywall is False


def test_no_declared_language_is_detected() -> None:
    html = META_PAGE.format(lang="", free="true", body=DE_BODY).encode("utf-8")
    assert extract_page(html, "https://planet.example/de/sturm").language == "de"


def test_title_from_title_tag_without_site_suffix() -> None:
    html = (b"<html><head><title>Storm hits coast | Daily Planet</title>"
            b'<meta property="og:site_name" content="Daily Planet"></head><body><article>'
            + EN_BODY.encode() + b"</article></body></html>")
    assert extract_page(html, "https://planet.example/x").title == "Storm hits coast"


def site_named(meta: str, publisher: str | None) -> str:
    ld = (b'<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Storm", '
          b'"publisher": {"@type": "Organization", "name": "' + publisher.encode() + b'"}}'
          b"</script>") if publisher is not None else b""
    html = (b"<html><head><title>Storm hits coast</title>" + meta.encode() + ld
            + b"</head><body><article>" + EN_BODY.encode() + b"</article></body></html>")
    return extract_page(html, "https://planet.example/x").site_name


def test_the_site_names_itself_in_its_metadata() -> None:
    og = '<meta property="og:site_name" content="{}">'
    assert site_named(og.format("Daily Planet"), None) == "Daily Planet"
    assert site_named('<meta name="application-name" content="Planet">', None) == "Planet"
    assert site_named("", "Daily Planet") == "Daily Planet"  # JSON-LD publisher alone
    # a slug gives way to the same name spelled for people (the Gannett sites' pages) ...
    assert site_named(og.format("floridatoday"), "Florida Today") == "Florida Today"
    assert site_named(og.format("detroitnews"), "The Detroit News") == "The Detroit News"
    # ... but a publisher of another name (the parent company) never replaces the site's
    assert site_named(og.format("Daily Planet"), "Galaxy Communications") == "Daily Planet"
    assert site_named(og.format("planet"), "Galaxy Communications") == "planet"
    assert site_named(og.format("https://www.newsnation.in"), None) == ""  # a real page's
    assert site_named("", None) == ""


def test_the_florida_today_page_is_named_florida_today() -> None:
    # og:site_name "floridatoday", JSON-LD publisher "Florida Today" (tests/data/corpus)
    page = extract_page(corpus_page(FLORIDA_TODAY), "https://www.floridatoday.com/story/x/")
    assert page.site_name == "Florida Today"


def test_windows_1252_page_without_mojibake() -> None:
    html = META_PAGE.format(lang="fr", free="true", body=(
        "<p>Le café de la gare a fermé ses portes après quarante années de service, "
        "au grand regret des habitués du quartier qui s'y retrouvaient chaque matin.</p>"
        "<p>Le propriétaire, âgé de soixante-dix ans, a expliqué qu'il prenait enfin sa "
        "retraite et qu'aucun repreneur ne s'était manifesté malgré ses annonces.</p>"))
    html = html.replace('charset="utf-8"', 'charset="windows-1252"')
    page = extract_page(html.encode("cp1252"), "https://planet.example/cafe")
    assert "Le café de la gare a fermé" in page.paragraphs[0]
    assert page.language == "fr"


PIER = ("The harbour authority confirmed on Tuesday that the northern pier will close for "
        "repairs after divers found cracks in three of its supporting columns during a "
        "routine inspection. ") * 3


def test_code_in_a_paragraph_is_not_its_text() -> None:
    html = f"""<html><head><style>p {{ color: red }}</style></head><body><article>
<p>The council voted <script>track("vote")</script>to close the bridge, and <style>b {{}}
</style>the mayor agreed. {PIER}</p></article></body></html>""".encode()
    text = "\n".join(extract_page(html, URL).paragraphs)
    assert text.startswith("The council voted to close the bridge, and the mayor agreed.")
    assert "track" not in text and "color" not in text


def test_an_article_only_in_its_json_ld_is_read() -> None:
    """A page that builds its story with JavaScript: trafilatura's last resort reads the
    JSON-LD articleBody, so that script stays when the others go."""
    html = f"""<html lang="en"><head><title>Pier to close</title>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "Pier to close", "articleBody": "{PIER}"}}</script></head>
<body><div id="app">Loading</div><script src="/app.js"></script></body></html>""".encode()
    assert extract_page(html, URL).paragraphs == (PIER.strip(),)


@pytest.mark.parametrize("kind", ["application/settings+json", "text/javascript"])
def test_a_date_only_in_a_script_is_found(kind: str) -> None:
    """htmldate reads the page before its scripts are dropped."""
    html = f"""<html lang="en"><head><title>Pier to close</title>
<script type="{kind}">{{"datePublished": "2024-03-01T06:30:00Z"}}</script></head>
<body><article><p>{PIER}</p></article></body></html>""".encode()
    page = extract_page(html, "https://harbour.example/pier",
                        fetched=datetime(2024, 3, 5, tzinfo=UTC))
    assert page.published == datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("html", [
    b"",
    b"   \n",
    b"<html><head><title>Nothing</title></head><body></body></html>",
    b"<html><body><nav><a href='/a'>A</a> <a href='/b'>B</a></nav></body></html>",
    b"\x00\x01\x02\xff\xfe garbage",
])
def test_no_usable_text_raises_extract_error(html: bytes) -> None:
    with pytest.raises(ExtractError):
        extract_page(html, URL)


def test_entities_and_external_resources_are_never_loaded(tmp_path: Path) -> None:
    """Billion laughs and external entities (file and network) in a page: nothing expands,
    the sentinel file is not read, the loopback listener receives no connection."""
    sentinel = tmp_path / "secret.txt"
    sentinel.write_text("TOP-SECRET-SENTINEL")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    connections: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            connections.append(listener.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    laughs = "".join(f'<!ENTITY l{i} "&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};">'
                     for i in range(1, 10))
    html = f"""<?xml version="1.0"?>
<!DOCTYPE html [<!ENTITY l0 "lol">{laughs}
<!ENTITY file SYSTEM "file://{sentinel}">
<!ENTITY net SYSTEM "http://127.0.0.1:{port}/dtd">
<!ENTITY % remote SYSTEM "http://127.0.0.1:{port}/param"> %remote;]>
<html><head><title>Entities</title></head><body><article>
<p>First: &l9; and &file; and &net; in a paragraph long enough to count as article text
for the extractor, with several more words to get over its minimum length threshold.</p>
{EN_BODY}</article></body></html>""".encode()
    try:
        page = extract_page(html, URL)
    finally:
        thread.join()
        listener.close()
    text = "\n".join(page.paragraphs)
    assert "TOP-SECRET-SENTINEL" not in text
    assert "lollol" not in text
    assert len(text) < 5000
    assert connections == []
