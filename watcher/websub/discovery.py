"""Which hub and topic a feed offers (WebSub section 4, "Discovery").

The spec prefers the HTTP ``Link`` headers of the topic's response (``rel=hub``,
``rel=self``) over links in the document; a document without ``rel=self`` is subscribed
to at the URL it was fetched from. Pure: headers and the parsed feed in, an offer out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from watcher.types import ParsedFeed
from watcher.urls import is_http_url, resolve
from watcher.websub.model import HubOffer

# One link-value of RFC 8288: <URI-reference> followed by ;-separated parameters. The URI
# is in angle brackets, so commas inside it do not split the list.
_LINK_VALUE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,=]+(?:=\s*(?:\"[^\"]*\"|[^;,]*))?)*)")
_PARAM = re.compile(r";\s*([^\s=;,]+)\s*(?:=\s*(?:\"([^\"]*)\"|([^;,]*)))?")


def link_header(value: str, base: str) -> dict[str, list[str]]:
    """``Link`` header text -> {relation: [absolute http(s) URLs, in order]}."""
    found: dict[str, list[str]] = {}
    for match in _LINK_VALUE.finditer(value):
        target = resolve(base, match.group(1).strip())
        if not is_http_url(target):
            continue
        for param in _PARAM.finditer(match.group(2)):
            if param.group(1).lower() != "rel":
                continue
            rels = (param.group(2) if param.group(2) is not None else param.group(3) or "")
            for rel in rels.lower().split():
                found.setdefault(rel, []).append(target)
    return found


def hub_offer(headers: Mapping[str, str], parsed: ParsedFeed | None, url: str
              ) -> HubOffer | None:
    """The hub to subscribe at and the topic to name, or None when the feed offers none.

    ``headers``: the response's (lower-cased names); ``url``: where the feed was fetched
    from after redirects."""
    links = link_header(headers.get("link", ""), url)
    hubs = links.get("hub") or (list(parsed.hubs) if parsed else [])
    if not hubs:
        return None
    selves = links.get("self") or ([parsed.self_url] if parsed and parsed.self_url else [])
    return HubOffer(hub=hubs[0], topic=selves[0] if selves else url)
