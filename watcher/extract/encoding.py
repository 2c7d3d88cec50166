"""Bytes to text for HTML pages, resolving the encoding the way browsers do.

Order (WHATWG "encoding sniffing"): a byte-order mark wins; then the charset of the HTTP
Content-Type; then a ``<meta charset>`` / ``http-equiv`` declaration near the top; then the
bytes themselves (valid UTF-8 is UTF-8, otherwise windows-1252, the web's legacy default).

Two deliberate departures, both to keep mojibake out of stored files:

- A declared single-byte Western encoding (latin-1/windows-1252, the default of many
  servers) on bytes that are valid UTF-8 with multi-byte sequences is read as UTF-8:
  such bytes are practically never intended as latin-1 (``Ã©`` for ``é``).
- A declared UTF-8 on bytes without a single valid multi-byte sequence but with stray high
  bytes is a mislabelled legacy page and is read as windows-1252 instead of turning every
  accented letter into U+FFFD.
"""

from __future__ import annotations

import codecs
import re

# WHATWG labels that Python spells differently or that browsers remap; anything else goes
# through codecs.lookup. latin-1 and ASCII labels mean windows-1252 on the web.
_LABELS: dict[str, str] = {
    **dict.fromkeys(
        ("ascii", "us-ascii", "iso-8859-1", "iso8859-1", "iso88591", "iso_8859-1", "latin1",
         "latin-1", "l1", "cp819", "ibm819", "csisolatin1", "iso-ir-100", "ansi_x3.4-1968",
         "iso_8859-1:1987", "windows-1252", "cp1252", "x-cp1252"),
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
# Labels WHATWG maps to "replacement" (decoding them is an attack surface): never honoured.
_REFUSED = frozenset({"iso-2022-kr", "iso-2022-cn", "iso-2022-cn-ext", "hz-gb-2312",
                      "csiso2022kr", "replacement", "utf-7", "x-user-defined"})
_WESTERN = frozenset({"cp1252", "cp1254"})
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([^"';\s]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
# The spec prescans 1024 bytes; real pages put the declaration after long comments or
# scripts often enough that a wider window avoids decoding them wrongly.
_PRESCAN = 4096
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


def codec_for_label(label: str | None, *, from_meta: bool = False) -> str | None:
    """The Python codec for an encoding label, or None when unknown or refused."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _REFUSED:
        return None
    if name.startswith("utf-16") and from_meta:
        # A page that could be read far enough to find the tag is not UTF-16 (WHATWG).
        return "utf-8"
    if name in _LABELS:
        return _LABELS[name]
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    found = _HEADER_CHARSET.search(content_type)
    return found.group(1) if found else None


def meta_charset(html: bytes) -> str | None:
    found = _META_CHARSET.search(html[:_PRESCAN])
    return found.group(1).decode("ascii", "replace") if found else None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def sniff_encoding(html: bytes, content_type: str | None = None) -> str:
    """The codec a browser would use for these bytes (with the two guards above)."""
    for bom, codec in _BOMS:
        if html.startswith(bom):
            return codec
    declared = (codec_for_label(header_charset(content_type))
                or codec_for_label(meta_charset(html), from_meta=True))
    if declared in _WESTERN and _UTF8_MULTIBYTE.search(html) and _is_utf8(html):
        return "utf-8"
    if declared == "utf-8" and not _is_utf8(html) and not _UTF8_MULTIBYTE.search(html):
        return "cp1252"
    if declared:
        return declared
    return "utf-8" if _is_utf8(html) else "cp1252"


def decode_html(html: bytes, content_type: str | None = None) -> str:
    """Decode page bytes to text; undecodable bytes become U+FFFD, as in a browser."""
    codec = sniff_encoding(html, content_type)
    for bom, bom_codec in _BOMS:
        if codec == bom_codec and html.startswith(bom):
            html = html[len(bom):]
            break
    return html.decode(codec, errors="replace")
