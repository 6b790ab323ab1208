"""
The interfaces of torsion's core: reactors, transports, protocols, factories,
producers and consumers, addresses and name resolution.

Every name matches the interface of the same name a Twisted user knows, so code
written against ``twisted.internet.interfaces`` can be ported by changing the
import.  Implementations declare these with ``zope.interface.implementer`` and
the test suite checks each with ``zope.interface.verify.verifyObject``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from zope.interface import Attribute, Interface

# ---------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------


ProcessEnvironment = (
    Mapping[str, str] | Mapping[bytes, bytes] | Mapping[bytes | str, bytes | str]
)
"""
What ``spawnProcess`` takes as a child's environment: ``os.environ``, a
``dict`` of ``str`` or of ``bytes``, or one mixing both.
"""


class IAddress(Interface):
    """
    An address a transport is bound or connected to.

    Addresses are immutable values: they compare equal when they describe the
    same endpoint and may be used as dictionary keys.
    """


# ---------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------


class IDelayedCall(Interface):
    """
    A call scheduled with ``IReactorTime.callLater``.
    """

    def getTime() -> float:
        """
        Return when the call is due, in the reactor's ``seconds()`` clock.

        :return: the due time in seconds.
        """

    def cancel() -> None:
        """
        Prevent the call from happening.

        :raises torsion.internet.error.AlreadyCancelled: if it was cancelled.
        :raises torsion.internet.error.AlreadyCalled: if it already ran.
        """

    def delay(secondsLater: float) -> None:
        """
        Push the call back by ``secondsLater`` seconds from its current due time.

        :param secondsLater: how many seconds to add to the due time.
        :raises torsion.internet.error.AlreadyCancelled: if it was cancelled.
        :raises torsion.internet.error.AlreadyCalled: if it already ran.
        """

    def reset(secondsFromNow: float) -> None:
        """
        Make the call due ``secondsFromNow`` seconds from now.

        :param secondsFromNow: the new delay, counted from now.
        :raises torsion.internet.error.AlreadyCancelled: if it was cancelled.
        :raises torsion.internet.error.AlreadyCalled: if it already ran.
        """

    def active() -> bool:
        """
        Tell whether the call is still pending.

        :return: ``True`` until the call runs or is cancelled.
        """


class IReactorTime(Interface):
    """
    A reactor that can run code later.
    """

    def seconds() -> float:
        """
        Return the current time in seconds, on the clock ``callLater`` uses.

        :return: a float number of seconds.
        """

    def callLater(
        delay: float, callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> IDelayedCall:
        """
        Call ``callable(*args, **kwargs)`` after ``delay`` seconds.

        :param delay: the number of seconds to wait; ``0`` means at the next
            iteration of the reactor.
        :param callable: what to call.
        :return: a handle that can cancel, delay or reset the call.
        """

    def getDelayedCalls() -> Sequence[IDelayedCall]:
        """
        Return every call scheduled and not yet run or cancelled.

        :return: a sequence of ``IDelayedCall`` providers.
        """


# ---------------------------------------------------------------------------
# Core reactor
# ---------------------------------------------------------------------------


class IReactorCore(Interface):
    """
    The reactor's main loop and its life-cycle events.

    System events are named ``"startup"``, ``"shutdown"`` and
    ``"persist"``; each has three phases, ``"before"``, ``"during"`` and
    ``"after"``.
    """

    running = Attribute("``True`` while the reactor's loop is running.")

    def resolve(name: str, timeout: Sequence[int] = ...) -> Any:
        """
        Look up the IPv4 address of a host name.

        :param name: the host name.
        :param timeout: retry timeouts, ignored by the default resolver.
        :return: a ``Deferred`` firing with the address as a dotted quad
            ``str``, or failing with ``DNSLookupError``.
        """

    def run() -> None:
        """
        Run the main loop until ``stop`` or ``crash`` is called.
        """

    def stop() -> None:
        """
        Stop the main loop after running the shutdown triggers.

        :raises torsion.internet.error.ReactorNotRunning: if not running.
        """

    def crash() -> None:
        """
        Stop the main loop at once, without running the shutdown triggers.
        """

    def iterate(delay: float = 0) -> None:
        """
        Run one iteration of the main loop, waiting at most ``delay`` seconds
        for something to happen.

        :param delay: the longest time to wait for an event.
        """

    def fireSystemEvent(eventType: str) -> None:
        """
        Run the triggers registered for every phase of ``eventType``.

        :param eventType: the name of the event.
        """

    def addSystemEventTrigger(
        phase: str,
        eventType: str,
        callable: Callable[..., Any],
        *args: object,
        **kwargs: object,
    ) -> Any:
        """
        Register ``callable`` to run in ``phase`` of ``eventType``.

        A trigger of the ``"before"`` or ``"during"`` phase that returns a
        ``Deferred`` holds back the next phase until that Deferred fires.

        :param phase: ``"before"``, ``"during"`` or ``"after"``.
        :param eventType: the event's name, such as ``"shutdown"``.
        :param callable: what to call.
        :return: an opaque value to pass to ``removeSystemEventTrigger``.
        :raises KeyError: for an unknown phase.
        """

    def removeSystemEventTrigger(triggerID: Any) -> None:
        """
        Unregister a trigger.

        :param triggerID: a value returned by ``addSystemEventTrigger``.
        :raises ValueError: if it is not a registered trigger.
        """

    def callWhenRunning(
        callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> Any:
        """
        Call ``callable`` once the reactor is running, or at once if it is.

        :param callable: what to call.
        :return: a trigger id while not running, else ``None``.
        """


class IReactorPluggableResolver(Interface):
    """
    A reactor whose legacy IPv4 resolver can be replaced.
    """

    def installResolver(resolver: IResolverSimple) -> IResolverSimple:
        """
        Use ``resolver`` for ``reactor.resolve``.

        :param resolver: the new resolver.
        :return: the previous resolver.
        """


class IReactorPluggableNameResolver(Interface):
    """
    A reactor whose host name resolver can be replaced.
    """

    nameResolver = Attribute(
        "The ``IHostnameResolver`` used for host names given to ``connectTCP``."
    )

    def installNameResolver(resolver: IHostnameResolver) -> IHostnameResolver:
        """
        Use ``resolver`` for every host name the reactor looks up.

        :param resolver: the new resolver.
        :return: the previous resolver.
        """


class IReactorFDSet(Interface):
    """
    A reactor that watches file descriptors for readability and writability.
    """

    def addReader(reader: IReadDescriptor) -> None:
        """
        Call ``reader.doRead()`` whenever its descriptor is readable.

        :param reader: the descriptor to watch.
        """

    def addWriter(writer: IWriteDescriptor) -> None:
        """
        Call ``writer.doWrite()`` whenever its descriptor is writable.

        :param writer: the descriptor to watch.
        """

    def removeReader(reader: IReadDescriptor) -> None:
        """
        Stop watching ``reader`` for readability.

        :param reader: the descriptor.
        """

    def removeWriter(writer: IWriteDescriptor) -> None:
        """
        Stop watching ``writer`` for writability.

        :param writer: the descriptor.
        """

    def removeAll() -> list[IReadDescriptor | IWriteDescriptor]:
        """
        Stop watching every descriptor except the reactor's own.

        :return: the readers and writers removed.
        """

    def getReaders() -> list[IReadDescriptor]:
        """
        :return: the descriptors watched for readability.
        """

    def getWriters() -> list[IWriteDescriptor]:
        """
        :return: the descriptors watched for writability.
        """


class IReactorTCP(Interface):
    """
    A reactor that speaks TCP.
    """

    def listenTCP(
        port: int, factory: IProtocolFactory, backlog: int = 50, interface: str = ""
    ) -> IListeningPort:
        """
        Accept TCP connections on ``port``.

        :param port: the port number; ``0`` picks a free port (see
            ``getHost()`` on the result).
        :param factory: builds a protocol for each accepted connection.
        :param backlog: the listen queue length.
        :param interface: the local address to bind; ``""`` means every IPv4
            address, ``"::"`` every IPv6 address.
        :return: the listening port.
        :raises torsion.internet.error.CannotListenError: if binding fails.
        """

    def connectTCP(
        host: str,
        port: int,
        factory: IProtocolFactory,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """
        Open a TCP connection to ``host``:``port``.

        :param host: an IPv4 or IPv6 address or a host name.
        :param port: the port number.
        :param factory: a ``ClientFactory`` told about the outcome.
        :param timeout: seconds to wait for the connection.
        :param bindAddress: a ``(host, port)`` to bind locally first.
        :return: the connector.
        """


class IReactorSSL(Interface):
    """
    A reactor that speaks TLS over TCP.
    """

    def connectSSL(
        host: str,
        port: int,
        factory: IProtocolFactory,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """
        Open a TLS connection.

        :param host: the host.
        :param port: the port.
        :param factory: the client factory.
        :param contextFactory: supplies the TLS context.
        :param timeout: seconds to wait for the connection.
        :param bindAddress: a local address to bind first.
        :return: the connector.
        """

    def listenSSL(
        port: int,
        factory: IProtocolFactory,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        """
        Accept TLS connections on ``port``.

        :param port: the port.
        :param factory: the server factory.
        :param contextFactory: supplies the TLS context.
        :param backlog: the listen queue length.
        :param interface: the local address to bind.
        :return: the listening port.
        """


class IReactorUNIX(Interface):
    """
    A reactor that speaks Unix domain stream sockets.
    """

    def connectUNIX(
        address: str,
        factory: IProtocolFactory,
        timeout: float = 30,
        checkPID: bool = False,
    ) -> IConnector:
        """
        Connect to the Unix socket at ``address``.

        :param address: a file system path, or ``"\\0name"`` for the Linux
            abstract namespace.
        :param factory: the client factory.
        :param timeout: seconds to wait for the connection.
        :param checkPID: refuse to connect if the listener's ``.lock`` file
            names a process that no longer exists.
        :return: the connector.
        """

    def listenUNIX(
        address: str,
        factory: IProtocolFactory,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> IListeningPort:
        """
        Accept connections on the Unix socket at ``address``.

        :param address: a file system path, or ``"\\0name"``.
        :param factory: the server factory.
        :param backlog: the listen queue length.
        :param mode: the permissions of the socket file.
        :param wantPID: keep a ``.lock`` file holding our process id next to
            the socket, and remove a stale socket left by a dead process.
        :return: the listening port.
        """


class IReactorUNIXDatagram(Interface):
    """
    A reactor that speaks Unix domain datagram sockets.
    """

    def connectUNIXDatagram(
        address: str,
        protocol: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: str | None = None,
    ) -> IConnector:
        """
        Connect a datagram protocol to the socket at ``address``.

        :param address: the peer's path.
        :param protocol: a ``ConnectedDatagramProtocol``.
        :param maxPacketSize: the largest datagram read.
        :param mode: the permissions of the bound socket file.
        :param bindAddress: a local path to bind.
        :return: the connector.
        """

    def listenUNIXDatagram(
        address: str, protocol: Any, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> IListeningPort:
        """
        Receive datagrams on the socket at ``address``.

        :param address: the path.
        :param protocol: a ``DatagramProtocol``.
        :param maxPacketSize: the largest datagram read.
        :param mode: the permissions of the socket file.
        :return: the listening port.
        """


class IReactorUDP(Interface):
    """
    A reactor that speaks UDP.
    """

    def listenUDP(
        port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> IListeningPort:
        """
        Receive datagrams on ``port``.

        :param port: the port; ``0`` picks a free one.
        :param protocol: a ``DatagramProtocol``.
        :param interface: the local address to bind.
        :param maxPacketSize: the largest datagram read.
        :return: the listening port, also the protocol's transport.
        """


class IReactorMulticast(Interface):
    """
    A reactor that speaks IP multicast over UDP.
    """

    def listenMulticast(
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> IListeningPort:
        """
        Receive multicast datagrams on ``port``.

        :param port: the port.
        :param protocol: a ``DatagramProtocol``.
        :param interface: the local address to bind.
        :param maxPacketSize: the largest datagram read.
        :param listenMultiple: allow several sockets to bind the same port.
        :return: the listening port.
        """


class IReactorSocket(Interface):
    """
    A reactor that can take over sockets created elsewhere (inherited from a
    parent process, or from systemd socket activation).
    """

    def adoptStreamPort(
        fileDescriptor: int, addressFamily: int, factory: IProtocolFactory
    ) -> IListeningPort:
        """
        Accept connections on an already listening stream socket.

        The descriptor is duplicated; the caller keeps and should close its
        own copy.

        :param fileDescriptor: the listening socket's descriptor.
        :param addressFamily: ``socket.AF_INET``, ``AF_INET6`` or ``AF_UNIX``.
        :param factory: the server factory.
        :return: the listening port.
        :raises torsion.internet.error.UnsupportedAddressFamily: for another
            family.
        """

    def adoptStreamConnection(
        fileDescriptor: int, addressFamily: int, factory: IProtocolFactory
    ) -> None:
        """
        Serve an already connected stream socket with a protocol from
        ``factory``.

        :param fileDescriptor: the connected socket's descriptor (duplicated).
        :param addressFamily: ``socket.AF_INET``, ``AF_INET6`` or ``AF_UNIX``.
        :param factory: the server factory.
        """

    def adoptDatagramPort(
        fileDescriptor: int,
        addressFamily: int,
        protocol: Any,
        maxPacketSize: int = 8192,
    ) -> IListeningPort:
        """
        Receive datagrams on an already bound datagram socket.

        :param fileDescriptor: the socket's descriptor (duplicated).
        :param addressFamily: ``socket.AF_INET`` or ``AF_INET6``.
        :param protocol: a ``DatagramProtocol``.
        :param maxPacketSize: the largest datagram read.
        :return: the listening port.
        """


class IReactorProcess(Interface):
    """
    A reactor that runs child processes.
    """

    def spawnProcess(
        processProtocol: IProcessProtocol,
        executable: bytes | str,
        args: Sequence[bytes | str],
        env: ProcessEnvironment | None = None,
        path: bytes | str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, int | str] | None = None,
    ) -> IProcessTransport:
        """
        Start a child process.

        :param processProtocol: told about the child's output and exit.
        :param executable: the program to run.
        :param args: the argument list, ``args[0]`` included.
        :param env: the environment; ``None`` gives an empty one.
        :param path: the working directory.
        :param uid: a user id to switch to.
        :param gid: a group id to switch to.
        :param usePTY: run the child on a pseudo-terminal.
        :param childFDs: maps child descriptors to ``"r"``, ``"w"`` or a
            parent descriptor.
        :return: the process transport.
        """


class IReactorThreads(Interface):
    """
    A reactor with a thread pool for blocking work.
    """

    def getThreadPool() -> Any:
        """
        :return: the reactor's ``ThreadPool``, created on first use.
        """

    def callInThread(
        callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> None:
        """
        Run ``callable(*args, **kwargs)`` in the reactor's thread pool.

        :param callable: what to call.
        """

    def suggestThreadPoolSize(size: int) -> None:
        """
        Set the most threads the pool may run.

        :param size: the new maximum.
        """


class IReactorFromThreads(Interface):
    """
    A reactor other threads may hand work to.
    """

    def callFromThread(
        callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> None:
        """
        Run ``callable(*args, **kwargs)`` in the reactor thread soon.

        Safe to call from any thread; wakes the reactor if it is waiting.

        :param callable: what to call.
        """


class IReactorInThreads(Interface):
    """
    A reactor that can run code in a thread.
    """

    def callInThread(
        callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> None:
        """
        Run ``callable(*args, **kwargs)`` in a thread other than the reactor's.

        :param callable: what to call.
        """


class IReactorWakeable(Interface):
    """
    A reactor whose wait for events can be interrupted from another thread.
    """

    def wakeUp() -> None:
        """
        Make the reactor return from its current wait soon.
        """


# ---------------------------------------------------------------------------
# Listening ports and connectors
# ---------------------------------------------------------------------------


class IListeningPort(Interface):
    """
    A listening port or bound datagram socket.
    """

    def startListening() -> None:
        """
        Start listening; the reactor calls this for you.

        :raises torsion.internet.error.CannotListenError: if binding fails.
        """

    def stopListening() -> Any:
        """
        Stop listening.

        :return: a ``Deferred`` firing once the socket is closed, or ``None``.
        """

    def getHost() -> IAddress:
        """
        :return: the address the port is bound to.
        """


class IConnector(Interface):
    """
    An outgoing connection attempt, reusable to reconnect.
    """

    def stopConnecting() -> None:
        """
        Abandon the attempt in progress.

        :raises torsion.internet.error.NotConnectingError: if not connecting.
        """

    def disconnect() -> None:
        """
        Close the connection, or abandon the attempt if still connecting.
        """

    def connect() -> None:
        """
        Try to connect (again).
        """

    def getDestination() -> IAddress:
        """
        :return: the address being connected to.
        """


# ---------------------------------------------------------------------------
# Protocols and factories
# ---------------------------------------------------------------------------


class ILoggingContext(Interface):
    """
    Something that names itself in log messages.
    """

    def logPrefix() -> str:
        """
        :return: a short prefix for log lines about this object.
        """


class IProtocol(Interface):
    """
    The handler of a stream connection's events.
    """

    def dataReceived(data: bytes) -> None:
        """
        Handle bytes from the peer; they arrive in arbitrary pieces.

        :param data: the bytes received.
        """

    def connectionLost(reason: Any) -> None:
        """
        Handle the end of the connection.

        :param reason: a ``Failure`` wrapping ``ConnectionDone`` for a clean
            close or ``ConnectionLost`` otherwise.
        """

    def makeConnection(transport: ITransport) -> None:
        """
        Attach ``transport`` and call ``connectionMade``.

        :param transport: the connection's transport.
        """

    def connectionMade() -> None:
        """
        Handle a new connection; ``self.transport`` is set.
        """


class IProtocolNegotiationFactory(Interface):
    """
    A factory offering protocols for TLS application-layer negotiation (ALPN).
    """

    def acceptableProtocols() -> list[bytes]:
        """
        :return: the protocol names offered, in preference order.
        """


class IProtocolFactory(Interface):
    """
    Builds protocols for connections.
    """

    def buildProtocol(addr: IAddress) -> IProtocol | None:
        """
        Build a protocol for a connection with ``addr``.

        :param addr: the peer's address.
        :return: the protocol, or ``None`` to refuse the connection.
        """

    def doStart() -> None:
        """
        Note that a port or connector starts using this factory.
        """

    def doStop() -> None:
        """
        Note that a port or connector stops using this factory.
        """


class IHalfCloseableProtocol(Interface):
    """
    A protocol that can handle each direction of a connection closing.
    """

    def readConnectionLost() -> None:
        """
        Handle the peer having shut down its writing side.
        """

    def writeConnectionLost() -> None:
        """
        Handle our writing side having been shut down.
        """


class IFileDescriptorReceiver(Interface):
    """
    A protocol that accepts descriptors sent over a Unix socket.
    """

    def fileDescriptorReceived(descriptor: int) -> None:
        """
        Handle a descriptor received with the following data; the protocol
        owns it and must close it.

        :param descriptor: the new descriptor number.
        """


class IProcessProtocol(Interface):
    """
    The handler of a child process's events.
    """

    def makeConnection(process: IProcessTransport) -> None:
        """
        Attach the process transport and call ``connectionMade``.

        :param process: the process transport.
        """

    def childDataReceived(childFD: int, data: bytes) -> None:
        """
        Handle output on one of the child's descriptors.

        :param childFD: the child's descriptor number.
        :param data: the bytes read.
        """

    def childConnectionLost(childFD: int) -> None:
        """
        Handle the closing of one of the child's descriptors.

        :param childFD: the child's descriptor number.
        """

    def processExited(reason: Any) -> None:
        """
        Handle the child's exit (its descriptors may still be open).

        :param reason: a ``Failure`` of ``ProcessDone`` or ``ProcessTerminated``.
        """

    def processEnded(reason: Any) -> None:
        """
        Handle the child's exit once all its descriptors are closed.

        :param reason: a ``Failure`` of ``ProcessDone`` or ``ProcessTerminated``.
        """


# ---------------------------------------------------------------------------
# Producers and consumers
# ---------------------------------------------------------------------------


class IProducer(Interface):
    """
    A source of data for a consumer.
    """

    def stopProducing() -> None:
        """
        Stop producing for good; the consumer is going away.
        """


class IPushProducer(IProducer):
    """
    A producer that writes whenever it has data until paused.
    """

    def pauseProducing() -> None:
        """
        Stop writing until ``resumeProducing`` is called.
        """

    def resumeProducing() -> None:
        """
        Resume writing.
        """


class IPullProducer(IProducer):
    """
    A producer that writes only when asked.
    """

    def resumeProducing() -> None:
        """
        Write one piece of data to the consumer.
        """


class IConsumer(Interface):
    """
    A sink of data that can throttle a producer.
    """

    def registerProducer(producer: IProducer, streaming: bool) -> None:
        """
        Attach a producer.

        :param producer: the producer.
        :param streaming: ``True`` for an ``IPushProducer``, ``False`` for an
            ``IPullProducer``.
        :raises RuntimeError: if a producer is already registered.
        """

    def unregisterProducer() -> None:
        """
        Detach the registered producer.
        """

    def write(data: bytes) -> None:
        """
        Accept some bytes.

        :param data: the bytes.
        """


# ---------------------------------------------------------------------------
# Transports
# ---------------------------------------------------------------------------


class ITransport(Interface):
    """
    A bidirectional byte stream with a peer.
    """

    def write(data: bytes) -> None:
        """
        Send ``data``, buffering whatever cannot be sent at once.

        :param data: the bytes to send.
        :raises TypeError: if ``data`` is not bytes.
        """

    def writeSequence(data: Iterable[bytes]) -> None:
        """
        Send each of a sequence of byte strings.

        :param data: the byte strings.
        :raises TypeError: if an element is not bytes.
        """

    def loseConnection() -> None:
        """
        Close the connection once everything buffered has been sent.
        """

    def getPeer() -> IAddress:
        """
        :return: the peer's address.
        """

    def getHost() -> IAddress:
        """
        :return: our side's address.
        """


class ITCPTransport(ITransport):
    """
    A TCP connection's transport.
    """

    def loseWriteConnection() -> None:
        """
        Shut down our writing side once the buffer is sent; keep reading.
        """

    def abortConnection() -> None:
        """
        Close the connection at once, discarding buffered data.
        """

    def getTcpNoDelay() -> bool:
        """
        :return: whether Nagle's algorithm is off (``TCP_NODELAY``).
        """

    def setTcpNoDelay(enabled: bool) -> None:
        """
        Turn Nagle's algorithm off (``True``) or on.

        :param enabled: the new ``TCP_NODELAY`` value.
        """

    def getTcpKeepAlive() -> bool:
        """
        :return: whether ``SO_KEEPALIVE`` is on.
        """

    def setTcpKeepAlive(enabled: bool) -> None:
        """
        Turn ``SO_KEEPALIVE`` on or off.

        :param enabled: the new value.
        """


class IUNIXTransport(ITransport):
    """
    A Unix stream socket's transport, which can pass descriptors.
    """

    def sendFileDescriptor(descriptor: int) -> None:
        """
        Send a copy of ``descriptor`` along with the next bytes written.

        :param descriptor: a descriptor of ours; we keep it open.
        """


class ITLSTransport(ITCPTransport):
    """
    A TCP transport that can switch to TLS.
    """

    def startTLS(contextFactory: Any) -> None:
        """
        Start TLS over the connection once buffered plaintext is sent.

        :param contextFactory: supplies the TLS context.
        """


class ISSLTransport(ITCPTransport):
    """
    A TLS connection's transport.
    """

    def getPeerCertificate() -> Any:
        """
        :return: the peer's certificate, or ``None``.
        """


class INegotiated(Interface):
    """
    A TLS connection that may have negotiated an application protocol.
    """

    negotiatedProtocol = Attribute(
        "The ALPN protocol chosen as ``bytes``, or ``None``."
    )


class IProcessTransport(ITransport):
    """
    The transport of a child process.
    """

    pid = Attribute("The child's process id, or ``None`` once reaped.")

    def closeStdin() -> None:
        """
        Close the child's standard input.
        """

    def closeStdout() -> None:
        """
        Close the child's standard output.
        """

    def closeStderr() -> None:
        """
        Close the child's standard error.
        """

    def closeChildFD(descriptor: int) -> None:
        """
        Close one of the child's descriptors.

        :param descriptor: the child's descriptor number.
        """

    def writeToChild(childFD: int, data: bytes) -> None:
        """
        Write to one of the child's descriptors.

        :param childFD: the child's descriptor number.
        :param data: the bytes.
        """

    def signalProcess(signalID: str | int) -> None:
        """
        Send a signal to the child.

        :param signalID: ``"KILL"``, ``"TERM"``, ``"INT"`` or a number.
        :raises torsion.internet.error.ProcessExitedAlready: if it has exited.
        """


class IUDPTransport(Interface):
    """
    A UDP socket's transport.
    """

    def write(packet: bytes, addr: tuple[str, int] | None = None) -> None:
        """
        Send a datagram.

        :param packet: the datagram.
        :param addr: the destination; omitted on a connected socket.
        """

    def connect(host: str, port: int) -> None:
        """
        Send to and receive from only ``host``:``port``.

        :param host: an IP address.
        :param port: the port.
        """

    def getHost() -> IAddress:
        """
        :return: the bound address.
        """

    def stopListening() -> Any:
        """
        Close the socket.

        :return: a ``Deferred`` or ``None``.
        """

    def setBroadcastAllowed(enabled: bool) -> None:
        """
        Allow sending to broadcast addresses.

        :param enabled: the new ``SO_BROADCAST`` value.
        """

    def getBroadcastAllowed() -> bool:
        """
        :return: whether broadcast is allowed.
        """


class IMulticastTransport(Interface):
    """
    A UDP transport that can join multicast groups.
    """

    def getOutgoingInterface() -> str:
        """
        :return: the interface multicast is sent from.
        """

    def setOutgoingInterface(addr: str) -> Any:
        """
        Send multicast from the interface with address ``addr``.

        :param addr: the interface address.
        :return: a ``Deferred``.
        """

    def getLoopbackMode() -> bool:
        """
        :return: whether our own multicast is looped back.
        """

    def setLoopbackMode(mode: bool) -> None:
        """
        Loop our own multicast back to us, or not.

        :param mode: the new value.
        """

    def getTTL() -> int:
        """
        :return: the multicast time-to-live.
        """

    def setTTL(ttl: int) -> None:
        """
        Set the multicast time-to-live.

        :param ttl: the new value.
        """

    def joinGroup(addr: str, interface: str = "") -> Any:
        """
        Join a multicast group.

        :param addr: the group address.
        :param interface: the local interface address.
        :return: a ``Deferred`` failing with ``MulticastJoinError`` on error.
        """

    def leaveGroup(addr: str, interface: str = "") -> Any:
        """
        Leave a multicast group.

        :param addr: the group address.
        :param interface: the local interface address.
        :return: a ``Deferred``.
        """


class IUNIXDatagramTransport(Interface):
    """
    A Unix datagram socket's transport.
    """

    def write(packet: bytes, addr: str) -> None:
        """
        Send a datagram to ``addr``.

        :param packet: the datagram.
        :param addr: the destination path.
        """

    def getHost() -> IAddress:
        """
        :return: the bound address.
        """


class IUNIXDatagramConnectedTransport(Interface):
    """
    A connected Unix datagram socket's transport.
    """

    def write(packet: bytes) -> None:
        """
        Send a datagram to the connected peer.

        :param packet: the datagram.
        """

    def getHost() -> IAddress:
        """
        :return: the bound address.
        """

    def getPeer() -> IAddress:
        """
        :return: the peer's address.
        """


# ---------------------------------------------------------------------------
# File descriptors
# ---------------------------------------------------------------------------


class IFileDescriptor(ILoggingContext):
    """
    Something with an operating system descriptor the reactor can watch.
    """

    def fileno() -> int:
        """
        :return: the descriptor number, or ``-1`` once closed.
        """

    def connectionLost(reason: Any) -> None:
        """
        Handle the descriptor being removed for good.

        :param reason: a ``Failure`` saying why.
        """


class IReadDescriptor(IFileDescriptor):
    """
    A descriptor the reactor reads from.
    """

    def doRead() -> Any:
        """
        Read what is available.

        :return: ``None``, or an exception or ``Failure`` to disconnect the
            descriptor with.
        """


class IWriteDescriptor(IFileDescriptor):
    """
    A descriptor the reactor writes to.
    """

    def doWrite() -> Any:
        """
        Write what is buffered.

        :return: ``None``, or an exception or ``Failure`` to disconnect the
            descriptor with.
        """


class IReadWriteDescriptor(IReadDescriptor, IWriteDescriptor):
    """
    A descriptor the reactor reads from and writes to.
    """


class IHalfCloseableDescriptor(Interface):
    """
    A descriptor whose two directions can be closed separately.
    """

    def writeConnectionLost(reason: Any) -> None:
        """
        Handle our writing side having been closed.

        :param reason: a ``Failure``.
        """

    def readConnectionLost(reason: Any) -> None:
        """
        Handle the peer's writing side having been closed.

        :param reason: a ``Failure``.
        """


class ISystemHandle(Interface):
    """
    Something wrapping an operating system object.
    """

    def getHandle() -> Any:
        """
        :return: the object, such as a ``socket.socket``.
        """


# ---------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------


class IStreamClientEndpoint(Interface):
    """
    Somewhere a stream connection can be opened to.
    """

    def connect(protocolFactory: IProtocolFactory) -> Any:
        """
        Connect and build a protocol with ``protocolFactory``.

        :param protocolFactory: builds the protocol.
        :return: a ``Deferred`` firing with the connected protocol.
        """


class IStreamServerEndpoint(Interface):
    """
    Somewhere stream connections can be accepted.
    """

    def listen(protocolFactory: IProtocolFactory) -> Any:
        """
        Start listening.

        :param protocolFactory: builds a protocol per connection.
        :return: a ``Deferred`` firing with an ``IListeningPort``.
        """


class IStreamServerEndpointStringParser(Interface):
    """
    A plugin turning a ``prefix:arg:key=value`` description into a server
    endpoint.
    """

    prefix = Attribute("The description's prefix, such as ``'tcp'``.")

    def parseStreamServer(
        reactor: Any, *args: Any, **kwargs: Any
    ) -> IStreamServerEndpoint:
        """
        Build the endpoint.

        :param reactor: the reactor to use.
        :return: the endpoint.
        """


class IStreamClientEndpointStringParserWithReactor(Interface):
    """
    A plugin turning a ``prefix:arg:key=value`` description into a client
    endpoint.
    """

    prefix = Attribute("The description's prefix, such as ``'tcp'``.")

    def parseStreamClient(
        reactor: Any, *args: Any, **kwargs: Any
    ) -> IStreamClientEndpoint:
        """
        Build the endpoint.

        :param reactor: the reactor to use.
        :return: the endpoint.
        """


# ---------------------------------------------------------------------------
# Name resolution
# ---------------------------------------------------------------------------


class IResolverSimple(Interface):
    """
    The legacy IPv4-only resolver.
    """

    def getHostByName(name: str, timeout: Sequence[int] = ...) -> Any:
        """
        Look up one IPv4 address for ``name``.

        :param name: the host name.
        :param timeout: retry timeouts in seconds.
        :return: a ``Deferred`` firing with a dotted quad ``str`` or failing
            with ``DNSLookupError``.
        """


class IHostResolution(Interface):
    """
    One host name resolution in progress.
    """

    name = Attribute("The host name being resolved, a ``str``.")

    def cancel() -> None:
        """
        Stop delivering results.
        """


class IResolutionReceiver(Interface):
    """
    Receives the results of one host name resolution.
    """

    def resolutionBegan(resolutionInProgress: IHostResolution) -> None:
        """
        Called first, once.

        :param resolutionInProgress: the resolution.
        """

    def addressResolved(address: IAddress) -> None:
        """
        Called for each address found.

        :param address: an ``IPv4Address`` or ``IPv6Address``.
        """

    def resolutionComplete() -> None:
        """
        Called last, once; no address at all means the name was not found.
        """


class IHostnameResolver(Interface):
    """
    Resolves host names to IPv4 and IPv6 addresses.
    """

    def resolveHostName(
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IResolutionReceiver:
        """
        Resolve ``hostName``, reporting to ``resolutionReceiver``.

        :param resolutionReceiver: told about the results.
        :param hostName: the name.
        :param portNumber: the port to put in the addresses.
        :param addressTypes: the address classes wanted; ``None`` means all.
        :param transportSemantics: ``"TCP"`` or ``"UDP"``.
        :return: ``resolutionReceiver``.
        """


class IResolver(IResolverSimple):
    """
    A DNS resolver able to make every kind of query.

    Each ``lookup*`` method takes ``(name, timeout=None)`` and returns a
    ``Deferred`` firing with ``(answers, authority, additional)``, three lists
    of resource records.
    """

    def query(query: Any, timeout: Sequence[int] | None = None) -> Any:
        """
        Make a query.

        :param query: the ``Query``.
        :param timeout: retry timeouts.
        :return: a ``Deferred`` of ``(answers, authority, additional)``.
        """

    def lookupAddress(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up A records. See the class docstring for the return value.
        """

    def lookupIPV6Address(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up AAAA records.
        """

    def lookupAddress6(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up A6 records.
        """

    def lookupMailExchange(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up MX records.
        """

    def lookupNameservers(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up NS records.
        """

    def lookupCanonicalName(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up CNAME records.
        """

    def lookupPointer(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up PTR records.
        """

    def lookupAuthority(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up SOA records.
        """

    def lookupText(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up TXT records.
        """

    def lookupService(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up SRV records.
        """

    def lookupNamingAuthorityPointer(
        name: str, timeout: Sequence[int] | None = None
    ) -> Any:
        """
        Look up NAPTR records.
        """

    def lookupHostInfo(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up HINFO records.
        """

    def lookupZone(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Make a zone transfer (AXFR) request.
        """

    def lookupAllRecords(name: str, timeout: Sequence[int] | None = None) -> Any:
        """
        Look up ANY records.
        """


# ---------------------------------------------------------------------------
# TLS connection creators
# ---------------------------------------------------------------------------


class IOpenSSLServerConnectionCreator(Interface):
    """
    Creates pyOpenSSL ``Connection`` objects for TLS servers.
    """

    def serverConnectionForTLS(tlsProtocol: Any) -> Any:
        """
        :param tlsProtocol: the TLS protocol the connection is for.
        :return: an ``OpenSSL.SSL.Connection`` in server mode.
        """


class IOpenSSLClientConnectionCreator(Interface):
    """
    Creates pyOpenSSL ``Connection`` objects for TLS clients.
    """

    def clientConnectionForTLS(tlsProtocol: Any) -> Any:
        """
        :param tlsProtocol: the TLS protocol the connection is for.
        :return: an ``OpenSSL.SSL.Connection`` in client mode.
        """


class IOpenSSLContextFactory(Interface):
    """
    Supplies a pyOpenSSL ``Context``.
    """

    def getContext() -> Any:
        """
        :return: an ``OpenSSL.SSL.Context``.
        """
