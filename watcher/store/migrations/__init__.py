"""Alembic's environment and the index's revisions (``versions/``); see ``docs/store.md``."""
