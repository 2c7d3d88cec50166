"""The pages and the API over a real index, through real HTTP requests to the server."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from xml.etree import ElementTree

import httpx
import pytest

from tests.web.archive import HOSTILE_URL, Archive
from tests.web.conftest import Site
from watcher.web.access import CSRF_COOKIE
from watcher.websub.lease import push_shown
from watcher.websub.model import HubOffer
from watcher.websub.offers import fresh_subscription

pytestmark = pytest.mark.timeout(60)


def get(site: Site, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(site.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_front_page_lists_one_item_per_story_with_the_hit_sentence_highlighted(
        site: Site) -> None:
    page = get(site, "/")
    assert page.status_code == 200
    items = re.findall(r'<li class="item">(.*?)</li>', page.text, re.S)
    numbers = site.archive.numbers
    # five matched articles: the two wire copies fold into one story, and so do the two
    # versions of the seed story from one outlet
    assert len(items) == 3
    wire = next(i for i in items if "Wagner convoy reaches Belarus" in i)
    assert "also: reuters.com" in wire
    assert "<mark>Wagner</mark> fighters have arrived in <mark>Belarus</mark>" in wire
    assert 'href="/?rule=wagner"' in wire and ">wires<" in wire
    assert f'href="/articles/{numbers["unmatched"]}"' not in page.text


def test_filters_by_rule_feed_tag_and_day(site: Site) -> None:
    numbers = site.archive.numbers

    def listed(query: str) -> set[int]:
        page = get(site, "/?" + query)
        assert page.status_code == 200
        return {int(n) for n in re.findall(r'<h2><a href="/articles/(\d+)">', page.text)}

    assert listed("rule=mi6-defection") == {numbers["seed0"], numbers["seed1"],
                                            numbers["hostile"]} & listed("")
    assert listed("feed=wires") == {numbers["apnews.com"]}
    assert numbers["hostile"] not in listed("tag=russia")
    assert listed("tag=spies") == listed("rule=mi6-defection")
    today = site.archive.store.get_article(numbers["hostile"]).article.fetched.date()  # type: ignore[union-attr]
    assert numbers["hostile"] in listed(f"day={today.isoformat()}")
    assert listed("day=2001-01-01") == set()
    assert get(site, "/?day=yesterday").status_code == 400


def test_paging_walks_every_matched_article_once(site: Site, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    monkeypatch.setattr("watcher.web.context.PAGE_SIZE", 2)
    seen: list[int] = []
    path = "/api/matches"
    for _ in range(10):
        data = get(site, path).json()
        seen.extend(n for item in data["items"] for n in [item["number"], *item["folded"]])
        if data["next_before"] is None:
            break
        path = f"/api/matches?before={data['next_before']}"
    numbers = site.archive.numbers
    assert sorted(seen) == sorted(n for label, n in numbers.items() if label != "unmatched")


def test_hostile_article_stays_inert_everywhere(site: Site) -> None:
    number = site.archive.numbers["hostile"]
    for path in ("/", f"/articles/{number}", "/rules?q=MI6", "/outbox", "/feeds"):
        text = get(site, path).text
        assert "<script" not in text, path
        assert "javascript:" not in text, path
        assert "onerror=" not in text.replace("onerror=&#34;", ""), path
    article = get(site, f"/articles/{number}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in article
    assert f'href="{HOSTILE_URL}"' not in article
    headers = get(site, "/").headers
    assert "script-src" not in headers["content-security-policy"]
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["x-content-type-options"] == "nosniff"


def test_article_page_highlights_every_rules_hits_and_explains(site: Site) -> None:
    number = site.archive.numbers["seed1"]
    page = get(site, f"/articles/{number}")
    assert page.status_code == 200
    assert "<mark>MI6</mark>" in page.text
    assert "<mark>Prigozhin</mark>" in page.text  # the wagner rule's hit too
    explain = page.text.split('id="explain"', 1)[1]
    assert "mi6-defection" in explain and "wagner" in explain
    assert '<span class="kind">AND</span>' in explain
    api = get(site, f"/api/articles/{number}").json()
    rules = {m["rule"]: m for m in api["matches"]}
    assert rules["mi6-defection"]["explain"]["matched"] is True
    assert get(site, "/articles/99999").status_code == 404


def test_tester_finds_hits_with_explain_and_saves_nothing(site: Site) -> None:
    before = site.archive.config.rules_path.read_text(encoding="utf-8")
    page = get(site, "/rules", params={"q": "Prigozhin AND Belarus"})
    assert page.status_code == 200
    # the two wire copies and one version of the seed story; six articles searched
    assert "query: 3 of 6 articles" in page.text
    assert page.text.count("<summary>explain</summary>") == 3
    data = get(site, "/api/test", params={"rule": "mi6-defection"}).json()
    assert data["label"] == "rule 'mi6-defection'"
    assert data["matched"] == 3
    assert {h["number"] for h in data["hits"]} == {
        site.archive.numbers[k] for k in ("seed0", "seed1", "hostile")}
    assert all(h["explain"]["matched"] for h in data["hits"])
    assert site.archive.config.rules_path.read_text(encoding="utf-8") == before


def test_tester_shows_a_syntax_errors_caret_as_watcher_check_does(site: Site) -> None:
    page = get(site, "/rules", params={"q": 'MI6 AND "door is'})
    assert 'id="tester-error"' in page.text
    assert "column 9" in page.text
    assert '<pre>    MI6 AND &#34;door is\n            ^</pre>' in page.text
    api = get(site, "/api/test", params={"q": "MI6 AND ("})
    assert api.status_code == 400
    error = api.json()["error"]
    assert error["column"] == 10 and error["pointer"].endswith("^")


def test_rules_page_counts_matches_per_day(site: Site) -> None:
    data = get(site, "/api/rules").json()
    counts = {r["name"]: sum(r["matches_per_day"].values()) for r in data["rules"]}
    assert counts == {"mi6-defection": 3, "wagner": 4, "belarus": 3}
    assert len(data["days"]) == 14


def test_feeds_page_lists_failing_feeds_first_with_their_error(site: Site) -> None:
    page = get(site, "/feeds").text
    names = re.findall(r"<tr class=\"[a-z]+\">\s*<th>([a-z]+)</th>", page)
    assert names[0] == "hostile"
    assert "HTTP 503 from hostile.example &lt;b&gt;bold&lt;/b&gt;" in page
    feeds = get(site, "/api/feeds").json()["feeds"]
    assert feeds[0]["name"] == "hostile" and feeds[0]["failures"] == 3


def test_feeds_page_shows_each_feeds_websub_push_as_watcher_feeds_does(site: Site) -> None:
    """A subscription row put there the way the daemon and the web process do (a poll
    found the hub, the daemon asked, the hub verified), for one feed; another's hub is only
    offered; the third has none."""
    websub = site.archive.store.websub
    now = datetime.now(UTC)
    for feed in ("independent", "wires"):
        offer = HubOffer("https://hub.example/", f"https://{feed}.example/rss")
        websub.offered(feed, offer, fresh_subscription(feed, offer, "https://watcher.example"))
    asked = websub.get("independent")
    assert asked is not None and websub.change(asked, state="requested", requested_at=now)
    lease_end = datetime(2031, 5, 4, 3, 2, tzinfo=UTC)
    assert websub.verified(asked.callback_id, "subscribe", asked.topic, lease_end, now)
    page = get(site, "/feeds").text
    cells = dict(re.findall(r"<tr class=\"[a-z]+\">\s*<th>([a-z]+)</th>.*?"
                            r"<td class=\"push\">([^<]*)</td>", page, re.S))
    assert cells == {"independent": "active until 2031-05-04 03:02 UTC",
                     "wires": "hub offered, subscribing", "hostile": "-"}
    # the words of ``watcher feeds``' PUSH column
    assert cells["independent"] == push_shown(websub.get("independent"), now)
    feeds = {f["name"]: f["push"] for f in get(site, "/api/feeds").json()["feeds"]}
    assert feeds == cells


def test_atom_feed_of_a_rule(site: Site) -> None:
    reply = get(site, "/rules/wagner.atom")
    assert reply.headers["content-type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(reply.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    # four articles: the wire copies are one story, the seed's two versions another
    assert len(entries) == 2
    titles = [e.findtext("a:title", namespaces=ns) for e in entries]
    assert "Wagner convoy reaches Belarus" in titles
    assert get(site, "/rules/no-such-rule.atom").status_code == 404


def test_outbox_retry_needs_the_csrf_token_and_requeues(site: Site) -> None:
    delivery = site.archive.failed_delivery
    with httpx.Client(base_url=site.url, timeout=10) as client:
        page = client.get("/outbox")
        assert "SMTP 550 &lt;script&gt;" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token and client.cookies.get(CSRF_COOKIE) == token.group(1)
        forged = httpx.post(site.url + "/outbox/retry", data={
            "delivery": str(delivery), "csrf_token": "guess"}, timeout=10)
        assert forged.status_code == 403
        done = client.post("/outbox/retry", data={"delivery": str(delivery),
                                                  "csrf_token": token.group(1)})
        assert done.status_code == 303 and done.headers["location"].endswith("retried")
    states = {d.id: d.state for d in site.archive.store.outbox.deliveries()}
    assert states[delivery] == "pending"
    assert httpx.get(site.url + "/outbox/retry", timeout=10).status_code == 405


def test_health_and_metrics_answer(site: Site) -> None:
    assert get(site, "/livez").text == "ok\n"
    assert get(site, "/readyz").status_code == 200
    text = get(site, "/metrics").text
    assert 'watcher_outbox_deliveries{state="failed"} 1.0' in text
    assert 'watcher_feed_last_success_timestamp_seconds{feed="independent"}' in text
    assert "watcher_build_info{" in text


def test_readyz_fails_when_the_index_does_not_answer(site: Site) -> None:
    site.archive.store.engine.dispose()
    site.archive.config.index_path.unlink()
    site.archive.config.index_path.mkdir()  # a folder where the index was: cannot open
    assert get(site, "/readyz").status_code == 503
    assert get(site, "/livez").status_code == 200


def test_a_token_guards_everything_but_the_probes_and_open_routes(archive: Archive) -> None:
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from watcher.web.app import create_app
    from watcher.web.server import WebServer

    hook = Route("/websub/callback", lambda _r: PlainTextResponse("hub"), methods=["GET"])
    app = create_app(archive.store, lambda: archive.rules, archive.config, token="s3cret",
                     extra_routes=[hook], open_prefixes=["/websub/"])
    with WebServer(app, "127.0.0.1", 0) as server:
        refused = httpx.get(server.url + "/", timeout=10)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic")
        assert httpx.get(server.url + "/metrics", timeout=10).status_code == 401
        assert httpx.get(server.url + "/", headers={"authorization": "Bearer s3cret"},
                         timeout=10).status_code == 200
        assert httpx.get(server.url + "/api/feeds", auth=("me", "s3cret"),
                         timeout=10).status_code == 200
        assert httpx.get(server.url + "/livez", timeout=10).status_code == 200
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        assert httpx.get(server.url + "/websub/callback", timeout=10).text == "hub"


def test_a_new_match_shows_at_once_despite_the_page_cache(site: Site) -> None:
    from datetime import UTC, datetime

    from watcher.types import Article

    assert "Minsk summit opens" not in get(site, "/").text
    archive = site.archive
    article = Article(url="https://wires.example/minsk", canonical_url="https://wires.example/minsk",
                      feed="wires", site="wires.example", title="Minsk summit opens",
                      description="", paragraphs=("Leaders met in Belarus today.",),
                      fetched=datetime.now(UTC))
    archive.store.store_article(article, archive.rules.match(article), entry_row_id=None,
                                write_file=False, now=article.fetched)
    assert "Minsk summit opens" in get(site, "/").text
