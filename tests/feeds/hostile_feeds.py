"""Builders for hostile feed documents, shared by the parser tests and the fault-injection suite.

Each returns the bytes of an RSS 2.0 document whose one item is otherwise ordinary, so a test
can tell "parsed safely" (one entry, attack inert) from "refused".
"""

from __future__ import annotations


def _rss(prolog: str, item_title: str, channel_extra: str = "", item_extra: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}'
        f'<rss version="2.0"><channel><title>Hostile</title>{channel_extra}'
        f"<item><title>{item_title}</title><link>https://hostile.example/1</link>"
        f"<guid>hostile-1</guid>{item_extra}</item></channel></rss>"
    ).encode()


def billion_laughs(*, one_line: bool = True, levels: int = 10) -> bytes:
    """The classic: ``&lol9;`` would expand to 10**9 "lol"s."""
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    sep = "" if one_line else "\n"
    prolog = f"{sep}<!DOCTYPE rss [{sep}{sep.join(decls)}{sep}]>{sep}"
    return _rss(prolog, f"&lol{levels - 1};")


def quadratic_blowup(size: int = 100_000, refs: int = 2_000) -> bytes:
    """One big plain entity referenced many times: linear input, quadratic output."""
    prolog = f'<!DOCTYPE rss [<!ENTITY big "{"x" * size}">]>'
    return _rss(prolog, "&big;" * refs)


def external_entity(system_id: str, *, one_line: bool = True) -> bytes:
    """A general external entity (``file:///...`` or ``http://...``) used in the title."""
    sep = "" if one_line else "\n"
    return _rss(f'{sep}<!DOCTYPE rss [{sep}<!ENTITY ext SYSTEM "{system_id}">{sep}]>{sep}', "&ext;")


def external_parameter_entity(system_id: str) -> bytes:
    """A parameter entity pulled into the internal subset (the out-of-band XXE pattern)."""
    return _rss(f'<!DOCTYPE rss [<!ENTITY % ext SYSTEM "{system_id}"> %ext;]>', "plain")


def external_dtd(system_id: str) -> bytes:
    """A DOCTYPE naming an external DTD that a validating parser would fetch."""
    return _rss(f'<!DOCTYPE rss PUBLIC "-//Hostile//DTD RSS//EN" "{system_id}">', "plain")


def author_redos(length: int) -> bytes:
    """feedparser's e-mail regex over a free-text author is quadratic in the word's length."""
    return _rss("", "redos", item_extra=f"<author>{'a' * length}</author>")


def author_redos_split(pieces: int) -> bytes:
    """The same word cut into CDATA sections and comments, which feedparser joins again."""
    piece = "<![CDATA[aaaaaaaaaa]]><!---->"
    return _rss("", "redos", item_extra=f"<author>{piece * pieces}</author>")
