"""A small real archive for the web tests: a watcher.yaml and rules.yaml in a temp folder,
a real SQLite index holding the two seed articles, a wire story carried by two outlets, the
digest tests' hostile page, feeds with their state (one failing), and one failed delivery.
Articles are matched by the real rule set, as the pipeline would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.digest.fixtures import HOSTILE_BODY, HOSTILE_TITLE
from tests.support.data import SEEDS
from watcher.config import Config, load_config
from watcher.lifecycle import settle
from watcher.rules import RuleSet, load_rules
from watcher.store import Store
from watcher.store.outbox import NewRun
from watcher.types import Article, FeedState

RULES = """\
rules:
  - name: mi6-defection
    query: 'MI6 AND (defect* OR "door is always open")'
    tags: [spies]
  - name: wagner
    any: [Wagner, Prigozhin]
    none: [opera]
    tags: [russia]
  - name: belarus
    query: Belarus
    tags: [russia]
"""

WIRE = ("Wagner fighters have arrived in Belarus, the defence ministry in Minsk said. "
        "Columns of vehicles crossed the border overnight, according to witnesses.\n"
        "Prigozhin was not seen with the convoy. Officials declined to say how many "
        "fighters would stay or where they would be based in the coming weeks.")
HOSTILE_URL = "javascript:alert(document.cookie)"


@dataclass(frozen=True)
class Archive:
    config: Config
    rules: RuleSet
    store: Store
    numbers: dict[str, int]  # label -> article number
    failed_delivery: int


def write_config(folder: Path, extra: str = "") -> Path:
    (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
    path = folder / "watcher.yaml"
    path.write_text(f"""\
state_dir: state
rules: rules.yaml
feeds:
  - name: independent
    url: https://www.independent.co.uk/news/world/rss
  - name: wires
    url: https://wires.example/rss
  - name: hostile
    url: https://hostile.example/rss
channels:
  - name: archive
    type: file
    dir: digests
{extra}""", encoding="utf-8")
    return path


def build_archive(folder: Path, now: datetime | None = None) -> Archive:
    now = now or datetime.now(UTC)
    config = load_config(write_config(folder))
    rules = load_rules(config.rules_path)
    store = Store.open(config)
    store.save_feed_states(settle(config.feeds, {}))
    numbers: dict[str, int] = {}

    def add(label: str, article: Article) -> None:
        stored = store.store_article(article, rules.match(article), entry_row_id=None,
                                     write_file=True, now=article.fetched)
        assert stored is not None
        numbers[label] = stored.number

    for index, path in enumerate(sorted(SEEDS.glob("*.txt"))):
        lines = path.read_text(encoding="utf-8").split("\n")
        add(f"seed{index}", Article(
            url=f"https://www.independent.co.uk/news/world/seed-{index}",
            canonical_url=f"https://www.independent.co.uk/news/world/seed-{index}",
            feed="independent", site="independent.co.uk", title=lines[0],
            description=lines[1], paragraphs=tuple(p for p in lines[2:] if p),
            fetched=now - timedelta(hours=5 - index)))
    for offset, site in enumerate(("apnews.com", "reuters.com")):
        add(site, Article(
            url=f"https://{site}/belarus-wagner", canonical_url=f"https://{site}/belarus-wagner",
            feed="wires", site=site, title="Wagner convoy reaches Belarus",
            description="", paragraphs=tuple(WIRE.split("\n")),
            fetched=now - timedelta(hours=2, minutes=offset)))
    add("hostile", Article(
        url=HOSTILE_URL, canonical_url="https://hostile.example/news/7", feed="hostile",
        site="hostile.example", title=HOSTILE_TITLE + " MI6 defectors",
        description='<img src=x onerror="alert(2)"> standfirst',
        paragraphs=tuple(HOSTILE_BODY.split("\r\n")), fetched=now - timedelta(hours=1)))
    add("unmatched", Article(
        url="https://wires.example/weather", canonical_url="https://wires.example/weather",
        feed="wires", site="wires.example", title="Rain expected", description="",
        paragraphs=("Rain is expected across the region tomorrow.",),
        fetched=now - timedelta(minutes=30)))

    failing = store.feed_state("hostile")
    assert failing is not None
    store.save_feed_state(FeedState(**{
        **failing.__dict__, "status": "failing", "consecutive_failures": 3,
        "last_error": "HTTP 503 from hostile.example <b>bold</b>", "last_error_at": now,
        "polls": 3}))
    ok = store.feed_state("independent")
    assert ok is not None
    store.save_feed_state(FeedState(**{**ok.__dict__, "status": "ok", "last_success": now,
                                       "polls": 1, "articles_stored": 2}))

    outbox = store.outbox
    run = outbox.create_run(NewRun(
        key=f"digest:morning@{now.isoformat()}", kind="digest", name="morning", since=now,
        cutoff=now, created=now, item_count=1, payload={}, channels=("archive",)))
    assert run is not None
    delivery = outbox.deliveries(run_id=run.id)[0]
    outbox.mark_failed(delivery.id, now, "SMTP 550 <script>alert(3)</script>")
    return Archive(config, rules, store, numbers, delivery.id)
