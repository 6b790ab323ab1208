"""
Tests for torsion.internet.endpoints: unit tests over MemoryReactorClock,
integration tests over real reactors and sockets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reactormixins import runUntil
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet import (
    _endpoint_hostname,
    _endpoint_parsing,
    _endpoint_systemd,
    endpoints,
    error,
)
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.defer import Deferred, succeed
from torsion.internet.endpoints import (
    AdoptedStreamServerEndpoint,
    HostnameEndpoint,
    ListenFDs,
    ProcessEndpoint,
    StandardErrorBehavior,
    StandardIOEndpoint,
    TCP4ClientEndpoint,
    TCP4ServerEndpoint,
    TCP6ClientEndpoint,
    TCP6ServerEndpoint,
    UNIXClientEndpoint,
    UNIXServerEndpoint,
    clientFromString,
    connectProtocol,
    quoteStringArgument,
    serverFromString,
)
from torsion.internet.interfaces import (
    IAddress,
    IHalfCloseableProtocol,
    IHostnameResolver,
    IHostResolution,
    IResolutionReceiver,
    IStreamClientEndpoint,
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
    ITransport,
)
from torsion.internet.protocol import Factory, Protocol, connectionDone
from torsion.internet.testing import (
    AccumulatingProtocol,
    EventLoggingObserver,
    MemoryReactor,
    MemoryReactorClock,
    RaisingMemoryReactor,
    StringTransport,
)
from torsion.logger import globalLogPublisher
from torsion.python.failure import Failure

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def resultOf(d: Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


def failureOf(d: Deferred[Any], *types: type[BaseException]) -> Failure:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    assert isinstance(results[0], Failure), f"succeeded with {results[0]!r}"
    if types:
        assert results[0].check(*types), results[0]
    return results[0]


def hasFired(d: Deferred[Any]) -> bool:
    return bool(d.called)


class _Cleanups:
    def __init__(self) -> None:
        self.cleanups: list[Any] = []

    def addCleanup(self, f: Any, *a: Any, **kw: Any) -> None:
        self.cleanups.append((f, a, kw))

    def run(self) -> None:
        for f, a, kw in self.cleanups:
            f(*a, **kw)


@implementer(IHostResolution)
class FakeResolution:
    def __init__(self, name: str) -> None:
        self.name = name
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


@implementer(IHostnameResolver)
class FakeResolver:
    """
    Answers from a table; with ``manual=True`` answers only when the test
    calls ``complete``.
    """

    def __init__(
        self, table: dict[str, list[IAddress]] | None = None, manual: bool = False
    ) -> None:
        self.table = table or {}
        self.manual = manual
        self.requests: list[tuple[Any, ...]] = []
        self.resolutions: list[FakeResolution] = []
        self._receivers: list[IResolutionReceiver] = []

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IResolutionReceiver:
        self.requests.append((hostName, portNumber, addressTypes, transportSemantics))
        resolution = FakeResolution(hostName)
        self.resolutions.append(resolution)
        resolutionReceiver.resolutionBegan(resolution)
        self._receivers.append(resolutionReceiver)
        if not self.manual:
            self.complete(hostName)
        return resolutionReceiver

    def complete(self, hostName: str) -> None:
        receiver = self._receivers.pop(0)
        for address in self.table.get(hostName, []):
            receiver.addressResolved(address)
        receiver.resolutionComplete()


def _reactorWithResolver(
    table: dict[str, list[IAddress]] | None = None, manual: bool = False
) -> tuple[MemoryReactorClock, FakeResolver]:
    reactor = MemoryReactorClock()
    resolver = FakeResolver(table, manual)
    reactor.nameResolver = resolver  # type: ignore[attr-defined]
    return reactor, resolver


def _connectClient(reactor: MemoryReactor, index: int = -1) -> Any:
    """
    Complete the ``index``-th TCP connection the reactor was asked for, as a
    real reactor would: build the protocol and connect it to a transport.
    """
    _host, port, factory = reactor.tcpClients[index][:3]
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", port))
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def _failClient(reactor: MemoryReactor, index: int, exc: Exception) -> None:
    factory = reactor.tcpClients[index][2]
    factory.clientConnectionFailed(reactor.connectors[index], Failure(exc))


# ---------------------------------------------------------------------------
# interfaces
# ---------------------------------------------------------------------------


def test_interfaces() -> None:
    reactor = MemoryReactorClock()
    for server in (
        TCP4ServerEndpoint(reactor, 80),
        TCP6ServerEndpoint(reactor, 80),
        UNIXServerEndpoint(reactor, "/tmp/x"),
        AdoptedStreamServerEndpoint(reactor, 3, socket.AF_INET),
        StandardIOEndpoint(reactor),
    ):
        assert verifyObject(IStreamServerEndpoint, server)
    for client in (
        TCP4ClientEndpoint(reactor, "127.0.0.1", 80),
        TCP6ClientEndpoint(reactor, "::1", 80),
        UNIXClientEndpoint(reactor, "/tmp/x"),
        HostnameEndpoint(reactor, "example.com", 80),
        ProcessEndpoint(reactor, "/bin/true"),
    ):
        assert verifyObject(IStreamClientEndpoint, client)
    for parser in _endpoint_parsing._serverParsers.values():
        if not isinstance(parser, str):
            assert verifyObject(IStreamServerEndpointStringParser, parser)
    for cparser in _endpoint_parsing._clientParsers.values():
        if not isinstance(cparser, str):
            assert verifyObject(IStreamClientEndpointStringParserWithReactor, cparser)


def test_publicNames() -> None:
    for name in endpoints.__all__:
        assert getattr(endpoints, name).__doc__ or name.isupper(), name


# ---------------------------------------------------------------------------
# TCP
# ---------------------------------------------------------------------------


class TestTCPServer:
    def test_listen(self) -> None:
        reactor = MemoryReactor()
        factory = Factory()
        d = TCP4ServerEndpoint(reactor, 1234, 7, "127.0.0.1").listen(factory)
        port = resultOf(d)
        assert reactor.tcpServers == [(1234, factory, 7, "127.0.0.1")]
        assert port.getHost() == IPv4Address("TCP", "127.0.0.1", 1234)

    def test_listenTCP6DefaultsToAllAddresses(self) -> None:
        reactor = MemoryReactor()
        factory = Factory()
        resultOf(TCP6ServerEndpoint(reactor, 1234).listen(factory))
        assert reactor.tcpServers == [(1234, factory, 50, "::")]

    def test_tcp6RejectsIPv4Interface(self) -> None:
        with pytest.raises(ValueError, match="IPv6"):
            TCP6ServerEndpoint(MemoryReactor(), 1, interface="127.0.0.1")

    def test_listenFailure(self) -> None:
        reactor = RaisingMemoryReactor()
        d = TCP4ServerEndpoint(reactor, 80).listen(Factory())
        failureOf(d, error.CannotListenError)

    @pytest.mark.parametrize("port", [0, 1, 65535])
    def test_portBoundariesAccepted(self, port: int) -> None:
        TCP4ServerEndpoint(MemoryReactor(), port)

    @pytest.mark.parametrize("port", [-1, 65536])
    def test_portBoundariesRejected(self, port: int) -> None:
        with pytest.raises(ValueError, match="port"):
            TCP4ServerEndpoint(MemoryReactor(), port)

    def test_portType(self) -> None:
        with pytest.raises(TypeError):
            TCP4ServerEndpoint(MemoryReactor(), "80")  # type: ignore[arg-type]


class TestTCPClient:
    def test_connect(self) -> None:
        reactor = MemoryReactor()
        factory = Factory.forProtocol(AccumulatingProtocol)
        endpoint = TCP4ClientEndpoint(reactor, "10.0.0.2", 80, 5, ("10.0.0.1", 0))
        d = endpoint.connect(factory)
        assert not hasFired(d)
        host, port, _wrapping, timeout, bind = reactor.tcpClients[0]
        assert (host, port, timeout, bind) == ("10.0.0.2", 80, 5, ("10.0.0.1", 0))
        wrapper, transport = _connectClient(reactor)
        protocol = resultOf(d)
        assert isinstance(protocol, AccumulatingProtocol)
        assert protocol.made
        assert protocol.transport is transport
        wrapper.dataReceived(b"data")
        assert protocol.data == b"data"
        wrapper.connectionLost(Failure(error.ConnectionDone()))
        assert protocol.closed

    def test_connectFailed(self) -> None:
        reactor = MemoryReactor()
        d = TCP4ClientEndpoint(reactor, "10.0.0.2", 80).connect(Factory())
        _failClient(reactor, 0, error.ConnectionRefusedError())
        failureOf(d, error.ConnectionRefusedError)

    def test_connectRaises(self) -> None:
        reactor = RaisingMemoryReactor(connectException=error.NoRouteError())
        d = TCP4ClientEndpoint(reactor, "10.0.0.2", 80).connect(Factory())
        failureOf(d, error.NoRouteError)

    def test_cancel(self) -> None:
        reactor = MemoryReactor()
        d = TCP4ClientEndpoint(reactor, "10.0.0.2", 80).connect(Factory())
        d.cancel()
        f = failureOf(d, error.ConnectingCancelledError)
        assert isinstance(f.value, error.ConnectingCancelledError)
        assert f.value.address == IPv4Address("TCP", "10.0.0.2", 80)
        assert reactor.connectors[0].stoppedConnecting

    def test_factoryReturnsNone(self) -> None:
        class NoneFactory(Factory):
            def buildProtocol(self, addr: IAddress) -> None:
                return None

        reactor = MemoryReactor()
        d = TCP4ClientEndpoint(reactor, "10.0.0.2", 80).connect(NoneFactory())
        factory = reactor.tcpClients[0][2]
        assert factory.buildProtocol(IPv4Address("TCP", "10.0.0.2", 80)) is None
        failureOf(d, error.NoProtocol)

    def test_factoryRaises(self) -> None:
        class BadFactory(Factory):
            def buildProtocol(self, addr: IAddress) -> None:
                raise KeyError("nope")

        reactor = MemoryReactor()
        d = TCP4ClientEndpoint(reactor, "10.0.0.2", 80).connect(BadFactory())
        factory = reactor.tcpClients[0][2]
        assert factory.buildProtocol(IPv4Address("TCP", "10.0.0.2", 80)) is None
        failureOf(d, KeyError)

    def test_halfCloseForwarded(self) -> None:
        @implementer(IHalfCloseableProtocol)
        class HalfClose(Protocol):
            events: list[str] = []

            def readConnectionLost(self) -> None:
                self.events.append("read")

            def writeConnectionLost(self) -> None:
                self.events.append("write")

        reactor = MemoryReactor()
        d = TCP4ClientEndpoint(reactor, "10.0.0.2", 80).connect(
            Factory.forProtocol(HalfClose)
        )
        wrapper, _ = _connectClient(reactor)
        assert IHalfCloseableProtocol.providedBy(wrapper)
        wrapper.readConnectionLost()
        wrapper.writeConnectionLost()
        assert resultOf(d).events == ["read", "write"]

    def test_plainProtocolNotHalfCloseable(self) -> None:
        reactor = MemoryReactor()
        TCP4ClientEndpoint(reactor, "10.0.0.2", 80).connect(
            Factory.forProtocol(Protocol)
        )
        wrapper, _ = _connectClient(reactor)
        assert not IHalfCloseableProtocol.providedBy(wrapper)

    def test_factoryStartStop(self) -> None:
        events: list[str] = []

        class F(Factory):
            protocol = Protocol

            def startFactory(self) -> None:
                events.append("start")

            def stopFactory(self) -> None:
                events.append("stop")

        reactor = MemoryReactor()
        TCP4ClientEndpoint(reactor, "10.0.0.2", 80).connect(F())
        wrapping = reactor.tcpClients[0][2]
        wrapping.doStart()
        wrapping.doStop()
        assert events == ["start", "stop"]

    @pytest.mark.parametrize("port", [0, 65536])
    def test_clientPortRejected(self, port: int) -> None:
        with pytest.raises(ValueError):
            TCP4ClientEndpoint(MemoryReactor(), "h", port)

    def test_repr(self) -> None:
        assert "10.0.0.2:80" in repr(
            TCP4ClientEndpoint(MemoryReactor(), "10.0.0.2", 80)
        )


class TestTCP6Client:
    def test_literal(self) -> None:
        reactor = MemoryReactorClock()
        d = TCP6ClientEndpoint(reactor, "::1", 80).connect(
            Factory.forProtocol(Protocol)
        )
        assert reactor.tcpClients[0][:2] == ("::1", 80)
        _connectClient(reactor)
        assert isinstance(resultOf(d), Protocol)

    def test_resolvesToIPv6(self) -> None:
        reactor, resolver = _reactorWithResolver(
            {
                "h.example": [
                    IPv4Address("TCP", "10.0.0.1", 80),
                    IPv6Address("TCP", "2001:db8::1", 80),
                ]
            }
        )
        TCP6ClientEndpoint(reactor, "h.example", 80).connect(Factory())
        assert reactor.tcpClients[0][:2] == ("2001:db8::1", 80)
        assert resolver.requests[0][2] == [IPv6Address]

    def test_noIPv6Address(self) -> None:
        reactor, _ = _reactorWithResolver(
            {"h.example": [IPv4Address("TCP", "10.0.0.1", 80)]}
        )
        d = TCP6ClientEndpoint(reactor, "h.example", 80).connect(Factory())
        failureOf(d, error.DNSLookupError)
        assert reactor.tcpClients == []


# ---------------------------------------------------------------------------
# UNIX, adopted, stdio, process, connectProtocol
# ---------------------------------------------------------------------------


class TestUNIX:
    def test_server(self) -> None:
        reactor = MemoryReactor()
        factory = Factory()
        port = resultOf(
            UNIXServerEndpoint(reactor, "/s", 5, 0o600, True).listen(factory)
        )
        assert reactor.unixServers == [("/s", factory, 5, 0o600, True)]
        assert port.getHost() == UNIXAddress("/s")

    def test_client(self) -> None:
        reactor = MemoryReactor()
        d = UNIXClientEndpoint(reactor, "/s", 3, True).connect(
            Factory.forProtocol(AccumulatingProtocol)
        )
        address, wrapping, timeout, checkPID = reactor.unixClients[0]
        assert (address, timeout, checkPID) == ("/s", 3, True)
        wrapper = wrapping.buildProtocol(UNIXAddress("/s"))
        wrapper.makeConnection(StringTransport())
        assert resultOf(d).made

    def test_clientFailure(self) -> None:
        d = UNIXClientEndpoint(RaisingMemoryReactor(), "/s").connect(Factory())
        failureOf(d, error.ConnectError)


class TestAdopted:
    def test_listenAdoptsThenCloses(self) -> None:
        reactor = MemoryReactor()
        closed: list[int] = []
        endpoint = AdoptedStreamServerEndpoint(reactor, 7, socket.AF_INET6)
        endpoint._close = closed.append
        factory = Factory()
        port = resultOf(endpoint.listen(factory))
        assert reactor.adoptedPorts == [(7, socket.AF_INET6, factory)]
        assert closed == [7]
        assert port.getHost() == IPv6Address("TCP", "::", 1234)
        failureOf(endpoint.listen(factory), endpoints.AlreadyListened)

    def test_adoptFails(self) -> None:
        closed: list[int] = []
        endpoint = AdoptedStreamServerEndpoint(
            RaisingMemoryReactor(), 7, socket.AF_INET
        )
        endpoint._close = closed.append
        failureOf(endpoint.listen(Factory()), error.CannotListenError)
        assert closed == []


class TestStandardIO:
    def test_listenConnectsProtocol(self) -> None:
        made: list[Any] = []

        class Endpoint(StandardIOEndpoint):
            def _makeStandardIO(self, protocol: Any) -> Any:
                made.append(protocol)
                return "stdio-transport"

        factory = Factory.forProtocol(AccumulatingProtocol)
        d = Endpoint(MemoryReactor()).listen(factory)
        assert resultOf(d) == "stdio-transport"
        assert isinstance(made[0], AccumulatingProtocol)

    def test_noProtocol(self) -> None:
        class NoneFactory(Factory):
            def buildProtocol(self, addr: IAddress) -> None:
                return None

        failureOf(
            StandardIOEndpoint(MemoryReactor()).listen(NoneFactory()), error.NoProtocol
        )


class FakeProcess:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.lost = False
        self.pid = 4242

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def writeSequence(self, data: Sequence[bytes]) -> None:
        self.written.extend(data)

    def loseConnection(self) -> None:
        self.lost = True

    def getHost(self) -> IAddress:
        from torsion.internet.address import _ProcessAddress

        return _ProcessAddress()

    def getPeer(self) -> IAddress:
        from torsion.internet.address import _ProcessAddress

        return _ProcessAddress(self.pid)


class ProcessReactor(MemoryReactor):
    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[tuple[Any, ...]] = []

    def spawnProcess(self, *args: Any) -> FakeProcess:
        self.spawned.append(args)
        process = FakeProcess()
        args[0].makeConnection(process)
        return process


class TestProcess:
    def _connect(
        self, errFlag: StandardErrorBehavior = StandardErrorBehavior.LOG
    ) -> tuple[ProcessReactor, AccumulatingProtocol]:
        reactor = ProcessReactor()
        endpoint = ProcessEndpoint(
            reactor,
            "/bin/cat",
            ["cat", "-u"],
            {"A": "b"},
            "/tmp",
            None,
            None,
            False,
            None,
            errFlag,
        )
        protocol = resultOf(endpoint.connect(Factory.forProtocol(AccumulatingProtocol)))
        return reactor, protocol

    def test_spawnArguments(self) -> None:
        reactor, protocol = self._connect()
        args = reactor.spawned[0]
        assert args[1:] == (
            "/bin/cat",
            ["cat", "-u"],
            {"A": "b"},
            "/tmp",
            None,
            None,
            False,
            None,
        )
        assert protocol.made

    def test_transport(self) -> None:
        reactor, protocol = self._connect()
        transport = protocol.transport
        assert verifyObject(ITransport, transport)
        transport.write(b"in")
        transport.writeSequence([b"a", b"b"])
        process = reactor.spawned[0][0].transport
        assert process.written == [b"in", b"a", b"b"]
        with pytest.raises(TypeError):
            transport.write("text")
        assert transport.pid == 4242
        transport.loseConnection()
        assert process.lost

    def test_stdoutAndEnd(self) -> None:
        reactor, protocol = self._connect()
        wrapper = reactor.spawned[0][0]
        wrapper.childDataReceived(1, b"out")
        assert protocol.data == b"out"
        wrapper.processEnded(Failure(error.ProcessDone(0)))
        assert protocol.closedReason is not None
        assert protocol.closedReason.check(error.ConnectionDone)

    def test_processTerminatedPassedOn(self) -> None:
        reactor, protocol = self._connect()
        reactor.spawned[0][0].processEnded(Failure(error.ProcessTerminated(1)))
        assert protocol.closedReason is not None
        assert protocol.closedReason.check(error.ProcessTerminated)

    @pytest.mark.parametrize(
        ("flag", "logged"),
        [(StandardErrorBehavior.LOG, 1), (StandardErrorBehavior.DROP, 0)],
    )
    def test_stderr(self, flag: StandardErrorBehavior, logged: int) -> None:
        holder = _Cleanups()
        events = EventLoggingObserver.createWithCleanup(holder, globalLogPublisher)
        try:
            reactor, protocol = self._connect(flag)
            reactor.spawned[0][0].childDataReceived(2, b"oops")
        finally:
            holder.run()
        assert protocol.data == b""
        matching = [e for e in events if e.get("data") == b"oops"]
        assert len(matching) == logged

    def test_spawnFails(self) -> None:
        class Failing(MemoryReactor):
            def spawnProcess(self, *args: Any) -> None:
                raise OSError("no such file")

        d = ProcessEndpoint(Failing(), "/nope").connect(Factory.forProtocol(Protocol))
        failureOf(d, OSError)


def test_connectProtocol() -> None:
    reactor = MemoryReactor()
    protocol = AccumulatingProtocol()
    d = connectProtocol(TCP4ClientEndpoint(reactor, "10.0.0.2", 80), protocol)
    _connectClient(reactor)
    assert resultOf(d) is protocol
    assert protocol.made


# ---------------------------------------------------------------------------
# HostnameEndpoint
# ---------------------------------------------------------------------------

V6A = IPv6Address("TCP", "2001:db8::a", 80)
V6B = IPv6Address("TCP", "2001:db8::b", 80)
V4A = IPv4Address("TCP", "192.0.2.1", 80)
V4B = IPv4Address("TCP", "192.0.2.2", 80)


def _hosts(reactor: MemoryReactor) -> list[str]:
    return [client[0] for client in reactor.tcpClients]


class TestHostnameEndpoint:
    def test_literalSkipsResolution(self) -> None:
        reactor, resolver = _reactorWithResolver()
        d = HostnameEndpoint(reactor, "192.0.2.9", 80).connect(
            Factory.forProtocol(Protocol)
        )
        assert resolver.requests == []
        assert _hosts(reactor) == ["192.0.2.9"]
        _connectClient(reactor)
        assert isinstance(resultOf(d), Protocol)

    def test_bracketedIPv6Literal(self) -> None:
        reactor, _ = _reactorWithResolver()
        HostnameEndpoint(reactor, "[::1]", 80).connect(Factory())
        assert _hosts(reactor) == ["::1"]

    def test_resolverRequest(self) -> None:
        reactor, resolver = _reactorWithResolver({"example.com": [V4A]})
        HostnameEndpoint(reactor, b"example.com", 80).connect(Factory())
        assert resolver.requests == [("example.com", 80, None, "TCP")]

    def test_staggeredInterleavedAttempts(self) -> None:
        reactor, _ = _reactorWithResolver({"h": [V6A, V6B, V4A, V4B]})
        d = HostnameEndpoint(reactor, "h", 80, attemptDelay=0.3).connect(Factory())
        assert _hosts(reactor) == [V6A.host]
        reactor.advance(0.29)
        assert _hosts(reactor) == [V6A.host]
        reactor.advance(0.01)
        assert _hosts(reactor) == [V6A.host, V4A.host]
        reactor.advance(0.3)
        reactor.advance(0.3)
        assert _hosts(reactor) == [V6A.host, V4A.host, V6B.host, V4B.host]
        assert reactor.getDelayedCalls() == []
        assert not hasFired(d)

    def test_interleaveStartsWithResolverChoice(self) -> None:
        reactor, _ = _reactorWithResolver({"h": [V4A, V4B, V6A]})
        HostnameEndpoint(reactor, "h", 80, attemptDelay=1).connect(Factory())
        reactor.pump([1, 1])
        assert _hosts(reactor) == [V4A.host, V6A.host, V4B.host]

    def test_firstToConnectWins(self) -> None:
        reactor, _ = _reactorWithResolver({"h": [V6A, V4A, V6B]})
        d = HostnameEndpoint(reactor, "h", 80).connect(
            Factory.forProtocol(AccumulatingProtocol)
        )
        reactor.advance(0.3)
        assert len(reactor.tcpClients) == 2
        _connectClient(reactor, 1)
        protocol = resultOf(d)
        assert protocol.made
        assert reactor.connectors[0].stoppedConnecting
        assert not reactor.connectors[1].stoppedConnecting
        reactor.advance(10)
        assert len(reactor.tcpClients) == 2
        assert reactor.getDelayedCalls() == []

    def test_loserConnectingLateIsRefused(self) -> None:
        reactor, _ = _reactorWithResolver({"h": [V6A, V4A]})
        d = HostnameEndpoint(reactor, "h", 80).connect(
            Factory.forProtocol(AccumulatingProtocol)
        )
        reactor.advance(0.3)
        _connectClient(reactor, 0)
        # The second connection completes after the first won (its
        # cancellation raced with the kernel): no protocol is built for it,
        # so the reactor closes it.
        assert reactor.tcpClients[1][2].buildProtocol(V4A) is None
        assert resultOf(d).made

    def test_cancelledAttemptConnectedAnywayIsClosed(self) -> None:
        reactor = MemoryReactor()
        d = TCP4ClientEndpoint(reactor, "10.0.0.2", 80).connect(
            Factory.forProtocol(AccumulatingProtocol)
        )
        wrapper = reactor.tcpClients[0][2].buildProtocol(V4A)
        d.cancel()
        failureOf(d, error.ConnectingCancelledError)
        transport = StringTransport()
        wrapper.makeConnection(transport)
        assert transport.disconnecting

    def test_failureStartsNextAttemptAtOnce(self) -> None:
        reactor, _ = _reactorWithResolver({"h": [V6A, V4A]})
        d = HostnameEndpoint(reactor, "h", 80).connect(Factory.forProtocol(Protocol))
        _failClient(reactor, 0, error.ConnectionRefusedError())
        assert _hosts(reactor) == [V6A.host, V4A.host]
        assert reactor.getDelayedCalls() == []
        _connectClient(reactor, 1)
        assert isinstance(resultOf(d), Protocol)

    def test_allFailReportsLastError(self) -> None:
        reactor, _ = _reactorWithResolver({"h": [V6A, V4A]})
        d = HostnameEndpoint(reactor, "h", 80).connect(Factory())
        reactor.advance(0.3)
        _failClient(reactor, 0, error.ConnectionRefusedError())
        assert not hasFired(d)
        _failClient(reactor, 1, error.TimeoutError())
        failureOf(d, error.TimeoutError)

    def test_noAddresses(self) -> None:
        reactor, _ = _reactorWithResolver({})
        d = HostnameEndpoint(reactor, "nowhere.invalid", 80).connect(Factory())
        f = failureOf(d, error.DNSLookupError)
        assert "nowhere.invalid" in str(f.value)
        assert reactor.tcpClients == []

    def test_resolverRaises(self) -> None:
        class Broken:
            def resolveHostName(self, *args: Any, **kw: Any) -> None:
                raise RuntimeError("resolver broken")

        reactor = MemoryReactorClock()
        reactor.nameResolver = Broken()  # type: ignore[attr-defined]
        d = HostnameEndpoint(reactor, "h", 80).connect(Factory())
        failureOf(d, error.DNSLookupError)

    def test_cancelDuringResolution(self) -> None:
        reactor, resolver = _reactorWithResolver({"h": [V4A]}, manual=True)
        d = HostnameEndpoint(reactor, "h", 80).connect(Factory())
        d.cancel()
        f = failureOf(d, error.ConnectingCancelledError)
        assert isinstance(f.value, error.ConnectingCancelledError)
        assert f.value.address.hostname == b"h"
        assert resolver.resolutions[0].cancelled
        resolver.complete("h")
        assert reactor.tcpClients == []

    def test_cancelDuringAttempts(self) -> None:
        reactor, _ = _reactorWithResolver({"h": [V6A, V4A, V6B]})
        d = HostnameEndpoint(reactor, "h", 80).connect(Factory())
        reactor.advance(0.3)
        d.cancel()
        failureOf(d, error.ConnectingCancelledError)
        assert all(c.stoppedConnecting for c in reactor.connectors)
        assert reactor.getDelayedCalls() == []

    def test_fallbackToReactorResolve(self) -> None:
        reactor = MemoryReactorClock()

        def resolve(name: str, timeout: Any = None) -> Deferred[str]:
            return succeed("192.0.2.77")

        reactor.resolve = resolve  # type: ignore[method-assign]
        HostnameEndpoint(reactor, "h", 80).connect(Factory())
        assert _hosts(reactor) == ["192.0.2.77"]

    def test_idna(self) -> None:
        reactor, resolver = _reactorWithResolver()
        d = HostnameEndpoint(reactor, "bücher.example", 80).connect(Factory())
        assert resolver.requests[0][0] == "xn--bcher-kva.example"
        failureOf(d, error.DNSLookupError)

    @pytest.mark.parametrize(
        "host", ["", "a b", "a\x00b", "a\r\nb", b"\xff", "x" * 64 + ".example"]
    )
    def test_badHostRejected(self, host: str | bytes) -> None:
        with pytest.raises(ValueError):
            HostnameEndpoint(MemoryReactorClock(), host, 80)

    def test_hostLengthBoundary(self) -> None:
        limit = _endpoint_hostname.MAX_HOSTNAME_LENGTH
        label = "a" * 63
        name = ".".join([label] * 4)[:limit]
        assert len(name) == limit
        HostnameEndpoint(MemoryReactorClock(), name, 80)
        with pytest.raises(ValueError, match="longer"):
            HostnameEndpoint(MemoryReactorClock(), name + "a", 80)

    def test_badAttemptDelay(self) -> None:
        with pytest.raises(ValueError):
            HostnameEndpoint(MemoryReactorClock(), "h", 80, attemptDelay=-1)

    def test_timeoutAndBindAddressPassed(self) -> None:
        reactor, _ = _reactorWithResolver({"h": [V4A]})
        HostnameEndpoint(
            reactor, "h", 80, timeout=7, bindAddress=("0.0.0.0", 0)
        ).connect(Factory())
        assert reactor.tcpClients[0][3:] == (7, ("0.0.0.0", 0))

    def test_repr(self) -> None:
        assert repr(HostnameEndpoint(MemoryReactorClock(), "::1", 80)) == (
            "<HostnameEndpoint [::1]:80>"
        )


# ---------------------------------------------------------------------------
# systemd
# ---------------------------------------------------------------------------


def _env(**kw: str) -> dict[str, str]:
    env = {"LISTEN_PID": str(os.getpid())}
    env.update(kw)
    return env


class TestListenFDs:
    def test_fromEnvironment(self) -> None:
        fds = ListenFDs.fromEnvironment(
            _env(LISTEN_FDS="2", LISTEN_FDNAMES="web:admin")
        )
        assert fds.inheritedDescriptors() == [3, 4]
        assert fds.inheritedNamedDescriptors() == {"web": 3, "admin": 4}

    def test_otherPid(self) -> None:
        env = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1"}
        assert ListenFDs.fromEnvironment(env).inheritedDescriptors() == []

    @pytest.mark.parametrize(
        "env",
        [{}, {"LISTEN_FDS": "x"}, {"LISTEN_FDS": "-1"}, {"LISTEN_FDS": "0"}],
    )
    def test_malformed(self, env: dict[str, str]) -> None:
        full = {"LISTEN_PID": str(os.getpid()), **env}
        assert ListenFDs.fromEnvironment(full).inheritedDescriptors() == []

    def test_missingNames(self) -> None:
        fds = ListenFDs.fromEnvironment(_env(LISTEN_FDS="3", LISTEN_FDNAMES="a"))
        assert fds.names == ("a", "unknown", "unknown")

    def test_countBoundary(self) -> None:
        limit = _endpoint_systemd.MAX_LISTEN_FDS
        assert (
            len(ListenFDs.fromEnvironment(_env(LISTEN_FDS=str(limit))).descriptors)
            == limit
        )
        assert (
            ListenFDs.fromEnvironment(_env(LISTEN_FDS=str(limit + 1))).descriptors == ()
        )

    def test_start(self) -> None:
        fds = ListenFDs.fromEnvironment(_env(LISTEN_FDS="1"), start=10)
        assert fds.inheritedDescriptors() == [10]

    def test_defaultsToOsEnviron(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
        monkeypatch.setenv("LISTEN_FDS", "1")
        monkeypatch.delenv("LISTEN_FDNAMES", raising=False)
        assert ListenFDs.fromEnvironment().inheritedDescriptors() == [3]


class TestSystemdDescription:
    @pytest.fixture(autouse=True)
    def _environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
        monkeypatch.setenv("LISTEN_FDS", "2")
        monkeypatch.setenv("LISTEN_FDNAMES", "web:admin")

    def test_index(self) -> None:
        endpoint = serverFromString(MemoryReactor(), "systemd:domain=INET:index=1")
        assert isinstance(endpoint, AdoptedStreamServerEndpoint)
        assert endpoint.fileno == 4
        assert endpoint.addressFamily == socket.AF_INET

    def test_name(self) -> None:
        endpoint = serverFromString(MemoryReactor(), "systemd:domain=INET6:name=web")
        assert isinstance(endpoint, AdoptedStreamServerEndpoint)
        assert endpoint.fileno == 3
        assert endpoint.addressFamily == socket.AF_INET6

    def test_unixDomain(self) -> None:
        endpoint = serverFromString(MemoryReactor(), "systemd:domain=UNIX:index=0")
        assert endpoint.addressFamily == socket.AF_UNIX  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("description", "message"),
        [
            ("systemd:index=0", "domain"),
            ("systemd:domain=IPX:index=0", "unknown domain"),
            ("systemd:domain=INET", "exactly one"),
            ("systemd:domain=INET:index=0:name=web", "exactly one"),
            ("systemd:domain=INET:index=2", "out of range"),
            ("systemd:domain=INET:index=-1", "out of range"),
            ("systemd:domain=INET:index=x", "integer"),
            ("systemd:domain=INET:name=db", "no descriptor named"),
        ],
    )
    def test_errors(self, description: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            serverFromString(MemoryReactor(), description)

    def test_nothingPassed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("LISTEN_FDS")
        with pytest.raises(ValueError, match="no descriptors"):
            serverFromString(MemoryReactor(), "systemd:domain=INET:index=0")


# ---------------------------------------------------------------------------
# description strings
# ---------------------------------------------------------------------------


class TestTokenize:
    @pytest.mark.parametrize(
        ("description", "args", "kwargs"),
        [
            ("tcp:80", ["tcp", "80"], {}),
            ("tcp:80:interface=127.0.0.1", ["tcp", "80"], {"interface": "127.0.0.1"}),
            ("unix:/a\\:b", ["unix", "/a:b"], {}),
            ("tcp6:80:interface=\\:\\:1", ["tcp6", "80"], {"interface": "::1"}),
            ("x:k=a=b", ["x"], {"k": "a=b"}),
            ("x:a\\=b", ["x", "a=b"], {}),
            ("x:a\\\\b", ["x", "a\\b"], {}),
            ("x::", ["x", "", ""], {}),
            ("x:k=", ["x"], {"k": ""}),
        ],
    )
    def test_grammar(
        self, description: str, args: list[str], kwargs: dict[str, str]
    ) -> None:
        assert _endpoint_parsing._tokenize(description) == (args, kwargs)

    def test_trailingBackslash(self) -> None:
        with pytest.raises(ValueError, match="backslash"):
            _endpoint_parsing._tokenize("tcp:80\\")

    def test_duplicateKeyword(self) -> None:
        with pytest.raises(ValueError, match="twice"):
            _endpoint_parsing._tokenize("tcp:80:backlog=1:backlog=2")

    def test_emptyKeyword(self) -> None:
        with pytest.raises(ValueError, match="empty keyword"):
            _endpoint_parsing._tokenize("tcp:=1")

    def test_lengthBoundary(self) -> None:
        limit = _endpoint_parsing.MAX_DESCRIPTION_LENGTH
        _endpoint_parsing._tokenize("x:" + "a" * (limit - 2))
        with pytest.raises(ValueError, match="longer"):
            _endpoint_parsing._tokenize("x:" + "a" * (limit - 1))

    def test_bytesRejected(self) -> None:
        with pytest.raises(TypeError):
            serverFromString(MemoryReactor(), b"tcp:80")  # type: ignore[arg-type]

    # Unknown prefixes scan the installed distributions' entry points, which
    # takes longer than hypothesis's default deadline on a busy machine.
    @settings(deadline=None, max_examples=50)
    @given(st.text(max_size=200))
    def test_anyTextParsesOrValueError(self, description: str) -> None:
        for prefix in ("", "tcp", "unix", "systemd", "nope"):
            try:
                serverFromString(MemoryReactor(), ":".join([prefix, description]))
            except ValueError:
                pass

    @given(st.lists(st.text(max_size=20), min_size=1, max_size=5))
    def test_quoteRoundTrip(self, values: list[str]) -> None:
        description = ":".join(["x", *map(quoteStringArgument, values)])
        assert _endpoint_parsing._tokenize(description) == (["x", *values], {})


class TestServerFromString:
    def test_tcp(self) -> None:
        reactor = MemoryReactor()
        factory = Factory()
        endpoint = serverFromString(reactor, "tcp:8080:interface=127.0.0.1:backlog=9")
        assert isinstance(endpoint, TCP4ServerEndpoint)
        resultOf(endpoint.listen(factory))
        assert reactor.tcpServers == [(8080, factory, 9, "127.0.0.1")]

    def test_tcpKeywordPort(self) -> None:
        reactor = MemoryReactor()
        resultOf(serverFromString(reactor, "tcp:port=81").listen(Factory()))
        assert reactor.tcpServers[0][0] == 81

    def test_tcp6(self) -> None:
        reactor = MemoryReactor()
        endpoint = serverFromString(reactor, "tcp6:443:interface=\\:\\:1")
        assert isinstance(endpoint, TCP6ServerEndpoint)
        resultOf(endpoint.listen(Factory()))
        assert reactor.tcpServers[0][3] == "::1"

    def test_unix(self) -> None:
        reactor = MemoryReactor()
        endpoint = serverFromString(
            reactor, "unix:/var/run/a\\:b.sock:mode=660:lockfile=1"
        )
        assert isinstance(endpoint, UNIXServerEndpoint)
        resultOf(endpoint.listen(Factory()))
        address, _, backlog, mode, wantPID = reactor.unixServers[0]
        assert (address, backlog, mode, wantPID) == (
            "/var/run/a:b.sock",
            50,
            0o660,
            True,
        )

    def test_unixDefaults(self) -> None:
        reactor = MemoryReactor()
        resultOf(serverFromString(reactor, "unix:address=/s").listen(Factory()))
        assert reactor.unixServers[0][2:] == (50, 0o666, False)

    @pytest.mark.parametrize(
        ("description", "message"),
        [
            ("nope:80", "Unknown server endpoint type 'nope'"),
            ("", "no type"),
            ("tcp", "bad arguments"),
            ("tcp:80:colour=blue", "bad arguments"),
            ("tcp:eighty", "port must be an integer"),
            ("tcp:70000", "port must be"),
            ("unix:/s:mode=999", "octal"),
            ("unix:/s:lockfile=maybe", "lockfile"),
        ],
    )
    def test_errors(self, description: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            serverFromString(MemoryReactor(), description)

    def test_unknownListsKnownTypes(self) -> None:
        with pytest.raises(ValueError, match="tcp, tcp6, unix"):
            serverFromString(MemoryReactor(), "nope:80")


class TestClientFromString:
    def test_tcpPositional(self) -> None:
        reactor = MemoryReactor()
        endpoint = clientFromString(reactor, "tcp:example.com:80")
        assert isinstance(endpoint, TCP4ClientEndpoint)
        endpoint.connect(Factory())
        assert reactor.tcpClients[0][:2] == ("example.com", 80)
        assert reactor.tcpClients[0][3:] == (30, None)

    def test_tcpKeywords(self) -> None:
        reactor = MemoryReactor()
        clientFromString(
            reactor, "tcp:host=example.com:port=80:timeout=5:bindAddress=10.0.0.1"
        ).connect(Factory())
        assert reactor.tcpClients[0][:2] == ("example.com", 80)
        assert reactor.tcpClients[0][3:] == (5, ("10.0.0.1", 0))

    def test_tcp6(self) -> None:
        reactor = MemoryReactorClock()
        endpoint = clientFromString(reactor, "tcp6:\\:\\:1:80")
        assert isinstance(endpoint, TCP6ClientEndpoint)
        endpoint.connect(Factory())
        assert reactor.tcpClients[0][:2] == ("::1", 80)

    def test_unix(self) -> None:
        reactor = MemoryReactor()
        clientFromString(reactor, "unix:path=/p:timeout=5:checkPID=1").connect(
            Factory()
        )
        assert reactor.unixClients[0][0] == "/p"
        assert reactor.unixClients[0][2:] == (5, True)

    def test_unixPositional(self) -> None:
        reactor = MemoryReactor()
        clientFromString(reactor, "unix:/p").connect(Factory())
        assert reactor.unixClients[0][2:] == (30, False)

    @pytest.mark.parametrize(
        ("description", "message"),
        [
            ("nope:h:1", "Unknown client endpoint type 'nope'"),
            ("systemd:domain=INET:index=0", "Unknown client endpoint type"),
            ("tcp:h", "bad arguments"),
            ("tcp:h:0", "port must be"),
            ("tcp:h:1:timeout=soon", "timeout must be a number"),
        ],
    )
    def test_errors(self, description: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            clientFromString(MemoryReactor(), description)


@implementer(
    IStreamServerEndpointStringParser, IStreamClientEndpointStringParserWithReactor
)
class _PluginParser:
    prefix = "fake"

    def parseStreamServer(self, reactor: Any, *args: Any, **kwargs: Any) -> Any:
        return ("server", args, kwargs)

    def parseStreamClient(self, reactor: Any, *args: Any, **kwargs: Any) -> Any:
        return ("client", args, kwargs)


class _EntryPoint:
    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def load(self) -> Any:
        return self.obj


class TestPlugins:
    def test_entryPointParser(self, monkeypatch: pytest.MonkeyPatch) -> None:
        groups: list[str] = []

        def fakeEntryPoints(group: str) -> list[_EntryPoint]:
            groups.append(group)
            return [_EntryPoint(_PluginParser)]

        monkeypatch.setattr(_endpoint_parsing, "entry_points", fakeEntryPoints)
        assert serverFromString(MemoryReactor(), "fake:a:b=c") == (  # type: ignore[comparison-overlap]
            "server",
            ("a",),
            {"b": "c"},
        )
        assert clientFromString(MemoryReactor(), "fake:x") == ("client", ("x",), {})  # type: ignore[comparison-overlap]
        assert groups[0] == "torsion.plugins.endpoints"
        with pytest.raises(ValueError, match="fake"):
            serverFromString(MemoryReactor(), "other:1")

    def test_builtinWinsOverPlugin(self, monkeypatch: pytest.MonkeyPatch) -> None:
        class TCPImpostor(_PluginParser):
            prefix = "tcp"

        monkeypatch.setattr(
            _endpoint_parsing,
            "entry_points",
            lambda group: [_EntryPoint(TCPImpostor())],
        )
        assert isinstance(
            serverFromString(MemoryReactor(), "tcp:1"), TCP4ServerEndpoint
        )

    def test_lazyTableEntry(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(
            _endpoint_parsing._serverParsers,
            "lazy",
            f"{__name__}:LAZY_PARSER",
        )
        assert serverFromString(MemoryReactor(), "lazy:1") == ("server", ("1",), {})  # type: ignore[comparison-overlap]

    def test_lazyEntryMissing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(
            _endpoint_parsing._serverParsers, "gone", "no.such.module:parser"
        )
        monkeypatch.setitem(
            _endpoint_parsing._serverParsers, "absent", f"{__name__}:NO_SUCH_NAME"
        )
        with pytest.raises(ValueError, match="'gone' endpoints are not available"):
            serverFromString(MemoryReactor(), "gone:1")
        with pytest.raises(ValueError, match="'absent' endpoints are not available"):
            serverFromString(MemoryReactor(), "absent:1")

    def test_tlsPrefixesReserved(self) -> None:
        assert "ssl" in _endpoint_parsing._serverParsers
        assert "tls" in _endpoint_parsing._clientParsers
        assert "ssl" in _endpoint_parsing._clientParsers


LAZY_PARSER = _PluginParser()


# ---------------------------------------------------------------------------
# Integration: real reactors and sockets
# ---------------------------------------------------------------------------


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class Client(Protocol):
    """
    Sends ``b"ping"`` on connect and fires ``done`` with the reply once the
    server closes.
    """

    def __init__(self) -> None:
        self.received = b""
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(b"ping")

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if self.received == b"ping":
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.done.callback(self.received)


def _roundTrip(reactor: Any, client: IStreamClientEndpoint) -> bytes:
    protocol = Client()
    connected = connectProtocol(client, protocol)
    assert runUntil(reactor, connected) is protocol
    result: bytes = runUntil(reactor, protocol.done)
    return result


def _listen(reactor: Any, server: IStreamServerEndpoint) -> Any:
    return runUntil(reactor, server.listen(Factory.forProtocol(Echo)))


def _ipv6Available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


class TestIntegration:
    def test_tcp4(self, reactor: Any) -> None:
        port = _listen(reactor, TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"))
        try:
            number = port.getHost().port
            assert (
                _roundTrip(reactor, TCP4ClientEndpoint(reactor, "127.0.0.1", number))
                == b"ping"
            )
        finally:
            runUntil(reactor, _stopped(port))

    def test_tcp6(self, reactor: Any) -> None:
        if not _ipv6Available():
            pytest.skip("this host has no IPv6 loopback")
        port = _listen(reactor, TCP6ServerEndpoint(reactor, 0, interface="::1"))
        try:
            number = port.getHost().port
            assert (
                _roundTrip(reactor, TCP6ClientEndpoint(reactor, "::1", number))
                == b"ping"
            )
        finally:
            runUntil(reactor, _stopped(port))

    def test_connectionRefused(self, reactor: Any) -> None:
        number = _freePort()
        d = TCP4ClientEndpoint(reactor, "127.0.0.1", number).connect(
            Factory.forProtocol(Client)
        )
        with pytest.raises(error.ConnectionRefusedError):
            runUntil(reactor, d)

    def test_unix(self, reactor: Any, tmp_path: Any) -> None:
        path = str(tmp_path / "echo.sock")
        port = _listen(
            reactor, serverFromString(reactor, f"unix:{quoteStringArgument(path)}")
        )
        try:
            client = clientFromString(reactor, f"unix:path={quoteStringArgument(path)}")
            assert _roundTrip(reactor, client) == b"ping"
        finally:
            runUntil(reactor, _stopped(port))

    def test_stringDescriptions(self, reactor: Any) -> None:
        port = _listen(reactor, serverFromString(reactor, "tcp:0:interface=127.0.0.1"))
        try:
            number = port.getHost().port
            client = clientFromString(reactor, f"tcp:127.0.0.1:{number}")
            assert _roundTrip(reactor, client) == b"ping"
        finally:
            runUntil(reactor, _stopped(port))

    def test_hostnameLocalhost(self, reactor: Any) -> None:
        # The server listens on IPv4 only. "localhost" may resolve to ::1
        # first: that attempt is refused and the IPv4 one must still win.
        port = _listen(reactor, TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"))
        try:
            number = port.getHost().port
            endpoint = HostnameEndpoint(reactor, "localhost", number)
            assert _roundTrip(reactor, endpoint) == b"ping"
        finally:
            runUntil(reactor, _stopped(port))

    def test_hostnameNotFound(self, reactor: Any) -> None:
        endpoint = HostnameEndpoint(reactor, "no-such-host.invalid", 80)
        with pytest.raises(error.DNSLookupError):
            runUntil(reactor, endpoint.connect(Factory.forProtocol(Client)))

    def test_systemdAdoption(
        self, reactor: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A listening socket is put at a descriptor number as systemd would
        # (here a free high number rather than 3, which this process may be
        # using), described by LISTEN_* variables, and adopted through a
        # "systemd:" description.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        number = listener.getsockname()[1]
        target = _freeDescriptor()
        os.dup2(listener.fileno(), target)
        listener.close()
        monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
        monkeypatch.setenv("LISTEN_FDS", "1")
        monkeypatch.setenv("LISTEN_FDNAMES", "echo")
        monkeypatch.setattr(
            _endpoint_systemd._SystemdParser,
            "_listenFDs",
            lambda self: ListenFDs.fromEnvironment(start=target),
        )
        endpoint = serverFromString(reactor, "systemd:domain=INET:name=echo")
        port = _listen(reactor, endpoint)
        try:
            # The endpoint closed our copy; the reactor holds its own.
            with pytest.raises(OSError):
                os.fstat(target)
            client = TCP4ClientEndpoint(reactor, "127.0.0.1", number)
            assert _roundTrip(reactor, client) == b"ping"
        finally:
            runUntil(reactor, _stopped(port))


class TestProcessIntegration:
    def test_childProcessAsConnection(self, reactor: Any) -> None:
        class Upper(Protocol):
            def __init__(self) -> None:
                self.received = b""
                self.ended: Deferred[BaseException] = Deferred()

            def connectionMade(self) -> None:
                self.transport.write(b"hello child")
                self.transport.closeStdin()

            def dataReceived(self, data: bytes) -> None:
                self.received += data

            def connectionLost(self, reason: Failure = connectionDone) -> None:
                self.ended.callback(reason.value)

        script = (
            "import sys; sys.stderr.write('note'); "
            "sys.stdout.buffer.write(sys.stdin.buffer.read().upper())"
        )
        endpoint = ProcessEndpoint(
            reactor,
            sys.executable,
            [sys.executable, "-c", script],
            env=os.environ,
            errFlag=StandardErrorBehavior.DROP,
        )
        protocol = Upper()
        assert runUntil(reactor, connectProtocol(endpoint, protocol)) is protocol
        reason = runUntil(reactor, protocol.ended)
        assert protocol.received == b"HELLO CHILD"
        assert isinstance(reason, error.ConnectionDone)


def _stopped(port: Any) -> Deferred[Any]:
    from torsion.internet.defer import maybeDeferred

    return maybeDeferred(port.stopListening)


def _freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        number: int = s.getsockname()[1]
    return number


def _freeDescriptor() -> int:
    for candidate in range(200, 1000):
        try:
            os.fstat(candidate)
        except OSError:
            return candidate
    raise RuntimeError("no free descriptor number")


def test_systemdSocketActivationInChild(tmp_path: Any) -> None:
    """
    The full systemd contract in a child process: the listening socket at
    descriptor 3, ``LISTEN_PID`` naming the child, ``serverFromString``
    adopting it and serving one echo.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    number = listener.getsockname()[1]
    script = textwrap.dedent(
        f"""
        import os, sys
        # What systemd does between fork and exec.
        os.dup2({listener.fileno()}, 3)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = "1"
        from torsion.internet import endpoints, protocol, task

        class Echo(protocol.Protocol):
            def dataReceived(self, data):
                self.transport.write(data)
                self.transport.loseConnection()
                self.factory.done.callback(None)

        async def main(reactor):
            factory = protocol.Factory.forProtocol(Echo)
            factory.done = task.Deferred() if hasattr(task, "Deferred") else None
            from torsion.internet.defer import Deferred
            factory.done = Deferred()
            ep = endpoints.serverFromString(reactor, "systemd:domain=INET:index=0")
            port = await ep.listen(factory)
            print("listening", flush=True)
            await factory.done
            await task.deferLater(reactor, 0.05, lambda: None)
            await port.stopListening()

        task.react(main)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        pass_fds=[listener.fileno()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    listener.close()
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "listening"
        with socket.create_connection(("127.0.0.1", number), timeout=30) as conn:
            conn.sendall(b"hello")
            reply = b""
            while True:
                chunk = conn.recv(100)
                if not chunk:
                    break
                reply += chunk
        assert reply == b"hello"
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 0, stderr
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def test_standardIOEndpointInChild() -> None:
    """
    A child process serving one echo connection over its own standard input
    and output through ``StandardIOEndpoint``.
    """
    script = textwrap.dedent(
        """
        from torsion.internet import endpoints, protocol, task
        from torsion.internet.defer import Deferred

        class Upper(protocol.Protocol):
            def dataReceived(self, data):
                self.transport.write(data.upper())

            def connectionLost(self, reason):
                self.factory.done.callback(None)

        def main(reactor):
            factory = protocol.Factory.forProtocol(Upper)
            factory.done = Deferred()
            endpoints.StandardIOEndpoint(reactor).listen(factory)
            return factory.done

        task.react(main)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=b"over stdio",
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OVER STDIO"
