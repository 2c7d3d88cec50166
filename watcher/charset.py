"""Bytes to text the way browsers read them: the one charset sniffer for feeds and pages.

Order (WHATWG "encoding sniffing", with XML's additions): a byte order mark wins; then the
charset of the HTTP ``Content-Type``; then what the document says near its top (the XML
declaration's ``encoding``, or an HTML ``<meta charset>`` / ``http-equiv``; UTF-16/32
without a BOM is recognised from how ``<`` is spelled, XML 1.0 appendix F); then the bytes
themselves: valid UTF-8 is UTF-8.

Labels are read through one table: the WHATWG aliases (latin-1 and ASCII mean
windows-1252 on the web, GB2312 means GB18030, ...), labels WHATWG refuses are never
honoured, anything else goes through ``codecs.lookup``.

Deliberate departures, all to keep mojibake out of stored text:

- A declared single-byte Western encoding (latin-1/windows-1252, the default of many
  servers) on bytes that are valid UTF-8 with multi-byte sequences is read as UTF-8: such
  bytes are practically never meant as latin-1 (``Ã©`` for ``é``).
- A declared UTF-8 on bytes without a single valid multi-byte sequence but with stray high
  bytes is a mislabelled legacy document and is read as windows-1252 instead of turning
  every accented letter into U+FFFD.
- A declared codec that fails on bytes which are valid UTF-8 gives way to UTF-8.
- Unlabelled bytes that are not UTF-8 are windows-1252 (the commonest real case, Latin-1
  without a declaration) unless a detector clearly finds a script-specific encoding
  (CJK, Cyrillic, Greek, ...): browsers would use the reader's locale, and we have none.

``decode`` also returns notes saying what was overridden, which a feed reports as its
warning.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

__all__ = ["Decoded", "codec_for_label", "content_type_parts", "decode", "decode_html",
           "sniff_encoding"]

_LABELS: dict[str, str] = {
    **dict.fromkeys(
        ("ascii", "us-ascii", "iso-8859-1", "iso8859-1", "iso88591", "iso_8859-1", "latin1",
         "latin-1", "latin_1", "l1", "cp819", "ibm819", "csisolatin1", "iso-ir-100",
         "ansi_x3.4-1968", "iso_8859-1:1987", "windows-1252", "cp1252", "x-cp1252"),
        "cp1252"),
    **dict.fromkeys(("iso-8859-9", "iso8859-9", "latin5", "l5", "windows-1254", "cp1254"),
                    "cp1254"),
    **dict.fromkeys(("tis-620", "iso-8859-11", "windows-874", "dos-874"), "cp874"),
    **dict.fromkeys(("gb2312", "gbk", "chinese", "csgb2312", "x-gbk", "gb_2312-80",
                     "gb18030"), "gb18030"),
    **dict.fromkeys(("big5", "big5-hkscs", "cn-big5", "x-x-big5", "csbig5"), "big5hkscs"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "ms932",
                     "windows-31j", "csshiftjis"), "cp932"),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "windows-949", "cseuckr", "korean"), "cp949"),
    **dict.fromkeys(("utf8", "utf-8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8",
                     "x-unicode20utf8"), "utf-8"),
}
# Python codec names (after codecs.lookup) that browsers read as something wider.
_WIDER = {"iso8859-1": "cp1252", "ascii": "cp1252", "euc_kr": "cp949", "gbk": "gb18030",
          "gb2312": "gb18030", "shift_jis": "cp932", "tis-620": "cp874", "big5": "big5hkscs"}
# Labels WHATWG maps to "replacement" (decoding them is an attack surface): never honoured.
_REFUSED = frozenset({"iso-2022-kr", "iso-2022-cn", "iso-2022-cn-ext", "hz-gb-2312",
                      "csiso2022kr", "replacement", "utf-7", "x-user-defined"})
_WESTERN = frozenset({"cp1252", "cp1254"})
_WIDE = frozenset({"utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-16", "utf-32"})

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# XML 1.0 appendix F: "<" in UTF-32 or "<?" in UTF-16, without a BOM.
_NO_BOM_SNIFF = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)
_XML_DECL_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._:-]{0,40})["']"""
)
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]{0,300}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
# The spec prescans 1024 bytes; real pages put the declaration after long comments or
# scripts often enough that a wider window avoids decoding them wrongly.
_PRESCAN = 4096
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")

# Guesses a detector may make about a short Western text: they agree with windows-1252 on
# the letters that matter or are worse (a few accents are no evidence for cp852 over it).
_LATIN_FAMILY = frozenset({
    "ascii", "iso8859-1", "cp1250", "cp1252", "cp1254", "cp1257", "iso8859-2", "iso8859-3",
    "iso8859-4", "iso8859-9", "iso8859-10", "iso8859-13", "iso8859-14", "iso8859-15",
    "iso8859-16", "mac-roman", "mac-latin2", "mac-iceland", "mac-turkish", "cp437", "cp850",
    "cp852", "cp858", "cp860", "cp861", "cp862", "cp863", "cp865",
})
_MAX_DETECTION_CHAOS = 0.2
_DETECTION_BYTES = 200_000


@dataclass(frozen=True)
class Decoded:
    text: str
    codec: str  # Python's codec name
    notes: tuple[str, ...] = ()  # what was overridden, for a feed's warning


def codec_for_label(label: str | None, *, in_document: bool = False) -> str | None:
    """Python's codec for an encoding label, or None when unknown or refused.

    ``in_document``: the label was read from the bytes themselves, so they are
    ASCII-compatible and a UTF-16/32 label is wrong (WHATWG: read as UTF-8).
    """
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if not name or name in _REFUSED:
        return None
    if name in _LABELS:
        return _LABELS[name]
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    if codec in _WIDE:
        if in_document:
            return "utf-8"
        if codec in ("utf-16", "utf-32"):  # no byte order and no BOM: little-endian
            return codec + "-le"
    return _WIDER.get(codec, codec)


def content_type_parts(value: str | None) -> tuple[str, str]:
    """``"Text/XML; Charset=\"UTF-8\""`` -> ``("text/xml", "UTF-8")``."""
    mime, *params = (value or "").split(";")
    charset = ""
    for param in params:
        name, _, arg = param.partition("=")
        if name.strip().lower() == "charset":
            charset = arg.strip().strip("\"'").strip()
    return mime.strip().lower(), charset


def _declared_in_document(content: bytes, *, html: bool) -> str | None:
    head = content[:_PRESCAN]
    for marker, codec in _NO_BOM_SNIFF:
        if head.startswith(marker):
            return codec
    found = _XML_DECL_ENCODING.match(head)
    if found is None and (html or b"<html" in head.lower()):
        found = _META_CHARSET.search(head)
    return codec_for_label(found.group(1).decode("ascii"), in_document=True) if found else None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _guess_codec(content: bytes) -> str:
    """The codec of an unlabelled document that is not UTF-8 (see the module's notes)."""
    best = charset_normalizer.from_bytes(content[:_DETECTION_BYTES]).best()
    if best is None or best.chaos > _MAX_DETECTION_CHAOS:
        return "cp1252"
    codec = codec_for_label(best.encoding)
    return "cp1252" if codec is None or codec in _LATIN_FAMILY else codec


def decode(content: bytes, content_type: str | None = None, *, html: bool = False) -> Decoded:
    """Bytes -> text, never raising; undecodable bytes become U+FFFD, as in a browser.

    ``html``: the document is expected to be an HTML page, so a ``<meta charset>`` counts
    even without an ``<html>`` tag near the top.
    """
    for bom, bom_codec in _BOMS:
        if content.startswith(bom):
            body = content[len(bom):]
            try:
                return Decoded(body.decode(bom_codec), bom_codec)
            except UnicodeDecodeError:
                return Decoded(body.decode(bom_codec, "replace"), bom_codec,
                               (f"invalid {bom_codec} bytes replaced with U+FFFD",))
    _, http_charset = content_type_parts(content_type)
    declared = codec_for_label(http_charset) or _declared_in_document(content, html=html)
    if declared is None:
        if _is_utf8(content):
            return Decoded(content.decode("utf-8"), "utf-8")
        guessed = _guess_codec(content)
        return Decoded(content.decode(guessed, "replace"), guessed,
                       (f"no charset given and not UTF-8; read as {guessed}",))
    if declared in _WESTERN and _UTF8_MULTIBYTE.search(content) and _is_utf8(content):
        return Decoded(content.decode("utf-8"), "utf-8",
                       (f"labelled {declared} but the bytes are UTF-8; read as UTF-8",))
    try:
        return Decoded(content.decode(declared), declared)
    except UnicodeDecodeError:
        pass
    if declared == "utf-8" and not _UTF8_MULTIBYTE.search(content):
        return Decoded(content.decode("cp1252", "replace"), "cp1252",
                       ("labelled utf-8 but the bytes are not UTF-8; read as cp1252",))
    if declared != "utf-8" and _is_utf8(content):
        return Decoded(content.decode("utf-8"), "utf-8",
                       (f"labelled {declared} but the bytes are UTF-8; read as UTF-8",))
    return Decoded(content.decode(declared, "replace"), declared,
                   (f"invalid {declared} bytes replaced with U+FFFD",))


def sniff_encoding(page: bytes, content_type: str | None = None) -> str:
    """The codec a browser would use for an HTML page's bytes (with the guards above)."""
    return decode(page, content_type, html=True).codec


def decode_html(page: bytes, content_type: str | None = None) -> str:
    """An HTML page's bytes as text."""
    return decode(page, content_type, html=True).text
