"""The XML prolog of a fetched feed: HTML detection, DOCTYPE removal, capped author text.

Why each step (see also ``watcher.feeds.parse``):

- An HTML page, or any document whose root element is not a feed's, is refused before
  feedparser walks it all.
- The DOCTYPE declaration with its internal subset is removed. Without it there is nothing
  to expand (billion laughs, quadratic blow-up) and nothing external to load. feedparser's
  own DOCTYPE filter is a line-anchored regex: declarations written on one line reach
  expat, whose amplification limit stops billion laughs only late.
- The text of author-like elements is capped. feedparser looks for an e-mail address in a
  free-text author with a regex that is quadratic in the length of a word
  (``mixin._sync_author_detail``). The worker time limit is the backstop; this makes the
  hostile feed parse normally.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

from watcher.errors import ParseError

__all__ = ["MAX_AUTHOR_CHARS", "Prolog", "make_safe", "scan_prolog"]

# The longest author text handed to feedparser; real bylines are far shorter, and at this
# length feedparser's e-mail regex is cheap.
MAX_AUTHOR_CHARS = 256



@dataclass(frozen=True)
class Prolog:
    xml_decl_end: int  # end of the XML declaration, 0 if none
    doctype: tuple[int, int] | None  # span of the DOCTYPE declaration
    doctype_text: str
    root: str  # name of the first element, "" if none

    @property
    def is_html(self) -> bool:
        root = self.root.lower()
        if root in ("html", "head", "body"):
            return True
        # An HTML DOCTYPE pasted above a real feed is a known publisher mistake: the root
        # element decides when it names a feed.
        return not self.is_feed and self.doctype_text[9:].strip().lower().startswith("html")

    @property
    def is_feed(self) -> bool:
        """The root is one feedparser knows: RSS, Atom (any version), RDF, CDF."""
        return self.root.rpartition(":")[2].lower() in ("rss", "feed", "rdf", "channel")


_XML_DECL = re.compile(r"\s*<\?xml(?=\s)[^>]*>")
_PROLOG_MISC = re.compile(r"(?:\s+|<!--.*?-->|<\?.*?\?>)*+", re.DOTALL)
_DOCTYPE = re.compile(
    r"""<!DOCTYPE(?:[^\[>"']++|"[^"]*+"|'[^']*+')*+"""
    r"""(?:\[(?:[^\]"']++|"[^"]*+"|'[^']*+')*+\]\s*)?>""",
    re.IGNORECASE,
)
_ROOT = re.compile(r"<([A-Za-z_][\w:.-]*)")


def scan_prolog(text: str) -> Prolog:
    decl = _XML_DECL.match(text)
    pos = decl.end() if decl else 0
    pos = _PROLOG_MISC.match(text, pos).end()  # type: ignore[union-attr]  # matches empty
    doctype: tuple[int, int] | None = None
    doctype_text = ""
    if text.startswith("<!", pos) and text[pos + 2 : pos + 9].upper() == "DOCTYPE":
        found = _DOCTYPE.match(text, pos)
        if found is None:
            raise ParseError("malformed feed: unterminated DOCTYPE declaration")
        doctype, doctype_text = found.span(), found.group()
        pos = _PROLOG_MISC.match(text, found.end()).end()  # type: ignore[union-attr]
    root = _ROOT.match(text, pos)
    return Prolog(decl.end() if decl else 0, doctype, doctype_text, root.group(1) if root else "")


_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def make_safe(text: str, prolog: Prolog) -> tuple[str, list[str]]:
    """The document feedparser will see: our own XML declaration, no DOCTYPE, capped authors.

    Removed text is replaced by its newlines, so feedparser's line numbers stay true.
    """
    notes: list[str] = []
    body_start = prolog.xml_decl_end
    if prolog.doctype is not None:
        start, end = prolog.doctype
        if "<!ENTITY" in prolog.doctype_text.upper():
            notes.append("DOCTYPE with entity declarations removed (entities are never expanded)")
        middle = text[body_start:start] + "\n" * prolog.doctype_text.count("\n")
        rest = middle + text[end:]
    else:
        rest = text[body_start:]
    decl_newlines = "\n" * text[: prolog.xml_decl_end].count("\n")
    # Characters XML 1.0 forbids (stray control codes are common in real feeds) would make
    # the strict parser give up on the whole document; they carry no text.
    rest = _INVALID_XML_CHARS.sub("", rest)
    rest, capped = _cap_authors(rest)
    if capped:
        notes.append(f"author text longer than {MAX_AUTHOR_CHARS} characters cut short")
    return '<?xml version="1.0" encoding="utf-8"?>' + decl_newlines + rest, notes


# Elements whose text feedparser runs through its quadratic e-mail regex, any prefix.
_AUTHOR_TAG = re.compile(
    r"<(/?)(?:[A-Za-z_][\w.-]*:)?(author|creator|managingeditor|webmaster|publisher|name|email)"
    r"(?=[\s/>])[^<>]*+>",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"<!--.*?-->|<!\[CDATA\[|\]\]>|<[^>]*>", re.DOTALL)


def _cap_authors(text: str) -> tuple[str, bool]:
    """Cut the text of author-like elements to ``MAX_AUTHOR_CHARS``; linear in ``text``.

    Only an element closed by its own end tag is touched; its whole content (CDATA, comments
    and entities included, which feedparser would join) is measured and replaced by the
    escaped, shortened text.
    """
    tags = list(_AUTHOR_TAG.finditer(text))
    pieces: list[str] = []
    done = 0
    for tag, following in itertools.pairwise(tags):
        opening = not tag.group(1) and not tag.group().endswith("/>")
        closes_it = following.group(1) and following.group(2).lower() == tag.group(2).lower()
        inner = text[tag.end() : following.start()]
        if not (opening and closes_it) or len(inner) <= MAX_AUTHOR_CHARS:
            continue
        plain = html.unescape(_MARKUP.sub("", inner))
        if len(plain) <= MAX_AUTHOR_CHARS:
            continue
        pieces += [text[done : tag.end()], xml_escape(plain[:MAX_AUTHOR_CHARS])]
        done = following.start()
    if not pieces:
        return text, False
    pieces.append(text[done:])
    return "".join(pieces), True
