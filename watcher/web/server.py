"""Serving the web app beside the daemon: uvicorn on a thread of its own, with its own
event loop, so a slow page never holds up a poll (and a busy poll never a page).

``WebServer(app, host, port).start()`` binds the socket first, so a port already in use
fails ``watcher run`` at start-up with a clear error, and port 0 picks a free port
(``.port`` says which); ``stop()`` lets requests in flight finish.
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


class WebServer:
    def __init__(self, app: Any, host: str, port: int) -> None:
        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise WatcherError(f"http: cannot listen on {host}:{port}: "
                               f"{exc.strerror or exc}") from exc
        self._socket.listen(128)
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off",
            timeout_graceful_shutdown=STOP_SECONDS, server_header=False))
        self._thread = threading.Thread(target=self._run, name="watcher-web", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> WebServer:
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise WatcherError(f"http: the web server did not start on {self.url}")
            time.sleep(0.01)
        log.info("web pages at %s", self.url)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(STOP_SECONDS + 1)
        self._socket.close()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
