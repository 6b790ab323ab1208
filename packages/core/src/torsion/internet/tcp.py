"""
TCP transports: ``Port`` (listening), ``Server`` (an accepted connection),
``Client`` and ``Connector`` (outgoing connections).

Use them through the reactor: ``reactor.listenTCP`` and
``reactor.connectTCP``.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
from collections import deque
from typing import Any

from zope.interface import implementer

from torsion.internet import defer, error
from torsion.internet.abstract import FileDescriptor
from torsion.internet.address import HostnameAddress, IPv4Address, IPv6Address
from torsion.internet.interfaces import (
    IConnector,
    IHalfCloseableProtocol,
    IHostResolution,
    IListeningPort,
    ILoggingContext,
    IProtocolFactory,
    IResolutionReceiver,
    ISystemHandle,
    ITCPTransport,
    ITLSTransport,
)
from torsion.python import log
from torsion.python.failure import Failure

#: The bytes one ``recv`` asks for normally.
READ_SIZE = 65536

#: The most bytes one ``recv`` asks for while data keeps arriving in bulk.
MAX_READ_SIZE = 256 * 1024

#: The most buffers handed to one ``sendmsg`` call.
MAX_IOVEC = 256

#: How long a listening port stops accepting after running out of file
#: descriptors (EMFILE, ENFILE) or memory, instead of spinning.
ACCEPT_BACKOFF_DELAY = 0.25

#: The most connections accepted in one reactor iteration per port.
MAX_ACCEPTS_PER_ITERATION = 100

_ACCEPT_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_ACCEPT_TRANSIENT_ERRORS = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EINTR}
_CONNECT_PENDING = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY}


def _ipFamily(host: str) -> int | None:
    """
    :return: ``AF_INET`` or ``AF_INET6`` for an address literal, else ``None``.
    """
    try:
        socket.inet_pton(socket.AF_INET, host)
        return socket.AF_INET
    except (OSError, ValueError):
        pass
    try:
        socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
        return socket.AF_INET6
    except (OSError, ValueError):
        return None


def _address(sockaddr: Any, kind: str = "TCP") -> IPv4Address | IPv6Address:
    if len(sockaddr) == 2:
        return IPv4Address(kind, sockaddr[0], sockaddr[1])
    return IPv6Address(kind, sockaddr[0], sockaddr[1], sockaddr[2], sockaddr[3])


def _protocolName(protocol: Any) -> str:
    prefix = getattr(protocol, "logPrefix", None)
    if prefix is not None:
        try:
            text = prefix()
            if isinstance(text, str):
                return text
        except Exception:
            pass
    return type(protocol).__name__


class Connection(FileDescriptor):
    """
    A connected stream socket carrying a protocol's bytes.

    :ivar socket: the ``socket.socket``.
    :ivar protocol: the protocol receiving the data.
    :ivar bufferSize: the most bytes read at once.
    """

    bufferSize = READ_SIZE
    socket: Any = None
    protocol: Any = None
    logstr = "Uninitialized"
    _readDisconnected = False

    def __init__(
        self, skt: socket.socket | None, protocol: Any, reactor: Any = None
    ) -> None:
        """
        :param skt: the connected non-blocking socket, or ``None`` for now.
        :param protocol: the protocol.
        :param reactor: the reactor.
        """
        FileDescriptor.__init__(self, reactor)
        self.protocol = protocol
        if skt is not None:
            self._setSocket(skt)

    def _setSocket(self, skt: socket.socket) -> None:
        self.socket = skt
        self._recv = skt.recv
        self._send = skt.send
        self.fileno = skt.fileno  # type: ignore[method-assign]

    def fileno(self) -> int:
        """
        :return: the socket's descriptor, ``-1`` once closed.
        """
        return -1

    def getHandle(self) -> Any:
        """
        :return: the ``socket.socket``.
        """
        return self.socket

    def logPrefix(self) -> str:
        """
        :return: the protocol's name and the connection's number.
        """
        return self.logstr

    # -- I/O -------------------------------------------------------------

    def doRead(self) -> Any:
        """
        Read what has arrived and give it to the protocol.

        :return: ``None``, or why the connection ended.
        """
        size = self.bufferSize
        try:
            data = self._recv(size)
        except BlockingIOError:
            return None
        except OSError as e:
            return error.ConnectionLost(e.strerror or str(e))
        if data:
            # Read more at once while the peer keeps the buffer full, and go
            # back to small reads (cheap to allocate) when it does not.
            n = len(data)
            if n == size:
                if size < MAX_READ_SIZE:
                    self.bufferSize = size * 4
            elif size > READ_SIZE and n < size >> 3:
                self.bufferSize = READ_SIZE
            self.protocol.dataReceived(data)
            return None
        return self._readEOF()

    def _readEOF(self) -> Any:
        if self._writeDisconnected or not IHalfCloseableProtocol.providedBy(
            self.protocol
        ):
            return error.ConnectionDone()
        self._readDisconnected = True
        self.stopReading()
        self.protocol.readConnectionLost()
        return None

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        """
        Send as much of ``data`` as the kernel takes now.

        :param data: the bytes.
        :return: the count sent, or ``ConnectionLost``.
        """
        try:
            sent: int = self._send(data)
            return sent
        except BlockingIOError:
            return 0
        except OSError as e:
            return error.ConnectionLost(e.strerror or str(e))

    def writeSomeBuffers(
        self, buffers: deque[bytes | memoryview]
    ) -> int | BaseException:
        """
        Send several buffered chunks with one ``sendmsg`` call.

        :param buffers: the buffered chunks.
        :return: the count sent, or ``ConnectionLost``.
        """
        if len(buffers) == 1:
            return self.writeSomeData(buffers[0])
        try:
            sent: int = self.socket.sendmsg(list(itertools.islice(buffers, MAX_IOVEC)))
            return sent
        except BlockingIOError:
            return 0
        except OSError as e:
            return error.ConnectionLost(e.strerror or str(e))

    def _closeWriteConnection(self) -> Any:
        try:
            self.socket.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if IHalfCloseableProtocol.providedBy(self.protocol):
            try:
                self.protocol.writeConnectionLost()
            except Exception:
                f = Failure()
                log.err(f, f"Error in writeConnectionLost of {self.logstr}")
                return f
        if self._readDisconnected:
            return error.ConnectionDone()
        return None

    # -- TLS ---------------------------------------------------------------

    _tlsProtocol: Any = None
    _tlsClientRole = False

    def startTLS(self, contextFactory: Any, normal: bool = True) -> None:
        """
        Switch this connection to TLS (``ITLSTransport``), for protocols
        such as SMTP, IMAP and XMPP that upgrade with STARTTLS.  Plaintext
        already written is sent first; from now on the protocol's writes are
        encrypted and what it receives was decrypted.

        :param contextFactory: the TLS configuration: ``CertificateOptions``
            on a server, ``optionsForClientTLS(...)`` on a client.
        :param normal: ``True`` for the usual roles (the side that connected
            is the TLS client); ``False`` to swap them.
        :raises RuntimeError: if TLS was already started.
        """
        if self._tlsProtocol is not None:
            raise RuntimeError("TLS was already started on this connection")
        from torsion.protocols.tls import startTLSOnConnection

        isClient = self._tlsClientRole if normal else not self._tlsClientRole
        self._tlsProtocol = startTLSOnConnection(self, contextFactory, isClient)

    def getPeerCertificate(self) -> Any:
        """
        :return: the TLS peer's certificate after ``startTLS`` (a
            ``torsion.internet.ssl.Certificate``), else ``None``.
        """
        if self._tlsProtocol is None:
            return None
        return self._tlsProtocol.getPeerCertificate()

    @property
    def negotiatedProtocol(self) -> bytes | None:
        """
        The ALPN protocol agreed after ``startTLS``, or ``None``.
        """
        if self._tlsProtocol is None:
            return None
        result: bytes | None = self._tlsProtocol.negotiatedProtocol
        return result

    # -- closing -----------------------------------------------------------

    def connectionLost(self, reason: Failure) -> None:
        """
        Close the socket and tell the protocol; called once by the reactor.

        :param reason: why the connection ended.
        """
        if self.disconnected:
            return
        FileDescriptor.connectionLost(self, reason)
        self._closeSocket()
        protocol = self.protocol
        try:
            protocol.connectionLost(reason)
        except Exception:
            log.err(Failure(), f"Error in connectionLost of {self.logstr}")

    def _closeSocket(self) -> None:
        skt = self.socket
        if skt is not None:
            try:
                skt.close()
            except OSError:
                pass

    # -- options -----------------------------------------------------------

    def getTcpNoDelay(self) -> bool:
        """
        :return: whether ``TCP_NODELAY`` is on.
        """
        return bool(self.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    def setTcpNoDelay(self, enabled: bool) -> None:
        """
        Turn Nagle's algorithm off (``True``) or on.

        :param enabled: the new ``TCP_NODELAY`` value.
        """
        self.socket.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, int(bool(enabled))
        )

    def getTcpKeepAlive(self) -> bool:
        """
        :return: whether ``SO_KEEPALIVE`` is on.
        """
        return bool(self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))

    def setTcpKeepAlive(self, enabled: bool) -> None:
        """
        Turn TCP keep-alive probes on or off.

        :param enabled: the new ``SO_KEEPALIVE`` value.
        """
        self.socket.setsockopt(
            socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(bool(enabled))
        )


@implementer(ITCPTransport, ITLSTransport, ISystemHandle)
class Server(Connection):
    """
    An accepted TCP connection.

    :ivar server: the ``Port`` that accepted it (``None`` if adopted).
    :ivar client: the peer's socket address tuple.
    :ivar sessionno: its number among the port's connections.
    """

    def __init__(
        self,
        skt: socket.socket,
        protocol: Any,
        client: Any,
        server: Any,
        sessionno: int,
        reactor: Any,
    ) -> None:
        """
        :param skt: the accepted non-blocking socket.
        :param protocol: the protocol built for it.
        :param client: the peer's address tuple.
        :param server: the accepting port.
        :param sessionno: a connection number.
        :param reactor: the reactor.
        """
        Connection.__init__(self, skt, protocol, reactor)
        self.server = server
        self.client = client
        self.sessionno = sessionno
        self.hostname = client[0] if isinstance(client, tuple) else client
        self.logstr = f"{_protocolName(protocol)},{sessionno},{self.hostname}"
        self.connected = True
        self.startReading()

    def __repr__(self) -> str:
        port = self.server._realPortNumber if self.server is not None else "?"
        return f"<{type(self.protocol).__name__} #{self.sessionno} on {port}>"

    def getHost(self) -> IPv4Address | IPv6Address:
        """
        :return: our address.
        """
        return _address(self.socket.getsockname())

    def getPeer(self) -> IPv4Address | IPv6Address:
        """
        :return: the peer's address.
        """
        return _address(self.client)

    @classmethod
    def _fromConnectedSocket(
        cls,
        fileDescriptor: int,
        addressFamily: int,
        factory: IProtocolFactory,
        reactor: Any,
    ) -> Server | None:
        skt = socket.fromfd(fileDescriptor, addressFamily, socket.SOCK_STREAM)
        skt.setblocking(False)
        addr = skt.getpeername()
        protocol = factory.buildProtocol(_address(addr))
        if protocol is None:
            skt.close()
            return None
        transport = cls(skt, protocol, addr, None, 0, reactor)
        protocol.makeConnection(transport)
        return transport


@implementer(IListeningPort, ISystemHandle, ILoggingContext)
class Port:
    """
    A listening TCP socket.

    :ivar port: the port number asked for (``0`` for any).
    :ivar factory: builds a protocol per connection.
    :ivar backlog: the listen queue length.
    :ivar interface: the address bound.
    :ivar connected: ``True`` while listening.
    """

    addressFamily: int = socket.AF_INET
    socketType = socket.SOCK_STREAM
    transport: type[Server] = Server
    sessionno = 0
    connected = False
    disconnecting = False
    disconnected = False
    socket: Any = None
    _realPortNumber: int | None = None
    _backoffCall: Any = None
    _preexistingSocket: socket.socket | None = None
    acceptBackoffDelay = ACCEPT_BACKOFF_DELAY
    numberAccepts = MAX_ACCEPTS_PER_ITERATION

    def __init__(
        self,
        port: int,
        factory: IProtocolFactory,
        backlog: int = 50,
        interface: str = "",
        reactor: Any = None,
    ) -> None:
        """
        :param port: the port; ``0`` picks a free one.
        :param factory: builds a protocol per connection.
        :param backlog: the listen queue length.
        :param interface: the address to bind (``"::"`` for IPv6).
        :param reactor: the reactor.
        """
        if reactor is None:
            from torsion.internet.abstract import _globalReactor

            reactor = _globalReactor()
        self.port: Any = port
        self.factory = factory
        self.backlog = backlog
        self.interface = interface
        self.reactor = reactor
        if _ipFamily(interface) == socket.AF_INET6:
            self.addressFamily = socket.AF_INET6

    def __repr__(self) -> str:
        where = (
            self._realPortNumber
            if self._realPortNumber is not None
            else "not listening"
        )
        return f"<{_protocolName(self.factory)} on {where}>"

    def fileno(self) -> int:
        """
        :return: the listening socket's descriptor, ``-1`` when closed.
        """
        if self.socket is None:
            return -1
        fd: int = self.socket.fileno()
        return fd

    def logPrefix(self) -> str:
        """
        :return: the factory's name.
        """
        return _protocolName(self.factory)

    def getHandle(self) -> Any:
        """
        :return: the listening ``socket.socket``.
        """
        return self.socket

    def _bindAddress(self) -> tuple[Any, ...]:
        return (self.interface, self.port)

    def _createSocket(self) -> socket.socket:
        skt = socket.socket(self.addressFamily, self.socketType)
        skt.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return skt

    def startListening(self) -> None:
        """
        Bind and listen, and start accepting in the reactor.

        :raises torsion.internet.error.CannotListenError: if binding fails.
        """
        if self._preexistingSocket is not None:
            skt = self._preexistingSocket
            self._preexistingSocket = None
        else:
            skt = self._createSocket()
            try:
                skt.bind(self._bindAddress())
                skt.listen(self.backlog)
            except OSError as e:
                skt.close()
                raise error.CannotListenError(self.interface, self.port, e) from e
        skt.setblocking(False)
        self._setRealPortNumber(skt)
        self.socket = skt
        self._accept = skt.accept
        self.factory.doStart()
        self.connected = True
        self.disconnected = False
        self.startReading()

    def _setRealPortNumber(self, skt: socket.socket) -> None:
        self._realPortNumber = skt.getsockname()[1]

    def startReading(self) -> None:
        """
        Accept connections in the reactor.
        """
        self.reactor.addReader(self)

    def stopReading(self) -> None:
        """
        Stop accepting connections (they queue in the backlog).
        """
        self.reactor.removeReader(self)

    def _buildTransport(self, skt: socket.socket, addr: Any, protocol: Any) -> Any:
        return self.transport(skt, protocol, addr, self, self.sessionno, self.reactor)

    def _peerAddress(self, addr: Any) -> Any:
        return _address(addr)

    def doRead(self) -> None:
        """
        Accept waiting connections and build a protocol for each.
        """
        accept = self._accept
        for _ in range(self.numberAccepts):
            if not self.connected:
                return
            try:
                skt, addr = accept()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in _ACCEPT_RESOURCE_ERRORS:
                    self._backOff(e)
                    return
                if e.errno in _ACCEPT_TRANSIENT_ERRORS:
                    continue
                log.err(Failure(), f"Could not accept on {self!r}")
                return
            skt.setblocking(False)
            try:
                protocol = self.factory.buildProtocol(self._peerAddress(addr))
            except Exception:
                log.err(Failure(), f"Error building a protocol in {self!r}")
                skt.close()
                continue
            if protocol is None:
                skt.close()
                continue
            self.sessionno += 1
            transport = self._buildTransport(skt, addr, protocol)
            try:
                protocol.makeConnection(transport)
            except Exception:
                f = Failure()
                log.err(f, f"Error in connectionMade of {transport.logstr}")
                self.reactor._disconnectSelectable(transport, f, False)

    def _backOff(self, e: OSError) -> None:
        log.msg(
            f"{self!r}: cannot accept ({e.strerror}); "
            f"pausing for {self.acceptBackoffDelay}s"
        )
        self.stopReading()
        self._backoffCall = self.reactor.callLater(
            self.acceptBackoffDelay, self._resumeAccepting
        )

    def _resumeAccepting(self) -> None:
        self._backoffCall = None
        if self.connected:
            self.startReading()

    def getHost(self) -> IPv4Address | IPv6Address:
        """
        :return: the bound address (with the real port number).
        """
        return _address(self.socket.getsockname())

    def stopListening(self) -> defer.Deferred[None]:
        """
        Close the listening socket now and stop the factory if no other port
        uses it.

        :return: a ``Deferred`` that has fired with ``None``.
        """
        return self.loseConnection()

    def loseConnection(self) -> defer.Deferred[None]:
        """
        Same as ``stopListening``.

        :return: a fired ``Deferred``.
        """
        if self.connected:
            self.disconnecting = True
            self.connectionLost(Failure(error.ConnectionDone("port closed")))
        return defer.succeed(None)

    def connectionLost(self, reason: Failure) -> None:
        """
        Close the socket and stop the factory; called when the port stops.

        :param reason: why.
        """
        if self.disconnected or not self.connected:
            return
        self.disconnected = True
        self.reactor.removeReader(self)
        self.connected = False
        if self._backoffCall is not None and self._backoffCall.active():
            self._backoffCall.cancel()
        self._backoffCall = None
        self._closeSocket()
        self._realPortNumber = None
        self.disconnecting = False
        try:
            self.factory.doStop()
        except Exception:
            log.err(Failure(), f"Error stopping factory of {self!r}")

    def _closeSocket(self) -> None:
        if self.socket is not None:
            try:
                self.socket.close()
            except OSError:
                pass

    @classmethod
    def _fromListeningDescriptor(
        cls, reactor: Any, fd: int, addressFamily: int, factory: IProtocolFactory
    ) -> Port:
        skt = socket.fromfd(fd, addressFamily, cls.socketType)
        interface = skt.getsockname()[0]
        port = cls(skt.getsockname()[1], factory, reactor=reactor, interface=interface)
        port.addressFamily = addressFamily
        port._preexistingSocket = skt
        port.startListening()
        return port


@implementer(IResolutionReceiver)
class _AddressCollector:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.addresses: list[Any] = []
        self.resolution: IHostResolution | None = None

    def resolutionBegan(self, resolutionInProgress: IHostResolution) -> None:
        self.resolution = resolutionInProgress

    def addressResolved(self, address: Any) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        self.client._resolved(self.addresses)


@implementer(ITCPTransport, ITLSTransport, ISystemHandle)
class Client(Connection):
    """
    An outgoing TCP connection: resolves the host if needed, connects, then
    carries the protocol's bytes.
    """

    _connectFailed = False
    _tlsClientRole = True
    _resolver: _AddressCollector | None = None
    realAddress: Any = None

    def __init__(
        self,
        host: str,
        port: int,
        bindAddress: tuple[str, int] | None,
        connector: Connector,
        reactor: Any,
    ) -> None:
        """
        :param host: an address literal or host name.
        :param port: the port.
        :param bindAddress: a local address to bind first.
        :param connector: the connector to report to.
        :param reactor: the reactor.
        """
        Connection.__init__(self, None, None, reactor)
        self.connector = connector
        self.addr = (host, port)
        self.bindAddress = bindAddress
        self.logstr = f"Uninitialized connection to {host}:{port}"
        family = _ipFamily(host)
        if family is not None:
            if family == socket.AF_INET6:
                info = socket.getaddrinfo(
                    host, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
                )
                self._startConnecting(family, info[0][4])
            else:
                self._startConnecting(family, (host, port))
        else:
            self._resolver = _AddressCollector(self)
            reactor.nameResolver.resolveHostName(self._resolver, host, port)

    def _resolved(self, addresses: list[Any]) -> None:
        self._resolver = None
        if self._connectFailed or self.disconnected:
            return
        if not addresses:
            self.failIfNotConnected(error.DNSLookupError(self.addr[0]))
            return
        first = addresses[0]
        if isinstance(first, IPv6Address):
            self._startConnecting(
                socket.AF_INET6, (first.host, first.port, first.flowInfo, first.scopeID)
            )
        else:
            self._startConnecting(socket.AF_INET, (first.host, first.port))

    def _failLater(self, err: BaseException) -> None:
        # Reported at the next iteration, after startedConnecting.
        self.reactor.callLater(0, self.failIfNotConnected, err)

    def _startConnecting(self, family: int, sockaddr: Any) -> None:
        try:
            skt = socket.socket(family, socket.SOCK_STREAM)
        except OSError as e:
            self._failLater(error.getConnectError(e))
            return
        skt.setblocking(False)
        if self.bindAddress is not None:
            try:
                skt.bind(self.bindAddress)
            except OSError as e:
                skt.close()
                self._failLater(error.ConnectBindError(e.errno, e.strerror or ""))
                return
        self._setSocket(skt)
        self.realAddress = sockaddr
        self.doRead = self._doConnect  # type: ignore[method-assign]
        self.doWrite = self._doConnect  # type: ignore[method-assign]
        err = skt.connect_ex(sockaddr)
        if err in _CONNECT_PENDING or err == 0 or err == errno.EISCONN:
            self.startWriting()
        else:
            self._failLater(error.getConnectError((err, os.strerror(err))))

    def _doConnect(self) -> None:
        err = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.failIfNotConnected(error.getConnectError((err, os.strerror(err))))
            return
        del self.doRead
        del self.doWrite
        self.stopWriting()
        self._connectDone()

    def _connectDone(self) -> None:
        protocol = self.connector.buildProtocol(self.getPeer())
        self.connected = True
        if protocol is None:
            from torsion.internet.protocol import Protocol

            self.protocol = Protocol()
            self.loseConnection()
            return
        self.protocol = protocol
        self.logstr = f"{_protocolName(protocol)},client"
        self.startReading()
        protocol.makeConnection(self)

    def failIfNotConnected(self, err: BaseException) -> None:
        """
        Abandon the attempt with ``err`` unless already connected.

        :param err: the reason given to ``clientConnectionFailed``.
        """
        if self.connected or self.disconnected or self._connectFailed:
            return
        self._connectFailed = True
        self.disconnected = True
        if self._resolver is not None and self._resolver.resolution is not None:
            self._resolver.resolution.cancel()
        if self.socket is not None:
            self.stopReading()
            self.stopWriting()
            self._closeSocket()
        self.connector.connectionFailed(Failure(err))

    def stopConnecting(self) -> None:
        """
        Abandon the attempt with ``UserError``.
        """
        self.failIfNotConnected(error.UserError())

    def connectionLost(self, reason: Failure) -> None:
        """
        Report a lost connection (or a failed attempt) to the connector.

        :param reason: why.
        """
        if not self.connected:
            self.failIfNotConnected(error.ConnectError(string=str(reason.value)))
            return
        if self.disconnected:
            return
        Connection.connectionLost(self, reason)
        self.connector.connectionLost(reason)

    def getHost(self) -> IPv4Address | IPv6Address:
        """
        :return: our address.
        """
        return _address(self.socket.getsockname())

    def getPeer(self) -> IPv4Address | IPv6Address:
        """
        :return: the address connected to.
        """
        return _address(self.realAddress)

    def __repr__(self) -> str:
        return f"<{type(self.protocol).__name__} to {self.addr} at {id(self):x}>"


@implementer(IConnector)
class BaseConnector:
    """
    Drives connection attempts and reports them to a ``ClientFactory``;
    ``connect()`` may be called again after a failure or loss to retry.

    :ivar state: ``"disconnected"``, ``"connecting"`` or ``"connected"``.
    :ivar transport: the current attempt's transport.
    """

    timeoutID: Any = None
    factoryStarted = False

    def __init__(self, factory: Any, timeout: float | None, reactor: Any) -> None:
        """
        :param factory: the ``ClientFactory``.
        :param timeout: seconds before an attempt fails with ``TimeoutError``.
        :param reactor: the reactor.
        """
        self.state = "disconnected"
        self.reactor = reactor
        self.factory = factory
        self.timeout = timeout
        self.transport: Any = None

    def _makeTransport(self) -> Any:
        raise NotImplementedError

    def disconnect(self) -> None:
        """
        Abandon the attempt, or close the connection.
        """
        if self.state == "connecting":
            self.stopConnecting()
        elif self.state == "connected":
            self.transport.loseConnection()

    def connect(self) -> None:
        """
        Start an attempt.

        :raises RuntimeError: if connecting or connected already.
        """
        if self.state != "disconnected":
            raise RuntimeError(f"can't connect in state {self.state!r}")
        self.state = "connecting"
        if not self.factoryStarted:
            self.factory.doStart()
            self.factoryStarted = True
        self.transport = transport = self._makeTransport()
        if self.timeout is not None and self.timeout > 0:
            self.timeoutID = self.reactor.callLater(
                self.timeout, transport.failIfNotConnected, error.TimeoutError()
            )
        self.factory.startedConnecting(self)

    def stopConnecting(self) -> None:
        """
        Abandon the attempt in progress; the factory hears ``UserError``.

        :raises torsion.internet.error.NotConnectingError: if not connecting.
        """
        if self.state != "connecting":
            raise error.NotConnectingError("we're not trying to connect")
        self.state = "disconnected"
        self.transport.failIfNotConnected(error.UserError())

    def cancelTimeout(self) -> None:
        """
        Cancel the pending timeout, if any.
        """
        if self.timeoutID is not None:
            try:
                self.timeoutID.cancel()
            except ValueError:
                pass
            self.timeoutID = None

    def buildProtocol(self, addr: Any) -> Any:
        """
        Build the protocol once connected.

        :param addr: the peer's address.
        :return: the factory's protocol.
        """
        self.state = "connected"
        self.cancelTimeout()
        return self.factory.buildProtocol(addr)

    def connectionFailed(self, reason: Failure) -> None:
        """
        Report a failed attempt to the factory.

        :param reason: why.
        """
        self.cancelTimeout()
        self.transport = None
        self.state = "disconnected"
        self.factory.clientConnectionFailed(self, reason)
        if self.state == "disconnected":
            self.factory.doStop()
            self.factoryStarted = False

    def connectionLost(self, reason: Failure) -> None:
        """
        Report a lost connection to the factory.

        :param reason: why.
        """
        self.state = "disconnected"
        self.factory.clientConnectionLost(self, reason)
        if self.state == "disconnected":
            self.factory.doStop()
            self.factoryStarted = False

    def getDestination(self) -> Any:
        """
        :return: the address being connected to.
        """
        raise NotImplementedError


class Connector(BaseConnector):
    """
    Connects to a TCP ``host``:``port``.
    """

    def __init__(
        self,
        host: str,
        port: int | str,
        factory: Any,
        timeout: float | None,
        bindAddress: tuple[str, int] | None,
        reactor: Any = None,
    ) -> None:
        """
        :param host: an address literal or host name.
        :param port: the port number (or a service name such as ``"http"``).
        :param factory: the ``ClientFactory``.
        :param timeout: seconds before failing with ``TimeoutError``.
        :param bindAddress: a local address to bind first.
        :param reactor: the reactor.
        """
        if isinstance(port, str):
            try:
                port = socket.getservbyname(port, "tcp")
            except OSError as e:
                raise error.ServiceNameUnknownError(string=f"{e} ({port!r})") from e
        self.host = host
        self.port = port
        self.bindAddress = bindAddress
        BaseConnector.__init__(self, factory, timeout, reactor)

    def _makeTransport(self) -> Client:
        return Client(self.host, self.port, self.bindAddress, self, self.reactor)

    def getDestination(self) -> IPv4Address | IPv6Address | HostnameAddress:
        """
        :return: ``IPv4Address``/``IPv6Address`` for a literal, else a
            ``HostnameAddress``.
        """
        family = _ipFamily(self.host)
        if family == socket.AF_INET:
            return IPv4Address("TCP", self.host, self.port)
        if family == socket.AF_INET6:
            return IPv6Address("TCP", self.host, self.port)
        return HostnameAddress(self.host.encode("idna"), self.port)

    def __repr__(self) -> str:
        return f"<Connector to {self.host}:{self.port} ({self.state})>"


__all__ = [
    "ACCEPT_BACKOFF_DELAY",
    "MAX_ACCEPTS_PER_ITERATION",
    "BaseConnector",
    "Client",
    "Connection",
    "Connector",
    "Port",
    "Server",
]
