"""The benchmarks' world of articles and rules, built deterministically from the extraction
corpus (tests/data/corpus): ``load_articles`` recombines the real bodies' paragraphs into
articles; ``vocabulary`` finds their names, words, phrases and topic words; ``make_rules``
(rules watching for particular stories) and ``make_topic_rules`` (rules on topic words that
match often) draw queries from it. Shared by bench_rules, bench_cycle and bench_reload."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tests.support.data import ground_truth
from watcher.rules import Rule
from watcher.types import Article

FEEDS = [("bbc-world", "bbc.co.uk"), ("guardian-world", "theguardian.com"),
         ("independent-world", "independent.co.uk"), ("aljazeera", "aljazeera.com"),
         ("reuters-top", "reuters.com"), ("venturebeat", "venturebeat.com")]
_STOP_WORDS = (
    "a about above after again against all also am an and any are as at be "
    "because been before being below between both but by can could did do does doing down "
    "during each few for from further had has have having he her here hers herself him "
    "himself his how i if in into is it its itself just me more most my "
    "myself no nor not now of off on once only or other our ours out over "
    "own said same says she should so some such than that the their theirs them then "
    "there these they this those through to too under until up very was we were what "
    "when where which while who whom why will with would you your new one two year "
    "years")
STOP = set(_STOP_WORDS.split())


# ---------------------------------------------------------------------------------------------
# Articles


def load_articles(count: int, seed: int = 7) -> list[Article]:
    data = ground_truth()  # the extraction corpus's correct bodies (tests/data/corpus)
    bodies = [v["articleBody"] for _, v in sorted(data.items()) if v.get("articleBody")]
    paragraphs = [p.strip() for body in bodies for p in body.split("\n") if len(p.strip()) > 40]
    rng = random.Random(seed)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    articles = []
    for number in range(count):
        body = tuple(rng.sample(paragraphs, rng.randint(4, 12)))
        first = re.split(r"(?<=[.!?])\s", body[0])[0]
        title = " ".join(first.split()[:rng.randint(6, 14)])
        feed, site = FEEDS[number % len(FEEDS)]
        articles.append(Article(
            url=f"https://www.{site}/news/{number}-{title[:30].lower().replace(' ', '-')}",
            canonical_url=f"https://{site}/news/{number}", feed=feed, site=site, title=title,
            description=rng.choice(paragraphs)[:240], paragraphs=body, fetched=now,
            language="en"))
    return articles


# ---------------------------------------------------------------------------------------------
# Rules


@dataclass
class Vocabulary:
    entities: list[str]  # capitalised words, not too common
    acronyms: list[str]
    words: list[str]  # lower-case content words
    phrases: list[str]
    topics: list[str]  # words in many texts (as written: "Ukraine", "election")
    topic_phrases: list[str]  # two words in a row in many texts ("prime minister")


def vocabulary(articles: Sequence[Article]) -> Vocabulary:
    word_re = re.compile(r"[A-Za-z][A-Za-z]+")
    written: set[str] = set()  # every word as written
    df: Counter[str] = Counter()  # in how many texts each word is, in any case (as rules match)
    for article in articles[:300]:
        found = set(word_re.findall(article.title + " " + article.body))
        written |= found
        df.update({w.lower() for w in found})
    # Rules watch for particular stories: their words are the less common ones (a word in
    # one paragraph of the corpus is in about 1% of the recombined texts). Terms match in
    # any case, so rarity is judged on the folded word: "Time" at the start of a sentence
    # is rare as written but finds every "time".
    entities = sorted(w for w in written if w[0].isupper() and not w.isupper()
                      and w.lower() not in STOP and len(w) > 3 and df[w.lower()] <= 6)
    acronyms = sorted(w for w in written if w.isupper() and 2 <= len(w) <= 5
                      and w not in ("AND", "OR", "NOT"))
    words = sorted(w for w in written if w.islower() and w not in STOP and len(w) > 4
                   and df[w] <= 8)
    # Topic rules are written with the words of the big stories: in 3% to 40% of the texts.
    sampled = len(articles[:300])
    topical = {w for w, n in df.items()
               if w not in STOP and len(w) > 3 and 0.03 <= n / sampled <= 0.4}
    topics = sorted({w for w in written if w.lower() in topical and not w.isupper()
                     and (w.islower() or w.lower() not in written)})
    pairs: Counter[str] = Counter()
    for article in articles[:300]:
        tokens = [w.lower() for w in word_re.findall(article.body)]
        pairs.update({f"{a} {b}" for a, b in itertools.pairwise(tokens)
                      if a not in STOP and b not in STOP})
    topic_phrases = sorted(pair for pair, n in pairs.items() if n / sampled >= 0.02)
    phrases: set[str] = set()
    rng = random.Random(3)
    for article in articles[:300]:
        tokens = word_re.findall(article.body)
        for _ in range(20):
            if len(tokens) < 4:
                break
            start = rng.randrange(len(tokens) - 3)
            chunk = tokens[start:start + rng.choice((2, 2, 3))]
            if chunk[0].lower() not in STOP and chunk[-1].lower() not in STOP:
                phrases.add(" ".join(chunk))
    return Vocabulary(entities, acronyms, words, sorted(phrases), topics, topic_phrases)


# A query template and its weight in the mix
Template = tuple[int, Callable[[], str]]


def invented(rng: random.Random, capital: bool) -> str:
    """A plausible word that is in none of the texts (the story a rule waits for)."""
    syllables = ["ka", "ro", "vin", "del", "mar", "tos", "bel", "gri", "shen", "lo", "zu",
                 "nik", "par", "ova", "ter", "mun", "sal", "dra", "quel", "fen"]
    word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
    return word.capitalize() if capital else word


def make_rules(count: int, vocab: Vocabulary, seed: int = 11,
               present: float = 0.4) -> list[Rule]:
    """``count`` rules; each term comes from the texts with probability ``present``, else it
    is a word none of them contain: in any week of news most watch rules stay silent."""
    rng = random.Random(seed)
    e, w, p = vocab.entities, vocab.words, vocab.phrases

    def ent() -> str:
        return rng.choice(e) if rng.random() < present else invented(rng, True)

    def word() -> str:
        return rng.choice(w) if rng.random() < present else invented(rng, False)

    def phrase() -> str:
        if rng.random() < present:
            return f'"{rng.choice(p)}"'
        return f'"{invented(rng, True)} {invented(rng, False)}"'

    def prefix() -> str:
        base = word()
        return base[:rng.randint(4, max(4, min(8, len(base) - 1)))] + "*"

    # The mix of a monitoring service: mostly "these names AND this context NOT that
    # noise", some single names and phrases, some proximity; a few metadata filters.
    templates: list[Template] = [
        (3, lambda: ent()),
        (3, lambda: phrase()),
        (8, lambda: f"({ent()} OR {ent()}) AND ({word()} OR {prefix()})"),
        (6, lambda: f"{ent()} AND {word()}"),
        (4, lambda: f"{prefix()} AND {ent()} -{word()}"),
        (4, lambda: f"{ent()} NEAR/{rng.randint(2, 8)} {word()}"),
        (2, lambda: f"{ent()} ONEAR/3 ({ent()} OR {word()})"),
        (4, lambda: f"({ent()} OR {phrase()}) AND NOT ({word()} OR {word()})"),
        (3, lambda: f"title:{ent()} OR title:{phrase()}"),
        (3, lambda: f"body:{phrase()} OR title:({ent()} {word()})"),
        (2, lambda: f"={rng.choice(vocab.acronyms)} {ent()}"),
        (2, lambda: f"site:{rng.choice(FEEDS)[1]} ({ent()} OR {ent()})"),
        (2, lambda: f"{ent()} NEAR ({word()} OR {word()}) NOT feed:aljazeera"),
    ]
    return [Rule(name=f"r{number}", query=query, min_hits=2 if number % 25 == 0 else 1)
            for number, query in enumerate(draw_queries(rng, templates, count))]


def make_topic_rules(count: int, vocab: Vocabulary, seed: int = 13,
                     present: float = 0.8) -> list[Rule]:
    """``count`` rules on topics rather than names: words and phrases in many texts
    ("election", "Ukraine", "prime minister"), so that a typical article matches dozens of
    them and the cost of building every match's hits shows. Each term is a topic word with
    probability ``present``, else a word in no text (as in ``make_rules``)."""
    rng = random.Random(seed)
    t, tp = vocab.topics, vocab.topic_phrases

    def topic() -> str:
        return rng.choice(t) if rng.random() < present else invented(rng, True)

    def phrase() -> str:
        words = rng.choice(tp) if rng.random() < present else (
            f"{invented(rng, False)} {invented(rng, False)}")
        return f'"{words}"'

    templates: list[Template] = [
        (2, lambda: topic()),
        (1, lambda: phrase()),
        (3, lambda: f"{topic()} AND {topic()}"),
        (3, lambda: f"{phrase()} AND {topic()}"),
        (3, lambda: f"({topic()} OR {topic()}) AND ({topic()} OR {phrase()})"),
        (2, lambda: f"{topic()} {topic()} -{topic()}"),
        (2, lambda: f"{topic()} NEAR/10 {topic()}"),
        (1, lambda: f"title:{topic()} AND {topic()}"),
        (1, lambda: f"{topic()} AND {topic()} AND {topic()}"),
    ]
    return [Rule(name=f"t{number}", query=query)
            for number, query in enumerate(draw_queries(rng, templates, count))]


def draw_queries(rng: random.Random, templates: Sequence[Template], count: int) -> list[str]:
    """``count`` queries, each made by a template drawn by its weight."""
    weights = [weight for weight, _ in templates]
    return [rng.choices(templates, weights)[0][1]() for _ in range(count)]
