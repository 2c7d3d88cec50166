"""The world of the WebSub tests: a publisher's feed and a hub on a local HTTP server, the
web app's callback routes served by uvicorn on a free port, and a runtime on a real index,
all on one fake clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.servers import LocalHTTPServer
from tests.websub.hub import TestHub
from watcher.config import Config, load_config
from watcher.rules import RuleSet, load_rules
from watcher.runtime import Runtime
from watcher.scheduler import Daemon
from watcher.store import Store
from watcher.web.app import create_app
from watcher.web.server import WebServer
from watcher.websub import callback
from watcher.websub.model import Subscription

START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
RULES = "rules:\n  - name: mi6\n    query: MI6\n"


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def atom_feed(server: LocalHTTPServer, hub: str | None, titles: list[str]) -> str:
    links = (f'<link rel="hub" href="{hub}"/><link rel="self" href="{server.url("/atom")}"/>'
             if hub else "")
    entries = "".join(
        f"<entry><id>urn:e:{n}</id><title>{title}</title>"
        f'<link href="{server.url(f"/story/{n}")}"/><updated>2026-11-23T06:00:00Z</updated>'
        f"<summary>{title}. MI6 said so.</summary></entry>" for n, title in enumerate(titles))
    return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>'
            f'<id>urn:wire</id><updated>2026-11-23T06:00:00Z</updated>{links}{entries}</feed>')


@dataclass
class World:
    folder: Path
    server: LocalHTTPServer
    hub: TestHub
    web_url: str
    clock: FakeClock
    runtime: Runtime
    web_store: Store  # the web process's own connection to the index
    titles: list[str] = field(default_factory=lambda: ["First story"])
    offers_hub: bool = True

    def publish_feed(self) -> None:
        self.server.route("/atom", atom_feed(self.server, self.hub.url if self.offers_hub
                                             else None, self.titles),
                          content_type="application/atom+xml")

    @property
    def config(self) -> Config:
        return self.runtime.config

    def subscription(self) -> Subscription | None:
        return self.runtime.store.websub.get("wire")

    async def poll(self) -> None:
        feed = self.config.feeds[0]
        await self.runtime.poll(feed)

    async def tick(self) -> Daemon:
        """One tick of the daemon, its polls awaited."""
        daemon = Daemon(self.runtime)
        await daemon.tick()
        for task in list(daemon.in_flight.values()):
            await task
        return daemon

    def stored_titles(self) -> list[str]:
        store = self.runtime.store
        found = (store.get_article(n) for n in range(1, store.article_count() + 1))
        return sorted(a.article.title for a in found if a is not None)


def write_config(folder: Path, server: LocalHTTPServer, public_url: str | None,
                 extra_feed: str = "") -> Path:
    (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
    http = f"http:\n  listen: 127.0.0.1:0\n  public_url: {public_url}\n" if public_url else ""
    path = folder / "watcher.yaml"
    path.write_text(f"""\
state_dir: state
rules: rules.yaml
poll: {{interval: 15m, min_interval: 5m, max_interval: 6h, jitter: 0}}
network:
  allow: [127.0.0.1]
  per_host_min_gap: 0
  max_feed_bytes: 64KiB
extract:
  workers: 1
feeds:
  - name: wire
    url: {server.url("/atom")}
{extra_feed}{http}""", encoding="utf-8")
    return path


@asynccontextmanager
async def world(folder: Path, *, public: bool = True, grant_lease: int | None = None
                ) -> AsyncIterator[World]:
    clock = FakeClock()
    with LocalHTTPServer() as server:
        hub = TestHub(server, grant_lease=grant_lease)
        holder: list[Config] = []
        # The web app reads the config in force through a callable, as in watcher run.
        config_path = write_config(folder, server, None)
        rules: RuleSet = load_rules(folder / "rules.yaml")
        web_store = Store.open(load_config(config_path))
        app = create_app(web_store, lambda: rules, lambda: holder[0],
                         extra_routes=callback.routes(web_store, lambda: holder[0],
                                                      clock=clock),
                         open_prefixes=(callback.OPEN_PREFIX,), token="secret-token",
                         collectors=callback.COLLECTORS)
        try:
            with WebServer(app, "127.0.0.1", 0) as web:
                config_path = write_config(folder, server, web.url if public else None)
                holder.append(load_config(config_path))
                async with Runtime.open(holder[0], rules, clock=clock) as runtime:
                    made = World(folder, server, hub, web.url, clock, runtime, web_store)
                    made.publish_feed()
                    yield made
        finally:
            hub.close()
            web_store.close()
