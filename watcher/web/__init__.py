"""The web pages, JSON API, Atom feeds, metrics and health checks of ``watcher run``.

``app.create_app(store, rules, config)`` builds the Starlette application; ``server.WebServer``
serves it on its own thread and event loop, so pages never hold up a poll. Nothing here
writes to the index except the outbox's retry button. See docs/web.md.
"""
