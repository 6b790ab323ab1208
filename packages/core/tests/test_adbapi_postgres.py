"""
``torsion.enterprise.adbapi`` against a real PostgreSQL server (psycopg 3),
started by the test on 127.0.0.1 as user ``nobody`` in a temporary
directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from reactormixins import runUntil

from torsion.enterprise import adbapi

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed")

#: How long the server gets to start or stop.
SERVER_WAIT = 60


def _binDir() -> str | None:
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return os.path.dirname(candidates[-1])
    return None


def _installPostgres() -> str | None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return _binDir()


def _freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _asNobody(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "nobody", "--", *argv]
    return argv


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """
    A running PostgreSQL server; yields its connection string.
    """
    binDir = _binDir() or _installPostgres()
    if binDir is None:
        reason = "PostgreSQL is not installed and could not be installed"
        print(reason)
        pytest.skip(reason)
    base = tempfile.mkdtemp(prefix="torsion-pg-")
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "nobody")
    data = os.path.join(base, "data")
    port = _freePort()
    subprocess.run(
        _asNobody([f"{binDir}/initdb", "-D", data, "-A", "trust", "-U", "postgres"]),
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=base,
    )
    subprocess.run(
        _asNobody(
            [
                f"{binDir}/pg_ctl",
                "-D",
                data,
                "-o",
                f"-k {base} -h 127.0.0.1 -p {port}",
                "-l",
                os.path.join(base, "log"),
                "-w",
                "-t",
                str(SERVER_WAIT),
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=base,
    )
    try:
        subprocess.run(
            [
                f"{binDir}/pg_isready",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-t",
                str(SERVER_WAIT),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            _asNobody([f"{binDir}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            cwd=base,
        )
        shutil.rmtree(base, ignore_errors=True)


def makePool(reactor: Any, dsn: str, **kw: Any) -> adbapi.ConnectionPool:
    return adbapi.ConnectionPool("psycopg", dsn, cp_reactor=reactor, **kw)


def test_queriesAndTransactions(reactor: Any, postgres: str) -> None:
    """
    Operations, queries, commits and rollbacks on a real server.
    """
    pool = makePool(reactor, postgres)
    runUntil(reactor, pool.runOperation("DROP TABLE IF EXISTS items"))
    runUntil(reactor, pool.runOperation("CREATE TABLE items (n integer)"))
    runUntil(reactor, pool.runOperation("INSERT INTO items VALUES (%s)", (1,)))

    def failing(trans: adbapi.Transaction) -> None:
        trans.execute("INSERT INTO items VALUES (2)")
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        runUntil(reactor, pool.runInteraction(failing))

    def adding(trans: adbapi.Transaction) -> int:
        trans.execute("INSERT INTO items VALUES (3)")
        trans.execute("SELECT sum(n) FROM items")
        total: int = trans.fetchone()[0]
        return total

    assert runUntil(reactor, pool.runInteraction(adding)) == 4
    rows = runUntil(reactor, pool.runQuery("SELECT n FROM items ORDER BY n"))
    assert rows == [(1,), (3,)]
    with pytest.raises(psycopg.errors.UndefinedTable):
        runUntil(reactor, pool.runQuery("SELECT * FROM missing"))


def test_reconnectAfterBackendKilled(reactor: Any, postgres: str) -> None:
    """
    When the server ends the connection's backend, the next call fails with
    ``ConnectionLost`` (``cp_reconnect``) and the one after succeeds on a
    fresh connection with a new backend.
    """
    pool = makePool(reactor, postgres, cp_min=1, cp_max=1, cp_reconnect=True)
    [(pid,)] = runUntil(reactor, pool.runQuery("SELECT pg_backend_pid()"))
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 30000)", (pid,))
    with pytest.raises(adbapi.ConnectionLost):
        runUntil(reactor, pool.runQuery("SELECT pg_backend_pid()"))
    [(newPid,)] = runUntil(reactor, pool.runQuery("SELECT pg_backend_pid()"))
    assert newPid != pid
    assert runUntil(reactor, pool.runQuery("SELECT 1 + 1")) == [(2,)]


def test_noReconnectReportsDatabaseError(reactor: Any, postgres: str) -> None:
    """
    Without ``cp_reconnect``, a killed backend is reported as the driver's
    own error.
    """
    pool = makePool(reactor, postgres, cp_min=1, cp_max=1)
    [(pid,)] = runUntil(reactor, pool.runQuery("SELECT pg_backend_pid()"))
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 30000)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        runUntil(reactor, pool.runQuery("SELECT 1"))
