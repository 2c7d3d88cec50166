"""Rule engine benchmark: does the cost per article stay flat as rules grow?

    python bench/bench_rules.py [--articles 1000] [--sizes 100,1000,10000] [--topics 10000]
                                [--repeat 5] [--no-learning]

1,000 article texts are built deterministically by recombining the paragraphs of the 79 real
article bodies in the extraction corpus; rules (words, phrases, prefixes, NEAR, NOT, fields,
case-sensitive acronyms, metadata) draw their vocabulary from the same texts. Two kinds of
rule set:

- names (``--sizes``): rules watching for particular stories, by names and words found in
  few texts; most stay silent (13 matches per article at 10,000 rules);
- topics (``--topics``): rules on the words of the big stories ("election", "Ukraine",
  "prime minister"), in 3% to 40% of the texts; at 10,000 rules a typical article matches
  about 90 of them, and what building every match's hits costs shows. Its line after the
  table gives its time per article against the smallest set of names.

For each set it prints articles per second for:

- engine:   ``RuleSet.match`` (what the daemon runs), after one untimed pass (which counts
            the matches; like a daemon over its first 300 articles, the engine learns there
            how often each term occurs and picks its triggers by it: ``--no-learning`` keeps
            the built-in guess instead);
- floor:    one bare Aho-Corasick pass over each article's text (title, summary and body,
            lower-cased beforehand, untimed) with the same set of terms as the engine's
            automaton, no tokenising and no rule logic; the hits are consumed in C. It does
            not check word boundaries, so it reports more hits than the engine (``us`` inside
            ``because``) and misses phrases split by punctuation: it is what a single
            automaton over the raw text costs at least;
- AC only:  the engine's own automaton over the engine's own folded words (computed
            beforehand, untimed): exactly the engine's hits, nothing else. The gap between
            it and the engine is tokenising, folding and the rule logic;
- baseline: the obvious implementation, one compiled regex per rule (lookaheads for
            AND/NOT, alternation for OR), looped over every rule. Far too slow to run on all
            articles with many rules, so it runs on a subset and is extrapolated (printed).

Each figure is the best of ``--repeat`` rounds; a round times every size's engine, floor and
automaton one after the other, so that a busy spell on a shared machine slows a whole round
rather than skewing one size against another. CPU time of this process is measured.

Targets at 10,000 rules: >= 1,000x the baseline, within 5x of the floor, and at most 3x
slower than at 100 rules.
"""

from __future__ import annotations

import argparse
import collections
import gc
import itertools
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import ahocorasick

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.data import ground_truth
from watcher.live_rules import settle_in_memory
from watcher.rules import Rule, RuleSet, compile_query
from watcher.rules.query import And, Meta, Near, Node, Not, Or, Pattern, Term
from watcher.rules.text import Words
from watcher.rules.triggers import LEARN_FROM
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


# ---------------------------------------------------------------------------------------------
# The baseline: one regex per rule


def _regex_term(term: Term) -> str:
    parts = [re.escape(word) for word in term.originals]
    body = r"\W+".join(parts)
    return r"\b" + body + (r"\w*" if term.prefix else r"\b")


def _positional(node: Node) -> str:
    if isinstance(node, Term):
        return _regex_term(node)
    if isinstance(node, Near):
        gap = r"\W+(?:\w+\W+){0," + str(node.distance) + "}"
        left, right = _positional(node.left), _positional(node.right)
        if node.ordered:
            return f"(?:{left}{gap}{right})"
        return f"(?:{left}{gap}{right}|{right}{gap}{left})"
    assert isinstance(node, Or)
    return "(?:" + "|".join(_positional(c) for c in node.children) + ")"


def _condition(node: Node) -> str:
    """A zero-width condition checked from the start of the text."""
    if isinstance(node, Term | Near):
        return r"(?=[\s\S]*?" + _positional(node) + ")"
    if isinstance(node, Meta | Pattern):
        return ""  # metadata is free in the baseline: it only gets easier
    if isinstance(node, Not):
        return "(?!" + (_condition(node.child) or "(?!)") + ")"
    if isinstance(node, And):
        return "".join(_condition(c) for c in node.children)
    return "(?:" + "|".join(_condition(c) or "" for c in node.children) + ")"


def baseline_rules(rules: Sequence[Rule]) -> list[re.Pattern[str]]:
    return [re.compile(r"\A" + _condition(compile_query(r.query).root), re.IGNORECASE)
            for r in rules]


def run_baseline(patterns: Sequence[re.Pattern[str]], texts: Sequence[str]) -> int:
    matched = 0
    for text in texts:
        for pattern in patterns:
            if pattern.match(text):
                matched += 1
    return matched


# ---------------------------------------------------------------------------------------------
# Runs


@dataclass
class Setup:
    rules: list[Rule]
    compile_seconds: float
    matched: int  # matches over all articles
    hits: int  # their hits
    passes: dict[str, Callable[[], object]]  # engine, floor, automaton: one pass each


def prepare(rules: list[Rule], articles: Sequence[Article], lowered: Sequence[str],
            folded: Sequence[str], learn_from: int) -> Setup:
    """A set of rules compiled, as the daemon would, and its three timed passes: the engine
    (after one untimed pass, in which it learns its triggers) over ``articles``, the floor
    over ``lowered`` and the automaton over ``folded``."""
    compile_query.cache_clear()
    started = time.perf_counter()
    ruleset = RuleSet(rules, learn_from=learn_from)
    compile_seconds = time.perf_counter() - started
    settle_in_memory()  # as the daemon does after loading rules
    found = [ruleset.match(a) for a in articles]
    matched = sum(map(len, found))
    hits = sum(len(match.hits) for matches in found for match in matches)
    del found

    floor_automaton = ahocorasick.Automaton()
    for key in ruleset.atoms:  # "|door|is|always|open|" -> "door is always open"
        floor_automaton.add_word(" ".join(key.strip("|").split("|")), 0)
    floor_automaton.make_automaton()
    # The floor must search for the same terms: it finds at least the engine's hits (it
    # ignores word boundaries), or it is measuring nothing.
    # (the first 50 articles: ``folded`` has three fields per article)
    floor_hits = sum(sum(1 for _ in floor_automaton.iter(text)) for text in lowered[:50])
    automaton_ = ruleset.compiled.automaton
    engine_hits = sum(sum(1 for _ in automaton_.iter(text, ignore_white_space=True))
                      for text in folded[:150])
    assert floor_hits >= 0.9 * engine_hits, (floor_hits, engine_hits)

    def engine() -> None:
        for article in articles:
            ruleset.match(article)

    def floor() -> None:
        for text in lowered:
            collections.deque(floor_automaton.iter(text), maxlen=0)

    def automaton() -> None:
        for text in folded:
            collections.deque(automaton_.iter(text, ignore_white_space=True), maxlen=0)

    return Setup(rules, compile_seconds, matched, hits,
                 {"engine": engine, "floor": floor, "automaton": automaton})


def timed(work: Callable[[], object]) -> float:
    """CPU seconds of one pass of ``work`` (other work on the machine does not count)."""
    gc.collect()
    started = time.process_time()
    work()
    return time.process_time() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--sizes", default="100,1000,10000", help="rule counts, names")
    parser.add_argument("--topics", default="10000",
                        help="rule counts of topic rule sets (empty: none)")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds")
    parser.add_argument("--baseline-seconds", type=float, default=6.0,
                        help="time to spend on the baseline per size (it is extrapolated)")
    parser.add_argument("--no-learning", action="store_true",
                        help="choose triggers by the built-in guess only (no counting)")
    args = parser.parse_args(argv)
    learn_from = 0 if args.no_learning else LEARN_FROM
    articles = load_articles(args.articles)
    texts = [f"{a.title}\n{a.description}\n{a.body}" for a in articles]
    lowered = [t.lower() for t in texts]
    vocab = vocabulary(articles)
    chars = sum(len(t) for t in texts) / len(texts)
    print(f"{len(articles)} articles, {chars:.0f} characters each on average; vocabulary: "
          f"{len(vocab.entities)} names, {len(vocab.words)} words, {len(vocab.phrases)} phrases, "
          f"{len(vocab.topics)} topic words, {len(vocab.topic_phrases)} topic phrases")
    folded = [Words(t).joined for a in articles for t in (a.title, a.description, a.body)]
    header = (f"{'rules':>6} {'kind':<6} {'compile s':>9} {'engine a/s':>10} {'floor a/s':>10} "
              f"{'AC only a/s':>11} {'baseline a/s':>12} {'x baseline':>10} {'/ floor':>8} "
              f"{'/ AC only':>9} {'matches/a':>9} {'hits/a':>7}")
    print(header)
    print("-" * len(header))
    # Every set is set up first, then timed in rounds: each round times every set's engine,
    # floor and automaton one after the other, and each figure is the best of its rounds. A
    # slow spell of a shared machine then slows a whole round, not one set's figures, and
    # the ratios between sets (and against the floor) hold.
    setups: dict[tuple[int, str], Setup] = {}
    for kind, sizes in (("names", args.sizes), ("topics", args.topics)):
        for size in (int(s) for s in sizes.split(",") if s.strip()):
            rules = (make_rules if kind == "names" else make_topic_rules)(size, vocab)
            setups[size, kind] = prepare(rules, articles, lowered, folded, learn_from)
    times: dict[tuple[int, str, str], list[float]] = collections.defaultdict(list)
    for _ in range(args.repeat):
        for (size, kind), setup in setups.items():
            for name, work in setup.passes.items():
                times[size, kind, name].append(timed(work))
    results: dict[tuple[int, str], float] = {}
    ratios: dict[int, tuple[float, float]] = {}  # names: x baseline, / floor
    for (size, kind), setup in setups.items():
        # The baseline last, one set at a time: 10,000 compiled regexes would otherwise stay
        # alive through the rounds above.
        patterns = baseline_rules(setup.rules)
        done, spent = 0, 0.0
        while spent < args.baseline_seconds and done < len(texts):
            chunk = texts[done:done + 5]
            started = time.process_time()
            run_baseline(patterns, chunk)
            spent += time.process_time() - started
            done += len(chunk)
        del patterns
        baseline_rate = done / spent
        engine_rate, floor_rate, automaton_rate = (
            len(articles) / min(times[size, kind, name])
            for name in ("engine", "floor", "automaton"))
        results[size, kind] = engine_rate
        if kind == "names":
            ratios[size] = (engine_rate / baseline_rate, floor_rate / engine_rate)
        note = "" if done == len(texts) else f"  (baseline on {done} articles, extrapolated)"
        print(f"{size:>6} {kind:<6} {setup.compile_seconds:>9.2f} {engine_rate:>10.0f} "
              f"{floor_rate:>10.0f} {automaton_rate:>11.0f} {baseline_rate:>12.2f} "
              f"{engine_rate / baseline_rate:>9.0f}x {floor_rate / engine_rate:>7.1f}x "
              f"{automaton_rate / engine_rate:>8.1f}x {setup.matched / len(articles):>9.1f} "
              f"{setup.hits / len(articles):>7.1f}{note}")
    sizes = sorted(size for size, kind in results if kind == "names")
    if len(sizes) > 1:
        slowdown = results[sizes[0], "names"] / results[sizes[-1], "names"]
        print(f"\nslowdown from {sizes[0]} to {sizes[-1]} rules: {slowdown:.2f}x")
    if sizes:
        # What matching many rules per article costs over the smallest set of names, in
        # CPU time per article: at the cycle level it adds to everything else an article
        # costs (fetching, extracting, storing).
        smallest = results[sizes[0], "names"]
        for (size, kind), rate in results.items():
            if kind == "topics":
                extra = 1000 / rate - 1000 / smallest
                per_article = setups[size, kind].matched / len(articles)
                print(f"{size} topic rules ({per_article:.1f} matches per article): "
                      f"{smallest / rate:.2f}x the time of {sizes[0]} rules, "
                      f"{extra:+.3f} ms per article")
    if (100, "names") in results and (10_000, "names") in results:
        baseline, floor = ratios[10_000]
        slowdown = results[100, "names"] / results[10_000, "names"]
        print("targets at 10,000 rules (issue 3):")
        for name, value, met in (
                (">= 1,000x the baseline", f"{baseline:.0f}x", baseline >= 1000),
                ("within 5x of the floor", f"{floor:.2f}x", floor <= 5),
                ("at most 3x slower than at 100 rules", f"{slowdown:.2f}x", slowdown <= 3)):
            print(f"  {name:<38} {value:>8}  {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
