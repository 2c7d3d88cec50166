"""URLs as the watcher compares and names them.

``canonical_url`` maps the many spellings of one article's address to one string, so that
dedupe works across feeds, redirects and share links: the scheme and host are lower-cased
(an international host becomes punycode), the default port, the fragment and tracking
parameters (``utm_*``, ``fbclid``, ...) are dropped, percent-encoding is normalised
(unreserved characters decoded, other escapes upper-cased, unsafe characters encoded), dot
segments are removed and an empty path becomes ``/``. Other query parameters keep their
order: some sites route on them (``?p=123``).

``url_hash`` names an article file: the first 16 hex digits of SHA-256 of the canonical URL.

Every function here is pure and total: hostile feeds hand us garbage, so a URL that cannot be
parsed is returned trimmed rather than raising.
"""

from __future__ import annotations

import hashlib
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import idna

__all__ = ["canonical_url", "is_http_url", "resolve", "site_of", "url_hash"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Query keys that only say where a click came from. Prefixes cover families whose members
# vary (Google Analytics campaigns, AT Internet as used by the BBC, Nielsen as used by the BBC
# and others); exact names cover the one-off click ids of ad networks, mail tools and sites.
_TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "hsa_")
_TRACKING_KEYS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "ocid", "cmpid",
        "cmp", "ito", "icid", "smid", "s_cid", "sr_share", "xtor", "mkt_tok", "_hsenc",
        "_hsmi", "hsctatracking", "_ga", "_gl", "oly_anon_id", "oly_enc_id", "vero_id",
        "vero_conv", "wt.mc_id", "wt_mc_id", "rb_clickid", "spm",
        "guccounter", "guce_referrer", "guce_referrer_sig", "__twitter_impression",
    }
)

# RFC 3986 unreserved characters: an escape of one of these means the character itself.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters that may stand literally in each component (reserved ones keep their meaning).
_SUB_DELIMS = "!$&'()*+,;="
_PATH_SAFE = _UNRESERVED | frozenset(_SUB_DELIMS + ":@/")
_QUERY_PART_SAFE = _UNRESERVED | frozenset("!$'()*+,;:@/?")  # '&' and '=' split the query
_HEX = frozenset("0123456789abcdefABCDEF")


def canonical_url(url: str) -> str:
    """The one spelling of ``url`` used for dedupe and file names (see the module docstring)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    netloc = _canonical_netloc(parts, scheme, port)
    path = _normalise_escapes(parts.path, _PATH_SAFE)
    if netloc:
        path = _remove_dot_segments(path) or "/"
    query = _canonical_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def url_hash(canonical: str) -> str:
    """First 16 lowercase hex digits of SHA-256 of the canonical URL (the file name suffix)."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def site_of(url: str) -> str:
    """The host without a leading ``www.``, lower-case, punycode, no port: ``bbc.co.uk``."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    host = _ascii_host(host)
    return host[4:] if host.startswith("www.") else host


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host (what the fetcher may be asked for)."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


def resolve(base: str, href: str) -> str:
    """``href`` made absolute against ``base``; feeds often wrap links in whitespace."""
    href = href.strip()
    try:
        return urljoin(base.strip(), href)
    except ValueError:
        return href


def _canonical_netloc(parts: SplitResult, scheme: str, port: int | None) -> str:
    host = parts.hostname or ""
    if not host:
        return parts.netloc  # e.g. "file:///x" or an opaque URL: nothing to normalise
    host = _ascii_host(host)
    if ":" in host:  # IPv6 literal: urlsplit removed the brackets
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    netloc = f"{userinfo}@{host}" if userinfo else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    return netloc


def _ascii_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if host.isascii():
        return host
    try:
        # UTS 46 mapping, as browsers (and httpx, which uses the same library) do.
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        try:
            return host.encode("idna").decode("ascii")  # the older IDNA 2003 rules
        except UnicodeError:
            return host  # not a valid name; keep it rather than invent one


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    kept: list[str] = []
    for pair in query.split("&"):
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        key = _normalise_escapes(key, _QUERY_PART_SAFE)
        if _is_tracking(key):
            continue
        kept.append(key + eq + _normalise_escapes(value, _QUERY_PART_SAFE | {"="}))
    return "&".join(kept)


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in _TRACKING_KEYS or key.startswith(_TRACKING_PREFIXES)


def _normalise_escapes(text: str, safe: frozenset[str]) -> str:
    """Decode escapes of unreserved characters, upper-case the others, encode the unsafe.

    The result is a fixed point (running it again changes nothing), which is what makes
    ``canonical_url`` idempotent.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%" and i + 2 < len(text) and text[i + 1] in _HEX and text[i + 2] in _HEX:
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, so that ``/a/./b/../c`` and ``/a/c`` are one URL."""
    if "." not in path:
        return path
    output: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./") or path.startswith("/./"):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../"):
            path = path[3:]
            if output:
                output.pop()
        elif path == "/..":
            path = "/"
            if output:
                output.pop()
        elif path in (".", ".."):
            path = ""
        else:
            start = 1 if path.startswith("/") else 0
            end = path.find("/", start)
            segment, path = (path, "") if end == -1 else (path[:end], path[end:])
            output.append(segment)
    return "".join(output)
