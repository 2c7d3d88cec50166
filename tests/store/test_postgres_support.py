"""The PostgreSQL the tests start: skipped with a reason where it is not installed, a
failure instead when servers are required (CI), and nothing left behind when stopped."""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.support import postgres
from tests.support.postgres import PostgresServer, binaries_or_skip


def test_missing_postgresql_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_binaries", lambda: None)
    monkeypatch.delenv("WATCHER_REQUIRE_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        binaries_or_skip()


def test_missing_postgresql_fails_when_servers_are_required(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_binaries", lambda: None)
    monkeypatch.setenv("WATCHER_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="WATCHER_REQUIRE_SERVERS=1 but"):
        binaries_or_skip()


def test_a_server_runs_unprivileged_and_is_removed_when_stopped() -> None:
    with PostgresServer.start(binaries_or_skip()) as server:
        url = server.create_database("probe")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("probe",)
            pid = conn.info.backend_pid
        assert server.root.exists()
        if os.geteuid() == 0:  # PostgreSQL refuses root: the cluster belongs to nobody
            assert server.data.stat().st_uid != 0
        assert pid > 0
    assert not server.root.exists()
