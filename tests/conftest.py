"""Fixtures every test folder may use: real servers started by the tests themselves."""

from tests.support.postgres import postgres_server

__all__ = ["postgres_server"]
