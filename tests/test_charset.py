"""Bytes to text as a browser would: BOM, then HTTP charset, then <meta>, then the bytes."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.charset import codec_for_label, decode_html, sniff_encoding

TEXT = "Café, naïve façade — “quoted” – 5 €"


def page(charset_meta: str | None, text: str = TEXT) -> str:
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    return f"<html><head>{meta}<title>t</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize(("data", "content_type", "expected"), [
    # HTTP charset beats <meta>
    (page("utf-8").encode("cp1252"), "text/html; charset=windows-1252", "cp1252"),
    # <meta> used when HTTP says nothing
    (page("windows-1252").encode("cp1252"), "text/html", "cp1252"),
    (page("iso-8859-1").encode("cp1252"), None, "cp1252"),  # latin-1 means windows-1252
    # BOM beats both
    (codecs.BOM_UTF8 + page("iso-8859-1").encode(), "text/html; charset=iso-8859-1", "utf-8"),
    (codecs.BOM_UTF16_LE + page(None).encode("utf-16-le"), "text/html; charset=utf-8",
     "utf-16-le"),
    # nothing declared: valid UTF-8 is UTF-8, anything else windows-1252
    (page(None).encode(), None, "utf-8"),
    (page(None).encode("cp1252"), None, "cp1252"),
    # http-equiv form, quoted label with spaces
    (b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
     + "東京".encode("cp932"), None, "cp932"),
    (page("gb2312", "北京新闻").encode("gbk"), None, "gb18030"),
])
def test_order_of_precedence(data: bytes, content_type: str | None, expected: str) -> None:
    assert sniff_encoding(data, content_type) == expected


def test_declared_latin1_on_utf8_bytes_is_read_as_utf8() -> None:
    # Servers default to latin-1; reading UTF-8 as latin-1 is the classic "CafÃ©" mojibake.
    data = page(None).encode("utf-8")
    text = decode_html(data, "text/html; charset=ISO-8859-1")
    assert TEXT in text and "Ã" not in text


def test_declared_utf8_on_legacy_bytes_is_read_as_windows_1252() -> None:
    data = page("utf-8").encode("cp1252")
    text = decode_html(data, "text/html; charset=utf-8")
    assert TEXT in text and "\ufffd" not in text


def test_mostly_utf8_with_one_bad_byte_stays_utf8() -> None:
    data = page("utf-8").encode("utf-8").replace(b"<title>t", b"<title>\xff")
    text = decode_html(data, None)
    assert TEXT in text


def test_meta_saying_utf16_means_utf8() -> None:
    assert sniff_encoding(page("utf-16").encode(), None) == "utf-8"


def test_bom_is_stripped() -> None:
    assert not decode_html(codecs.BOM_UTF8 + b"<p>x</p>").startswith("\ufeff")


@pytest.mark.parametrize("label", ["utf-7", "x-user-defined", "hz-gb-2312", "nonsense-enc", ""])
def test_refused_or_unknown_labels(label: str) -> None:
    assert codec_for_label(label) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.one_of(st.none(), st.sampled_from([
    "text/html", "text/html; charset=utf-8", "text/html; charset=latin1",
    "text/html; charset=utf-16", "text/html; charset=bogus", "text/html; charset=shift_jis",
    "text/html; charset=utf-7"])))
def test_never_raises(data: bytes, content_type: str | None) -> None:
    assert isinstance(decode_html(data, content_type), str)


def test_pages_and_feeds_share_one_decision() -> None:
    # One sniffer for both: an unlabelled Cyrillic page is read as a feed would be.
    from watcher.charset import decode

    text = "Новости дня: правительство объявило о новых мерах поддержки экономики"
    data = f"<html><body><p>{text}</p></body></html>".encode("cp1251")
    assert decode_html(data) == decode(data).text
    assert text in decode_html(data)
    assert "cp1251" in decode(data).notes[0]


def test_wide_label_read_from_the_bytes_means_utf8() -> None:
    data = b'<?xml version="1.0" encoding="UTF-16"?><rss/>'
    assert sniff_encoding(data) == "utf-8"
