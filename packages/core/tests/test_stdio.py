"""
Tests for ``torsion.internet.stdio.StandardIO``.

In-process tests run a protocol over a pair of pipes; the end-to-end tests
spawn a child Python that runs a protocol over its real standard input and
output, and talk to it through ``spawnProcess``.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet import error, stdio
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IConsumer,
    IHalfCloseableProtocol,
    IPushProducer,
    ITransport,
)
from torsion.internet.protocol import ProcessProtocol, Protocol
from torsion.python.failure import Failure


class Collector(Protocol):
    def __init__(self) -> None:
        self.received = b""
        self.lost: Deferred[None] = Deferred()
        self.reason: Failure | None = None
        self.waiting: list[tuple[bytes, Deferred[None]]] = []

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        for entry in list(self.waiting):
            if entry[0] in self.received:
                self.waiting.remove(entry)
                entry[1].callback(None)

    def waitFor(self, text: bytes) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self.waiting.append((text, d))
        self.dataReceived(b"")
        return d

    def connectionLost(self, reason: Any = None) -> None:
        self.reason = reason
        self.lost.callback(None)


@implementer(IHalfCloseableProtocol)
class HalfCloser(Collector):
    def readConnectionLost(self) -> None:
        self.transport.write(b"saw EOF")
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass


class Pipes:
    """
    Two pipes: the test writes to ``toStdin`` and reads ``fromStdout``.
    """

    def __init__(self) -> None:
        self.stdin, self.toStdin = os.pipe()
        self.fromStdout, self.stdout = os.pipe()

    def read(self) -> bytes:
        chunks = []
        while chunk := os.read(self.fromStdout, 65536):
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        for fd in (self.stdin, self.toStdin, self.fromStdout, self.stdout):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    p = Pipes()
    yield p
    p.close()


def test_interfaces(reactor: Any, pipes: Pipes) -> None:
    proto = Collector()
    transport = stdio.StandardIO(proto, pipes.stdin, pipes.stdout, reactor=reactor)
    assert verifyObject(ITransport, transport)
    assert verifyObject(IConsumer, transport)
    assert verifyObject(IPushProducer, transport)
    assert transport.getPeer() == stdio.PipeAddress()
    assert transport.getHost() == stdio.PipeAddress()
    transport.loseConnection()
    runUntil(reactor, proto.lost)


def test_readWriteAndEOF(reactor: Any, pipes: Pipes) -> None:
    proto = Collector()
    transport = stdio.StandardIO(proto, pipes.stdin, pipes.stdout, reactor=reactor)
    assert proto.transport is transport
    os.write(pipes.toStdin, b"from the test")
    runUntil(reactor, proto.waitFor(b"from the test"))
    transport.write(b"to the test")
    transport.writeSequence([b" and ", b"more"])
    with pytest.raises(TypeError):
        transport.write("text")
    os.close(pipes.toStdin)
    # End of input closes the connection after the output is written.
    runUntil(reactor, proto.lost)
    assert proto.reason is not None
    assert proto.reason.check(error.ConnectionDone)
    assert pipes.read() == b"to the test and more"
    # Our descriptors were closed by the transport.
    for fd in (pipes.stdin, pipes.stdout):
        with pytest.raises(OSError):
            os.fstat(fd)


def test_halfCloseableProtocolKeepsWriting(reactor: Any, pipes: Pipes) -> None:
    proto = HalfCloser()
    stdio.StandardIO(proto, pipes.stdin, pipes.stdout, reactor=reactor)
    os.close(pipes.toStdin)
    runUntil(reactor, proto.lost)
    assert pipes.read() == b"saw EOF"
    assert proto.reason is not None
    assert proto.reason.check(error.ConnectionDone)


def test_readerOfOutputGoesAway(reactor: Any, pipes: Pipes) -> None:
    proto = Collector()
    transport = stdio.StandardIO(proto, pipes.stdin, pipes.stdout, reactor=reactor)
    os.close(pipes.fromStdout)
    transport.write(b"nobody listens")
    runUntil(reactor, proto.lost)
    assert proto.reason is not None
    assert proto.reason.check(error.ConnectionLost)


def test_largeOutputIsBufferedAndFlushed(reactor: Any, pipes: Pipes) -> None:
    proto = Collector()
    transport = stdio.StandardIO(proto, pipes.stdin, pipes.stdout, reactor=reactor)
    payload = os.urandom(1024 * 1024)
    collected: list[bytes] = []

    class Drain:
        def fileno(self) -> int:
            return pipes.fromStdout

        def logPrefix(self) -> str:
            return "drain"

        def doRead(self) -> None:
            data = os.read(pipes.fromStdout, 65536)
            if data:
                collected.append(data)

        def connectionLost(self, reason: Any) -> None:
            pass

    drain = Drain()
    os.set_blocking(pipes.fromStdout, False)
    reactor.addReader(drain)
    transport.write(payload)
    transport.loseConnection()
    # Writing after loseConnection is ignored.
    transport.write(b"ignored")
    runUntil(reactor, proto.lost)
    reactor.removeReader(drain)
    os.set_blocking(pipes.fromStdout, True)
    assert b"".join(collected) + pipes.read() == payload


def test_pauseAndResume(reactor: Any, pipes: Pipes) -> None:
    proto = Collector()
    transport = stdio.StandardIO(proto, pipes.stdin, pipes.stdout, reactor=reactor)
    transport.pauseProducing()
    os.write(pipes.toStdin, b"held")
    reactor.iterate(0)
    assert proto.received == b""
    transport.resumeProducing()
    runUntil(reactor, proto.waitFor(b"held"))
    transport.loseConnection()
    runUntil(reactor, proto.lost)


CHILD = textwrap.dedent(
    """
    import sys
    from zope.interface import implementer
    from torsion.internet.main import makeReactor
    from torsion.internet import stdio
    from torsion.internet.interfaces import IHalfCloseableProtocol
    from torsion.internet.protocol import Protocol

    reactor = makeReactor(sys.argv[1])
    halfClose = sys.argv[2] == "half"

    class Echo(Protocol):
        def connectionMade(self):
            self.transport.write(b"ready\\n")

        def dataReceived(self, data):
            self.transport.write(data.upper())

        def connectionLost(self, reason):
            sys.stderr.write(type(reason.value).__name__)
            sys.stderr.flush()
            reactor.stop()

    @implementer(IHalfCloseableProtocol)
    class HalfCloseableEcho(Echo):
        def readConnectionLost(self):
            self.transport.write(b"eof\\n")
            self.transport.loseConnection()

        def writeConnectionLost(self):
            pass

    stdio.StandardIO(HalfCloseableEcho() if halfClose else Echo(), reactor=reactor)
    reactor.run()
    """
)


class ChildTalker(ProcessProtocol):
    def __init__(self) -> None:
        self.out = b""
        self.err = b""
        self.waiting: list[tuple[bytes, Deferred[None]]] = []
        self.ended: Deferred[None] = Deferred()
        self.reason: Failure | None = None

    def outReceived(self, data: bytes) -> None:
        self.out += data
        for entry in list(self.waiting):
            if entry[0] in self.out:
                self.waiting.remove(entry)
                entry[1].callback(None)

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def waitFor(self, text: bytes) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self.waiting.append((text, d))
        self.outReceived(b"")
        return d

    def processEnded(self, reason: Failure) -> None:
        self.reason = reason
        self.ended.callback(None)


@pytest.mark.parametrize("mode", ["half", "full"])
def test_childProcessEcho(reactor: Any, mode: str) -> None:
    proto = ChildTalker()
    childReactor = "epoll" if sys.platform.startswith("linux") else "poll"
    transport = reactor.spawnProcess(
        proto,
        sys.executable,
        [sys.executable, "-c", CHILD, childReactor, mode],
        env=None,
    )
    runUntil(reactor, proto.waitFor(b"ready\n"))
    transport.write(b"through stdio")
    runUntil(reactor, proto.waitFor(b"THROUGH STDIO"))
    transport.closeStdin()
    runUntil(reactor, proto.ended)
    assert proto.reason is not None
    assert proto.reason.check(error.ProcessDone), proto.err
    assert proto.err == b"ConnectionDone"
    expected = b"ready\nTHROUGH STDIO" + (b"eof\n" if mode == "half" else b"")
    assert proto.out == expected


def test_producerForStandardOutput(reactor: Any, pipes: Pipes) -> None:
    from torsion.internet.interfaces import IPullProducer

    proto = Collector()
    transport = stdio.StandardIO(proto, pipes.stdin, pipes.stdout, reactor=reactor)
    chunks = [b"a" * 1000, b"b" * 1000, b"c" * 1000]

    @implementer(IPullProducer)
    class Pull:
        def resumeProducing(self) -> None:
            if chunks:
                transport.write(chunks.pop(0))
            else:
                transport.unregisterProducer()
                transport.loseConnection()

        def stopProducing(self) -> None:
            pass

    transport.registerProducer(Pull(), False)
    with pytest.raises(RuntimeError):
        transport.registerProducer(Pull(), False)
    runUntil(reactor, proto.lost)
    assert pipes.read() == b"a" * 1000 + b"b" * 1000 + b"c" * 1000
