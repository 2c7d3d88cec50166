"""Who may use the web pages: loopback by default, a token for anything else, and the CSRF
check of the one form that changes something (the outbox's retry button).

Pure functions on strings; the middleware in ``app.py`` applies them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import secrets

CSRF_COOKIE = "watcher_csrf"
CSRF_FIELD = "csrf_token"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0: reachable from elsewhere, or unknown


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``token``: ``Bearer TOKEN``, or basic
    auth with TOKEN as the password (any user name, so a browser's login prompt works).
    No token configured: everyone is (the server then only listens on loopback)."""
    if token is None:
        return True
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _user, _, password = decoded.partition(":")
        return hmac.compare_digest(password.encode(), token.encode())
    return False


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    """Double-submit check: the form's token equals the cookie's. A page on another site can
    make the browser send the cookie, but cannot read it to put it in the form."""
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())
