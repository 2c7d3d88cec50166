"""A fixed digest for golden files and channel tests, with hostile feed text on purpose."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.data import CORPUS as CORPUS_DIR
from tests.support.data import SEEDS
from watcher.digest import BuildSpec, Candidate, Digest, FeedNotice, build_digest

CORPUS = CORPUS_DIR / "ground-truth.json"

HOSTILE_TITLE = 'Spy chief <script>alert(1)</script> <!channel> <https://evil.example|bank>\r\nBcc: victim@example.org'  # noqa: E501
# A page names its site as it likes: markup and mentions in og:site_name stay text.
HOSTILE_SITE_NAME = "Evil <b>News</b> *Daily* <!here> & Co\r\nBcc: x@example.org"
HOSTILE_BODY = ("Officials met on Monday. The MI6 chief said <b>defectors</b> & <!here> are "
                "welcome\r\nBcc: x@example.org. Nothing else happened.")

NOW = datetime(2023, 7, 20, 6, 0, tzinfo=UTC)


def hits_for(text: str, field: str, *terms: str) -> tuple[tuple[str, int, int, str], ...]:
    out = []
    for term in terms:
        at = text.find(term)
        if at >= 0:
            out.append((field, at, at + len(term), term))
    return tuple(out)


def candidate(number: int, title: str, body: str, *, site: str = "example.org",
              rules: tuple[str, ...] = ("mi6-defection",), terms: tuple[str, ...] = ("MI6",),
              hour: int = 5, text_source: str = "page", description: str = "",
              rule_terms: dict[str, tuple[str, ...]] | None = None,
              site_name: str = "") -> Candidate:
    """``rule_terms``: which of the terms each rule matched (all rules: ``terms``);
    ``site_name``: the outlet's own name ("": a row stored before names were kept)."""
    def found(*words: str) -> tuple[tuple[str, int, int, str], ...]:
        return hits_for(body, "body", *words) + hits_for(title, "title", *words)

    return Candidate(
        number=number, url=f"https://{site}/news/{number}", title=title, site=site,
        feed=site.split(".")[0], published=datetime(2023, 7, 20, hour, 0, tzinfo=UTC),
        fetched=datetime(2023, 7, 20, hour, 5, tzinfo=UTC), text_source=text_source,  # type: ignore[arg-type]
        description=description, body=body, rules=rules,
        hits=found(*terms),
        rule_hits=tuple((rule, found(*words)) for rule, words in (rule_terms or {}).items()),
        site_name=site_name)


def seed_candidates() -> list[Candidate]:
    out = []
    for number, path in ((0, SEEDS / "000_d6b5e377e965d76d.txt"),
                         (4, SEEDS / "004_f3f2e1a6f771f557.txt")):
        lines = path.read_text(encoding="utf-8").split("\n")
        body = "\n".join(lines[2:])
        out.append(candidate(number, lines[0], body, site="independent.co.uk",
                             site_name="The Independent",
                             description=lines[1], rules=("mi6-defection", "wagner"),
                             terms=("MI6", "Prigozhin", "door is always open"),
                             rule_terms={"mi6-defection": ("MI6", "door is always open"),
                                         "wagner": ("Prigozhin",)},
                             hour=4 if number == 0 else 3))
    return out


def fixed_candidates() -> list[Candidate]:
    wire = ("Wagner fighters have arrived in Belarus, the defence ministry in Minsk said. "
            "Columns of vehicles crossed the border overnight, according to witnesses.\n"
            "Prigozhin was not seen with the convoy. Officials declined to say how many "
            "fighters would stay or where they would be based in the coming weeks.")
    return [
        *seed_candidates(),
        candidate(7, HOSTILE_TITLE, HOSTILE_BODY, site="hostile.example",
                  site_name=HOSTILE_SITE_NAME,
                  terms=("MI6", "defectors"), hour=2, text_source="partial"),
        candidate(8, "Wagner convoy reaches Belarus", wire, site="apnews.com", site_name="AP News",
                  rules=("wagner",), terms=("Wagner", "Prigozhin"), hour=1),
        candidate(9, "Wagner convoy reaches Belarus, Minsk says", wire, site="reuters.com",
                  rules=("wagner",), terms=("Wagner", "Prigozhin"), hour=0),
    ]


def fixed_digest() -> Digest:
    spec = BuildSpec(name="morning", timezone="Europe/London",
                     since=datetime(2023, 7, 19, 6, 0, tzinfo=UTC), until=NOW,
                     rule_order=("mi6-defection", "wagner"))
    notices = (FeedNotice("bbc-world", "failing since 2023-07-19 22:00 UTC: HTTP 503 "
                          "<!channel>\r\nBcc: x@example.org"),)
    return build_digest(spec, fixed_candidates(), notices=notices)
