"""
Tests for ``torsion.enterprise.adbapi`` with sqlite3 (a file database) and a
small in-memory DB-API module whose connections can be made to die.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest
from reactormixins import LogCapture, runUntil

from torsion.enterprise import adbapi
from torsion.internet.defer import Deferred, gatherResults


def makePool(reactor: Any, tmp_path: Path, **kw: Any) -> adbapi.ConnectionPool:
    return adbapi.ConnectionPool(
        "sqlite3",
        str(tmp_path / "test.db"),
        check_same_thread=False,
        cp_reactor=reactor,
        **kw,
    )


def createTable(reactor: Any, pool: adbapi.ConnectionPool) -> None:
    runUntil(reactor, pool.runOperation("CREATE TABLE people (name TEXT, age INTEGER)"))


def test_queryRoundTrip(reactor: Any, tmp_path: Path) -> None:
    """
    ``runOperation`` commits a statement; ``runQuery`` returns all rows.
    """
    pool = makePool(reactor, tmp_path)
    createTable(reactor, pool)
    assert (
        runUntil(
            reactor,
            pool.runOperation("INSERT INTO people VALUES (?, ?)", ("ada", 36)),
        )
        is None
    )
    rows = runUntil(reactor, pool.runQuery("SELECT name, age FROM people"))
    assert rows == [("ada", 36)]
    # Visible to an unrelated connection: it was committed.
    other = sqlite3.connect(tmp_path / "test.db")
    try:
        assert other.execute("SELECT name FROM people").fetchall() == [("ada",)]
    finally:
        other.close()


def test_interactionCommits(reactor: Any, tmp_path: Path) -> None:
    """
    ``runInteraction`` gives the function a cursor, commits when it returns
    and fires with its result.
    """
    pool = makePool(reactor, tmp_path)
    createTable(reactor, pool)

    def interaction(trans: adbapi.Transaction, names: list[str]) -> int:
        for name in names:
            trans.execute("INSERT INTO people VALUES (?, 1)", (name,))
        trans.execute("SELECT count(*) FROM people")
        count: int = trans.fetchone()[0]
        return count

    assert runUntil(reactor, pool.runInteraction(interaction, ["a", "b", "c"])) == 3
    rows = runUntil(reactor, pool.runQuery("SELECT name FROM people ORDER BY name"))
    assert rows == [("a",), ("b",), ("c",)]


def test_interactionRollsBack(reactor: Any, tmp_path: Path) -> None:
    """
    When the function raises, nothing it did is kept and the ``Deferred``
    fails with its exception.
    """
    pool = makePool(reactor, tmp_path)
    createTable(reactor, pool)

    def interaction(trans: adbapi.Transaction) -> None:
        trans.execute("INSERT INTO people VALUES ('ghost', 1)")
        raise KeyError("changed my mind")

    with pytest.raises(KeyError, match="changed my mind"):
        runUntil(reactor, pool.runInteraction(interaction))
    assert runUntil(reactor, pool.runQuery("SELECT * FROM people")) == []


def test_badSQLFails(reactor: Any, tmp_path: Path) -> None:
    """
    A database error reaches the ``Deferred`` as the module's exception.
    """
    pool = makePool(reactor, tmp_path)
    with pytest.raises(sqlite3.OperationalError):
        runUntil(reactor, pool.runQuery("SELECT * FROM nowhere"))


def test_runWithConnection(reactor: Any, tmp_path: Path) -> None:
    """
    ``runWithConnection`` passes a ``Connection`` and its arguments, and
    commits when the function returns; ``close`` on it is harmless.
    """
    pool = makePool(reactor, tmp_path)
    createTable(reactor, pool)

    def work(conn: adbapi.Connection, name: str, age: int) -> str:
        cursor = conn.cursor()
        cursor.execute("INSERT INTO people VALUES (?, ?)", (name, age))
        cursor.close()
        conn.close()
        return name.upper()

    assert runUntil(reactor, pool.runWithConnection(work, "grace", 85)) == "GRACE"
    assert runUntil(reactor, pool.runQuery("SELECT age FROM people")) == [(85,)]


def test_runWithConnectionRollsBack(reactor: Any, tmp_path: Path) -> None:
    """
    When the function given to ``runWithConnection`` raises, its changes are
    rolled back.
    """
    pool = makePool(reactor, tmp_path)
    createTable(reactor, pool)

    def work(conn: adbapi.Connection) -> None:
        conn.cursor().execute("INSERT INTO people VALUES ('x', 1)")
        raise ValueError("no")

    with pytest.raises(ValueError):
        runUntil(reactor, pool.runWithConnection(work))
    assert runUntil(reactor, pool.runQuery("SELECT * FROM people")) == []


def test_threadsAndConnections(reactor: Any, tmp_path: Path) -> None:
    """
    Work runs outside the reactor thread, each connection is only ever used
    by the thread that opened it, no more than ``cp_max`` connections are
    opened, and callbacks run in the reactor thread.
    """
    pool = makePool(reactor, tmp_path, cp_min=1, cp_max=3)
    createTable(reactor, pool)
    mainThread = threading.get_ident()
    owners: dict[int, set[int]] = {}
    barrier = threading.Barrier(3, timeout=10)

    def work(conn: adbapi.Connection) -> int:
        owners.setdefault(id(conn._connection), set()).add(threading.get_ident())
        barrier.wait()
        return threading.get_ident()

    callbackThreads: list[int] = []

    def noteThread(result: int) -> int:
        callbackThreads.append(threading.get_ident())
        return result

    ds = [pool.runWithConnection(work).addCallback(noteThread) for _ in range(3)]
    workers = runUntil(reactor, gatherResults(ds))
    assert mainThread not in workers
    assert len(set(workers)) == 3
    assert callbackThreads == [mainThread] * 3
    more = runUntil(
        reactor,
        gatherResults(
            [
                pool.runWithConnection(
                    lambda conn: owners.setdefault(id(conn._connection), set()).add(
                        threading.get_ident()
                    )
                )
                for _ in range(20)
            ]
        ),
    )
    assert len(more) == 20
    assert all(len(threads) == 1 for threads in owners.values())
    assert len(pool.connections) <= 3


def test_openfun(reactor: Any, tmp_path: Path) -> None:
    """
    ``cp_openfun`` sets up each new connection before it is used.
    """
    opened: list[Any] = []

    def openfun(conn: sqlite3.Connection) -> None:
        opened.append(conn)
        conn.execute("PRAGMA user_version = 7")

    pool = makePool(reactor, tmp_path, cp_openfun=openfun, cp_min=1, cp_max=1)
    assert runUntil(reactor, pool.runQuery("PRAGMA user_version")) == [(7,)]
    assert runUntil(reactor, pool.runQuery("PRAGMA user_version")) == [(7,)]
    assert len(opened) == 1


def test_startsWithReactorClosesAtShutdown(reactor: Any, tmp_path: Path) -> None:
    """
    The pool starts when the reactor starts and closes its connections
    when the reactor shuts down.
    """
    pool = makePool(reactor, tmp_path)
    assert not pool.running
    d = pool.runQuery("SELECT 1")
    assert runUntil(reactor, d) == [(1,)]
    assert pool.running
    conns = list(pool.connections.values())
    assert conns
    reactor.callWhenRunning(reactor.stop)
    reactor.run(installSignalHandlers=False)
    assert not pool.running
    assert pool.connections == {}
    for conn in conns:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


def test_explicitStartAndClose(tmp_path: Path) -> None:
    """
    ``start`` and ``close`` work without the reactor running; work queued
    before ``close`` completes and its results are delivered.
    """
    from torsion.internet.testing import MemoryReactorClock

    fake = MemoryReactorClock()
    delivered: list[Any] = []
    fake.callFromThread = lambda f, *a, **k: delivered.append((f, a, k))  # type: ignore[attr-defined]
    pool = adbapi.ConnectionPool(
        "sqlite3", str(tmp_path / "x.db"), check_same_thread=False, cp_reactor=fake
    )
    pool.start()
    assert pool.running
    pool.start()
    results: list[Any] = []
    pool.runQuery("SELECT 40 + 2").addCallback(results.append)
    pool.close()
    assert not pool.running
    assert pool.connections == {}
    for f, a, k in delivered:
        f(*a, **k)
    assert results == [[(42,)]]


def test_badPoolSize() -> None:
    """
    An impossible pool size is refused at once.
    """
    from torsion.internet.testing import MemoryReactorClock

    with pytest.raises(ValueError):
        adbapi.ConnectionPool(
            "sqlite3", ":memory:", cp_min=4, cp_max=2, cp_reactor=MemoryReactorClock()
        )


def test_unknownModule() -> None:
    """
    A DB-API module that does not exist is an ``ImportError``.
    """
    from torsion.internet.testing import MemoryReactorClock

    with pytest.raises(ImportError):
        adbapi.ConnectionPool("no_such_dbapi_module", cp_reactor=MemoryReactorClock())


# -- a DB-API module whose connections can die --------------------------------


class _Dead(Exception):
    pass


class _FakeCursor:
    def __init__(self, conn: _FakeConnection) -> None:
        self.conn = conn
        self.rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, *args: Any) -> None:
        if not self.conn.alive:
            raise _Dead("server closed the connection")
        self.conn.executed.append(sql)
        self.rows = [(self.conn.serial,)]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def close(self) -> None:
        pass


class _FakeConnection:
    serials = 0

    def __init__(self) -> None:
        _FakeConnection.serials += 1
        self.serial = _FakeConnection.serials
        self.alive = True
        self.closed = False
        self.executed: list[str] = []

    def cursor(self) -> _FakeCursor:
        return _FakeCursor(self)

    def commit(self) -> None:
        if not self.alive:
            raise _Dead("commit on dead connection")

    def rollback(self) -> None:
        if not self.alive:
            raise _Dead("rollback on dead connection")

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fakeModule() -> Any:
    module = types.ModuleType("torsion_test_fakedbapi")
    made: list[_FakeConnection] = []
    _FakeConnection.serials = 0

    def connect() -> _FakeConnection:
        conn = _FakeConnection()
        made.append(conn)
        return conn

    module.apilevel = "2.0"  # type: ignore[attr-defined]
    module.connect = connect  # type: ignore[attr-defined]
    module.made = made  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_reconnectAfterLostConnection(reactor: Any, fakeModule: Any) -> None:
    """
    With ``cp_reconnect``, a call that finds the connection dead fails with
    ``ConnectionLost``, the dead connection is closed and forgotten, and the
    next call runs on a fresh connection.
    """
    pool = adbapi.ConnectionPool(
        fakeModule.__name__,
        cp_reconnect=True,
        cp_good_sql="SELECT 'alive'",
        cp_min=1,
        cp_max=1,
        cp_reactor=reactor,
    )
    assert runUntil(reactor, pool.runQuery("SELECT serial")) == [(1,)]
    first = fakeModule.made[0]
    first.alive = False
    with pytest.raises(adbapi.ConnectionLost):
        runUntil(reactor, pool.runQuery("SELECT serial"))
    assert first.closed
    assert runUntil(reactor, pool.runQuery("SELECT serial")) == [(2,)]
    assert len(fakeModule.made) == 2


def test_goodSQLChecksAfterError(reactor: Any, fakeModule: Any) -> None:
    """
    With ``cp_reconnect``, an ordinary error is checked with ``cp_good_sql``
    on the still-working connection, which is kept; the error is reported.
    """
    pool = adbapi.ConnectionPool(
        fakeModule.__name__,
        cp_reconnect=True,
        cp_good_sql="SELECT 'alive'",
        cp_min=1,
        cp_max=1,
        cp_reactor=reactor,
    )

    def failing(trans: adbapi.Transaction) -> None:
        trans.execute("SELECT 1")
        raise RuntimeError("application error")

    with pytest.raises(RuntimeError):
        runUntil(reactor, pool.runInteraction(failing))
    conn = fakeModule.made[0]
    assert "SELECT 'alive'" in conn.executed
    assert not conn.closed
    assert runUntil(reactor, pool.runQuery("SELECT serial")) == [(1,)]


def test_noReconnectKeepsError(reactor: Any, fakeModule: Any) -> None:
    """
    Without ``cp_reconnect``, the database's own error is reported and the
    failed rollback is logged.
    """
    pool = adbapi.ConnectionPool(
        fakeModule.__name__, cp_min=1, cp_max=1, cp_reactor=reactor
    )
    assert runUntil(reactor, pool.runQuery("SELECT serial")) == [(1,)]
    fakeModule.made[0].alive = False
    with LogCapture() as logged, pytest.raises(_Dead):
        runUntil(reactor, pool.runQuery("SELECT serial"))
    assert any(f.check(_Dead) for f in logged.errors)


def test_disconnectWrongThread(reactor: Any, tmp_path: Path) -> None:
    """
    ``disconnect`` refuses a connection that is not the calling thread's.
    """
    pool = makePool(reactor, tmp_path)
    with pytest.raises(Exception, match="wrong connection"):
        pool.disconnect(object())


def test_calledFromReactorThreadDeferred(reactor: Any, tmp_path: Path) -> None:
    """
    The results are ``Deferred`` objects usable with ``runUntil`` and
    chained callbacks.
    """
    pool = makePool(reactor, tmp_path)
    d = pool.runQuery("SELECT 2")
    assert isinstance(d, Deferred)
    doubled = d.addCallback(lambda rows: rows[0][0] * 21)
    assert runUntil(reactor, doubled) == 42
