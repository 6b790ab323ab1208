"""
Tests for ``torsion.internet.protocol``: protocols, factories, reconnection
back-off, ``ClientCreator`` and the adapters.
"""

from __future__ import annotations

import io
import itertools
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet import error, interfaces, protocol
from torsion.internet.address import IPv4Address
from torsion.internet.task import Clock
from torsion.python.failure import Failure

ADDR = IPv4Address("TCP", "127.0.0.1", 1234)


class Recorder(protocol.Protocol):
    def __init__(self, tag: str = "") -> None:
        self.tag = tag
        self.events: list[Any] = []

    def connectionMade(self) -> None:
        self.events.append("made")

    def dataReceived(self, data: bytes) -> None:
        self.events.append(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.events.append(reason)


def test_protocolInterfaces() -> None:
    p = protocol.Protocol()
    assert verifyObject(interfaces.IProtocol, p)
    assert verifyObject(interfaces.ILoggingContext, p)
    assert p.logPrefix() == "Protocol"


def test_makeConnection() -> None:
    p = Recorder()
    transport = object()
    p.makeConnection(transport)
    assert p.connected and p.transport is transport
    assert p.events == ["made"]


def test_connectionDone() -> None:
    assert isinstance(protocol.connectionDone, Failure)
    assert protocol.connectionDone.check(error.ConnectionDone)


def test_forProtocolAndBuild() -> None:
    factory = protocol.Factory.forProtocol(
        Recorder,
    )
    assert verifyObject(interfaces.IProtocolFactory, factory)
    p = factory.buildProtocol(ADDR)
    assert isinstance(p, Recorder)
    assert p.factory is factory


def test_forProtocolPassesFactoryArguments() -> None:
    class Configured(protocol.ServerFactory):
        def __init__(self, greeting: bytes) -> None:
            self.greeting = greeting

    factory = Configured.forProtocol(Recorder, b"hi")
    assert isinstance(factory, Configured) and factory.greeting == b"hi"


def test_buildWithoutProtocol() -> None:
    with pytest.raises(TypeError, match="protocol is not set"):
        protocol.Factory().buildProtocol(ADDR)


def test_startStopOnceForManyPorts() -> None:
    calls: list[str] = []

    class Counting(protocol.Factory):
        noisy = False

        def startFactory(self) -> None:
            calls.append("start")

        def stopFactory(self) -> None:
            calls.append("stop")

    f = Counting()
    f.doStart()
    f.doStart()
    assert calls == ["start"] and f.numPorts == 2
    f.doStop()
    assert calls == ["start"]
    f.doStop()
    assert calls == ["start", "stop"] and f.numPorts == 0
    # An extra stop is ignored rather than going negative.
    f.doStop()
    assert f.numPorts == 0 and calls == ["start", "stop"]


class FakeConnector:
    def __init__(self) -> None:
        self.connects = 0
        self.stops = 0

    def connect(self) -> None:
        self.connects += 1

    def stopConnecting(self) -> None:
        self.stops += 1
        raise error.NotConnectingError()


def reconnecting(**attrs: Any) -> tuple[protocol.ReconnectingClientFactory, Clock]:
    clock = Clock()
    f = protocol.ReconnectingClientFactory()
    f.noisy = False
    f.clock = clock
    for k, v in attrs.items():
        setattr(f, k, v)
    return f, clock


def test_reconnectBackoffGrows() -> None:
    f, clock = reconnecting(jitter=0)
    connector = FakeConnector()
    delays = []
    for _ in range(5):
        f.clientConnectionFailed(connector, Failure(error.ConnectionRefusedError()))  # type: ignore[arg-type]
        (call,) = clock.getDelayedCalls()
        delays.append(call.getTime() - clock.seconds())
        clock.advance(delays[-1])
    assert connector.connects == 5
    assert all(b == pytest.approx(a * f.factor) for a, b in itertools.pairwise(delays))


def test_reconnectMaxDelay() -> None:
    f, clock = reconnecting(jitter=0, maxDelay=10)
    connector = FakeConnector()
    for _ in range(10):
        f.clientConnectionLost(connector, Failure(error.ConnectionLost()))  # type: ignore[arg-type]
        (call,) = clock.getDelayedCalls()
        assert call.getTime() - clock.seconds() <= 10
        clock.advance(10)
    assert f.delay == 10


def test_reconnectJitterStaysInBounds() -> None:
    f, clock = reconnecting(maxDelay=50)
    connector = FakeConnector()
    for _ in range(30):
        f.retry(connector)  # type: ignore[arg-type]
        (call,) = clock.getDelayedCalls()
        assert 0 <= call.getTime() - clock.seconds() <= 50
        clock.advance(50)


@pytest.mark.parametrize("maxRetries", [0, 1, 3])
def test_reconnectMaxRetries(maxRetries: int) -> None:
    f, clock = reconnecting(maxRetries=maxRetries)
    connector = FakeConnector()
    for _ in range(maxRetries + 2):
        f.clientConnectionFailed(connector, Failure(error.ConnectionRefusedError()))  # type: ignore[arg-type]
        clock.advance(f.maxDelay)
    # Exactly maxRetries attempts are made, then it gives up.
    assert connector.connects == maxRetries


def test_stopTryingAndResetDelay() -> None:
    f, clock = reconnecting()
    connector = FakeConnector()
    f.clientConnectionFailed(connector, Failure(error.ConnectionRefusedError()))  # type: ignore[arg-type]
    assert len(clock.getDelayedCalls()) == 1
    f.stopTrying()
    assert clock.getDelayedCalls() == []
    assert connector.stops == 1
    f.clientConnectionFailed(connector, Failure(error.ConnectionRefusedError()))  # type: ignore[arg-type]
    assert clock.getDelayedCalls() == []
    f.resetDelay()
    assert (f.delay, f.retries) == (f.initialDelay, 0)
    f.clientConnectionFailed(connector, Failure(error.ConnectionRefusedError()))  # type: ignore[arg-type]
    assert len(clock.getDelayedCalls()) == 1


def test_reconnectingPickleState() -> None:
    f, _ = reconnecting()
    f.connector = FakeConnector()  # type: ignore[assignment]
    state = f.__getstate__()
    assert "connector" not in state and "clock" in state


def test_clientFactoryHooksExist() -> None:
    f = protocol.ClientFactory()
    f.startedConnecting(FakeConnector())  # type: ignore[arg-type]
    f.clientConnectionFailed(FakeConnector(), protocol.connectionDone)  # type: ignore[arg-type]
    f.clientConnectionLost(FakeConnector(), protocol.connectionDone)  # type: ignore[arg-type]


def test_processProtocolDispatch() -> None:
    events: list[Any] = []

    class P(protocol.ProcessProtocol):
        def outReceived(self, data: bytes) -> None:
            events.append(("out", data))

        def errReceived(self, data: bytes) -> None:
            events.append(("err", data))

        def inConnectionLost(self) -> None:
            events.append("in-lost")

        def outConnectionLost(self) -> None:
            events.append("out-lost")

        def errConnectionLost(self) -> None:
            events.append("err-lost")

    p = P()
    assert verifyObject(interfaces.IProcessProtocol, p)
    p.childDataReceived(1, b"o")
    p.childDataReceived(2, b"e")
    p.childDataReceived(3, b"ignored")
    for fd in (0, 1, 2, 3):
        p.childConnectionLost(fd)
    assert events == [("out", b"o"), ("err", b"e"), "in-lost", "out-lost", "err-lost"]


def test_datagramProtocolStartStop() -> None:
    events: list[str] = []

    class D(protocol.DatagramProtocol):
        noisy = False

        def startProtocol(self) -> None:
            events.append("start")

        def stopProtocol(self) -> None:
            events.append("stop")

    d = D()
    transport = object()
    d.makeConnection(transport)
    assert d.transport is transport and events == ["start"]
    with pytest.raises(RuntimeError):
        d.makeConnection(object())
    d.doStop()
    assert d.transport is None and events == ["start", "stop"]
    d.doStop()
    assert events == ["start", "stop"]
    assert d.logPrefix() == "D"


def test_connectedDatagramProtocol() -> None:
    p = protocol.ConnectedDatagramProtocol()
    p.datagramReceived(b"x")
    p.connectionFailed(Failure(error.ConnectionRefusedError()))


def test_fileWrapper() -> None:
    f = io.BytesIO()
    close = f.close
    f.close = lambda: None  # type: ignore[method-assign]
    w = protocol.FileWrapper(f)
    assert verifyObject(interfaces.ITransport, w)
    w.write(b"abc")
    w.writeSequence([b"d", b"e"])
    with pytest.raises(TypeError, match=r"FileWrapper\.write"):
        w.write("text")  # type: ignore[arg-type]
    assert f.getvalue() == b"abcde"
    w.loseConnection()
    assert w.closed
    close()


def test_fileWrapperPullProducer() -> None:
    w = protocol.FileWrapper(io.BytesIO())
    asked: list[int] = []

    class Pull:
        def resumeProducing(self) -> None:
            asked.append(1)

        def stopProducing(self) -> None:
            pass

    w.registerProducer(Pull(), False)  # type: ignore[arg-type]
    assert asked == [1]
    w.unregisterProducer()
    assert w.producer is None


def test_adapters() -> None:
    p = Recorder()
    consumer = protocol.ProtocolToConsumerAdapter(p)
    assert verifyObject(interfaces.IConsumer, consumer)
    consumer.write(b"fed")
    assert p.events == [b"fed"]
    sink = io.BytesIO()
    w = protocol.FileWrapper(sink)
    assert verifyObject(interfaces.IConsumer, w)
    adapter = protocol.ConsumerToProtocolAdapter(w)
    assert verifyObject(interfaces.IProtocol, adapter)
    adapter.dataReceived(b"to consumer")
    assert sink.getvalue() == b"to consumer"
