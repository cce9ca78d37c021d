"""A real PostgreSQL for tests and benchmarks: Debian's server binaries, started in a
temporary directory as an unprivileged user (initdb refuses root), listening on a unix socket
in that directory and on 127.0.0.1 at a free port.

The root conftest provides the fixtures to every test: one server per test session
(``postgres_server``); each test gets its own fresh database (``postgres_url``), made by
CREATE DATABASE from template0. Tests skip, saying why, only when
the server binaries are not installed (CI installs Debian's ``postgresql`` package).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from monitord.store.postgres import PostgresStore

PG_BIN_DIRS = tuple(Path(f"/usr/lib/postgresql/{v}/bin") for v in (17, 16, 15))
"""Where Debian installs the server binaries (initdb and pg_ctl are not on PATH there)."""

START_TIMEOUT_S = 30
"""pg_ctl start -w waits this long for the server to accept connections: initdb and the first
start take about a second here, a loaded CI machine may take several."""

UNPRIVILEGED_USER = "nobody"
"""The user the server runs as when the tests run as root."""


def find_pg_bin() -> Path | None:
    env = os.environ.get("MONITORD_PG_BIN")
    for d in ((Path(env),) if env else ()) + PG_BIN_DIRS:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running throwaway server; ``url(db)`` names one of its databases."""

    root: Path
    port: int
    bin: Path
    _names: Iterator[int]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t{next(self._names)}"
        self.psql(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is ended (a client sees its connection
        closed), the server is down for a moment and comes back on the same port."""
        subprocess.run(
            _as_server_user(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.root / "data"),
                    "-l",
                    str(self.root / "server.log"),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "restart",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_S * 2,
        )

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [
                str(self.bin / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
        )
        return out.stdout


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", UNPRIVILEGED_USER, "--", *argv]


@contextlib.contextmanager
def running_postgres(pg_bin: Path | None = None) -> Iterator[PgServer]:
    """Start a server in a temporary directory; stop it and remove the directory after."""
    pg_bin = pg_bin or find_pg_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="monitord-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        import pwd

        pw = pwd.getpwnam(UNPRIVILEGED_USER)
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    log = root / "server.log"
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(pg_bin / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_S * 2,
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100 -c shared_buffers=32MB"
        )
        subprocess.run(
            _as_server_user(
                [
                    str(pg_bin / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_S * 2,
        )
    except subprocess.CalledProcessError as exc:
        text = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr!r}\n{text[-2000:]}") from exc
    try:
        yield PgServer(root=root, port=port, bin=pg_bin, _names=itertools.count(1))
    finally:
        subprocess.run(
            _as_server_user(
                [str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            ),
            capture_output=True,
            timeout=START_TIMEOUT_S * 2,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def open_postgres_store(url: str, **kwargs: Any) -> AsyncIterator[PostgresStore]:
    """An opened PostgresStore on ``url`` (keyword arguments passed on), closed after."""
    from monitord.store.postgres import PostgresStore

    store = PostgresStore(url, **kwargs)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One throwaway PostgreSQL for the whole session; skips when it is not installed."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        pytest.skip(
            "PostgreSQL server binaries not found (initdb, pg_ctl under /usr/lib/postgresql/*/bin): "
            "apt-get install postgresql, or set MONITORD_PG_BIN"
        )
    with running_postgres(pg_bin) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PgServer) -> Iterator[str]:
    """A fresh, empty database for one test, dropped after it."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


PostgresStoreFactory = Callable[..., contextlib.AbstractAsyncContextManager["PostgresStore"]]


@pytest.fixture
def postgres_store_factory(postgres_url: str) -> PostgresStoreFactory:
    """``async with factory(**kwargs) as store``: a PostgresStore on this test's database
    (the contract suite's store factory)."""

    def factory(**kwargs: Any) -> contextlib.AbstractAsyncContextManager[PostgresStore]:
        return open_postgres_store(postgres_url, **kwargs)

    return factory
