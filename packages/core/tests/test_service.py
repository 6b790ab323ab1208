"""
Tests for torsion.application.service and torsion.application.internet.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface.verify import verifyObject

from torsion.application import internet, service
from torsion.internet import defer, error
from torsion.internet.address import IPv4Address
from torsion.internet.defer import CancelledError, Deferred
from torsion.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from torsion.internet.interfaces import IProtocol
from torsion.internet.protocol import Factory, Protocol
from torsion.internet.task import Clock
from torsion.internet.testing import (
    MemoryReactorClock,
    StringTransportWithDisconnection,
)
from torsion.protocols.wire import Echo
from torsion.python.failure import Failure


class RecordingService(service.Service):
    def __init__(self, log: list[str], name: str, stopResult: Any = None) -> None:
        self.log = log
        self.setName(name)
        self.stopResult = stopResult

    def privilegedStartService(self) -> None:
        self.log.append(f"privileged {self.name}")

    def startService(self) -> None:
        service.Service.startService(self)
        self.log.append(f"start {self.name}")

    def stopService(self) -> Any:
        service.Service.stopService(self)
        self.log.append(f"stop {self.name}")
        return self.stopResult


# -- Service and MultiService -------------------------------------------------


def test_interfacesVerified() -> None:
    verifyObject(service.IService, service.Service())
    multi = service.MultiService()
    verifyObject(service.IService, multi)
    verifyObject(service.IServiceCollection, multi)
    verifyObject(service.IProcess, service.Process(1, 2))
    maker = service.ServiceMaker("Echo", "torsion.plugins.torsion_echo", "d", "echo")
    verifyObject(service.IServiceMaker, maker)


def test_serviceStartStop() -> None:
    s = service.Service()
    assert not s.running
    s.startService()
    assert s.running
    assert s.stopService() is None
    assert not s.running


def test_setNameAndParent() -> None:
    parent = service.MultiService()
    s = service.Service()
    s.setName("child")
    s.setServiceParent(parent)
    assert s.parent is parent
    assert parent.getServiceNamed("child") is s
    assert list(parent) == [s]
    with pytest.raises(RuntimeError):
        s.setName("other")
    s.disownServiceParent()
    assert s.parent is None
    assert list(parent) == []
    with pytest.raises(KeyError):
        parent.getServiceNamed("child")


def test_duplicateNameRefused() -> None:
    parent = service.MultiService()
    a, b = service.Service(), service.Service()
    a.setName("x")
    b.setName("x")
    a.setServiceParent(parent)
    with pytest.raises(RuntimeError):
        b.setServiceParent(parent)
    assert b.parent is None
    assert list(parent) == [a]


def test_reparenting() -> None:
    first, second = service.MultiService(), service.MultiService()
    s = service.Service()
    s.setServiceParent(first)
    s.setServiceParent(second)
    assert list(first) == []
    assert list(second) == [s]


def test_childrenStartInOrderStopInReverse() -> None:
    log: list[str] = []
    multi = service.MultiService()
    for name in "abc":
        RecordingService(log, name).setServiceParent(multi)
    multi.privilegedStartService()
    multi.startService()
    d = multi.stopService()
    assert log == [
        "privileged a",
        "privileged b",
        "privileged c",
        "start a",
        "start b",
        "start c",
        "stop c",
        "stop b",
        "stop a",
    ]
    assert d.called


def test_stopWaitsForEveryChild() -> None:
    log: list[str] = []
    slowA: Deferred[None] = Deferred()
    slowB: Deferred[None] = Deferred()
    multi = service.MultiService()
    RecordingService(log, "a", slowA).setServiceParent(multi)
    RecordingService(log, "b", slowB).setServiceParent(multi)
    multi.startService()
    done = multi.stopService()
    assert not done.called
    slowB.callback(None)
    assert not done.called
    slowA.callback(None)
    assert done.called


def test_stopReportsFailureAfterAllStopped() -> None:
    log: list[str] = []
    slow: Deferred[None] = Deferred()
    multi = service.MultiService()
    RecordingService(log, "a", slow).setServiceParent(multi)
    RecordingService(log, "b", defer.fail(ValueError("boom"))).setServiceParent(multi)
    multi.startService()
    done = multi.stopService()
    assert not done.called
    slow.callback(None)
    failures: list[Failure] = []
    done.addErrback(failures.append)
    assert failures[0].check(ValueError)


def test_addToRunningStartsChild() -> None:
    log: list[str] = []
    multi = service.MultiService()
    multi.startService()
    RecordingService(log, "late").setServiceParent(multi)
    assert log == ["privileged late", "start late"]
    multi.removeService(multi.getServiceNamed("late"))
    assert log[-1] == "stop late"


def test_application() -> None:
    app = service.Application("myapp", uid=1000, gid=1001)
    top = service.IService(app)
    assert isinstance(top, service.MultiService)
    assert top.name == "myapp"
    assert service.IServiceCollection(app) is top
    process = service.IProcess(app)
    assert (process.uid, process.gid) == (1000, 1001)
    child = service.Service()
    child.setServiceParent(app)
    assert list(top) == [child]


def test_loadApplication(tmp_path: Any) -> None:
    tac = tmp_path / "app.tac"
    tac.write_text(
        "from torsion.application import service\n"
        "application = service.Application('fromtac')\n"
    )
    app = service.loadApplication(str(tac))
    assert service.IService(app).name == "fromtac"
    empty = tmp_path / "empty.tac"
    empty.write_text("x = 1\n")
    with pytest.raises(ValueError):
        service.loadApplication(str(empty))
    with pytest.raises(OSError):
        service.loadApplication(str(tmp_path / "missing.tac"))


# -- servers and clients over the reactor's methods ------------------------


def test_tcpServerListensAtPrivilegedStart() -> None:
    reactor = MemoryReactorClock()
    factory = Factory.forProtocol(Echo)
    s = internet.TCPServer(8080, factory, interface="127.0.0.1", reactor=reactor)
    s.privilegedStartService()
    assert reactor.tcpServers[0][:2] == (8080, factory)
    s.startService()
    assert len(reactor.tcpServers) == 1
    port = s.getPort()
    d = s.stopService()
    assert d.called
    assert s.getPort() is None
    assert port is not None


def test_tcpServerRealSocket(reactor: Any) -> None:
    s = internet.TCPServer(
        0, Factory.forProtocol(Echo), interface="127.0.0.1", reactor=reactor
    )
    s.startService()
    port = s.getPort().getHost().port
    with socket.create_connection(("127.0.0.1", port)):
        pass
    runUntil(reactor, s.stopService())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port))


def test_tcpServerPortInUse(reactor: Any) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        s = internet.TCPServer(
            holder.getsockname()[1],
            Factory.forProtocol(Echo),
            interface="127.0.0.1",
            reactor=reactor,
        )
        with pytest.raises(error.CannotListenError):
            s.privilegedStartService()
    finally:
        holder.close()


def test_udpServer() -> None:
    reactor = MemoryReactorClock()
    from torsion.internet.protocol import DatagramProtocol

    proto = DatagramProtocol()
    s = internet.UDPServer(5353, proto, reactor=reactor)
    s.startService()
    assert reactor.udpServers[0][:2] == (5353, proto)
    s.stopService()


def test_sslAndUnixServers(tmp_path: Any) -> None:
    reactor = MemoryReactorClock()
    factory = Factory.forProtocol(Echo)
    context = object()
    ssl = internet.SSLServer(8443, factory, context, reactor=reactor)
    ssl.privilegedStartService()
    assert reactor.sslServers[0][:3] == (8443, factory, context)
    unix = internet.UNIXServer(str(tmp_path / "s"), factory, reactor=reactor)
    unix.startService()
    assert reactor.unixServers[0][:2] == (str(tmp_path / "s"), factory)
    assert ssl.stopService().called and unix.stopService().called


def test_tcpClient() -> None:
    reactor = MemoryReactorClock()
    factory = Factory.forProtocol(Protocol)
    c = internet.TCPClient("example.com", 80, factory, reactor=reactor)
    c.startService()
    assert reactor.tcpClients[0][:3] == ("example.com", 80, factory)
    connector = reactor.connectors[0]
    c.stopService()
    assert connector._disconnected


# -- TimerService -----------------------------------------------------------


def test_timerServiceCallsEveryStep() -> None:
    clock = Clock()
    calls: list[int] = []
    timer = internet.TimerService(5, calls.append, 1)
    timer.clock = clock
    timer.startService()
    assert calls == [1]
    clock.advance(5)
    clock.advance(5)
    assert calls == [1, 1, 1]
    d = timer.stopService()
    assert d.called
    clock.advance(10)
    assert calls == [1, 1, 1]


def test_timerServiceStopWaitsForRunningCall() -> None:
    clock = Clock()
    pending: list[Deferred[None]] = []

    def work() -> Deferred[None]:
        d: Deferred[None] = Deferred()
        pending.append(d)
        return d

    timer = internet.TimerService(1, work)
    timer.clock = clock
    timer.startService()
    stopped = timer.stopService()
    assert not stopped.called
    pending[0].callback(None)
    assert stopped.called
    clock.advance(5)
    assert len(pending) == 1


def test_timerServiceFailureLoggedAndStops() -> None:
    clock = Clock()
    calls: list[int] = []

    def boom() -> None:
        calls.append(1)
        raise ValueError("x")

    timer = internet.TimerService(1, boom)
    timer.clock = clock
    timer.startService()
    clock.advance(5)
    assert calls == [1]
    assert timer.stopService().called


# -- StreamServerEndpointService --------------------------------------------


def test_endpointServiceListens(reactor: Any) -> None:
    s = internet.StreamServerEndpointService(
        TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"),
        Factory.forProtocol(Echo),
    )
    s.privilegedStartService()
    s.startService()
    port = runUntil(reactor, s.whenListening())
    address = port.getHost()
    assert isinstance(address, IPv4Address)
    with socket.create_connection(("127.0.0.1", address.port)) as client:
        client.sendall(b"ping")
        d: Deferred[None] = Deferred()
        reactor.callLater(0, d.callback, None)
        runUntil(reactor, d)
    runUntil(reactor, s.stopService())


def test_endpointServiceErrorLoggedOrRaised(reactor: Any) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    try:
        quiet = internet.StreamServerEndpointService(
            TCP4ServerEndpoint(reactor, busy, interface="127.0.0.1"),
            Factory.forProtocol(Echo),
        )
        quiet.startService()
        with pytest.raises(error.CannotListenError):
            runUntil(reactor, quiet.whenListening())
        loud = internet.StreamServerEndpointService(
            TCP4ServerEndpoint(reactor, busy, interface="127.0.0.1"),
            Factory.forProtocol(Echo),
        )
        loud._raiseSynchronously = True
        with pytest.raises(error.CannotListenError):
            loud.privilegedStartService()
    finally:
        holder.close()


def test_endpointServiceStopCancelsPendingListen() -> None:
    cancelled: list[bool] = []

    class SlowEndpoint:
        def listen(self, factory: Any) -> Deferred[Any]:
            return Deferred(lambda d: cancelled.append(True))

    s = internet.StreamServerEndpointService(SlowEndpoint(), Factory())  # type: ignore[arg-type]
    s.startService()
    assert s.stopService().called
    assert cancelled == [True]


def test_whenListeningBeforeStart() -> None:
    s = internet.StreamServerEndpointService(
        TCP4ServerEndpoint(MemoryReactorClock(), 0), Factory()
    )
    with pytest.raises(RuntimeError):
        s.whenListening()


# -- backoffPolicy -----------------------------------------------------------


def test_backoffPolicy() -> None:
    policy = internet.backoffPolicy(1.0, 10.0, 2.0, jitter=lambda: 0.0)
    assert [policy(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert policy(10**9) == 10.0
    withJitter = internet.backoffPolicy(1.0, 10.0, 2.0, jitter=lambda: 0.5)
    assert withJitter(0) == 1.5


def test_defaultBackoffBounded() -> None:
    policy = internet.backoffPolicy()
    assert 60.0 <= policy(1000) <= 61.0


# -- ClientService state machine ----------------------------------------------


class FakeEndpoint:
    """
    A client endpoint whose attempts the test completes by hand.
    """

    def __init__(self) -> None:
        self.attempts: list[tuple[Any, Deferred[Any]]] = []
        self.cancelled = 0

    def connect(self, factory: Any) -> Deferred[Any]:
        def cancel(d: Deferred[Any]) -> None:
            self.cancelled += 1

        d: Deferred[Any] = Deferred(cancel)
        self.attempts.append((factory, d))
        return d

    def succeed(self) -> tuple[Any, StringTransportWithDisconnection]:
        factory, d = self.attempts[-1]
        protocol = factory.buildProtocol(None)
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        d.callback(protocol)
        return protocol, transport

    def fail(self, reason: Exception | None = None) -> None:
        self.attempts[-1][1].errback(reason or error.ConnectionRefusedError())


class Recorder(Protocol):
    def __init__(self) -> None:
        self.made = 0
        self.lost: list[Failure] = []
        self.data = b""

    def connectionMade(self) -> None:
        self.made += 1

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        self.lost.append(reason)


def makeClientService(
    **kwargs: Any,
) -> tuple[internet.ClientService, FakeEndpoint, Clock]:
    clock = Clock()
    endpoint = FakeEndpoint()
    kwargs.setdefault("retryPolicy", lambda n: 10.0 * (n + 1))
    cs = internet.ClientService(
        endpoint,  # type: ignore[arg-type]
        Factory.forProtocol(Recorder),
        clock=clock,
        **kwargs,
    )
    return cs, endpoint, clock


def test_clientServiceConnects() -> None:
    cs, endpoint, _clock = makeClientService()
    assert cs.state == "stopped"
    waiting = cs.whenConnected()
    cs.startService()
    assert cs.state == "connecting"
    assert len(endpoint.attempts) == 1
    assert not waiting.called
    protocol, _transport = endpoint.succeed()
    assert cs.state == "connected"
    got: list[Any] = []
    waiting.addCallback(got.append)
    # The user's own protocol, not the service's observing wrapper.
    assert got == [protocol._protocol]
    assert isinstance(got[0], Recorder)
    assert got[0].made == 1
    again: list[Any] = []
    cs.whenConnected().addCallback(again.append)
    assert again == got
    verifyObject(IProtocol, protocol)


def test_clientServiceRetriesWithPolicy() -> None:
    cs, endpoint, clock = makeClientService()
    cs.startService()
    endpoint.fail()
    assert cs.state == "waiting"
    assert cs.failedAttempts == 1
    clock.advance(19)
    assert len(endpoint.attempts) == 1
    clock.advance(1)
    assert len(endpoint.attempts) == 2
    assert cs.state == "connecting"
    endpoint.fail()
    clock.advance(29)
    assert len(endpoint.attempts) == 2
    clock.advance(1)
    assert len(endpoint.attempts) == 3
    endpoint.succeed()
    assert cs.failedAttempts == 0


def test_clientServiceReconnectsAfterLoss() -> None:
    cs, endpoint, clock = makeClientService()
    cs.startService()
    protocol, transport = endpoint.succeed()
    transport.loseConnection()
    assert cs.state == "waiting"
    assert protocol._protocol.lost
    newConnection = cs.whenConnected()
    clock.advance(10)
    assert cs.state == "connecting"
    second, _ = endpoint.succeed()
    got: list[Any] = []
    newConnection.addCallback(got.append)
    assert got == [second._protocol]


def test_clientServiceFailAfterFailures() -> None:
    cs, endpoint, clock = makeClientService()
    cs.startService()
    patient = cs.whenConnected()
    impatient = cs.whenConnected(failAfterFailures=2)
    endpoint.fail()
    assert not impatient.called
    clock.advance(20)
    endpoint.fail(error.ConnectionRefusedError("second"))
    failures: list[Failure] = []
    impatient.addErrback(failures.append)
    assert failures[0].check(error.ConnectionRefusedError)
    assert not patient.called
    with pytest.raises(ValueError):
        cs.whenConnected(failAfterFailures=0)
    cs.stopService()
    patient.addErrback(failures.append)
    assert failures[1].check(CancelledError)


def test_clientServiceStopWhileConnecting() -> None:
    cs, endpoint, clock = makeClientService()
    cs.startService()
    waiting = cs.whenConnected()
    stopped = cs.stopService()
    assert stopped.called
    assert endpoint.cancelled == 1
    assert cs.state == "stopped"
    failures: list[Failure] = []
    waiting.addErrback(failures.append)
    assert failures[0].check(CancelledError)
    clock.advance(1000)
    assert len(endpoint.attempts) == 1


def test_clientServiceStopWhileWaiting() -> None:
    cs, endpoint, clock = makeClientService()
    cs.startService()
    endpoint.fail()
    assert cs.stopService().called
    assert cs.state == "stopped"
    clock.advance(1000)
    assert len(endpoint.attempts) == 1
    assert not clock.getDelayedCalls()


def test_clientServiceStopWhileConnected() -> None:
    cs, endpoint, clock = makeClientService()
    cs.startService()
    protocol, transport = endpoint.succeed()
    stopped = cs.stopService()
    assert stopped.called
    assert transport.disconnecting
    assert protocol._protocol.lost
    assert cs.state == "stopped"
    clock.advance(1000)
    assert len(endpoint.attempts) == 1
    failures: list[Failure] = []
    cs.whenConnected().addErrback(failures.append)
    assert failures[0].check(CancelledError)


def test_clientServiceStopWaitsForDisconnect() -> None:
    cs, endpoint, _clock = makeClientService()
    cs.startService()
    _protocol, transport = endpoint.succeed()
    # A transport that only reports the loss later.
    lose = transport.loseConnection
    transport.loseConnection = lambda: None  # type: ignore[method-assign]
    stopped = cs.stopService()
    assert cs.state == "disconnecting"
    assert not stopped.called
    second = cs.stopService()
    assert not second.called
    lose()
    assert stopped.called and second.called
    assert cs.state == "stopped"


def test_clientServiceRestart() -> None:
    cs, endpoint, _clock = makeClientService()
    cs.startService()
    endpoint.succeed()
    cs.stopService()
    cs.startService()
    assert cs.state == "connecting"
    assert len(endpoint.attempts) == 2


def test_clientServiceEndpointConnectingAtOnce() -> None:
    transports: list[StringTransportWithDisconnection] = []

    class ImmediateEndpoint:
        def connect(self, factory: Any) -> Deferred[Any]:
            protocol = factory.buildProtocol(None)
            transport = StringTransportWithDisconnection()
            transport.protocol = protocol
            protocol.makeConnection(transport)
            transports.append(transport)
            return defer.succeed(protocol)

    clock = Clock()
    cs = internet.ClientService(
        ImmediateEndpoint(),  # type: ignore[arg-type]
        Factory.forProtocol(Recorder),
        clock=clock,
        retryPolicy=lambda n: 1.0,
    )
    cs.startService()
    assert cs.state == "connected"
    transports[0].loseConnection()
    clock.advance(1)
    assert cs.state == "connected"
    assert len(transports) == 2
    assert cs.stopService().called


def test_clientServicePrepareConnection() -> None:
    prepared: list[Any] = []
    gate: Deferred[None] = Deferred()

    def prepare(protocol: Any) -> Deferred[None]:
        prepared.append(protocol)
        return gate

    cs, endpoint, _clock = makeClientService(prepareConnection=prepare)
    cs.startService()
    waiting = cs.whenConnected()
    _protocol, _transport = endpoint.succeed()
    assert cs.state == "preparing"
    assert prepared and isinstance(prepared[0], Recorder)
    assert not waiting.called
    gate.callback(None)
    assert cs.state == "connected"
    assert waiting.called


def test_clientServicePrepareFailureRetries() -> None:
    cs, endpoint, clock = makeClientService(
        prepareConnection=lambda p: defer.fail(ValueError("handshake"))
    )
    cs.startService()
    waiting = cs.whenConnected(failAfterFailures=1)
    _protocol, transport = endpoint.succeed()
    assert transport.disconnecting
    assert cs.state == "waiting"
    failures: list[Failure] = []
    waiting.addErrback(failures.append)
    assert failures[0].check(ValueError)
    clock.advance(20)
    assert len(endpoint.attempts) == 2


def test_clientServiceLostWhilePreparing() -> None:
    cs, endpoint, _clock = makeClientService(prepareConnection=lambda p: Deferred())
    cs.startService()
    _protocol, transport = endpoint.succeed()
    transport.loseConnection()
    assert cs.state == "waiting"
    assert cs.failedAttempts == 1


def test_clientServiceStopWhilePreparing() -> None:
    cs, endpoint, _clock = makeClientService(prepareConnection=lambda p: Deferred())
    cs.startService()
    _protocol, _transport = endpoint.succeed()
    stopped = cs.stopService()
    assert stopped.called
    assert cs.state == "stopped"


def test_clientServiceStartTwiceRefused() -> None:
    cs, _endpoint, _clock = makeClientService()
    cs.startService()
    with pytest.raises(RuntimeError):
        cs.startService()


def test_clientServiceRealTCP(reactor: Any) -> None:
    server = internet.StreamServerEndpointService(
        TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"),
        Factory.forProtocol(Echo),
    )
    server.startService()
    serverAddress = runUntil(reactor, server.whenListening()).getHost()
    assert isinstance(serverAddress, IPv4Address)
    port = serverAddress.port
    cs = internet.ClientService(
        TCP4ClientEndpoint(reactor, "127.0.0.1", port),
        Factory.forProtocol(Recorder),
        clock=reactor,
    )
    cs.startService()
    protocol = runUntil(reactor, cs.whenConnected())
    protocol.transport.write(b"hello")
    while protocol.data != b"hello":
        tick: Deferred[None] = Deferred()
        reactor.callLater(0.001, tick.callback, None)
        runUntil(reactor, tick)
    runUntil(reactor, cs.stopService())
    runUntil(reactor, server.stopService())
    assert protocol.lost
