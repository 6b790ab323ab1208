"""
Asynchronous access to any DB-API 2 database.

DB-API 2 modules (``sqlite3``, ``psycopg``, ``pymysql``...) block while they
talk to the database, so a ``ConnectionPool`` runs each call in a thread of
its own pool and fires a ``Deferred`` with the result back in the reactor
thread, where your callbacks analyse it::

    from torsion.enterprise import adbapi

    pool = adbapi.ConnectionPool("sqlite3", "app.db", check_same_thread=False)

    def showUsers(rows):
        for (name,) in rows:
            print(name)

    pool.runQuery("SELECT name FROM users").addCallback(showUsers)

Each worker thread keeps its own connection, opened on first use, so a
connection is only ever used by the thread that opened it.  Several
statements that must succeed or fail together go in one ``runInteraction``:
the function runs in a thread with a ``Transaction`` (a cursor) and the
transaction is committed if it returns, rolled back if it raises.

The pool starts when the reactor starts (or at once if it is running) and
closes its connections when the reactor shuts down; ``start`` and ``close``
do the same by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from torsion.internet.defer import Deferred
from torsion.internet.threads import deferToThreadPool
from torsion.python import log, reflect
from torsion.python.threadpool import ThreadPool

__all__ = ["Connection", "ConnectionLost", "ConnectionPool", "Transaction"]

_T = TypeVar("_T")

#: The statement run to check that a connection still works after an error,
#: when ``cp_reconnect`` is on and no ``cp_good_sql`` is given.
DEFAULT_GOOD_SQL = "select 1"


class ConnectionLost(Exception):
    """
    The database connection was found dead (``cp_reconnect`` on): it has
    been discarded, and the next call opens a fresh one.  The work that hit
    it was not committed; retry it if that is safe.
    """


class Connection:
    """
    A database connection opened by a ``ConnectionPool`` for the current
    worker thread.

    Every attribute not defined here (``cursor``, ``commit``...) is the
    underlying DB-API connection's.  Functions given to
    ``ConnectionPool.runWithConnection`` receive one.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        """
        :param pool: the pool whose connection for this thread to use (one is
            opened if the thread has none).
        """
        self._pool = pool
        self._connection: Any = None
        self.reconnect()

    def close(self) -> None:
        """
        Do nothing: the pool owns the connection and closes it itself (with
        ``ConnectionPool.disconnect`` or at shutdown).
        """

    def rollback(self) -> None:
        """
        Roll back the current transaction.

        With ``cp_reconnect``, also check the connection with ``cp_good_sql``;
        if the rollback or the check fails, the connection is discarded.

        :raises ConnectionLost: if the connection was found dead and
            discarded (``cp_reconnect`` only).
        """
        if not self._pool.reconnect:
            self._connection.rollback()
            return
        try:
            self._connection.rollback()
            cursor = self._connection.cursor()
            try:
                cursor.execute(self._pool.good_sql)
            finally:
                cursor.close()
            self._connection.commit()
            return
        except Exception:
            if self._pool.noisy:
                log.err(None, "Rollback failed; the connection looks dead")
        self._pool.disconnect(self._connection)
        if self._pool.noisy:
            log.msg("Connection lost.")
        raise ConnectionLost()

    def reconnect(self) -> None:
        """
        Use the pool's connection for this thread, opening one if there is
        none (for example because the old one was discarded).
        """
        if self._connection is not None:
            self._pool.disconnect(self._connection)
        self._connection = self._pool.connect()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class Transaction:
    """
    A cursor on a ``Connection``, given to the function of
    ``ConnectionPool.runInteraction``.

    Every attribute not defined here (``execute``, ``executemany``,
    ``fetchone``, ``fetchall``, ``rowcount``...) is the underlying DB-API
    cursor's.  The pool commits when the function returns and rolls back
    when it raises; the function itself need not.
    """

    def __init__(self, pool: ConnectionPool, connection: Connection) -> None:
        """
        :param pool: the pool that runs the interaction.
        :param connection: the connection to open the cursor on.
        """
        self._pool = pool
        self._connection = connection
        self._cursor: Any = None
        self.reopen()

    def close(self) -> None:
        """
        Close the cursor; ``reopen`` opens a new one.
        """
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            cursor.close()

    def reopen(self) -> None:
        """
        Open a cursor if there is none.  With ``cp_reconnect``, a connection
        that cannot open one is replaced by a fresh connection.

        :raises Exception: whatever the DB-API module raised, when
            ``cp_reconnect`` is off or the fresh connection fails too.
        """
        if self._cursor is not None:
            return
        try:
            self._cursor = self._connection.cursor()
            return
        except Exception:
            if not self._pool.reconnect:
                raise
            if self._pool.noisy:
                log.err(None, "Opening a cursor failed; reconnecting")
        self.reconnect()
        self._cursor = self._connection.cursor()

    def reconnect(self) -> None:
        """
        Replace the connection with a fresh one and drop the cursor.
        """
        self._connection.reconnect()
        self._cursor = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class ConnectionPool:
    """
    A pool of DB-API 2 connections, one per worker thread, that runs database
    work in those threads and delivers the results as ``Deferred`` objects in
    the reactor thread.

    :ivar dbapiName: the DB-API module's import name.
    :ivar dbapi: the DB-API module.
    :ivar connargs: positional arguments for the module's ``connect``.
    :ivar connkw: keyword arguments for the module's ``connect``.
    :ivar min: threads kept alive while the pool runs.
    :ivar max: the most threads (and so connections) at once.
    :ivar reconnect: whether dead connections are detected and replaced.
    :ivar good_sql: the statement that checks a connection is alive.
    :ivar noisy: whether to log connections being opened and closed.
    :ivar openfun: called with each new raw connection, or ``None``.
    :ivar running: ``True`` between ``start`` and ``close``.
    :ivar connections: the open raw connections, by thread identifier.
    :ivar threadpool: the ``ThreadPool`` that runs the work.
    """

    #: Builds the object given to ``runWithConnection``'s function.
    connectionFactory: Callable[[ConnectionPool], Connection] = Connection
    #: Builds the object given to ``runInteraction``'s function.
    transactionFactory: Callable[[ConnectionPool, Connection], Transaction] = (
        Transaction
    )

    def __init__(
        self,
        dbapiName: str,
        *connargs: Any,
        cp_min: int = 3,
        cp_max: int = 5,
        cp_reconnect: bool = False,
        cp_openfun: Callable[[Any], object] | None = None,
        cp_noisy: bool = False,
        cp_good_sql: str | None = None,
        cp_reactor: Any = None,
        **connkw: Any,
    ) -> None:
        """
        :param dbapiName: the import name of a DB-API 2 module, such as
            ``"sqlite3"`` or ``"psycopg"``.
        :param connargs: positional arguments for the module's ``connect``.
        :param cp_min: threads kept alive while the pool runs.
        :param cp_max: the most threads, and so connections, at once.
        :param cp_reconnect: detect dead connections (when a rollback or the
            ``cp_good_sql`` check fails, or a cursor cannot be opened) and
            replace them; the call that hit one fails with
            ``ConnectionLost``.
        :param cp_openfun: called in the worker thread with every new raw
            connection, to set it up (encoding, schema, pragmas).
        :param cp_noisy: log connections being opened and closed.
        :param cp_good_sql: the statement that checks a connection is alive;
            ``"select 1"`` if omitted.
        :param cp_reactor: the reactor to deliver results in; the global one
            if omitted.
        :param connkw: keyword arguments for the module's ``connect``.
        :raises ValueError: if ``cp_min``/``cp_max`` are not a valid pool
            size (negative minimum, maximum below 1 or below the minimum).
        :raises ImportError: if the DB-API module cannot be imported.
        """
        if cp_reactor is None:
            from torsion.internet import reactor

            cp_reactor = reactor
        self._reactor = cp_reactor
        self.dbapiName = dbapiName
        self.dbapi: Any = reflect.namedModule(dbapiName)
        if getattr(self.dbapi, "apilevel", None) != "2.0":
            log.msg(f"DB API module {dbapiName!r} does not claim DB-API 2.0")
        self.connargs = connargs
        self.connkw = connkw
        self.min = cp_min
        self.max = cp_max
        self.reconnect = cp_reconnect
        self.good_sql = DEFAULT_GOOD_SQL if cp_good_sql is None else cp_good_sql
        self.noisy = cp_noisy
        self.openfun = cp_openfun
        self.running = False
        self.connections: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.threadpool = ThreadPool(cp_min, cp_max, f"adbapi-{dbapiName}")
        self._shutdownID: Any = None
        self._startID: Any = cp_reactor.callWhenRunning(self._startFromReactor)

    # -- life cycle --------------------------------------------------------

    def _startFromReactor(self) -> None:
        self._startID = None
        self.start()

    def start(self) -> None:
        """
        Start the worker threads and arrange for ``close`` at reactor
        shutdown.  Done by itself when the reactor starts; starting a running
        pool does nothing.
        """
        if self.running:
            return
        self.threadpool.start()
        self._shutdownID = self._reactor.addSystemEventTrigger(
            "during", "shutdown", self._finalClose
        )
        self.running = True

    def close(self) -> None:
        """
        Stop the pool: wait for the work in progress, then close every
        connection.  Calls made afterwards are never run.
        """
        if self._shutdownID is not None:
            self._reactor.removeSystemEventTrigger(self._shutdownID)
            self._shutdownID = None
        if self._startID is not None:
            self._reactor.removeSystemEventTrigger(self._startID)
            self._startID = None
        self._finalClose()

    def _finalClose(self) -> None:
        self._shutdownID = None
        self.threadpool.stop()
        self.running = False
        with self._lock:
            connections = list(self.connections.values())
            self.connections.clear()
        for connection in connections:
            self._close(connection)

    # -- connections ---------------------------------------------------------

    def connect(self) -> Any:
        """
        Return the calling thread's raw connection, opening it (and running
        ``cp_openfun`` on it) if the thread has none.  Call this only from a
        thread of the pool, that is inside the functions the pool runs.

        :return: the DB-API connection.
        """
        tid = threading.get_ident()
        with self._lock:
            connection = self.connections.get(tid)
        if connection is None:
            if self.noisy:
                log.msg(
                    f"adbapi connecting: {self.dbapiName} {self.connargs!r} "
                    f"{sorted(self.connkw)!r}"
                )
            connection = self.dbapi.connect(*self.connargs, **self.connkw)
            if self.openfun is not None:
                try:
                    self.openfun(connection)
                except BaseException:
                    self._close(connection)
                    raise
            with self._lock:
                self.connections[tid] = connection
        return connection

    def disconnect(self, conn: Any) -> None:
        """
        Close and forget the calling thread's raw connection, so that the
        next call in this thread opens a new one.

        :param conn: the connection, which must be the calling thread's.
        :raises Exception: if ``conn`` is not the calling thread's
            connection.
        """
        tid = threading.get_ident()
        with self._lock:
            if self.connections.get(tid) is not conn:
                raise Exception("wrong connection for thread")
            del self.connections[tid]
        self._close(conn)

    def _close(self, conn: Any) -> None:
        if self.noisy:
            log.msg(f"adbapi closing: {self.dbapiName}")
        try:
            conn.close()
        except Exception:
            # A connection that is already dead often refuses to close; it
            # is forgotten all the same.
            log.err(None, "Connection close failed")

    # -- work ------------------------------------------------------------

    def _defer(self, fn: Callable[..., _T], *args: Any, **kw: Any) -> Deferred[_T]:
        return deferToThreadPool(self._reactor, self.threadpool, fn, *args, **kw)

    def runWithConnection(
        self, func: Callable[..., _T], *args: Any, **kw: Any
    ) -> Deferred[_T]:
        """
        Call ``func(connection, *args, **kw)`` in a worker thread with that
        thread's ``Connection``; commit if it returns, roll back if it
        raises.

        :param func: the blocking function.
        :return: a ``Deferred`` firing in the reactor thread with ``func``'s
            result or failing with its exception (or ``ConnectionLost``).
        """
        return self._defer(self._runWithConnection, func, *args, **kw)

    def _runWithConnection(self, func: Callable[..., _T], *args: Any, **kw: Any) -> _T:
        conn = self.connectionFactory(self)
        try:
            result = func(conn, *args, **kw)
            conn.commit()
            return result
        except BaseException:
            self._rollbackAfter(conn)
            raise

    def runInteraction(
        self, interaction: Callable[..., _T], *args: Any, **kw: Any
    ) -> Deferred[_T]:
        """
        Call ``interaction(transaction, *args, **kw)`` in a worker thread,
        where ``transaction`` is a ``Transaction`` (a cursor); commit if it
        returns, roll back if it raises.

        :param interaction: the blocking function.
        :return: a ``Deferred`` firing in the reactor thread with the
            function's result or failing with its exception (or
            ``ConnectionLost``).
        """
        return self._defer(self._runInteraction, interaction, *args, **kw)

    def _runInteraction(
        self, interaction: Callable[..., _T], *args: Any, **kw: Any
    ) -> _T:
        conn = self.connectionFactory(self)
        try:
            trans = self.transactionFactory(self, conn)
            result = interaction(trans, *args, **kw)
            trans.close()
            conn.commit()
            return result
        except BaseException:
            self._rollbackAfter(conn)
            raise

    def _rollbackAfter(self, conn: Connection) -> None:
        """
        Roll back after a failure; a ``ConnectionLost`` replaces the
        original exception, other rollback errors are logged.
        """
        try:
            conn.rollback()
        except ConnectionLost:
            raise
        except Exception:
            log.err(None, "Rollback failed")

    def runQuery(self, *args: Any, **kw: Any) -> Deferred[list[Any]]:
        """
        Execute a query and fetch all its rows, in a transaction.

        :param args: the cursor's ``execute`` arguments: the SQL and,
            optionally, its parameters in the module's ``paramstyle``.
        :return: a ``Deferred`` firing with the list of rows.
        """
        return self.runInteraction(self._runQuery, *args, **kw)

    def _runQuery(self, trans: Transaction, *args: Any, **kw: Any) -> list[Any]:
        trans.execute(*args, **kw)
        return list(trans.fetchall())

    def runOperation(self, *args: Any, **kw: Any) -> Deferred[None]:
        """
        Execute a statement that returns no rows, in a transaction.

        :param args: the cursor's ``execute`` arguments: the SQL and,
            optionally, its parameters in the module's ``paramstyle``.
        :return: a ``Deferred`` firing with ``None`` once committed.
        """
        return self.runInteraction(self._runOperation, *args, **kw)

    def _runOperation(self, trans: Transaction, *args: Any, **kw: Any) -> None:
        trans.execute(*args, **kw)

    def __repr__(self) -> str:
        return (
            f"<ConnectionPool {self.dbapiName} min={self.min} max={self.max} "
            f"running={self.running}>"
        )
