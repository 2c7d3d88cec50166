"""Embedded social posts: quotations the story makes, lifted out of their widget wrappers.

A story that quotes a tweet or an Instagram post embeds the platform's blockquote
(``blockquote.twitter-tweet``, ``blockquote.instagram-media``, ...), and the post's words are
part of what the story says. Many templates wrap the embed in layers of ``div``s whose
classes say "widget" or "embed"; trafilatura discards such containers as page furniture, so
the quotation disappears with its wrapper. The blockquote is moved up to the place of its
outermost wrapper that holds nothing else (no other text), so the post is read where it
stood and wrappers with content of their own are left to trafilatura's judgement.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

# Classes the platforms' embed codes give their blockquotes.
_EMBED_CLASS = re.compile(
    r"\b(?:twitter-tweet|twitter-video|instagram-media|tiktok-embed|bluesky-embed|"
    r"reddit-embed-bq|fb-xfbml-parse-ignore|threads-embed|mastodon-embed)\b")
_SPACE = re.compile(r"\s+")


def _text(element: HtmlElement) -> str:
    return _SPACE.sub("", element.text_content())


def lift_embedded_posts(tree: HtmlElement) -> int:
    """Move each embedded post's blockquote up in place of the wrappers that hold only it;
    returns how many were moved. Changes ``tree``."""
    moved = 0
    for quote in list(tree.iter("blockquote")):
        if not _EMBED_CLASS.search(quote.get("class") or ""):
            continue
        text = _text(quote)
        if not text:
            continue
        wrapper = None
        parent = quote.getparent()
        while (parent is not None and parent.tag not in ("body", "article", "main", "html")
               and _text(parent) == text):
            wrapper = parent
            parent = parent.getparent()
        if wrapper is None:
            continue
        quote.tail = None
        wrapper.addprevious(quote)
        quote.tail = wrapper.tail
        outer = wrapper.getparent()
        if outer is not None:
            outer.remove(wrapper)
        moved += 1
    return moved
