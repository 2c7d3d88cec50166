"""Channel URLs carry secrets (SMTP passwords, Slack webhook paths, Apprise tokens): they are
shown and logged only through these helpers."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def redact_url(url: str) -> str:
    """``scheme://host[:port]/***``: user, password, path and query never appear."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    if not parts.scheme:
        return "***"
    user = "***@" if parts.username or parts.password else ""
    tail = "/***" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{user}{host}{port}{tail}"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret URL (and its password/path pieces) replaced by its redacted
    form; for error messages from libraries that quote the URL they were given."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, redact_url(secret))
        try:
            parts = urlsplit(secret)
            pieces = [parts.password, parts.path if len(parts.path) > 8 else None]
        except ValueError:
            continue
        for piece in pieces:
            if piece:
                text = text.replace(piece, "***")
    return text
