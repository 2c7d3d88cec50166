"""The HTML pages: latest matches, one article, rules and the tester, feeds, the outbox.

Jinja2 renders every page with autoescape on, so article text (titles, bodies, URLs) is
always data, never markup. The outbox's retry form is the only request that changes
anything; it carries a double-submit CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.digest.present import safe_url
from watcher.web.access import CSRF_COOKIE, CSRF_FIELD, csrf_ok, new_csrf_token
from watcher.web.atom import rule_feed
from watcher.web.context import TESTER_SCAN, BadRequest, WebContext
from watcher.web.model import explanation_json, mark_article

_env = Environment(loader=PackageLoader("watcher.web", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


_env.filters["when"] = _when
_env.filters["safe_url"] = safe_url
_env.globals["urlencode"] = urlencode


def render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**values), status_code=status)


def bad_request(exc: BadRequest) -> HTMLResponse:
    return render("error.html", 400, title="Bad request", message=str(exc))


def routes(context: WebContext) -> list[BaseRoute]:
    def index(request: Request) -> Response:
        try:
            page = context.front_page(request.query_params)
        except BadRequest as exc:
            return bad_request(exc)
        rules = context.rules().rules
        tags = sorted({t for r in rules for t in r.tags})
        more = None
        if page.next_before is not None:
            more = "?" + urlencode({**page.wanted, "before": page.next_before})
        return render("index.html", page=page, more=more, rules=rules, tags=tags,
                      feeds=[f.name for f in context.config.feeds], nav="matches")

    def article(request: Request) -> Response:
        number = request.path_params["number"]
        found = context.article(number)
        if found is None:
            return render("error.html", 404, title="Not found",
                          message=f"There is no article number {number} in the index.")
        stored, explained = found
        hits = [h for m in stored.matches for h in m.hits]
        return render("article.html", stored=stored, item=stored.article,
                      marked=mark_article(stored.article, hits),
                      explained={rule: explanation_json(e, stored.article)
                                 for rule, e in explained.items()}, nav="matches")

    def rules_page(request: Request) -> Response:
        try:
            outcome = context.test(request.query_params)
        except BadRequest as exc:
            return bad_request(exc)
        rules, counts, days = context.rules_overview()
        explanations = []
        if outcome is not None and outcome.result is not None:
            explanations = [explanation_json(e, h.stored.article)
                            for e, h in zip(outcome.explanations, outcome.result.hits,
                                            strict=True)]
        older = None
        if outcome is not None and outcome.next_before is not None:
            older = "/rules?" + urlencode({**request.query_params,
                                           "before": outcome.next_before}) + "#tester"
        return render("rules.html", rules=rules, counts=counts, days=days,
                      outcome=outcome, explanations=explanations, scan=TESTER_SCAN,
                      older=older, params=request.query_params, nav="rules")

    def atom(request: Request) -> Response:
        name = request.path_params["name"]
        items = context.rule_feed(name)
        if items is None:
            return render("error.html", 404, title="Not found", message=f"No rule '{name}'.")
        http = context.config.http
        base = (http.public_url if http and http.public_url else str(request.base_url))
        return Response(rule_feed(name, items, base_url=base.rstrip("/")),
                        media_type="application/atom+xml; charset=utf-8")

    def feeds(_request: Request) -> Response:
        return render("feeds.html", rows=context.feeds(), nav="feeds")

    def outbox(request: Request) -> Response:
        token = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
        response = render("outbox.html", deliveries=context.deliveries(), csrf=token,
                          csrf_field=CSRF_FIELD, done=request.query_params.get("done"),
                          nav="outbox")
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                            path="/outbox")
        return response

    async def retry(request: Request) -> Response:
        form = await request.form()
        submitted = form.get(CSRF_FIELD)
        if not csrf_ok(request.cookies.get(CSRF_COOKIE),
                       submitted if isinstance(submitted, str) else None):
            return render("error.html", 403, title="Forbidden",
                          message="The form's security token is missing or stale: reload "
                                  "the outbox page and try again.")
        raw = form.get("delivery")
        if not isinstance(raw, str) or not raw.isdigit():
            return render("error.html", 400, title="Bad request", message="No delivery given.")
        done = await run_in_threadpool(context.retry, int(raw))
        return RedirectResponse(f"/outbox?done={'retried' if done else 'unchanged'}",
                                status_code=303)

    return [
        Route("/", index),
        Route("/articles/{number:int}", article),
        Route("/rules", rules_page),
        Route("/rules/{name}.atom", atom),
        Route("/feeds", feeds),
        Route("/outbox", outbox),
        Route("/outbox/retry", retry, methods=["POST"]),
    ]
