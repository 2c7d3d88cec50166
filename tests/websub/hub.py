"""A WebSub hub for tests, on the local HTTP server of ``tests/support/servers.py``.

It does what a hub does to a subscriber: takes ``hub.mode=subscribe|unsubscribe`` POSTs,
verifies the intent by a GET on the callback (synchronously, before answering 202, which
the spec allows and which is the hardest case for a subscriber), remembers the secret of
each verified subscription, and distributes content as signed POSTs. Nothing is mocked:
every exchange is real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs

import httpx

from tests.support.servers import LocalHTTPServer, Reply, Request
from watcher.websub.signature import sign


@dataclass(frozen=True)
class Verification:
    mode: str
    topic: str
    status: int  # what the callback answered
    echoed: bool  # the body was the challenge


@dataclass(frozen=True)
class HubSubscription:
    topic: str
    callback: str
    secret: str
    lease_seconds: int


class TestHub:
    __test__ = False  # not a test class, whatever its name

    def __init__(self, server: LocalHTTPServer, path: str = "/hub", *,
                 grant_lease: int | None = None) -> None:
        self.server = server
        self.url = server.url(path)
        self.grant_lease = grant_lease  # None: what the subscriber asked for
        self.requests: list[dict[str, str]] = []
        self.verifications: list[Verification] = []
        self.subscriptions: dict[str, HubSubscription] = {}  # callback -> verified
        self.answer = 202  # what subscription requests get (a test may make the hub fail)
        self._lock = threading.Lock()
        self._http = httpx.Client(trust_env=False, timeout=10)
        server.handle(path, self._request)

    def close(self) -> None:
        self._http.close()

    def _request(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        with self._lock:
            self.requests.append(form)
        if self.answer >= 300:
            return Reply(self.answer, b"hub says no", etag=False)
        lease = self.grant_lease or int(form.get("hub.lease_seconds", "86400"))
        verification = self.verify(form["hub.callback"], form["hub.mode"], form["hub.topic"],
                                   lease)
        if verification.echoed:
            with self._lock:
                if form["hub.mode"] == "subscribe":
                    self.subscriptions[form["hub.callback"]] = HubSubscription(
                        form["hub.topic"], form["hub.callback"], form.get("hub.secret", ""),
                        lease)
                else:
                    self.subscriptions.pop(form["hub.callback"], None)
        return Reply(202, b"", etag=False)

    def verify(self, callback: str, mode: str, topic: str, lease: int = 3600) -> Verification:
        """The hub's GET on the callback; recorded."""
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        answer = self._http.get(callback, params=params)
        done = Verification(mode, topic, answer.status_code,
                            answer.status_code == 200 and answer.text == challenge)
        with self._lock:
            self.verifications.append(done)
        return done

    def deny(self, callback: str, topic: str, reason: str) -> int:
        return self._http.get(callback, params={"hub.mode": "denied", "hub.topic": topic,
                                                "hub.reason": reason}).status_code

    def publish(self, callback: str, body: bytes, *, secret: str | None = None,
                method: str = "sha256", signature: str | None = None,
                signed: bool = True) -> httpx.Response:
        """Distribute ``body`` to ``callback``, signed with the subscription's secret
        (or ``secret``), or with ``signature`` as given, or unsigned."""
        headers = {"Content-Type": "application/atom+xml",
                   "Link": f'<{self.url}>; rel="hub"'}
        if signed:
            key = secret if secret is not None else self.subscriptions[callback].secret
            headers["X-Hub-Signature"] = signature or sign(body, key, method)
        return self._http.post(callback, content=body, headers=headers)
