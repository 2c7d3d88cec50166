"""Building a real index with matched articles, and a service over it, for delivery tests."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from watcher.config import AlertConfig, ChannelConfig, Config, DigestConfig
from watcher.notify.service import DeliveryService
from watcher.notify.timing import RetryPolicy
from watcher.store import Store
from watcher.types import Article, Hit, RuleMatch, StoredArticle

T0 = datetime(2023, 7, 20, 6, 0, tzinfo=UTC)  # 07:00 in London: the morning slot


@dataclass(frozen=True)
class Rule:
    """The fields of ``watcher.rules.Rule`` the delivery service reads; matching here is a
    plain substring test so these tests do not depend on the query engine."""

    name: str
    term: str
    alert: str = "digest"
    digests: tuple[str, ...] | None = None
    channels: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def match(self, article: Article) -> tuple[RuleMatch, ...]:
        out = []
        for rule in self.rules:
            hits = [hit(text, rule.term, name) for name, text in
                    (("title", article.title), ("body", article.body)) if rule.term in text]
            if hits:
                out.append(RuleMatch(rule.name, tuple(hits)))
        return tuple(out)


RULES = RuleSet((Rule("mi6", "MI6"), Rule("wagner", "Wagner"),
                 Rule("urgent", "Urgent", alert="immediate")))
TINY_RETRY = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=8), jitter=0.1,
                         max_attempts=4, lease=timedelta(seconds=30))


def config(tmp_path: Path, channels: Sequence[ChannelConfig], *, digest_channels:
           Sequence[str] | None = None, alert_channels: Sequence[str] = (),
           **digest: object) -> Config:
    names = tuple(digest_channels if digest_channels is not None else [c.name for c in channels])
    return Config(path=tmp_path / "watcher.yaml", state_dir=tmp_path, rules_path=tmp_path / "r",
                  channels=tuple(channels),
                  digests=(DigestConfig(name="morning", schedule="0 7 * * *",
                                        timezone="Europe/London", channels=names,
                                        **digest),),  # type: ignore[arg-type]
                  alerts=AlertConfig(channels=tuple(alert_channels),
                                     throttle=timedelta(minutes=10)))


def service(cfg: Config, store: Store, client: httpx.AsyncClient,
            rules: RuleSet = RULES) -> DeliveryService:
    return DeliveryService(cfg, store, client, lambda: rules, retry=TINY_RETRY,
                           rng=random.Random(7))


def add_article(store: Store, number_hint: int, title: str, body: str, *, when: datetime,
                site: str = "example.org", source: str = "page",
                rules: RuleSet | None = None) -> StoredArticle:
    article = Article(
        url=f"https://{site}/a/{number_hint}", canonical_url=f"https://{site}/a/{number_hint}",
        feed=site.split(".")[0], site=site, title=title, description="",
        paragraphs=tuple(body.split("\n")), fetched=when, published=when - timedelta(minutes=5),
        text_source=source)  # type: ignore[arg-type]
    found = (rules or RULES).match(article)
    stored = store.store_article(article, found, entry_row_id=None, write_file=False, now=when)
    assert stored is not None
    return stored


def file_channel_setup(folder: Path) -> tuple[str, Store]:
    """A watcher.yaml with rule mi6 and a morning digest to a file channel in ``folder``;
    returns the config's path and the index, to fill in a with block."""
    (folder / "rules.yaml").write_text("rules:\n  - name: mi6\n    query: MI6\n")
    (folder / "watcher.yaml").write_text(
        "state_dir: state\nrules: rules.yaml\nfeeds: []\n"
        "channels:\n  - name: archive\n    type: file\n    dir: state/digests\n"
        "digests:\n  - name: morning\n    schedule: '0 7 * * *'\n    channels: [archive]\n")
    (folder / "state").mkdir()
    store = Store.at(f"sqlite:///{folder / 'state' / 'index.sqlite3'}",
                     folder / "state" / "articles")
    return str(folder / "watcher.yaml"), store


def hit(text: str, term: str, field: str = "body") -> Hit:
    at = text.index(term)
    return Hit(field, at, at + len(term), term)


__all__ = ["T0", "RuleMatch", "add_article", "config", "file_channel_setup", "hit", "service"]
