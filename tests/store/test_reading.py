"""The tester's reads (watcher/store/reading.py) on SQLite and on a real PostgreSQL: the
text of the articles fetched since a moment, newest first and page by page, and the rest of
the rows of those asked for."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.store.test_index import NOW, seed_article
from watcher.rules.scan import field_texts
from watcher.store import Store
from watcher.store.reading import FETCH_ROWS, Reading


def test_recent_texts_walk_what_recent_articles_walk_and_articles_read_the_rest(
        store: Store) -> None:
    # Stored in this order, fetched out of it: numbers follow storing, and the walk must
    # neither stop at the late-stored old article nor miss the early-stored recent one.
    fetched = [NOW - timedelta(hours=1), NOW - timedelta(days=30), NOW,
               *(NOW - timedelta(minutes=n) for n in range(FETCH_ROWS + 5))]
    for index, moment in enumerate(fetched):
        article = seed_article("004_f3f2e1a6f771f557.txt", f"https://e.org/{index}")
        store.store_article(replace(article, fetched=moment, feed=f"feed-{index % 2}"), [],
                            entry_row_id=None, write_file=False, now=moment)
    reading = Reading(store.engine)
    since = NOW - timedelta(days=7)
    expected = list(store.recent_articles(since))
    texts = list(reading.recent_texts(since))
    assert [t.number for t in texts] == [s.number for s in expected]
    assert len(texts) == len(fetched) - 1 and 2 not in [t.number for t in texts]
    assert texts[-1].number == 1
    assert [t.texts for t in texts] == [field_texts(s.article) for s in expected]
    assert [t.number for t in reading.recent_texts(since, "feed-1", before=6)] == [4]
    assert list(reading.recent_texts(NOW + timedelta(seconds=1))) == []
    walk = reading.recent_texts(since)
    assert next(walk).number == len(fetched)
    walk.close()  # the tester stops early: its connection goes back
    wanted = [texts[0].number, 1, 3]
    read = reading.articles(wanted)
    assert sorted(read) == sorted(wanted)
    assert read[1] == next(s for s in expected if s.number == 1)
    assert reading.articles([]) == {}
