"""The Starlette application: routes, the access check and the security headers.

``create_app(store, rules, config)``: ``rules`` is the rules provider of the daemon (a
callable returning the rule set in force), ``config`` the Config or a callable returning the
one in force. Starlette was chosen over a bigger framework because the pages need routing,
forms and an ASGI app that uvicorn serves on its own loop, and nothing else (docs/web.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from watcher.config import Config
from watcher.rules import RuleSet
from watcher.store import Store
from watcher.web import api, pages
from watcher.web.access import authorized
from watcher.web.context import WebContext
from watcher.web.metrics_view import exposition, index_registry, process_exposition

STATIC = Path(__file__).parent / "static"
# Scripts are never needed: every page works with links and forms. Article text therefore
# cannot run anything, even if escaping were ever missed.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
OPEN_PATHS = ("/livez", "/readyz")  # probes from the machine's supervisor need no token


def create_app(store: Store, rules: Callable[[], RuleSet],
               config: Config | Callable[[], Config], *, token: str | None = None,
               extra_routes: Sequence[BaseRoute] = (), open_prefixes: Sequence[str] = (),
               process_metrics: Callable[[], bytes] = process_exposition,
               collectors: Sequence[Collector] = ()) -> Starlette:
    """``extra_routes``: more endpoints on the same server (e.g. WebSub callbacks), those
    under ``open_prefixes`` reachable without the token (they check their own signature).
    ``process_metrics``: the daemon's counters in Prometheus text (this process's own by
    default; the web process of ``watcher run`` asks the daemon for them). ``collectors``:
    what the extra routes count, in this process, shown with the rest on ``/metrics``."""
    context = WebContext(store, rules, config)
    registry = index_registry(store)
    for collector in collectors:
        registry.register(collector)

    def metrics(_request: Request) -> Response:
        try:
            body = exposition(registry, process_metrics)
        except (TimeoutError, OSError, EOFError) as exc:
            return PlainTextResponse(f"the daemon's counters are not available: {exc}\n",
                                     status_code=503)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    def livez(_request: Request) -> Response:
        return PlainTextResponse("ok\n")

    def readyz(_request: Request) -> Response:
        if context.reading.answers():
            return PlainTextResponse("ok\n")
        return PlainTextResponse("the index does not answer\n", status_code=503)

    routes = [
        *pages.routes(context),
        *api.routes(context),
        Route("/metrics", metrics),
        Route("/livez", livez),
        Route("/readyz", readyz),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *extra_routes,
    ]
    middleware = [Middleware(BaseHTTPMiddleware,
                             dispatch=_guard(token, tuple(open_prefixes)))]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.context = context
    return app


Dispatch = Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]


def _guard(token: str | None, open_prefixes: tuple[str, ...]) -> Dispatch:
    async def dispatch(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if (path not in OPEN_PATHS and not (open_prefixes and path.startswith(open_prefixes))
                and not authorized(request.headers.get("authorization"), token)):
            response: Response = PlainTextResponse(
                "authorization required\n", status_code=401,
                headers={"www-authenticate": 'Basic realm="watcher", charset="UTF-8"'})
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return dispatch
