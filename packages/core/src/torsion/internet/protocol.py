"""
Protocols and factories: the classes a user subclasses to handle connections.

A ``Protocol`` receives one connection's events (``connectionMade``,
``dataReceived``, ``connectionLost``); a ``Factory`` holds shared
configuration and builds a protocol per connection::

    from torsion.internet import protocol

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    factory = protocol.Factory.forProtocol(Echo)
    reactor.listenTCP(8000, factory)
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from zope.interface import implementer

from torsion.internet import error, interfaces
from torsion.python.failure import Failure

if TYPE_CHECKING:
    from torsion.internet.defer import Deferred


def _logInfo(message: str, **kwargs: object) -> None:
    try:
        loggerModule = importlib.import_module("torsion.logger")
        loggerModule.Logger(namespace="torsion.internet.protocol").info(
            message, **kwargs
        )
    except (ImportError, AttributeError):
        pass


def _logErr(failure: object, why: str) -> None:
    try:
        log = importlib.import_module("torsion.python.log")
        log.err(failure, why)
    except (ImportError, AttributeError):
        import traceback

        exc = getattr(failure, "value", failure)
        if isinstance(exc, BaseException):
            traceback.print_exception(exc)


connectionDone: Failure = Failure(error.ConnectionDone())
"""
The reason given to ``connectionLost`` for a connection closed cleanly.
"""


@implementer(interfaces.IProtocolFactory, interfaces.ILoggingContext)
class Factory:
    """
    Builds protocols for connections and holds what they share.

    Set ``protocol`` to a ``Protocol`` subclass (or use ``forProtocol``);
    ``buildProtocol`` instantiates it and sets its ``factory`` attribute.

    :ivar protocol: the protocol class built for each connection.
    :ivar noisy: log when the factory starts and stops.
    :ivar numPorts: how many ports or connectors are using this factory.
    """

    protocol: Callable[[], Any] | None = None
    noisy: bool = True
    numPorts: int = 0

    @classmethod
    def forProtocol(
        cls, protocol: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """
        Make a factory of this class that builds ``protocol``.

        :param protocol: the protocol class (or callable returning a protocol).
        :param args: positional arguments for the factory's constructor.
        :param kwargs: keyword arguments for the factory's constructor.
        :return: the new factory.
        """
        factory = cls(*args, **kwargs)
        factory.protocol = protocol
        return factory

    def logPrefix(self) -> str:
        """
        :return: the class name, used to prefix log messages.
        """
        return self.__class__.__name__

    def doStart(self) -> None:
        """
        Called by each port or connector when it starts using the factory;
        calls ``startFactory`` for the first one only.
        """
        if not self.numPorts:
            if self.noisy:
                _logInfo("Starting factory {factory!r}", factory=self)
            self.startFactory()
        self.numPorts += 1

    def doStop(self) -> None:
        """
        Called by each port or connector when it stops using the factory;
        calls ``stopFactory`` when the last one stops.
        """
        if self.numPorts == 0:
            return
        self.numPorts -= 1
        if not self.numPorts:
            if self.noisy:
                _logInfo("Stopping factory {factory!r}", factory=self)
            self.stopFactory()

    def startFactory(self) -> None:
        """
        Prepare shared resources; override as needed.  Runs once before the
        first connection however many ports share the factory.
        """

    def stopFactory(self) -> None:
        """
        Release shared resources; override as needed.  Runs once after the
        last port or connector using the factory stops.
        """

    def buildProtocol(self, addr: interfaces.IAddress) -> Any:
        """
        Build a protocol for a new connection.

        :param addr: the peer's address.
        :return: an instance of ``self.protocol`` whose ``factory`` is this
            factory, or ``None`` to refuse the connection.
        """
        if self.protocol is None:
            raise TypeError(f"{self!r}.protocol is not set")
        p = self.protocol()
        p.factory = self
        return p


class ServerFactory(Factory):
    """
    A factory for servers, used with ``listenTCP`` and friends.
    """


class ClientFactory(Factory):
    """
    A factory for clients, told about the outcome of connection attempts.
    """

    def startedConnecting(self, connector: interfaces.IConnector) -> None:
        """
        A connection attempt has started.

        :param connector: the connector, whose ``stopConnecting`` aborts it.
        """

    def clientConnectionFailed(
        self, connector: interfaces.IConnector, reason: Failure
    ) -> None:
        """
        A connection attempt failed.

        :param connector: the connector; ``connector.connect()`` retries.
        :param reason: a ``Failure`` such as ``ConnectionRefusedError``,
            ``DNSLookupError`` or ``TimeoutError``.
        """

    def clientConnectionLost(
        self, connector: interfaces.IConnector, reason: Failure
    ) -> None:
        """
        An established connection was closed.

        :param connector: the connector; ``connector.connect()`` reconnects.
        :param reason: a ``Failure`` of ``ConnectionDone`` or ``ConnectionLost``.
        """


class ReconnectingClientFactory(ClientFactory):
    """
    A client factory that reconnects after failures and lost connections,
    waiting longer after each attempt (exponential back-off with jitter).

    Call ``resetDelay`` once a connection is known to be good (for example in
    the protocol's ``connectionMade``) and ``stopTrying`` to give up.

    :ivar maxDelay: the longest wait between attempts, in seconds.
    :ivar initialDelay: the first wait, in seconds.
    :ivar factor: how much longer each wait is than the previous one.
    :ivar jitter: the relative random spread of each wait.
    :ivar maxRetries: give up after this many attempts; ``None`` never does.
    :ivar clock: the ``IReactorTime`` used to schedule attempts; ``None``
        means the global reactor.
    """

    maxDelay: float = 3600
    initialDelay: float = 1.0
    factor: float = 2.7182818284590451
    jitter: float = 0.11962656472
    delay: float = initialDelay
    retries: int = 0
    maxRetries: int | None = None
    continueTrying: bool = True
    clock: Any = None
    connector: interfaces.IConnector | None = None
    _callID: interfaces.IDelayedCall | None = None

    def clientConnectionFailed(
        self, connector: interfaces.IConnector, reason: Failure
    ) -> None:
        """
        Schedule another attempt, unless ``stopTrying`` was called.

        :param connector: the connector.
        :param reason: why the attempt failed.
        """
        if self.continueTrying:
            self.connector = connector
            self.retry()

    def clientConnectionLost(
        self, connector: interfaces.IConnector, reason: Failure
    ) -> None:
        """
        Schedule a reconnection, unless ``stopTrying`` was called.

        :param connector: the connector.
        :param reason: why the connection closed.
        """
        if self.continueTrying:
            self.connector = connector
            self.retry()

    def retry(self, connector: interfaces.IConnector | None = None) -> None:
        """
        Schedule the next connection attempt after the current delay, and
        lengthen the delay.

        :param connector: the connector to retry; defaults to the last one.
        """
        if not self.continueTrying:
            return
        if connector is None:
            if self.connector is None:
                raise ValueError("no connector to retry")
            connector = self.connector
        self.retries += 1
        if self.maxRetries is not None and self.retries > self.maxRetries:
            if self.noisy:
                _logInfo(
                    "Abandoning {connector} after {retries} retries.",
                    connector=connector,
                    retries=self.retries - 1,
                )
            return
        self.delay = min(self.delay * self.factor, self.maxDelay)
        if self.jitter:
            self.delay = random.normalvariate(self.delay, self.delay * self.jitter)
            self.delay = max(0.0, min(self.delay, self.maxDelay))
        if self.noisy:
            _logInfo(
                "{connector} will retry in {delay} seconds",
                connector=connector,
                delay=int(self.delay),
            )

        def reconnector() -> None:
            self._callID = None
            assert connector is not None
            connector.connect()

        clock = self.clock
        if clock is None:
            clock = importlib.import_module("torsion.internet.reactor")
        self._callID = clock.callLater(self.delay, reconnector)

    def stopTrying(self) -> None:
        """
        Cancel any scheduled attempt, abandon an attempt in progress and stop
        reconnecting.
        """
        if self._callID is not None:
            self._callID.cancel()
            self._callID = None
        self.continueTrying = False
        if self.connector is not None:
            try:
                self.connector.stopConnecting()
            except error.NotConnectingError:
                pass

    def resetDelay(self) -> None:
        """
        Forget past failures: the next wait is ``initialDelay`` again.
        """
        self.delay = self.initialDelay
        self.retries = 0
        self._callID = None
        self.continueTrying = True

    def __getstate__(self) -> dict[str, Any]:
        """
        Leave the connection state out of a pickle.

        :return: the picklable state.
        """
        state = self.__dict__.copy()
        for key in ("connector", "retries", "delay", "continueTrying", "_callID"):
            state.pop(key, None)
        return state


class _InstanceFactory(ClientFactory):
    """
    Connects one protocol instance and fires a Deferred with it.
    """

    noisy = False

    def __init__(self, reactor: Any, instance: Any, deferred: Deferred[Any]) -> None:
        self.reactor = reactor
        self.instance = instance
        self.deferred: Deferred[Any] | None = deferred
        self.pending: interfaces.IDelayedCall | None = None

    def __repr__(self) -> str:
        return f"<ClientCreator factory: {self.instance!r}>"

    def buildProtocol(self, addr: interfaces.IAddress) -> Any:
        deferred, self.deferred = self.deferred, None
        if deferred is not None:
            self.pending = self.reactor.callLater(
                0, self._fire, deferred, self.instance
            )
        return self.instance

    def clientConnectionFailed(
        self, connector: interfaces.IConnector, reason: Failure
    ) -> None:
        deferred, self.deferred = self.deferred, None
        if deferred is not None:
            self.pending = self.reactor.callLater(0, self._fire, deferred, reason)

    def _fire(self, deferred: Deferred[Any], value: Any) -> None:
        self.pending = None
        if isinstance(value, Failure):
            deferred.errback(value)
        else:
            deferred.callback(value)


class ClientCreator:
    """
    Connects a single protocol instance, built from a class and arguments,
    without writing a factory.

    :ivar reactor: the reactor used to connect.
    """

    def __init__(
        self, reactor: Any, protocolClass: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """
        :param reactor: the reactor to connect with.
        :param protocolClass: the protocol class.
        :param args: positional arguments for the protocol's constructor.
        :param kwargs: keyword arguments for the protocol's constructor.
        """
        self.reactor = reactor
        self.protocolClass = protocolClass
        self.args = args
        self.kwargs = kwargs

    def _connect(
        self, method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Deferred[Any]:
        deferModule = importlib.import_module("torsion.internet.defer")

        def cancel(d: Deferred[Any]) -> None:
            factory.deferred = None
            connector.disconnect()
            if factory.pending is not None:
                factory.pending.cancel()
                factory.pending = None

        d: Deferred[Any] = deferModule.Deferred(cancel)
        factory = _InstanceFactory(
            self.reactor, self.protocolClass(*self.args, **self.kwargs), d
        )
        connector = method(*args, factory=factory, **kwargs)
        return d

    def connectTCP(
        self,
        host: str,
        port: int,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> Deferred[Any]:
        """
        Connect over TCP.

        :param host: the host name or address.
        :param port: the port.
        :param timeout: seconds to wait for the connection.
        :param bindAddress: a local ``(host, port)`` to bind first.
        :return: a ``Deferred`` firing with the connected protocol.
        """
        return self._connect(
            self.reactor.connectTCP,
            host,
            port,
            timeout=timeout,
            bindAddress=bindAddress,
        )

    def connectUNIX(
        self, address: str, timeout: float = 30, checkPID: bool = False
    ) -> Deferred[Any]:
        """
        Connect to a Unix socket.

        :param address: the socket's path.
        :param timeout: seconds to wait for the connection.
        :param checkPID: check the listener's lock file first.
        :return: a ``Deferred`` firing with the connected protocol.
        """
        return self._connect(
            self.reactor.connectUNIX, address, timeout=timeout, checkPID=checkPID
        )

    def connectSSL(
        self,
        host: str,
        port: int,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> Deferred[Any]:
        """
        Connect over TLS.

        :param host: the host name or address.
        :param port: the port.
        :param contextFactory: supplies the TLS context.
        :param timeout: seconds to wait for the connection.
        :param bindAddress: a local ``(host, port)`` to bind first.
        :return: a ``Deferred`` firing with the connected protocol.
        """
        return self._connect(
            self.reactor.connectSSL,
            host,
            port,
            contextFactory=contextFactory,
            timeout=timeout,
            bindAddress=bindAddress,
        )


class BaseProtocol:
    """
    What stream and process protocols share: a transport and
    ``connectionMade``.

    :ivar connected: ``True`` once ``makeConnection`` has run.
    :ivar transport: the connection's transport, ``None`` before it is made.
    """

    connected: bool = False
    transport: Any = None

    def makeConnection(self, transport: Any) -> None:
        """
        Attach ``transport`` and call ``connectionMade``.  Called by the
        transport; do not override, override ``connectionMade`` instead.

        :param transport: the transport.
        """
        self.connected = True
        self.transport = transport
        self.connectionMade()

    def connectionMade(self) -> None:
        """
        Called when the connection is made; ``self.transport`` is set.
        Override to greet the peer or set up per-connection state.
        """


@implementer(interfaces.IProtocol, interfaces.ILoggingContext)
class Protocol(BaseProtocol):
    """
    The base class of stream protocols.  Override ``dataReceived`` and, as
    needed, ``connectionMade`` and ``connectionLost``.

    :ivar factory: the factory that built this protocol, if any.
    """

    factory: Any = None

    def logPrefix(self) -> str:
        """
        :return: the class name, used to prefix log messages.
        """
        return self.__class__.__name__

    def dataReceived(self, data: bytes) -> None:
        """
        Called with bytes from the peer, in arbitrary pieces: a message may
        be split over several calls or several messages may come in one.

        :param data: the bytes received.
        """

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Called when the connection closes.

        :param reason: a ``Failure`` of ``ConnectionDone`` (clean close) or
            ``ConnectionLost`` (anything else).
        """


@implementer(interfaces.IConsumer)
class ProtocolToConsumerAdapter:
    """
    Presents a protocol as a consumer: ``write`` feeds ``dataReceived``.
    """

    def __init__(self, original: Protocol) -> None:
        """
        :param original: the protocol to feed.
        """
        self.original = original

    def write(self, data: bytes) -> None:
        """
        Pass ``data`` to the protocol's ``dataReceived``.

        :param data: the bytes.
        """
        self.original.dataReceived(data)

    def registerProducer(self, producer: interfaces.IProducer, streaming: bool) -> None:
        """
        Accepted and ignored: a protocol has no flow control.

        :param producer: the producer.
        :param streaming: whether it is a push producer.
        """

    def unregisterProducer(self) -> None:
        """
        Accepted and ignored.
        """


@implementer(interfaces.IProtocol)
class ConsumerToProtocolAdapter:
    """
    Presents a consumer as a protocol: ``dataReceived`` writes to it.
    """

    def __init__(self, original: interfaces.IConsumer) -> None:
        """
        :param original: the consumer to write to.
        """
        self.original = original

    def dataReceived(self, data: bytes) -> None:
        """
        Write ``data`` to the consumer.

        :param data: the bytes.
        """
        self.original.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Nothing to do.

        :param reason: why the connection closed.
        """

    def makeConnection(self, transport: Any) -> None:
        """
        Nothing to do.

        :param transport: the transport.
        """

    def connectionMade(self) -> None:
        """
        Nothing to do.
        """


@implementer(interfaces.IProcessProtocol)
class ProcessProtocol(BaseProtocol):
    """
    The base class of child process protocols.  Output on the child's
    standard output and error arrives in ``outReceived`` and ``errReceived``.
    """

    transport: Any = None

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Dispatch output: descriptor 1 to ``outReceived``, 2 to ``errReceived``.

        :param childFD: the child's descriptor.
        :param data: the bytes.
        """
        if childFD == 1:
            self.outReceived(data)
        elif childFD == 2:
            self.errReceived(data)

    def outReceived(self, data: bytes) -> None:
        """
        Called with output from the child's standard output.

        :param data: the bytes.
        """

    def errReceived(self, data: bytes) -> None:
        """
        Called with output from the child's standard error.

        :param data: the bytes.
        """

    def childConnectionLost(self, childFD: int) -> None:
        """
        Dispatch a closed descriptor to ``inConnectionLost`` (0),
        ``outConnectionLost`` (1) or ``errConnectionLost`` (2).

        :param childFD: the child's descriptor.
        """
        if childFD == 0:
            self.inConnectionLost()
        elif childFD == 1:
            self.outConnectionLost()
        elif childFD == 2:
            self.errConnectionLost()

    def inConnectionLost(self) -> None:
        """
        The child's standard input was closed.
        """

    def outConnectionLost(self) -> None:
        """
        The child closed its standard output.
        """

    def errConnectionLost(self) -> None:
        """
        The child closed its standard error.
        """

    def processExited(self, reason: Failure) -> None:
        """
        The child exited; some descriptors may still be open.

        :param reason: a ``Failure`` of ``ProcessDone`` or ``ProcessTerminated``.
        """

    def processEnded(self, reason: Failure) -> None:
        """
        The child exited and all its descriptors are closed.

        :param reason: a ``Failure`` of ``ProcessDone`` or ``ProcessTerminated``.
        """


class AbstractDatagramProtocol:
    """
    What datagram protocols share: start/stop notifications and
    ``datagramReceived``.

    :ivar transport: the datagram transport, ``None`` when not listening.
    :ivar numPorts: how many ports use this protocol.
    :ivar noisy: log when the protocol starts and stops.
    """

    transport: Any = None
    numPorts: int = 0
    noisy: bool = True

    def __getstate__(self) -> dict[str, Any]:
        """
        :return: the picklable state, without the transport.
        """
        state = self.__dict__.copy()
        state["transport"] = None
        return state

    def doStart(self) -> None:
        """
        Called by each port starting to use this protocol; calls
        ``startProtocol`` for the first.
        """
        if not self.numPorts:
            if self.noisy:
                _logInfo("Starting protocol {protocol!r}", protocol=self)
            self.startProtocol()
        self.numPorts += 1

    def doStop(self) -> None:
        """
        Called by each port that stops using this protocol; calls
        ``stopProtocol`` after the last.
        """
        if self.numPorts <= 0:
            return
        self.numPorts -= 1
        self.transport = None
        if not self.numPorts:
            if self.noisy:
                _logInfo("Stopping protocol {protocol!r}", protocol=self)
            self.stopProtocol()

    def startProtocol(self) -> None:
        """
        Called when the protocol starts listening; override as needed.
        """

    def stopProtocol(self) -> None:
        """
        Called when the protocol stops listening; override as needed.
        """

    def makeConnection(self, transport: Any) -> None:
        """
        Attach the transport and call ``doStart``.

        :param transport: the datagram transport.
        """
        if self.transport is not None:
            raise RuntimeError(f"{self!r} already has a transport")
        self.transport = transport
        self.doStart()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """
        Called with each datagram received.

        :param datagram: the bytes.
        :param addr: the sender's address.
        """


@implementer(interfaces.ILoggingContext)
class DatagramProtocol(AbstractDatagramProtocol):
    """
    The base class of UDP protocols.
    """

    def logPrefix(self) -> str:
        """
        :return: the class name, used to prefix log messages.
        """
        return self.__class__.__name__

    def connectionRefused(self) -> None:
        """
        On a connected socket, the peer refused a datagram (ICMP port
        unreachable).
        """


class ConnectedDatagramProtocol(DatagramProtocol):
    """
    A datagram protocol on a connected Unix datagram socket.
    """

    def datagramReceived(self, datagram: bytes, addr: Any = None) -> None:
        """
        Called with each datagram from the connected peer.

        :param datagram: the bytes.
        :param addr: unused.
        """

    def connectionFailed(self, failure: Failure) -> None:
        """
        The connection could not be made.

        :param failure: why.
        """


@implementer(interfaces.ITransport, interfaces.IConsumer)
class FileWrapper:
    """
    A transport writing to a file object, for running a protocol against a
    file (tests, dumps).

    :ivar file: the file object written to.
    :ivar closed: ``True`` once ``loseConnection`` ran.
    """

    closed = False
    disconnecting = False
    producer: Any = None
    streamingProducer = False

    def __init__(self, file: IO[bytes]) -> None:
        """
        :param file: a binary file object open for writing.
        """
        self.file = file

    def write(self, data: bytes) -> None:
        """
        Write ``data`` to the file.

        :param data: the bytes.
        :raises TypeError: if ``data`` is not bytes.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(
                f"FileWrapper.write() requires bytes, not {type(data).__name__}"
            )
        try:
            self.file.write(data)
        except BaseException:
            self.handleException()

    def _checkProducer(self) -> None:
        # A file always accepts what is written, so a pull producer is asked
        # again at once.
        if self.producer is not None:
            self.producer.resumeProducing()

    def registerProducer(self, producer: interfaces.IProducer, streaming: bool) -> None:
        """
        Attach a producer; a push producer is resumed, a pull producer asked
        for data.

        :param producer: the producer.
        :param streaming: whether it is a push producer.
        """
        self.producer = producer
        self.streamingProducer = streaming
        if not streaming:
            producer.resumeProducing()  # type: ignore[attr-defined]

    def unregisterProducer(self) -> None:
        """
        Detach the producer.
        """
        self.producer = None

    def stopConsuming(self) -> None:
        """
        Detach the producer and close.
        """
        self.unregisterProducer()
        self.loseConnection()

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """
        Write each element of ``iovec``.

        :param iovec: byte strings.
        """
        for chunk in iovec:
            self.write(chunk)

    def loseConnection(self) -> None:
        """
        Close the file.
        """
        self.closed = True
        try:
            self.file.close()
        except OSError:
            self.handleException()

    def abortConnection(self) -> None:
        """
        Close the file at once.
        """
        self.loseConnection()

    def getPeer(self) -> interfaces.IAddress:
        """
        :return: a placeholder address for the file.
        """
        from torsion.internet.address import _ProcessAddress

        return _ProcessAddress()

    def getHost(self) -> interfaces.IAddress:
        """
        :return: a placeholder address for the file.
        """
        from torsion.internet.address import _ProcessAddress

        return _ProcessAddress()

    def handleException(self) -> None:
        """
        Called when the file raises; ignores the error.
        """


__all__ = [
    "AbstractDatagramProtocol",
    "BaseProtocol",
    "ClientCreator",
    "ClientFactory",
    "ConnectedDatagramProtocol",
    "ConsumerToProtocolAdapter",
    "DatagramProtocol",
    "Factory",
    "FileWrapper",
    "ProcessProtocol",
    "Protocol",
    "ProtocolToConsumerAdapter",
    "ReconnectingClientFactory",
    "ServerFactory",
    "connectionDone",
]
