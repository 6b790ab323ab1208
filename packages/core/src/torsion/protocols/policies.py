"""
Policies applied to any protocol by wrapping it: timeouts, bandwidth and
connection limits, traffic logging.

A ``WrappingFactory`` wraps another factory; every protocol that factory
builds is wrapped in a ``ProtocolWrapper``, which stands between the
protocol and its transport.  The wrapper sees all traffic in both
directions, and the wrapped protocol sees the wrapper as its transport.
Subclasses of both apply a policy::

    factory = TimeoutFactory(MyFactory(), timeoutPeriod=60)
    reactor.listenTCP(8000, factory)

Code that schedules timers takes ``callLater`` as an attribute, so tests can
give it ``Clock().callLater``; without one it uses the global reactor.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import IO, Any

from zope.interface import directlyProvides, providedBy

from torsion.internet import interfaces, protocol
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "LimitConnectionsByPeer",
    "LimitTotalConnectionsFactory",
    "ProtocolWrapper",
    "SpewingFactory",
    "SpewingProtocol",
    "ThrottlingFactory",
    "ThrottlingProtocol",
    "TimeoutFactory",
    "TimeoutMixin",
    "TimeoutProtocol",
    "TrafficLoggingFactory",
    "TrafficLoggingProtocol",
    "WrappingFactory",
]

_log = Logger(namespace="torsion.protocols.policies")


def _globalCallLater(
    delay: float, f: Callable[..., object], *args: object
) -> interfaces.IDelayedCall:
    # Only reached when no callLater was given: the outermost layer's choice.
    from torsion.internet import reactor

    call: interfaces.IDelayedCall = reactor.callLater(delay, f, *args)
    return call


class ProtocolWrapper(protocol.Protocol):
    """
    A protocol that passes everything to a wrapped protocol, and is that
    protocol's transport.

    Writes, closes and producer registrations from the wrapped protocol go
    through this wrapper to the real transport; received bytes and the
    connection's loss go from the real transport through this wrapper to the
    wrapped protocol.  Attributes the wrapper does not define are read from
    the real transport.  The wrapper provides every interface the real
    transport provides.

    :ivar wrappedProtocol: the protocol being wrapped.
    :ivar factory: the ``WrappingFactory`` that built this wrapper.
    :ivar disconnecting: true once the wrapped protocol asked to close.
    """

    disconnecting: bool = False

    def __init__(self, factory: WrappingFactory, wrappedProtocol: Any) -> None:
        """
        :param factory: the factory that built this wrapper; it is told when
            the connection starts and ends.
        :param wrappedProtocol: the protocol to wrap.
        """
        self.wrappedProtocol = wrappedProtocol
        self.factory = factory

    def logPrefix(self) -> str:
        """
        :return: the wrapped protocol's log prefix, marked as wrapped.
        """
        inner = self.wrappedProtocol
        prefix = inner.logPrefix() if hasattr(inner, "logPrefix") else None
        return f"{prefix or type(inner).__name__} (wrapped)"

    def makeConnection(self, transport: Any) -> None:
        """
        Connect to ``transport``, register with the factory, and connect the
        wrapped protocol to this wrapper.

        :param transport: the real transport.
        """
        directlyProvides(self, providedBy(transport))
        protocol.Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        self.wrappedProtocol.makeConnection(self)

    # The transport side, used by the wrapped protocol.

    def write(self, data: bytes) -> None:
        """
        Write ``data`` to the real transport.

        :param data: the bytes to send.
        :raises TypeError: if ``data`` is a ``str``.
        """
        if isinstance(data, str):
            raise TypeError("write takes bytes, not str")
        self.transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """
        Write each item of ``data`` to the real transport.

        :param data: an iterable of bytes.
        :raises TypeError: if an item is a ``str``.
        """
        items = list(data)
        if any(isinstance(item, str) for item in items):
            raise TypeError("writeSequence takes bytes, not str")
        self.transport.writeSequence(items)

    def loseConnection(self) -> None:
        """
        Close the real transport once its buffered data is written.
        """
        self.disconnecting = True
        self.transport.loseConnection()

    def abortConnection(self) -> None:
        """
        Close the real transport at once, dropping buffered data.
        """
        self.disconnecting = True
        self.transport.abortConnection()

    def getPeer(self) -> interfaces.IAddress:
        """
        :return: the real transport's remote address.
        """
        peer: interfaces.IAddress = self.transport.getPeer()
        return peer

    def getHost(self) -> interfaces.IAddress:
        """
        :return: the real transport's local address.
        """
        host: interfaces.IAddress = self.transport.getHost()
        return host

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Register ``producer`` with the real transport.

        :param producer: an ``IPushProducer`` or ``IPullProducer``.
        :param streaming: whether it is a push producer.
        """
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        """
        Unregister the producer from the real transport.
        """
        self.transport.unregisterProducer()

    def stopConsuming(self) -> None:
        """
        Unregister the producer and close the connection.
        """
        self.unregisterProducer()
        self.loseConnection()

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not found normally; guard against
        # recursion before ``transport`` is set.
        if name == "transport" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.transport, name)

    # The protocol side, used by the real transport.

    def dataReceived(self, data: bytes) -> None:
        """
        Pass received bytes to the wrapped protocol.

        :param data: the bytes received.
        """
        self.wrappedProtocol.dataReceived(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """
        Unregister from the factory and tell the wrapped protocol.

        :param reason: why the connection was lost.
        """
        self.factory.unregisterProtocol(self)
        self.wrappedProtocol.connectionLost(reason)


class WrappingFactory(protocol.ClientFactory):
    """
    A factory that wraps every protocol built by another factory in a
    ``ProtocolWrapper`` (or the class in ``protocol``), and keeps the
    connected wrappers in ``protocols``.

    Starting, stopping and client connection events are passed to the
    wrapped factory.

    :ivar wrappedFactory: the factory whose protocols are wrapped.
    :ivar protocols: the connected wrappers (a dict used as an ordered set).
    """

    protocol: Callable[..., Any] = ProtocolWrapper

    def __init__(self, wrappedFactory: Any) -> None:
        """
        :param wrappedFactory: the factory whose protocols are wrapped.
        """
        self.wrappedFactory = wrappedFactory
        self.protocols: dict[ProtocolWrapper, int] = {}

    def logPrefix(self) -> str:
        """
        :return: the wrapped factory's log prefix, marked as wrapped.
        """
        inner = self.wrappedFactory
        prefix = inner.logPrefix() if hasattr(inner, "logPrefix") else None
        return f"{prefix or type(inner).__name__} (wrapped)"

    def doStart(self) -> None:
        """
        Start the wrapped factory, then this one.
        """
        self.wrappedFactory.doStart()
        protocol.ClientFactory.doStart(self)

    def doStop(self) -> None:
        """
        Stop the wrapped factory, then this one.
        """
        self.wrappedFactory.doStop()
        protocol.ClientFactory.doStop(self)

    def startedConnecting(self, connector: interfaces.IConnector) -> None:
        """
        Pass the event to the wrapped factory.

        :param connector: the connector.
        """
        self.wrappedFactory.startedConnecting(connector)

    def clientConnectionFailed(
        self, connector: interfaces.IConnector, reason: Failure
    ) -> None:
        """
        Pass the event to the wrapped factory.

        :param connector: the connector.
        :param reason: why the connection failed.
        """
        self.wrappedFactory.clientConnectionFailed(connector, reason)

    def clientConnectionLost(
        self, connector: interfaces.IConnector, reason: Failure
    ) -> None:
        """
        Pass the event to the wrapped factory.

        :param connector: the connector.
        :param reason: why the connection was lost.
        """
        self.wrappedFactory.clientConnectionLost(connector, reason)

    def buildProtocol(self, addr: interfaces.IAddress) -> Any:
        """
        Build the wrapped factory's protocol and wrap it.

        :param addr: the peer's address.
        :return: the wrapper, or None if the wrapped factory refused.
        """
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped)

    def registerProtocol(self, p: ProtocolWrapper) -> None:
        """
        Record that ``p`` is connected.

        :param p: the wrapper.
        """
        self.protocols[p] = 1

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        """
        Record that ``p`` is disconnected.

        :param p: the wrapper.
        """
        self.protocols.pop(p, None)


# Timeouts


class TimeoutMixin:
    """
    Mixin for a protocol that closes idle connections.

    Call ``setTimeout(seconds)`` (for instance in ``connectionMade``) and
    ``resetTimeout()`` whenever there is activity; when ``timeOut`` seconds
    pass without a reset, ``timeoutConnection`` is called.

    :ivar timeOut: the idle period in seconds, or None for none.
    :ivar callLater: schedules the timer, with ``IReactorTime.callLater``'s
        signature; set it to a reactor's or a ``Clock``'s ``callLater``.  The
        global reactor's is used when it is not set.
    """

    timeOut: float | None = None
    callLater: Callable[..., interfaces.IDelayedCall] = staticmethod(_globalCallLater)
    __timeoutCall: interfaces.IDelayedCall | None = None

    def resetTimeout(self) -> None:
        """
        Restart the idle timer, if one is running.
        """
        call = self.__timeoutCall
        if call is not None and self.timeOut is not None:
            call.reset(self.timeOut)

    def setTimeout(self, period: float | None) -> float | None:
        """
        Change the idle period, restarting the timer.

        :param period: seconds of inactivity allowed, or None to disable the
            timeout.
        :return: the previous period.
        """
        previous = self.timeOut
        self.timeOut = period
        call = self.__timeoutCall
        if call is not None:
            if period is None:
                if call.active():
                    call.cancel()
                self.__timeoutCall = None
            else:
                call.reset(period)
        elif period is not None:
            self.__timeoutCall = self.callLater(period, self.__timedOut)
        return previous

    def __timedOut(self) -> None:
        self.__timeoutCall = None
        self.timeoutConnection()

    def timeoutConnection(self) -> None:
        """
        Called when the connection was idle for ``timeOut`` seconds.  By
        default, close the connection.
        """
        transport: Any = getattr(self, "transport", None)
        if transport is not None:
            transport.loseConnection()


class TimeoutProtocol(ProtocolWrapper):
    """
    A wrapper that closes the connection after a period without traffic in
    either direction.

    :ivar timeoutCall: the pending timer, or None.
    """

    timeoutCall: interfaces.IDelayedCall | None = None

    def __init__(
        self, factory: TimeoutFactory, wrappedProtocol: Any, timeoutPeriod: float
    ) -> None:
        """
        :param factory: the ``TimeoutFactory`` that built this wrapper; its
            ``callLater`` schedules the timer.
        :param wrappedProtocol: the protocol to wrap.
        :param timeoutPeriod: seconds without traffic before closing.
        """
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        self.timeoutPeriod: float | None = None
        self.setTimeout(timeoutPeriod)

    def setTimeout(self, timeoutPeriod: float | None = None) -> None:
        """
        Start (or restart) the timer with a new period.

        :param timeoutPeriod: seconds without traffic, or None to disable.
        """
        self.cancelTimeout()
        self.timeoutPeriod = timeoutPeriod
        if timeoutPeriod is not None:
            callLater: Any = self.factory.callLater
            self.timeoutCall = callLater(timeoutPeriod, self.timeoutFunc)

    def cancelTimeout(self) -> None:
        """
        Stop the timer.
        """
        call, self.timeoutCall = self.timeoutCall, None
        if call is not None and call.active():
            call.cancel()

    def resetTimeout(self) -> None:
        """
        Restart the timer after traffic.
        """
        if self.timeoutCall is not None and self.timeoutPeriod is not None:
            self.timeoutCall.reset(self.timeoutPeriod)

    def write(self, data: bytes) -> None:
        """
        Write ``data`` and restart the timer.

        :param data: the bytes to send.
        """
        self.resetTimeout()
        ProtocolWrapper.write(self, data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """
        Write each item of ``data`` and restart the timer.

        :param data: an iterable of bytes.
        """
        self.resetTimeout()
        ProtocolWrapper.writeSequence(self, data)

    def dataReceived(self, data: bytes) -> None:
        """
        Restart the timer and pass ``data`` on.

        :param data: the bytes received.
        """
        self.resetTimeout()
        ProtocolWrapper.dataReceived(self, data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """
        Stop the timer and pass the loss on.

        :param reason: why the connection was lost.
        """
        self.cancelTimeout()
        ProtocolWrapper.connectionLost(self, reason)

    def timeoutFunc(self) -> None:
        """
        Called when the period passed without traffic: close the connection.
        """
        self.timeoutCall = None
        self.loseConnection()


class TimeoutFactory(WrappingFactory):
    """
    Wraps every protocol in a ``TimeoutProtocol``.

    :ivar timeoutPeriod: seconds without traffic before a connection is
        closed.
    :ivar callLater: schedules the timers; see ``TimeoutMixin``.
    """

    protocol = TimeoutProtocol
    callLater: Callable[..., interfaces.IDelayedCall] = staticmethod(_globalCallLater)

    def __init__(self, wrappedFactory: Any, timeoutPeriod: float = 30 * 60) -> None:
        """
        :param wrappedFactory: the factory whose protocols are wrapped.
        :param timeoutPeriod: seconds without traffic before closing.
        """
        WrappingFactory.__init__(self, wrappedFactory)
        self.timeoutPeriod = timeoutPeriod

    def buildProtocol(self, addr: interfaces.IAddress) -> Any:
        """
        Build the wrapped protocol and wrap it with the timeout.

        :param addr: the peer's address.
        :return: the wrapper, or None if the wrapped factory refused.
        """
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped, timeoutPeriod=self.timeoutPeriod)


# Throttling


class ThrottlingProtocol(ProtocolWrapper):
    """
    A wrapper that counts traffic for its ``ThrottlingFactory`` and pauses
    reading or writing when the factory says so.

    :ivar producer: the producer the wrapped protocol registered, paused
        while writes are throttled.
    """

    producer: Any = None
    factory: ThrottlingFactory

    def write(self, data: bytes) -> None:
        """
        Count and write ``data``.

        :param data: the bytes to send.
        """
        self.factory.registerWritten(len(data))
        ProtocolWrapper.write(self, data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """
        Count and write each item of ``data``.

        :param data: an iterable of bytes.
        """
        items = list(data)
        self.factory.registerWritten(sum(map(len, items)))
        ProtocolWrapper.writeSequence(self, items)

    def dataReceived(self, data: bytes) -> None:
        """
        Count and pass on received bytes.

        :param data: the bytes received.
        """
        self.factory.registerRead(len(data))
        ProtocolWrapper.dataReceived(self, data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Remember ``producer``, to pause it when writes are throttled, and
        register it with the transport.

        :param producer: the producer.
        :param streaming: whether it is a push producer.
        """
        self.producer = producer
        ProtocolWrapper.registerProducer(self, producer, streaming)

    def unregisterProducer(self) -> None:
        """
        Forget the producer and unregister it from the transport.
        """
        self.producer = None
        ProtocolWrapper.unregisterProducer(self)

    def _readable(self) -> bool:
        return self.transport is not None and not self.transport.disconnecting

    def throttleReads(self) -> None:
        """
        Stop reading from the transport.
        """
        if self._readable():
            self.transport.pauseProducing()

    def unthrottleReads(self) -> None:
        """
        Read from the transport again.
        """
        if self._readable():
            self.transport.resumeProducing()

    def throttleWrites(self) -> None:
        """
        Pause the registered producer, if any.
        """
        if self.producer is not None:
            self.producer.pauseProducing()

    def unthrottleWrites(self) -> None:
        """
        Resume the registered producer, if any.
        """
        if self.producer is not None:
            self.producer.resumeProducing()


class ThrottlingFactory(WrappingFactory):
    """
    Limits the number of connections, and the bytes read and written per
    second over all of them.

    Every second the bytes counted are compared with the limits; over a
    limit, every connection stops reading (or its producer is paused) for as
    long as the excess would take at the limit's rate.

    :ivar maxConnectionCount: connections accepted at once; more are
        refused.
    :ivar readLimit: bytes per second read over all connections, or None.
    :ivar writeLimit: bytes per second written over all connections, or
        None.
    :ivar connectionCount: connections currently open.
    :ivar readThisSecond: bytes read in the current second.
    :ivar writtenThisSecond: bytes written in the current second.
    :ivar callLater: schedules the checks; see ``TimeoutMixin``.
    """

    protocol = ThrottlingProtocol
    callLater: Callable[..., interfaces.IDelayedCall] = staticmethod(_globalCallLater)

    def __init__(
        self,
        wrappedFactory: Any,
        maxConnectionCount: int = sys.maxsize,
        readLimit: float | None = None,
        writeLimit: float | None = None,
    ) -> None:
        """
        :param wrappedFactory: the factory whose protocols are wrapped.
        :param maxConnectionCount: connections accepted at once.
        :param readLimit: bytes per second read, or None for no limit.
        :param writeLimit: bytes per second written, or None for no limit.
        :raises ValueError: if a limit is not positive.
        """
        WrappingFactory.__init__(self, wrappedFactory)
        for name, limit in (("readLimit", readLimit), ("writeLimit", writeLimit)):
            if limit is not None and limit <= 0:
                raise ValueError(f"{name} must be positive, not {limit!r}")
        self.connectionCount = 0
        self.maxConnectionCount = maxConnectionCount
        self.readLimit = readLimit
        self.writeLimit = writeLimit
        self.readThisSecond = 0
        self.writtenThisSecond = 0
        self.checkReadBandwidthID: interfaces.IDelayedCall | None = None
        self.checkWriteBandwidthID: interfaces.IDelayedCall | None = None
        self.unthrottleReadsID: interfaces.IDelayedCall | None = None
        self.unthrottleWritesID: interfaces.IDelayedCall | None = None

    def registerWritten(self, length: int) -> None:
        """
        Count ``length`` bytes written.

        :param length: how many bytes.
        """
        self.writtenThisSecond += length

    def registerRead(self, length: int) -> None:
        """
        Count ``length`` bytes read.

        :param length: how many bytes.
        """
        self.readThisSecond += length

    def _eachProtocol(self, method: str) -> None:
        for p in list(self.protocols):
            getattr(p, method)()

    def checkReadBandwidth(self) -> None:
        """
        Throttle reads if more than ``readLimit`` bytes were read in the
        last second, then check again in a second.
        """
        limit = self.readLimit
        if limit is not None and self.readThisSecond > limit:
            self.throttleReads()
            excess = self.readThisSecond / limit - 1.0
            self.unthrottleReadsID = self.callLater(excess, self.unthrottleReads)
        self.readThisSecond = 0
        self.checkReadBandwidthID = self.callLater(1, self.checkReadBandwidth)

    def checkWriteBandwidth(self) -> None:
        """
        Throttle writes if more than ``writeLimit`` bytes were written in the
        last second, then check again in a second.
        """
        limit = self.writeLimit
        if limit is not None and self.writtenThisSecond > limit:
            self.throttleWrites()
            excess = self.writtenThisSecond / limit - 1.0
            self.unthrottleWritesID = self.callLater(excess, self.unthrottleWrites)
        self.writtenThisSecond = 0
        self.checkWriteBandwidthID = self.callLater(1, self.checkWriteBandwidth)

    def throttleReads(self) -> None:
        """
        Stop reading on every connection.
        """
        _log.debug("Throttling reads on {factory}", factory=self)
        self._eachProtocol("throttleReads")

    def unthrottleReads(self) -> None:
        """
        Read again on every connection.
        """
        self.unthrottleReadsID = None
        _log.debug("Stopped throttling reads on {factory}", factory=self)
        self._eachProtocol("unthrottleReads")

    def throttleWrites(self) -> None:
        """
        Pause the producers of every connection.
        """
        _log.debug("Throttling writes on {factory}", factory=self)
        self._eachProtocol("throttleWrites")

    def unthrottleWrites(self) -> None:
        """
        Resume the producers of every connection.
        """
        self.unthrottleWritesID = None
        _log.debug("Stopped throttling writes on {factory}", factory=self)
        self._eachProtocol("unthrottleWrites")

    def buildProtocol(self, addr: interfaces.IAddress) -> Any:
        """
        Build a throttled protocol, or refuse beyond ``maxConnectionCount``.

        :param addr: the peer's address.
        :return: the wrapper, or None when refused.
        """
        if self.connectionCount >= self.maxConnectionCount:
            _log.info(
                "Refusing connection from {addr}: {count} connections open",
                addr=addr,
                count=self.connectionCount,
            )
            return None
        if self.connectionCount == 0:
            if self.readLimit is not None and self.checkReadBandwidthID is None:
                self.checkReadBandwidth()
            if self.writeLimit is not None and self.checkWriteBandwidthID is None:
                self.checkWriteBandwidth()
        built = WrappingFactory.buildProtocol(self, addr)
        if built is not None:
            self.connectionCount += 1
        return built

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        """
        Record that ``p`` is disconnected; stop checking bandwidth when no
        connection is left.

        :param p: the wrapper.
        """
        WrappingFactory.unregisterProtocol(self, p)
        self.connectionCount -= 1
        if self.connectionCount == 0:
            for name in (
                "checkReadBandwidthID",
                "checkWriteBandwidthID",
                "unthrottleReadsID",
                "unthrottleWritesID",
            ):
                call: interfaces.IDelayedCall | None = getattr(self, name)
                setattr(self, name, None)
                if call is not None and call.active():
                    call.cancel()


# Connection limits


class LimitTotalConnectionsFactory(protocol.ServerFactory):
    """
    A server factory that accepts at most ``connectionLimit`` connections at
    once.  Beyond it, a connection gets ``overflowProtocol`` (for instance
    one that writes "too busy" and closes) or, if that is None, is refused.

    Set ``protocol`` as with any factory.

    :ivar connectionLimit: connections served at once, or None for no limit.
    :ivar overflowProtocol: the protocol class for connections beyond the
        limit, or None to refuse them.
    :ivar connectionCount: connections currently open, overflow included.
    """

    connectionCount: int = 0
    connectionLimit: int | None = None
    overflowProtocol: Callable[[], Any] | None = None

    def buildProtocol(self, addr: interfaces.IAddress) -> Any:
        """
        Build ``protocol``, ``overflowProtocol`` beyond the limit, or refuse.

        :param addr: the peer's address.
        :return: a ``ProtocolWrapper`` around the built protocol, or None.
        """
        limit = self.connectionLimit
        if limit is None or self.connectionCount < limit:
            if self.protocol is None:
                return None
            wrapped = self.protocol()
        elif self.overflowProtocol is None:
            return None
        else:
            wrapped = self.overflowProtocol()
        wrapped.factory = self
        self.connectionCount += 1
        return ProtocolWrapper(self, wrapped)  # type: ignore[arg-type]

    def registerProtocol(self, p: ProtocolWrapper) -> None:
        """
        Called by the wrapper when connected; nothing to do.

        :param p: the wrapper.
        """

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        """
        Called by the wrapper when disconnected: one connection fewer.

        :param p: the wrapper.
        """
        self.connectionCount -= 1


def _peerKey(addr: object) -> object:
    return getattr(addr, "host", addr)


class LimitConnectionsByPeer(WrappingFactory):
    """
    Accepts at most ``maxConnectionsPerPeer`` connections at once from each
    peer host; more are refused.

    :ivar maxConnectionsPerPeer: connections allowed per peer host.
    :ivar peerConnections: open connections per peer host.
    """

    maxConnectionsPerPeer: int = 5

    def __init__(self, wrappedFactory: Any, maxConnectionsPerPeer: int | None = None):
        """
        :param wrappedFactory: the factory whose protocols are wrapped.
        :param maxConnectionsPerPeer: overrides the class default.
        """
        WrappingFactory.__init__(self, wrappedFactory)
        if maxConnectionsPerPeer is not None:
            self.maxConnectionsPerPeer = maxConnectionsPerPeer
        self.peerConnections: dict[object, int] = {}

    def startFactory(self) -> None:
        """
        Forget the counts of a previous run.
        """
        self.peerConnections = {}

    def buildProtocol(self, addr: interfaces.IAddress) -> Any:
        """
        Build a protocol unless ``addr``'s host has too many connections.

        :param addr: the peer's address.
        :return: the wrapper, or None when refused.
        """
        key = _peerKey(addr)
        count = self.peerConnections.get(key, 0)
        if count >= self.maxConnectionsPerPeer:
            return None
        built = WrappingFactory.buildProtocol(self, addr)
        if built is not None:
            self.peerConnections[key] = count + 1
        return built

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        """
        Record that ``p`` is disconnected.

        :param p: the wrapper.
        """
        WrappingFactory.unregisterProtocol(self, p)
        key = _peerKey(p.getPeer())
        count = self.peerConnections.get(key, 0) - 1
        if count > 0:
            self.peerConnections[key] = count
        else:
            self.peerConnections.pop(key, None)


# Logging traffic


class TrafficLoggingProtocol(ProtocolWrapper):
    """
    A wrapper writing every read, write and close to a log file, one event
    per line: ``C <n>: <bytes>`` for bytes from the peer, ``S <n>: <bytes>``
    for bytes sent, ``SV <n>: <list>`` for ``writeSequence``,
    ``ConnectionLost <n>: <reason>`` and ``LoseConnection <n>``.  Bytes are
    written as Python literals, cut to ``lengthLimit`` characters if set.
    """

    def __init__(
        self,
        factory: WrappingFactory,
        wrappedProtocol: Any,
        logfile: IO[str],
        lengthLimit: int | None = None,
        number: int = 0,
    ) -> None:
        """
        :param factory: the factory that built this wrapper.
        :param wrappedProtocol: the protocol to wrap.
        :param logfile: a text file to write the log to.
        :param lengthLimit: the longest rendering of data logged, or None.
        :param number: this connection's number, written on every line.
        """
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        self.logfile = logfile
        self.lengthLimit = lengthLimit
        self._number = number

    def _log(self, line: str) -> None:
        self.logfile.write(line + "\n")
        self.logfile.flush()

    def _render(self, data: object) -> str:
        text = repr(data)
        limit = self.lengthLimit
        if limit is not None and len(text) > limit:
            text = text[: max(limit - 3, 0)] + "..."
        return text

    def write(self, data: bytes) -> None:
        """
        Log and write ``data``.

        :param data: the bytes to send.
        """
        self._log(f"S {self._number}: {self._render(data)}")
        ProtocolWrapper.write(self, data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """
        Log and write each item of ``data``.

        :param data: an iterable of bytes.
        """
        items = list(data)
        self._log(f"SV {self._number}: {self._render(items)}")
        ProtocolWrapper.writeSequence(self, items)

    def dataReceived(self, data: bytes) -> None:
        """
        Log and pass on received bytes.

        :param data: the bytes received.
        """
        self._log(f"C {self._number}: {self._render(data)}")
        ProtocolWrapper.dataReceived(self, data)

    def loseConnection(self) -> None:
        """
        Log and close the connection.
        """
        self._log(f"LoseConnection {self._number}")
        ProtocolWrapper.loseConnection(self)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """
        Log the loss, close the log file and pass the loss on.

        :param reason: why the connection was lost.
        """
        self._log(f"ConnectionLost {self._number}: {reason.getErrorMessage()}")
        self.logfile.close()
        ProtocolWrapper.connectionLost(self, reason)


class TrafficLoggingFactory(WrappingFactory):
    """
    Logs each connection's traffic to its own file, named
    ``<logfilePrefix>-<n>`` with ``n`` counting connections from 1.

    :ivar logfilePrefix: the start of the log file names.
    :ivar lengthLimit: passed to each ``TrafficLoggingProtocol``.
    """

    protocol = TrafficLoggingProtocol
    _counter: int = 0

    def __init__(
        self,
        wrappedFactory: Any,
        logfilePrefix: str,
        lengthLimit: int | None = None,
    ) -> None:
        """
        :param wrappedFactory: the factory whose protocols are wrapped.
        :param logfilePrefix: the start of the log file names.
        :param lengthLimit: the longest rendering of data logged, or None.
        """
        WrappingFactory.__init__(self, wrappedFactory)
        self.logfilePrefix = logfilePrefix
        self.lengthLimit = lengthLimit

    def open(self, name: str) -> IO[str]:
        """
        Open a log file; override to log elsewhere.

        :param name: the file name.
        :return: a text file open for writing.
        """
        return open(name, "w", encoding="utf-8")

    def resetCounter(self) -> None:
        """
        Number the next connection 1 again.
        """
        self._counter = 0

    def buildProtocol(self, addr: interfaces.IAddress) -> Any:
        """
        Build the wrapped protocol and wrap it with a log file.

        :param addr: the peer's address.
        :return: the wrapper, or None if the wrapped factory refused.
        """
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        self._counter += 1
        logfile = self.open(f"{self.logfilePrefix}-{self._counter}")
        return self.protocol(self, wrapped, logfile, self.lengthLimit, self._counter)


class SpewingProtocol(ProtocolWrapper):
    """
    A wrapper that logs, through ``torsion.logger``, every chunk received
    and sent; for debugging.
    """

    log = Logger(namespace="torsion.protocols.policies.spew")

    def dataReceived(self, data: bytes) -> None:
        """
        Log and pass on received bytes.

        :param data: the bytes received.
        """
        self.log.info("Received: {data!r}", data=data)
        ProtocolWrapper.dataReceived(self, data)

    def write(self, data: bytes) -> None:
        """
        Log and write ``data``.

        :param data: the bytes to send.
        """
        self.log.info("Sending: {data!r}", data=data)
        ProtocolWrapper.write(self, data)


class SpewingFactory(WrappingFactory):
    """
    Wraps every protocol in a ``SpewingProtocol``.
    """

    protocol = SpewingProtocol
