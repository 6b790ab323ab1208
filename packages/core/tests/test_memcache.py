"""
Tests for ``torsion.protocols.memcache``: the client over an in-memory
transport and a fake clock, then against a real memcached.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from peers import freePort, requireCommand
from reactormixins import runUntil

from torsion.internet import error
from torsion.internet.defer import Deferred
from torsion.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.protocols.memcache import (
    MAX_KEY_LENGTH,
    MAX_VALUE_LENGTH,
    ClientError,
    MemCacheProtocol,
    NoSuchCommand,
    ServerError,
    _Command,
)
from torsion.python.failure import Failure


def makeClient() -> tuple[MemCacheProtocol, StringTransport, Clock]:
    clock = Clock()
    client = MemCacheProtocol(timeOut=5, reactor=clock)
    transport = StringTransport()
    client.makeConnection(transport)
    return client, transport, clock


def result(d: Deferred[Any]) -> Any:
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    assert outcome, "Deferred has not fired"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


def answer(client: MemCacheProtocol, data: bytes, oneByOne: bool) -> None:
    if oneByOne:
        for i in range(len(data)):
            client.dataReceived(data[i : i + 1])
    else:
        client.dataReceived(data)


EXCHANGES = [
    # (call, bytes sent, bytes answered, expected result)
    (lambda c: c.set(b"k", b"v"), b"set k 0 0 1\r\nv\r\n", b"STORED\r\n", True),
    (
        lambda c: c.set(b"k", b"v", flags=7, expireTime=60),
        b"set k 7 60 1\r\nv\r\n",
        b"STORED\r\n",
        True,
    ),
    (lambda c: c.add(b"k", b"vv"), b"add k 0 0 2\r\nvv\r\n", b"NOT_STORED\r\n", False),
    (lambda c: c.replace(b"k", b""), b"replace k 0 0 0\r\n\r\n", b"STORED\r\n", True),
    (lambda c: c.append(b"k", b"x"), b"append k 0 0 1\r\nx\r\n", b"STORED\r\n", True),
    (
        lambda c: c.prepend(b"k", b"x"),
        b"prepend k 0 0 1\r\nx\r\n",
        b"NOT_STORED\r\n",
        False,
    ),
    (
        lambda c: c.checkAndSet(b"k", b"v", b"12"),
        b"cas k 0 0 1 12\r\nv\r\n",
        b"EXISTS\r\n",
        False,
    ),
    (lambda c: c.get(b"k"), b"get k\r\n", b"VALUE k 3 2\r\nab\r\nEND\r\n", (3, b"ab")),
    (lambda c: c.get(b"k"), b"get k\r\n", b"END\r\n", (0, None)),
    (
        lambda c: c.get(b"k", withIdentifier=True),
        b"gets k\r\n",
        b"VALUE k 0 4 99\r\na\r\nb\r\nEND\r\n",
        (0, b"99", b"a\r\nb"),
    ),
    (lambda c: c.gets(b"k"), b"gets k\r\n", b"END\r\n", (0, b"", None)),
    (
        lambda c: c.getMultiple([b"a", b"b"]),
        b"get a b\r\n",
        b"VALUE b 1 1\r\nB\r\nEND\r\n",
        {b"a": (0, None), b"b": (1, b"B")},
    ),
    (lambda c: c.increment(b"n"), b"incr n 1\r\n", b"43\r\n", 43),
    (lambda c: c.decrement(b"n", 5), b"decr n 5\r\n", b"NOT_FOUND\r\n", False),
    (lambda c: c.delete(b"k"), b"delete k\r\n", b"DELETED\r\n", True),
    (lambda c: c.flushAll(), b"flush_all\r\n", b"OK\r\n", True),
    (
        lambda c: c.stats(),
        b"stats\r\n",
        b"STAT pid 12\r\nSTAT version 1.6\r\nEND\r\n",
        {b"pid": b"12", b"version": b"1.6"},
    ),
    (lambda c: c.stats(b"items"), b"stats items\r\n", b"END\r\n", {}),
    (lambda c: c.version(), b"version\r\n", b"VERSION 1.6.18\r\n", b"1.6.18"),
]


@pytest.mark.parametrize("oneByOne", [False, True])
@pytest.mark.parametrize("call, sent, answered, expected", EXCHANGES)
def test_commands(
    call: Any, sent: bytes, answered: bytes, expected: object, oneByOne: bool
) -> None:
    client, transport, _ = makeClient()
    d = call(client)
    assert transport.value() == sent
    answer(client, answered, oneByOne)
    assert result(d) == expected


@pytest.mark.parametrize(
    "answered, exception",
    [
        (b"ERROR\r\n", NoSuchCommand),
        (b"CLIENT_ERROR bad data chunk\r\n", ClientError),
        (b"SERVER_ERROR out of memory\r\n", ServerError),
    ],
)
def test_errorAnswers(answered: bytes, exception: type[Exception]) -> None:
    client, transport, _ = makeClient()
    d = client.set(b"k", b"v")
    following = client.get(b"k")
    client.dataReceived(answered + b"END\r\n")
    with pytest.raises(exception):
        result(d)
    # The connection stays usable: the next command got its answer.
    assert result(following) == (0, None)
    assert not transport.disconnecting


def test_pipelinedAnswersInOrder() -> None:
    client, _transport, _ = makeClient()
    ds = [client.set(b"a", b"1"), client.get(b"a"), client.delete(b"a")]
    client.dataReceived(b"STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\nDELETED\r\n")
    assert [result(d) for d in ds] == [True, (0, b"1"), True]


@pytest.mark.parametrize(
    "key",
    [
        b"",
        b"with space",
        b"tab\there",
        b"new\nline",
        b"nul\0",
        b"del\x7f",
        b"k" * (MAX_KEY_LENGTH + 1),
        "text",
    ],
)
def test_badKeysRefusedLocally(key: Any) -> None:
    client, transport, _ = makeClient()
    for call in (
        lambda: client.get(key),
        lambda: client.set(key, b"v"),
        lambda: client.delete(key),
        lambda: client.increment(key),
        lambda: client.getMultiple([b"ok", key]),
    ):
        with pytest.raises(ClientError):
            result(call())
    assert transport.value() == b""


def test_keyLengthBoundary() -> None:
    client, transport, _ = makeClient()
    client.get(b"k" * MAX_KEY_LENGTH)
    assert transport.value() == b"get " + b"k" * MAX_KEY_LENGTH + b"\r\n"


def test_valueLengthLimit() -> None:
    client, transport, _ = makeClient()
    client.maxValueLength = 4
    client.set(b"k", b"1234")
    assert transport.value() == b"set k 0 0 4\r\n1234\r\n"
    transport.clear()
    with pytest.raises(ClientError, match="longer than 4"):
        result(client.set(b"k", b"12345"))
    with pytest.raises(ClientError):
        result(client.set(b"k", "text"))  # type: ignore[arg-type]
    assert transport.value() == b""
    assert MemCacheProtocol.maxValueLength == MAX_VALUE_LENGTH


def test_oversizedValueAnswerCloses() -> None:
    client, transport, _ = makeClient()
    client.maxValueLength = 4
    d = client.get(b"k")
    client.dataReceived(b"VALUE k 0 5\r\n")
    with pytest.raises(ServerError, match="too large"):
        result(d)
    assert transport.disconnecting


@pytest.mark.parametrize(
    "answered",
    [
        b"VALUE k 0\r\n",
        b"VALUE k x 1\r\n",
        b"VALUE other 0 1\r\nx\r\nEND\r\n",
        b"VALUE k 0 1\r\nxyz\r\n",
        b"STORED\r\n",
        b"WHAT\r\n",
        b"x" * 3000 + b"\r\n",
    ],
)
@pytest.mark.parametrize("oneByOne", [False, True])
def test_malformedAnswersClose(answered: bytes, oneByOne: bool) -> None:
    client, transport, _ = makeClient()
    d = client.get(b"k")
    answer(client, answered, oneByOne)
    with pytest.raises(ServerError, match="protocol error"):
        result(d)
    assert transport.disconnecting


def test_unexpectedAnswerCloses() -> None:
    client, transport, _ = makeClient()
    client.dataReceived(b"STORED\r\n")
    assert transport.disconnecting


def test_timeout() -> None:
    client, transport, clock = makeClient()
    # No timer while idle.
    clock.advance(100)
    assert not transport.disconnecting
    d1 = client.get(b"a")
    d2 = client.get(b"b")
    clock.advance(4)
    client.dataReceived(b"END\r\n")
    assert result(d1) == (0, None)
    # An answer restarts the period.
    clock.advance(4.9)
    assert not transport.disconnecting
    clock.advance(0.1)
    assert transport.disconnecting
    with pytest.raises(TimeoutError):
        result(d2)
    # Done: nothing pending, no timer left.
    assert clock.getDelayedCalls() == []


def test_idleAfterAnswersHasNoTimer() -> None:
    client, _transport, clock = makeClient()
    d = client.version()
    client.dataReceived(b"VERSION 1\r\n")
    assert result(d) == b"1"
    assert clock.getDelayedCalls() == []


def test_connectionLostFailsPendingAndLater() -> None:
    client, _, _ = makeClient()
    d = client.get(b"k")
    client.connectionLost(Failure(error.ConnectionLost("gone")))
    with pytest.raises(error.ConnectionLost):
        result(d)
    with pytest.raises(RuntimeError, match="not connected"):
        result(client.get(b"k"))


@given(st.binary(max_size=200))
def test_randomAnswersNeverEscape(data: bytes) -> None:
    client, _, _ = makeClient()
    ds = [client.get(b"k"), client.set(b"k", b"v"), client.stats()]
    for d in ds:
        d.addErrback(lambda f: None)
    client.dataReceived(data)


# -- a real memcached -----------------------------------------------------------


@pytest.fixture
def memcached() -> Iterator[int]:
    """
    A memcached on 127.0.0.1, stopped by PID afterwards; yields its port.
    """
    path = requireCommand("memcached")
    port = freePort()
    command = [path, "-l", "127.0.0.1", "-p", str(port), "-U", "0"]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield port
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


def connectWhenReady(reactor: Any, port: int) -> MemCacheProtocol:
    """
    Connect to memcached, retrying while it is still starting (no sleeping:
    each retry waits for the refused connection).
    """
    last: BaseException | None = None
    for _ in range(200):
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        try:
            client: MemCacheProtocol = runUntil(
                reactor, connectProtocol(endpoint, MemCacheProtocol(reactor=reactor))
            )
            return client
        except error.ConnectionRefusedError as e:
            last = e
            # Let the reactor turn once before the next try.
            d: Deferred[None] = Deferred()
            reactor.callLater(0.01, d.callback, None)
            runUntil(reactor, d)
    raise AssertionError(f"memcached never accepted a connection: {last}")


def test_realMemcached(reactor: Any, memcached: int) -> None:
    client = connectWhenReady(reactor, memcached)

    def run(d: Deferred[Any]) -> Any:
        return runUntil(reactor, d)

    try:
        assert run(client.flushAll()) is True
        version = run(client.version())
        assert version[:1].isdigit()
        assert run(client.set(b"greeting", b"hello", flags=5)) is True
        assert run(client.get(b"greeting")) == (5, b"hello")
        assert run(client.add(b"greeting", b"again")) is False
        assert run(client.add(b"other", b"x")) is True
        assert run(client.append(b"greeting", b" world")) is True
        assert run(client.prepend(b"greeting", b"> ")) is True
        assert run(client.get(b"greeting")) == (5, b"> hello world")
        assert run(client.replace(b"missing", b"x")) is False
        assert run(client.getMultiple([b"greeting", b"other", b"missing"])) == {
            b"greeting": (5, b"> hello world"),
            b"other": (0, b"x"),
            b"missing": (0, None),
        }
        _flags, cas, value = run(client.gets(b"other"))
        assert value == b"x"
        assert run(client.checkAndSet(b"other", b"y", cas)) is True
        assert run(client.checkAndSet(b"other", b"z", cas)) is False
        assert run(client.get(b"other")) == (0, b"y")
        assert run(client.set(b"n", b"41")) is True
        assert run(client.increment(b"n")) == 42
        assert run(client.decrement(b"n", 50)) == 0
        assert run(client.increment(b"nothing")) is False
        with pytest.raises(ClientError):
            run(client.increment(b"greeting"))
        assert run(client.delete(b"other")) is True
        assert run(client.delete(b"other")) is False
        stats = run(client.stats())
        assert int(stats[b"curr_connections"]) >= 1
        # Binary values, CRLF inside, and the largest size memcached
        # stores by default.
        blob = bytes(range(256)) * 4 + b"\r\nEND\r\n"
        assert run(client.set(b"blob", blob)) is True
        assert run(client.get(b"blob")) == (0, blob)
        big = b"b" * (1024 * 1024 - 512)
        assert run(client.set(b"big", big)) is True
        assert run(client.get(b"big")) == (0, big)
        # Pipelined commands are answered in order.
        ds = [client.set(b"p%d" % i, b"%d" % i) for i in range(50)]
        ds.append(client.getMultiple([b"p%d" % i for i in range(50)]))
        from torsion.internet.defer import gatherResults

        results = run(gatherResults(ds))
        assert results[:50] == [True] * 50
        assert results[50][b"p49"] == (0, b"49")
    finally:
        client.transport.loseConnection()


def test_realMemcachedUnknownCommand(reactor: Any, memcached: int) -> None:
    client = connectWhenReady(reactor, memcached)
    try:
        d: Deferred[bool] = client._send(
            b"no_such_command", _Command(b"no_such_command", Deferred())
        )
        with pytest.raises(NoSuchCommand):
            runUntil(reactor, d)
        assert runUntil(reactor, client.set(b"still", b"works")) is True
    finally:
        client.transport.loseConnection()


def test_interfaces() -> None:
    from zope.interface.verify import verifyObject

    from torsion.internet.interfaces import IProtocol

    assert verifyObject(IProtocol, MemCacheProtocol())
