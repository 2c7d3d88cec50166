"""Authenticated content distribution (WebSub section 8): ``X-Hub-Signature: method=hex``,
the HMAC of the raw body keyed with the subscription's secret."""

from __future__ import annotations

import hashlib
import hmac

# The methods the spec lists; anything else is not a valid signature.
METHODS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
           "sha512": hashlib.sha512}


def sign(body: bytes, secret: str, method: str = "sha256") -> str:
    """The header value a hub sends for ``body`` (tests and the test hub use it)."""
    return f"{method}={hmac.new(secret.encode(), body, METHODS[method]).hexdigest()}"


def signature_valid(header: str | None, body: bytes, secret: str) -> bool:
    """Whether ``header`` is a correct signature of ``body``, compared in constant time."""
    if not header:
        return False
    method, _, given = header.strip().partition("=")
    digest = METHODS.get(method.strip().lower())
    if digest is None or not given:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())
