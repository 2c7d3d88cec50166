"""canonical_url, url_hash, site_of, is_http_url, resolve: examples and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.urls import canonical_url, is_http_url, resolve, site_of, url_hash


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Example.COM/a", "http://www.example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com?x=1", "https://example.com/?x=1"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/%7euser/%2f%41", "https://example.com/~user/%2FA"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/caf\u00e9", "https://example.com/caf%C3%A9"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://b\u00fccher.de/x", "https://xn--bcher-kva.de/x"),
        ("https://example.com./x", "https://example.com/x"),
        ("  https://example.com/x \n", "https://example.com/x"),
        (
            "https://www.theguardian.com/world/2023/jul/19/mi6-chief?CMP=share_btn_tw",
            "https://www.theguardian.com/world/2023/jul/19/mi6-chief",
        ),
        (
            "https://www.bbc.co.uk/news/uk-66240575?at_medium=RSS&at_campaign=KARANGA",
            "https://www.bbc.co.uk/news/uk-66240575",
        ),
        (
            "https://e.com/a?utm_source=rss&id=7&UTM_Medium=x&fbclid=Z&gclid=1&mc_cid=2"
            "&mc_eid=3&ocid=4&cmpid=5&ito=6&page=2",
            "https://e.com/a?id=7&page=2",
        ),
        ("https://e.com/a?b=2&a=1", "https://e.com/a?b=2&a=1"),  # order kept: sites route on it
        ("https://e.com/a?q=a%2bb&r=x+y", "https://e.com/a?q=a%2Bb&r=x+y"),
        ("https://e.com/a?utm%5Fsource=x&k", "https://e.com/a?k"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("http://example.com:bad/x", "http://example.com:bad/x"),  # unparsable: kept
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_url_hash_is_sha256_prefix() -> None:
    # sha256("https://example.com/") computed independently with `sha256sum`.
    assert url_hash("https://example.com/") == "0f115db062b7c0dd"
    assert re.fullmatch(r"[0-9a-f]{16}", url_hash("x"))


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.theguardian.com/world", "theguardian.com"),
        ("https://feeds.bbci.co.uk/news/rss.xml", "feeds.bbci.co.uk"),
        ("https://WWW.Independent.co.uk:443/x", "independent.co.uk"),
        ("https://b\u00fccher.de/", "xn--bcher-kva.de"),
        ("not a url", ""),
        ("http://[::1", ""),
    ],
)
def test_site_of(url: str, site: str) -> None:
    assert site_of(url) == site


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/", True),
        ("HTTP://example.com", True),
        ("ftp://example.com/", False),
        ("javascript:alert(1)", False),
        ("file:///etc/passwd", False),
        ("/relative/path", False),
        ("https:///nohost", False),
        ("http://example.com:99999/", False),
        ("http://[::1", False),
    ],
)
def test_is_http_url(url: str, ok: bool) -> None:
    assert is_http_url(url) is ok


@pytest.mark.parametrize(
    ("base", "href", "expected"),
    [
        ("https://e.com/news/feed.xml", "/a/1.html", "https://e.com/a/1.html"),
        ("https://e.com/news/feed.xml", "2.html", "https://e.com/news/2.html"),
        ("https://e.com/news/feed.xml", "  \n https://o.org/x \n", "https://o.org/x"),
        ("https://e.com/news/feed.xml", "//cdn.e.com/x", "https://cdn.e.com/x"),
    ],
)
def test_resolve(base: str, href: str, expected: str) -> None:
    assert resolve(base, href) == expected


# --- properties -------------------------------------------------------------------------

_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/?#"),
    max_size=12,
)
_host = st.one_of(
    st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?(\.[A-Za-z]{2,6}){1,2}",
                  fullmatch=True),
    st.sampled_from(["b\u00fccher.de", "WWW.BBC.CO.UK", "[::1]", "127.0.0.1", "xn--bcher-kva.de"]),
)
_param = st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8))


@st.composite
def http_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "HtTpS"]))
    host = draw(_host)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = "/".join(draw(st.lists(_segment, max_size=4)))
    params = draw(st.lists(_param, max_size=4))
    query = "&".join(f"{k}={v}" for k, v in params if "&" not in k + v and "#" not in k + v)
    url = f"{scheme}://{host}{port}/{path}"
    # Surrounding whitespace is trimmed as noise, so a URL that ends in some cannot keep it
    # once a fragment follows: generate URLs as they stand in an href, trimmed.
    return (f"{url}?{query}" if query else url).strip()


@given(st.one_of(http_urls(), st.text(max_size=40)))
@settings(max_examples=300)
def test_canonical_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@given(http_urls(), st.text(max_size=10))
def test_fragment_does_not_matter(url: str, fragment: str) -> None:
    assert canonical_url(f"{url}#{fragment}") == canonical_url(url)


@given(
    http_urls(),
    st.sampled_from(["utm_source", "utm_campaign", "UTM_MEDIUM", "fbclid", "gclid", "mc_cid",
                     "mc_eid", "ocid", "cmpid", "at_medium", "at_campaign", "ito"]),
    st.from_regex(r"[A-Za-z0-9_.-]{0,8}", fullmatch=True),
)
def test_tracking_parameters_do_not_matter(url: str, key: str, value: str) -> None:
    separator = "&" if "?" in url else "?"
    assert canonical_url(f"{url}{separator}{key}={value}") == canonical_url(url)


@given(st.text(max_size=60))
def test_hash_format(text: str) -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", url_hash(text))


@given(http_urls())
def test_canonical_http_urls_stay_http_urls(url: str) -> None:
    canonical = canonical_url(url)
    assert is_http_url(canonical)
    assert canonical.startswith(("http://", "https://"))
    assert "#" not in canonical
