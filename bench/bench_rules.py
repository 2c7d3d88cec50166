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
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rulesets import load_articles, make_rules, make_topic_rules, vocabulary

from watcher.memory import settle_in_memory
from watcher.rules import Rule, RuleSet, compile_query
from watcher.rules.query import And, Meta, Near, Node, Not, Or, Pattern, Term
from watcher.rules.text import Words
from watcher.rules.triggers import LEARN_FROM
from watcher.types import Article

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
