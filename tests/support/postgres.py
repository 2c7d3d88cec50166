"""A real PostgreSQL server for tests: Debian's binaries, a throwaway cluster in /tmp.

    with PostgresServer.start() as server:
        url = server.create_database("t1")  # postgresql://watcher@127.0.0.1:PORT/t1

``initdb`` runs as an unprivileged user when the tests run as root (PostgreSQL refuses
root; CI runs as root): the cluster folder is handed to ``nobody`` and every server
command is started with that user's ids. The server listens on a free port of 127.0.0.1
only, keeps its unix socket in the cluster folder, trusts local connections (nothing but
the test can reach it) and skips fsync (the data dies with the test session anyway).

The ``postgres_server`` fixture starts one per pytest process (so one per xdist worker)
and stops and removes it at the end. Without PostgreSQL installed it skips with the
reason, unless WATCHER_REQUIRE_SERVERS=1 (``.ci/run`` sets it): then it fails.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

import psycopg
import pytest

from tests.support.local import free_port, unavailable

DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"
UNPRIVILEGED_USER = "nobody"
SUPERUSER = "watcher"


def find_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    found = sorted(glob.glob(DEBIAN_BINARIES),
                   key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                   else 0)
    for folder in reversed(found):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


class PostgresServer:
    def __init__(self, binaries: Path, root: Path, port: int,
                 settings: Sequence[str] = ()) -> None:
        self.binaries = binaries
        self.root = root
        self.port = port
        self.settings = tuple(settings)  # more "name=value" server settings
        self.data = root / "data"
        self.log = root / "server.log"
        self._demote: Callable[[], None] | None = None
        self._owner: tuple[int, int] | None = None
        if os.geteuid() == 0:
            user = pwd.getpwnam(UNPRIVILEGED_USER)
            self._owner = (user.pw_uid, user.pw_gid)
            self._demote = _demoter(user.pw_uid, user.pw_gid)

    @classmethod
    def start(cls, binaries: Path | None = None, attempts: int = 3,
              settings: Sequence[str] = ()) -> PostgresServer:
        binaries = binaries or find_binaries()
        if binaries is None:
            raise FileNotFoundError("PostgreSQL is not installed (no initdb on PATH nor in "
                                    f"{DEBIAN_BINARIES})")
        root = Path(tempfile.mkdtemp(prefix="watcher-pg-"))
        try:
            server = cls(binaries, root, free_port(), settings)
            server._init()
            for attempt in range(attempts):
                try:
                    server._start()
                    return server
                except subprocess.CalledProcessError:
                    # another process took the port between the probe and the start
                    if attempt == attempts - 1:
                        raise
                    server.port = free_port()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        raise AssertionError("unreachable")

    def _run(self, *args: str) -> None:
        try:
            subprocess.run([str(self.binaries / args[0]), *args[1:]], check=True,
                           capture_output=True, preexec_fn=self._demote, cwd=self.root,
                           timeout=60)
        except subprocess.CalledProcessError as exc:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise subprocess.CalledProcessError(
                exc.returncode, exc.cmd, exc.output,
                (exc.stderr or b"") + log.encode()) from None

    def _init(self) -> None:
        if self._owner:
            os.chown(self.root, *self._owner)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")

    def _start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                   + "".join(f" -c {setting}" for setting in self.settings))
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "30", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database, empty or a copy of ``template`` (which nobody may be connected
        to); returns its URL."""
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _demoter(uid: int, gid: int) -> Callable[[], None]:
    def demote() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return demote


def binaries_or_skip() -> Path:
    """initdb's folder; else skip the test, saying why, or fail it when servers are
    required (WATCHER_REQUIRE_SERVERS=1, as in CI)."""
    binaries = find_binaries()
    if binaries is not None:
        return binaries
    reason = ("PostgreSQL is not installed (no initdb on PATH nor in "
              f"{DEBIAN_BINARIES}): apt-get install postgresql, or run .ci/run")
    unavailable(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer.start(binaries_or_skip()) as server:
        yield server
