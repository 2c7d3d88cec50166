"""Serving the web app with uvicorn on a socket bound beforehand.

``bind(host, port)`` opens the listening socket first, so a port already in use fails
``watcher run`` at start-up with a clear error, and port 0 picks a free port. ``WebServer``
serves on a thread of its own with its own event loop (tests, benchmarks, embedding);
``serve(app, sock)`` serves on the calling thread (the web process of ``watcher run``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from watcher.errors import WatcherError

log = logging.getLogger("watcher.web")
STOP_SECONDS = 5
START_SECONDS = 10.0


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named as TCP, so asyncio turns Nagle's algorithm off on each accepted connection (it
    # only does for sockets whose protocol says TCP). With it on, a response's body, sent
    # after its headers, waits for the client's delayed acknowledgement of them.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WatcherError(f"http: cannot listen on {host}:{port}: {exc.strerror or exc}"
                           ) from exc
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_server(app: Any) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off",
        timeout_graceful_shutdown=STOP_SECONDS, server_header=False))


class WebServer:
    def __init__(self, app: Any, host: str, port: int) -> None:
        self._socket = bind(host, port)
        self.url = url_of(self._socket)
        self._server = uvicorn_server(app)
        self._thread = threading.Thread(target=self._run, name="watcher-web", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> WebServer:
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise WatcherError(f"http: the web server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(STOP_SECONDS + 1)
        self._socket.close()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
