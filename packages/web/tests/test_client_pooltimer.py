"""
The connection pool's idle timeout counts from a connection's last return
to the pool, however often it was reused before.
"""

from __future__ import annotations

from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.web._newclient import HTTP11ClientProtocol
from torsion.web.client import HTTPConnectionPool


def _pooled(clock: Clock) -> tuple[HTTPConnectionPool, HTTP11ClientProtocol]:
    pool = HTTPConnectionPool(clock)
    connection = HTTP11ClientProtocol(lambda c: None, clock)
    connection.makeConnection(StringTransport())
    pool._putConnection("key", connection)
    return pool, connection


def _taken(pool: HTTPConnectionPool) -> HTTP11ClientProtocol | None:
    got = pool._idleConnection("key", None)
    return None if got is None else got._connection


def test_idleTimeoutRestartsOnReturn() -> None:
    clock = Clock()
    pool, connection = _pooled(clock)
    assert _taken(pool) is connection
    clock.advance(200)
    pool._putConnection("key", connection)
    clock.advance(HTTPConnectionPool.cachedConnectionTimeout - 1)
    transport = connection.transport
    assert isinstance(transport, StringTransport)
    assert not transport.disconnecting
    assert pool._connections == {"key": [connection]}
    clock.advance(1)
    assert transport.disconnecting
    assert pool._connections == {}
    assert clock.getDelayedCalls() == []


def test_connectionInUseIsNotExpired() -> None:
    clock = Clock()
    pool, connection = _pooled(clock)
    assert _taken(pool) is connection
    clock.advance(HTTPConnectionPool.cachedConnectionTimeout * 2)
    transport = connection.transport
    assert isinstance(transport, StringTransport)
    assert not transport.disconnecting
    assert clock.getDelayedCalls() == []
    pool._putConnection("key", connection)
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(HTTPConnectionPool.cachedConnectionTimeout)
    assert transport.disconnecting


def test_closeCachedConnectionsLeavesNoTimer() -> None:
    clock = Clock()
    pool, _ = _pooled(clock)
    pool.closeCachedConnections()
    assert clock.getDelayedCalls() == []
