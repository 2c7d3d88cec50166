"""Real local peers for tests and benchmarks: an HTTP server on 127.0.0.1 with a route table.

    with LocalHTTPServer() as server:
        server.route("/feed.xml", body=xml, content_type="application/rss+xml")
        url = server.url("/feed.xml")

Routes answer with an ETag derived from the body and honour If-None-Match with 304.
Every request is recorded (method, path, headers) in ``server.requests``.
A route can be a callable ``(request) -> Reply`` for anything dynamic.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: bool = True  # add an ETag and answer If-None-Match with 304


Handler = Callable[[Request], Reply]


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when a watcher fetches many pages at once
    # (clients then wait out their read timeout); a real site accepts far more.
    request_queue_size = 256


class LocalHTTPServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path,
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                with outer._lock:
                    outer.requests.append(request)
                    handler = outer.routes.get(self.path.split("?", 1)[0])
                    handler = outer.routes.get(self.path, handler)
                reply = handler(request) if handler else Reply(404, b"not found", etag=False)
                headers = dict(reply.headers)
                status, payload = reply.status, reply.body
                if reply.etag and status == 200:
                    tag = '"' + hashlib.sha256(payload).hexdigest()[:16] + '"'
                    headers.setdefault("ETag", tag)
                    if request.headers.get("if-none-match") == headers["ETag"]:
                        status, payload = 304, b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = _serve

        self._httpd = _Server((host, port), _Handler)
        self._httpd.daemon_threads = True
        # A short poll interval makes stop() quick, so tests can afford a server each.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, body: bytes | str = b"", *, status: int = 200,
              content_type: str = "text/html; charset=utf-8",
              headers: Mapping[str, str] | None = None, etag: bool = True) -> None:
        payload = body.encode("utf-8") if isinstance(body, str) else body
        all_headers = {"Content-Type": content_type, **(headers or {})}
        reply = Reply(status, payload, all_headers, etag)
        self.routes[path] = lambda _request: reply

    def handle(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def reset(self) -> None:
        """Forget every route and recorded request (a server shared by several tests)."""
        with self._lock:
            self.routes.clear()
            self.requests.clear()

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def start(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
