"""Issue 17: an item that cannot be rendered in one channel is left out of that message with a
line saying so, logged with its article number, and the rest is delivered; ``watcher outbox``
shows it.

Nothing real makes an item unrenderable any more (the dates that did are judged now), so
these tests break one item on purpose: a snippet whose ``parts()`` raises (pure tests), or
the plain-text renderer patched to raise for one article number (the delivery test). The
index, the outbox, the file channel and the CLI are real.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.digest.fixtures import fixed_digest
from tests.notify.helpers import T0, add_article, config, file_channel_setup, service
from tests.notify.test_cli import run
from watcher.config import FileChannel, NetworkConfig
from watcher.digest import Digest, DigestSection, digest_to_json, omission_note, render_all
from watcher.digest import render as render_module
from watcher.digest.model import DigestItem
from watcher.fetch import build_client
from watcher.rules.snippet import Snippet
from watcher.store import Store
from watcher.store.outbox import NewRun, Outbox


class BrokenSnippet(Snippet):
    def parts(self) -> list[tuple[str, bool]]:
        raise ValueError("this item's text cannot be cut into pieces")


def _break(digest: Digest, number: int) -> Digest:
    def fix(item: DigestItem) -> DigestItem:
        if item.number != number:
            return item
        return replace(item, snippet=BrokenSnippet("body", "x", ((0, 1),)))

    return replace(digest, sections=tuple(
        DigestSection(s.rule, tuple(fix(i) for i in s.items)) for s in digest.sections))


def test_a_broken_item_is_left_out_of_every_channel_with_a_line_and_a_log(
        caplog: pytest.LogCaptureFixture) -> None:
    digest = fixed_digest()
    broken = digest.sections[0].items[0]
    others = [i for s in digest.sections for i in s.items if i is not broken]
    with caplog.at_level(logging.ERROR, logger="watcher.digest"):
        rendered = render_all(_break(digest, broken.number))
    assert {(o.channel, o.number) for o in rendered.omitted} == {
        ("text", broken.number), ("html", broken.number), ("slack", broken.number)}
    line = f"article {broken.number} could not be shown in this message"
    slack = str(rendered.slack)
    for body in (rendered.text, rendered.html, slack):
        assert line in body
    assert broken.title not in rendered.text
    for item in others:  # everything else is delivered
        assert item.title in rendered.text
    assert f"article {broken.number} left out of the text rendering" in caplog.text
    assert omission_note(rendered.omitted) == f"left out: #{broken.number} (text, html, slack)"


def test_nothing_is_left_out_of_a_sound_digest() -> None:
    rendered = render_all(fixed_digest())
    assert rendered.omitted == () and "could not be shown" not in rendered.text


def test_the_digest_is_delivered_without_the_item_and_the_outbox_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    config_path, opened = file_channel_setup(tmp_path)
    now = datetime.now(UTC)
    with opened as store:
        bad = add_article(store, 1, "MI6 chief speaks", "The MI6 chief spoke today.",
                          when=now - timedelta(hours=2))
        add_article(store, 2, "MI6 recruits online", "MI6 opened a channel for defectors.",
                    when=now - timedelta(hours=1))
    real = render_module._item_lines

    def item_lines(item: DigestItem, tz: str) -> list[str]:
        if item.number == bad.number:
            raise RuntimeError("unrenderable")
        return real(item, tz)

    monkeypatch.setattr(render_module, "_item_lines", item_lines)
    assert run("digest", "send", "morning", "--config", config_path) == 0
    assert "archive: sent" in capsys.readouterr().out
    text = next((tmp_path / "state" / "digests").glob("*.txt")).read_text()
    assert "MI6 recruits online" in text and "MI6 chief speaks" not in text
    assert f"article {bad.number} could not be shown in this message" in text
    html = next((tmp_path / "state" / "digests").glob("*.html")).read_text()
    assert "MI6 chief speaks" in html  # only the channel that failed leaves it out
    assert run("outbox", "--config", config_path) == 0
    assert f"left out: #{bad.number} (text)" in capsys.readouterr().out


async def test_a_run_that_cannot_be_rendered_fails_alone(tmp_path: Path) -> None:
    """A stored run whose payload no longer loads (written by hand, or by a future version)
    fails its own deliveries with the reason; the run beside it is delivered."""
    channel = FileChannel("archive", tmp_path / "digests")
    with Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", tmp_path / "a") as store:
        outbox = Outbox(store.engine)
        good = digest_to_json(fixed_digest())
        for key, payload in (("digest:broken", {**good, "sections": [{"rule": "x"}]}),
                             ("digest:good", good)):
            outbox.create_run(NewRun(key=key, kind="digest", name="morning", since=T0,
                                     cutoff=T0, created=T0, item_count=1, payload=payload,
                                     channels=("archive",)))
        async with build_client(NetworkConfig(allow=("127.0.0.1",))) as client:
            await service(config(tmp_path, [channel]), store, client).deliver_pending(T0)
        states = {d.run_key: (d.state, d.last_error or "") for d in outbox.deliveries()}
    assert states["digest:good"][0] == "sent"
    assert states["digest:broken"][0] == "failed"
    assert "cannot be rendered" in states["digest:broken"][1]
    assert len(list((tmp_path / "digests").glob("*.txt"))) == 1
