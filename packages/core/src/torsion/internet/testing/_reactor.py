"""
In-memory reactors that record what code asked of them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.interfaces import (
    IAddress,
    IConnector,
    IListeningPort,
    IReactorCore,
    IReactorFDSet,
    IReactorSocket,
    IReactorSSL,
    IReactorTCP,
    IReactorUDP,
    IReactorUNIX,
    IReadDescriptor,
    IWriteDescriptor,
)
from torsion.internet.task import Clock

__all__ = ["MemoryReactor", "MemoryReactorClock", "RaisingMemoryReactor"]


def _isIPv6(host: str) -> bool:
    try:
        return isinstance(
            ipaddress.ip_address(host.split("%", 1)[0]), ipaddress.IPv6Address
        )
    except ValueError:
        return False


def _ipAddress(type: Any, host: str, port: int) -> IPv4Address | IPv6Address:
    if _isIPv6(host):
        return IPv6Address(type, host, port)
    return IPv4Address(type, host, port)


@implementer(IListeningPort)
class _FakePort:
    """
    The port a ``MemoryReactor`` returns from ``listen*``: it only knows its
    address and whether ``stopListening`` was called.

    :ivar listening: ``False`` once ``stopListening`` was called.
    """

    def __init__(self, hostAddress: IAddress) -> None:
        self._hostAddress = hostAddress
        self.listening = True

    def startListening(self) -> None:
        """
        Mark the port as listening.
        """
        self.listening = True

    def stopListening(self) -> None:
        """
        Mark the port as no longer listening.
        """
        self.listening = False

    def getHost(self) -> IAddress:
        """
        :return: the address the port would listen on.
        """
        return self._hostAddress


@implementer(IConnector)
class _FakeConnector:
    """
    The connector a ``MemoryReactor`` returns from ``connect*``.

    :ivar connectionAttempts: how many times ``connect`` was called after
        the first attempt started by the reactor.
    :ivar stoppedConnecting: ``True`` once ``stopConnecting`` was called.
    """

    def __init__(self, address: IAddress) -> None:
        self._address = address
        self._disconnected = False
        self.stoppedConnecting = False
        self.connectionAttempts = 0

    def connect(self) -> None:
        """
        Record another connection attempt.
        """
        self.connectionAttempts += 1

    def disconnect(self) -> None:
        """
        Record that the connection was asked to close.
        """
        self._disconnected = True

    def stopConnecting(self) -> None:
        """
        Record that the pending attempt was abandoned.

        :raises NotConnectingError: if the connector was already stopped or
            disconnected.
        """
        if self.stoppedConnecting or self._disconnected:
            raise error.NotConnectingError("not connecting")
        self.stoppedConnecting = True

    def getDestination(self) -> IAddress:
        """
        :return: the address this connector connects to.
        """
        return self._address


@implementer(
    IReactorCore,
    IReactorTCP,
    IReactorSSL,
    IReactorUNIX,
    IReactorUDP,
    IReactorSocket,
    IReactorFDSet,
)
class MemoryReactor:
    """
    A reactor that performs no I/O: it records every listen and connect
    request in lists a test can inspect, then drives the factories itself.

    ``run`` runs the ``callWhenRunning`` hooks and returns at once (nothing
    else could stop it).

    :ivar tcpServers: ``(port, factory, backlog, interface)`` per
        ``listenTCP``.
    :ivar tcpClients: ``(host, port, factory, timeout, bindAddress)`` per
        ``connectTCP``.
    :ivar sslServers: ``(port, factory, contextFactory, backlog, interface)``.
    :ivar sslClients: ``(host, port, factory, contextFactory, timeout,
        bindAddress)``.
    :ivar unixServers: ``(address, factory, backlog, mode, wantPID)``.
    :ivar unixClients: ``(address, factory, timeout, checkPID)``.
    :ivar udpServers: ``(port, protocol, interface, maxPacketSize)``.
    :ivar adoptedPorts: ``(fileno, addressFamily, factory)`` per
        ``adoptStreamPort``.
    :ivar adoptedStreamConnections: ``(fileno, addressFamily, factory)``.
    :ivar adoptedDatagramPorts: ``(fileno, addressFamily, protocol,
        maxPacketSize)``.
    :ivar connectors: every connector returned, in order.
    :ivar triggers: ``{phase: {eventType: [(callable, args, kwargs)]}}``.
    :ivar whenRunningHooks: ``(callable, args, kwargs)`` per
        ``callWhenRunning``.
    :ivar readers: the readers added and not removed.
    :ivar writers: the writers added and not removed.
    :ivar hasRun: ``True`` once ``run`` was called.
    :ivar running: ``True`` while ``run`` is executing.
    :ivar hasStopped: ``True`` once ``stop`` was called.
    :ivar hasCrashed: ``True`` once ``crash`` was called.
    """

    def __init__(self) -> None:
        self.hasInstalled = False
        self.running = False
        self.hasRun = False
        self.hasStopped = False
        self.hasCrashed = False
        self.triggers: dict[
            str,
            dict[str, list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]],
        ] = {}
        self.whenRunningHooks: list[
            tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
        ] = []
        self.tcpServers: list[tuple[Any, ...]] = []
        self.tcpClients: list[tuple[Any, ...]] = []
        self.sslServers: list[tuple[Any, ...]] = []
        self.sslClients: list[tuple[Any, ...]] = []
        self.unixServers: list[tuple[Any, ...]] = []
        self.unixClients: list[tuple[Any, ...]] = []
        self.udpServers: list[tuple[Any, ...]] = []
        self.adoptedPorts: list[tuple[Any, ...]] = []
        self.adoptedStreamConnections: list[tuple[Any, ...]] = []
        self.adoptedDatagramPorts: list[tuple[Any, ...]] = []
        self.connectors: list[_FakeConnector] = []
        self.readers: set[IReadDescriptor] = set()
        self.writers: set[IWriteDescriptor] = set()

    # IReactorCore

    def resolve(self, name: str, timeout: Any = (1, 3, 11, 45)) -> Deferred[str]:
        """
        Resolve only IP address literals (no real lookups happen here).

        :param name: a host name or address.
        :param timeout: ignored.
        :return: a ``Deferred`` firing with ``name`` if it is an IP address,
            or failing with ``DNSLookupError`` otherwise.
        """
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return fail(error.DNSLookupError(f"MemoryReactor cannot resolve {name!r}"))
        return succeed(name)

    def run(self) -> None:
        """
        Run the ``callWhenRunning`` hooks, then stop.
        """
        if self.running:
            raise error.ReactorAlreadyRunning()
        self.running = True
        self.hasRun = True
        for callable, args, kwargs in self.whenRunningHooks:
            callable(*args, **kwargs)
        self.stop()

    def stop(self) -> None:
        """
        Record that the reactor was asked to stop.
        """
        self.running = False
        self.hasStopped = True

    def crash(self) -> None:
        """
        Record that the reactor was asked to crash (stop without shutdown
        events).
        """
        self.running = False
        self.hasCrashed = True

    def iterate(self, delay: float = 0) -> None:
        """
        Do nothing: there is no I/O to process.

        :param delay: ignored.
        """

    def fireSystemEvent(self, eventType: str) -> None:
        """
        Run the triggers registered for ``eventType``: ``before``, then
        ``during``, then ``after``.

        :param eventType: ``"startup"``, ``"shutdown"`` or ``"persist"``.
        """
        for phase in ("before", "during", "after"):
            for callable, args, kwargs in list(
                self.triggers.get(phase, {}).get(eventType, [])
            ):
                callable(*args, **kwargs)

    def addSystemEventTrigger(
        self,
        phase: str,
        eventType: str,
        callable: Callable[..., Any],
        *args: object,
        **kwargs: object,
    ) -> Any:
        """
        Record a trigger in ``triggers``.

        :param phase: ``"before"``, ``"during"`` or ``"after"``.
        :param eventType: the system event name.
        :param callable: what to call.
        :return: an identifier for ``removeSystemEventTrigger``.
        :raises ValueError: for an unknown phase.
        """
        if phase not in ("before", "during", "after"):
            raise ValueError(f"unknown trigger phase {phase!r}")
        entry = (callable, args, kwargs)
        self.triggers.setdefault(phase, {}).setdefault(eventType, []).append(entry)
        return (phase, eventType, entry)

    def removeSystemEventTrigger(self, triggerID: Any) -> None:
        """
        Remove a trigger added with ``addSystemEventTrigger``.

        :param triggerID: what ``addSystemEventTrigger`` returned.
        :raises ValueError: if the trigger is not registered.
        """
        try:
            phase, eventType, entry = triggerID
            self.triggers[phase][eventType].remove(entry)
        except (TypeError, ValueError, KeyError):
            raise ValueError(f"no such trigger: {triggerID!r}")

    def callWhenRunning(
        self, callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> Any:
        """
        Record ``callable`` in ``whenRunningHooks``; ``run`` calls it.

        :param callable: what to call.
        :return: ``None``.
        """
        self.whenRunningHooks.append((callable, args, kwargs))
        return None

    # Ports and connections

    def _connector(self, factory: Any, address: IAddress) -> _FakeConnector:
        connector = _FakeConnector(address)
        startedConnecting = getattr(factory, "startedConnecting", None)
        if startedConnecting is not None:
            startedConnecting(connector)
        self.connectors.append(connector)
        return connector

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> IListeningPort:
        """
        Record the request in ``tcpServers``.

        :return: a port whose ``getHost`` reports ``interface`` (or
            ``0.0.0.0``) and ``port``.
        """
        self.tcpServers.append((port, factory, backlog, interface))
        if _isIPv6(interface):
            return _FakePort(IPv6Address("TCP", interface, port))
        return _FakePort(IPv4Address("TCP", interface or "0.0.0.0", port))

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """
        Record the request in ``tcpClients`` and call the factory's
        ``startedConnecting``.

        :return: a connector whose ``getDestination`` is ``host:port``.
        """
        self.tcpClients.append((host, port, factory, timeout, bindAddress))
        return self._connector(factory, _ipAddress("TCP", host, port))

    def listenSSL(
        self,
        port: int,
        factory: Any,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        """
        Record the request in ``sslServers``.

        :return: a port whose ``getHost`` reports the address.
        """
        self.sslServers.append((port, factory, contextFactory, backlog, interface))
        return _FakePort(_ipAddress("TCP", interface or "0.0.0.0", port))

    def connectSSL(
        self,
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """
        Record the request in ``sslClients``.

        :return: a connector whose ``getDestination`` is ``host:port``.
        """
        self.sslClients.append(
            (host, port, factory, contextFactory, timeout, bindAddress)
        )
        return self._connector(factory, _ipAddress("TCP", host, port))

    def listenUNIX(
        self,
        address: str,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> IListeningPort:
        """
        Record the request in ``unixServers``.

        :return: a port whose ``getHost`` is a ``UNIXAddress``.
        """
        self.unixServers.append((address, factory, backlog, mode, wantPID))
        return _FakePort(UNIXAddress(address))

    def connectUNIX(
        self,
        address: str,
        factory: Any,
        timeout: float = 30,
        checkPID: bool = False,
    ) -> IConnector:
        """
        Record the request in ``unixClients``.

        :return: a connector whose ``getDestination`` is a ``UNIXAddress``.
        """
        self.unixClients.append((address, factory, timeout, checkPID))
        return self._connector(factory, UNIXAddress(address))

    def listenUDP(
        self,
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
    ) -> IListeningPort:
        """
        Record the request in ``udpServers``.

        :return: a port whose ``getHost`` reports the address.
        """
        self.udpServers.append((port, protocol, interface, maxPacketSize))
        return _FakePort(_ipAddress("UDP", interface or "0.0.0.0", port))

    # IReactorSocket

    def adoptStreamPort(
        self, fileDescriptor: int, addressFamily: int, factory: Any
    ) -> IListeningPort:
        """
        Record the request in ``adoptedPorts``.

        :return: a port whose ``getHost`` reports ``0.0.0.0:1234`` (the
            real address of the descriptor is not inspected).
        """
        self.adoptedPorts.append((fileDescriptor, addressFamily, factory))
        if addressFamily == socket.AF_INET6:
            return _FakePort(IPv6Address("TCP", "::", 1234))
        return _FakePort(IPv4Address("TCP", "0.0.0.0", 1234))

    def adoptStreamConnection(
        self, fileDescriptor: int, addressFamily: int, factory: Any
    ) -> None:
        """
        Record the request in ``adoptedStreamConnections``.
        """
        self.adoptedStreamConnections.append((fileDescriptor, addressFamily, factory))

    def adoptDatagramPort(
        self,
        fileDescriptor: int,
        addressFamily: int,
        protocol: Any,
        maxPacketSize: int = 8192,
    ) -> IListeningPort:
        """
        Record the request in ``adoptedDatagramPorts``.

        :return: a port whose ``getHost`` reports ``0.0.0.0:2345``.
        """
        self.adoptedDatagramPorts.append(
            (fileDescriptor, addressFamily, protocol, maxPacketSize)
        )
        return _FakePort(IPv4Address("UDP", "0.0.0.0", 2345))

    # IReactorFDSet

    def addReader(self, reader: IReadDescriptor) -> None:
        """
        Add ``reader`` to ``readers``.
        """
        self.readers.add(reader)

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Remove ``reader`` from ``readers`` if present.
        """
        self.readers.discard(reader)

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Add ``writer`` to ``writers``.
        """
        self.writers.add(writer)

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Remove ``writer`` from ``writers`` if present.
        """
        self.writers.discard(writer)

    def removeAll(self) -> list[IReadDescriptor | IWriteDescriptor]:
        """
        Remove every reader and writer.

        :return: what was removed, each descriptor once.
        """
        removed: list[IReadDescriptor | IWriteDescriptor] = list(self.readers)
        readers: set[object] = set(self.readers)
        removed.extend(w for w in self.writers if w not in readers)
        self.readers.clear()
        self.writers.clear()
        return removed

    def getReaders(self) -> list[IReadDescriptor]:
        """
        :return: the current readers.
        """
        return list(self.readers)

    def getWriters(self) -> list[IWriteDescriptor]:
        """
        :return: the current writers.
        """
        return list(self.writers)


class MemoryReactorClock(MemoryReactor, Clock):
    """
    A ``MemoryReactor`` that is also a ``Clock``: ``callLater`` schedules on
    fake time moved by ``advance``.
    """

    def __init__(self) -> None:
        MemoryReactor.__init__(self)
        Clock.__init__(self)


class RaisingMemoryReactor(MemoryReactor):
    """
    A ``MemoryReactor`` whose listen methods raise ``listenException`` and
    whose connect methods raise ``connectException``: for testing how code
    reports a port that cannot be bound or a connection that cannot start.

    :param listenException: raised by ``listenTCP``, ``listenSSL``,
        ``listenUNIX``, ``listenUDP`` and ``adoptStreamPort``.
    :param connectException: raised by ``connectTCP``, ``connectSSL`` and
        ``connectUNIX``.
    """

    def __init__(
        self,
        listenException: BaseException | None = None,
        connectException: BaseException | None = None,
    ) -> None:
        super().__init__()
        self._listenException = listenException or error.CannotListenError(
            "", 0, OSError("RaisingMemoryReactor refuses to listen")
        )
        self._connectException = connectException or error.ConnectError(
            string="RaisingMemoryReactor refuses to connect"
        )

    def listenTCP(self, *args: Any, **kwargs: Any) -> IListeningPort:
        """
        :raises BaseException: ``listenException``.
        """
        raise self._listenException

    def listenSSL(self, *args: Any, **kwargs: Any) -> IListeningPort:
        """
        :raises BaseException: ``listenException``.
        """
        raise self._listenException

    def listenUNIX(self, *args: Any, **kwargs: Any) -> IListeningPort:
        """
        :raises BaseException: ``listenException``.
        """
        raise self._listenException

    def listenUDP(self, *args: Any, **kwargs: Any) -> IListeningPort:
        """
        :raises BaseException: ``listenException``.
        """
        raise self._listenException

    def adoptStreamPort(self, *args: Any, **kwargs: Any) -> IListeningPort:
        """
        :raises BaseException: ``listenException``.
        """
        raise self._listenException

    def connectTCP(self, *args: Any, **kwargs: Any) -> IConnector:
        """
        :raises BaseException: ``connectException``.
        """
        raise self._connectException

    def connectSSL(self, *args: Any, **kwargs: Any) -> IConnector:
        """
        :raises BaseException: ``connectException``.
        """
        raise self._connectException

    def connectUNIX(self, *args: Any, **kwargs: Any) -> IConnector:
        """
        :raises BaseException: ``connectException``.
        """
        raise self._connectException
