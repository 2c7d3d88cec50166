"""The command line starts without importing what its command does not use: every command
module registers its options on import, so heavy libraries are imported where a handler
needs them (``watcher --version`` or ``watcher check`` would otherwise wait for the index's,
the fetcher's and the cluster's libraries, and ``watcher run`` on SQLite for the cluster's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "config" / "watcher.yaml"

HEAVY = ("sqlalchemy", "alembic", "httpx", "procrastinate", "psycopg", "feedparser",
         "trafilatura", "jinja2", "ruamel", "starlette", "apscheduler", "apprise",
         "css_inline")


def imported_after(code: str) -> set[str]:
    """The top-level packages of HEAVY that ``code`` imported, in a fresh interpreter."""
    probe = (f"import sys\n{code}\nimport json\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & "
             f"set({list(HEAVY)!r}))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_building_the_command_line_imports_no_heavy_library() -> None:
    assert imported_after("from watcher.cli import build_parser; build_parser()") == set()


def test_watcher_check_reads_its_two_files_without_the_index_or_the_network() -> None:
    # (a digest's cron schedule is checked with APScheduler's own parser)
    assert imported_after(
        "from watcher.cli import build_parser\n"
        "from watcher.cli.core import validated\n"
        f"validated(build_parser().parse_args(['check', '--config', {str(SHIPPED_CONFIG)!r}]))"
    ) <= {"apscheduler"}


@pytest.fixture(scope="module")
def imported_by_a_cycle(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """What ``watcher run --once`` imported, on SQLite, with no feeds, channels or digests."""
    folder = tmp_path_factory.mktemp("cycle")
    config = folder / "watcher.yaml"
    config.write_text("state_dir: state\nrules: rules.yaml\nfeeds: []\n", encoding="utf-8")
    (folder / "rules.yaml").write_text("rules: []\n", encoding="utf-8")
    found = imported_after("from watcher.cli import main\n"
                           f"main(['run', '--once', '--config', {str(config)!r}])")
    assert {"sqlalchemy", "httpx"} <= found  # it did run: the index opened, the client built
    return found


def test_a_sqlite_daemon_leaves_the_clusters_libraries_alone(imported_by_a_cycle: set[str]
                                                            ) -> None:
    assert not imported_by_a_cycle & {"procrastinate", "psycopg"}


def test_a_cycle_with_nothing_to_deliver_waits_for_no_delivery_library(
        imported_by_a_cycle: set[str]) -> None:
    # Digests (Jinja2, css_inline, APScheduler's crontabs) and Apprise are imported when a
    # config has them; feeds are parsed in the workers, so the daemon never needs feedparser;
    # APScheduler's scheduler is the daemon's, not a cycle's. A run --once from cron would
    # otherwise wait for all of them on every start.
    assert not imported_by_a_cycle & {"jinja2", "css_inline", "apprise", "apscheduler",
                                      "feedparser"}
