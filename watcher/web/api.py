"""``/api/...``: the same answers as the pages, as JSON (documented in docs/web.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.rules import best_snippet
from watcher.web.context import BadRequest, WebContext
from watcher.web.model import explanation_json, snippet_json


def _error(status: int, message: str, **more: Any) -> JSONResponse:
    return JSONResponse({"error": {"message": message, **more}}, status_code=status)


def routes(context: WebContext) -> list[BaseRoute]:
    def matches(request: Request) -> Response:
        try:
            page = context.front_page(request.query_params)
        except BadRequest as exc:
            return _error(400, str(exc))
        return JSONResponse({"items": [i.as_json() for i in page.items],
                             "next_before": page.next_before, "filters": page.wanted})

    def article(request: Request) -> Response:
        found = context.article(request.path_params["number"])
        if found is None:
            return _error(404, "no such article")
        stored, explained = found
        item = stored.article
        return JSONResponse({
            "number": stored.number, "url": item.url, "title": item.title,
            "feed": item.feed, "site": item.site, "summary": item.description,
            "paragraphs": list(item.paragraphs), "author": item.author,
            "published": item.published.isoformat() if item.published else None,
            "fetched": item.fetched.isoformat(), "text_source": item.text_source,
            "matches": [{"rule": m.rule,
                         "hits": [list(h) for h in m.hits],
                         "explain": explanation_json(explained[m.rule], item)
                         if m.rule in explained else None} for m in stored.matches]})

    def feeds(_request: Request) -> Response:
        return JSONResponse({"feeds": [row.as_json() for row in context.feeds()]})

    def rules(_request: Request) -> Response:
        found, counts, days = context.rules_overview()
        return JSONResponse({"days": days, "rules": [
            {"name": r.name, "query": r.query, "tags": list(r.tags), "enabled": r.enabled,
             "alert": r.alert, "matches_per_day": counts.get(r.name, {})} for r in found]})

    def test(request: Request) -> Response:
        try:
            outcome = context.test(request.query_params)
        except BadRequest as exc:
            return _error(400, str(exc))
        if outcome is None:
            return _error(400, "give a query as q= or a rule's name as rule=")
        if outcome.error is not None:
            return _error(400, outcome.error, column=outcome.column, pointer=outcome.pointer)
        assert outcome.result is not None and outcome.since is not None
        result = outcome.result
        hits = []
        for hit, why in zip(result.hits, outcome.explanations, strict=True):
            item = hit.stored.article
            found = best_snippet(item, hit.hits)
            hits.append({"number": hit.stored.number, "title": item.title, "url": item.url,
                         "feed": item.feed, "when": (item.published or item.fetched).isoformat(),
                         "snippet": snippet_json(found) if found else None,
                         "explain": explanation_json(why, item)})
        return JSONResponse({"target": outcome.target, "label": outcome.label,
                             "since": outcome.since.isoformat(), "scanned": result.scanned,
                             "matched": result.matched, "complete": result.complete,
                             "next_before": outcome.next_before,
                             "per_feed": dict(result.per_feed), "hits": hits})

    return [
        Route("/api/matches", matches),
        Route("/api/articles/{number:int}", article),
        Route("/api/feeds", feeds),
        Route("/api/rules", rules),
        Route("/api/test", test),
    ]
