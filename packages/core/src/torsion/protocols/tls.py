"""
TLS as a protocol layer, on pyOpenSSL memory BIOs.

``TLSMemoryBIOProtocol`` sits between a transport and an application
protocol: ciphertext from the transport goes into OpenSSL, plaintext comes
out to the application protocol, and what the application writes is
encrypted on its way down.  Because it only needs an ``ITransport`` below it,
the same TLS code runs over TCP, Unix sockets, standard I/O, a process's
pipes or a channel inside another protocol.

Wrap a factory to serve TLS::

    from torsion.protocols.tls import TLSMemoryBIOFactory

    reactor.listenTCP(8443, TLSMemoryBIOFactory(cert.options(), False, factory))

or use ``reactor.listenSSL``/``connectSSL``, ``ssl:``/``tls:`` endpoints, or
``transport.startTLS`` on a connection that is already open.

The connection ends with:

- ``ConnectionDone`` after a clean TLS shutdown (a ``close_notify`` from the
  peer, or our own ``loseConnection``);
- ``TruncatedTLSConnection`` (a ``ConnectionLost``) when the peer closed the
  underlying connection without ``close_notify``: data may have been cut
  off by an attacker, so a protocol that relies on the end of the stream
  (HTTP/1.0 bodies, for one) must treat it as an error;
- ``VerificationError`` when the peer's certificate was refused;
- ``TLSHandshakeTimeout`` when the handshake did not finish in time;
- the ``OpenSSL.SSL.Error`` for any other TLS failure (plaintext sent to a
  TLS port, a protocol version refused, a bad record).
"""

from __future__ import annotations

from typing import Any

from OpenSSL import SSL
from zope.interface import Interface, directlyProvides, implementer, providedBy

from torsion.internet import defer, interfaces
from torsion.internet._sslverify import Certificate
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.internet.protocol import Protocol, connectionDone
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "IHandshakeListener",
    "TLSHandshakeTimeout",
    "TLSMemoryBIOFactory",
    "TLSMemoryBIOProtocol",
    "TruncatedTLSConnection",
]

HANDSHAKE_TIMEOUT = 60.0
"""Seconds a TLS handshake may take before the connection is aborted."""

_RECEIVE_CHUNK = 65536
_SEND_CHUNK = 65536


class TruncatedTLSConnection(ConnectionLost):
    """
    The peer closed the connection without a TLS ``close_notify``: the data
    received may have been truncated.
    """


class TLSHandshakeTimeout(ConnectionLost):
    """
    The TLS handshake did not complete within the allowed time.
    """


class IHandshakeListener(Interface):
    """
    A protocol over TLS that wants to know when the handshake is done (for
    example to read ``transport.negotiatedProtocol`` or the peer's
    certificate before speaking).
    """

    def handshakeCompleted() -> None:
        """
        The TLS handshake finished successfully.
        """


def _connectionForTLS(creator: Any, tlsProtocol: Any, isClient: bool) -> SSL.Connection:
    if isClient:
        if hasattr(creator, "clientConnectionForTLS"):
            conn: SSL.Connection = creator.clientConnectionForTLS(tlsProtocol)
        else:
            conn = SSL.Connection(creator.getContext(), None)
            conn.set_app_data(tlsProtocol)
        conn.set_connect_state()
    else:
        if hasattr(creator, "serverConnectionForTLS"):
            conn = creator.serverConnectionForTLS(tlsProtocol)
        else:
            conn = SSL.Connection(creator.getContext(), None)
            conn.set_app_data(tlsProtocol)
        conn.set_accept_state()
    return conn


@implementer(
    interfaces.ISSLTransport,
    interfaces.INegotiated,
    interfaces.IPushProducer,
    interfaces.IConsumer,
    interfaces.ISystemHandle,
    interfaces.ILoggingContext,
)
class TLSMemoryBIOProtocol(Protocol):
    """
    The TLS layer of one connection: the protocol of the transport below and
    the transport of the protocol above.

    :param factory: the ``TLSMemoryBIOFactory`` that made it.
    :param wrappedProtocol: the application protocol.
    :param _connectWrapped: whether to call the application protocol's
        ``makeConnection`` (``False`` when TLS starts on a connection the
        protocol already has, through ``startTLS``).
    """

    _log = Logger()

    def __init__(
        self,
        factory: TLSMemoryBIOFactory,
        wrappedProtocol: Any,
        _connectWrapped: bool = True,
    ) -> None:
        self.factory = factory
        self.wrappedProtocol = wrappedProtocol
        self._connectWrapped = _connectWrapped
        self._tlsConnection: SSL.Connection | None = None
        self._handshakeDone = False
        self._handshakeWaiters: list[defer.Deferred[None]] = []
        self._appSendBuffer: list[bytes] = []
        self._lostTLSConnection = False
        self._sentCloseNotify = False
        self._receivedCloseNotify = False
        self._reason: Failure | None = None
        self._aborted = False
        self._producer: Any = None
        self._producerStreaming = False
        self._producerPausedForHandshake = False
        self._timeoutCall: Any = None
        self.disconnecting = False
        self.disconnected = False

    # -- ILoggingContext, ISystemHandle --------------------------------------

    def logPrefix(self) -> str:
        """
        :return: the application protocol's log prefix, marked as TLS.
        """
        inner = getattr(self.wrappedProtocol, "logPrefix", None)
        name = inner() if callable(inner) else type(self.wrappedProtocol).__name__
        return f"{name} (TLS)"

    def getHandle(self) -> SSL.Connection | None:
        """
        :return: the ``OpenSSL.SSL.Connection`` of this TLS session.
        """
        return self._tlsConnection

    # -- setting up -----------------------------------------------------------

    def makeConnection(self, transport: Any) -> None:
        """
        Start TLS over ``transport``: the client sends its hello at once.
        """
        self._tlsConnection = self.factory._createConnection(self)
        self.transport = transport
        self.connected = True
        # Whatever the transport below provides (a Unix socket's
        # sendFileDescriptor, a TCP socket's options) stays visible.
        directlyProvides(self, providedBy(transport), *providedBy(self))
        timeout = self.factory.handshakeTimeout
        if timeout is not None:
            self._timeoutCall = self.factory._clock().callLater(
                timeout, self._handshakeTimedOut
            )
        if self._connectWrapped:
            self.wrappedProtocol.makeConnection(self)
        self._checkHandshakeStatus()

    def _handshakeTimedOut(self) -> None:
        self._timeoutCall = None
        if not self._handshakeDone and not self.disconnected:
            self._log.info(
                "TLS handshake with {peer} timed out",
                peer=self._peerText(),
            )
            self._reason = Failure(
                TLSHandshakeTimeout(
                    f"TLS handshake not completed in {self.factory.handshakeTimeout} s"
                )
            )
            self.transport.abortConnection()

    def _peerText(self) -> str:
        try:
            return str(self.transport.getPeer())
        except Exception:
            return "peer"

    def whenHandshakeDone(self) -> defer.Deferred[None]:
        """
        :return: a Deferred that fires when the handshake completes, or fails
            with the reason the connection ended before it did.
        """
        if self._handshakeDone:
            return defer.succeed(None)
        if self.disconnected:
            return defer.fail(self._reason or Failure(ConnectionDone()))
        d: defer.Deferred[None] = defer.Deferred()
        self._handshakeWaiters.append(d)
        return d

    # -- the handshake and incoming data ---------------------------------------

    def _checkHandshakeStatus(self) -> None:
        conn = self._tlsConnection
        assert conn is not None
        try:
            conn.do_handshake()
        except SSL.WantReadError:
            self._flushSendBIO()
        except SSL.Error:
            self._tlsShutdownFinished(Failure())
        else:
            self._handshakeFinished()

    def _handshakeFinished(self) -> None:
        self._handshakeDone = True
        if self._timeoutCall is not None:
            if self._timeoutCall.active():
                self._timeoutCall.cancel()
            self._timeoutCall = None
        self._flushSendBIO()
        if IHandshakeListener.providedBy(self.wrappedProtocol):
            self.wrappedProtocol.handshakeCompleted()
        waiters, self._handshakeWaiters = self._handshakeWaiters, []
        for d in waiters:
            d.callback(None)
        if self._producerPausedForHandshake:
            self._producerPausedForHandshake = False
            self._producer.resumeProducing()
        self._unbufferPendingWrites()

    def dataReceived(self, data: bytes) -> None:
        """
        Ciphertext from the transport: decrypt it and pass the plaintext on.
        """
        conn = self._tlsConnection
        if conn is None or self._reason is not None:
            return
        conn.bio_write(data)
        if not self._handshakeDone:
            self._checkHandshakeStatus()
            if not self._handshakeDone:
                return
        self._flushReceiveBIO()

    def _flushReceiveBIO(self) -> None:
        conn = self._tlsConnection
        while conn is not None and self._reason is None and not self._aborted:
            try:
                data = conn.recv(_RECEIVE_CHUNK)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self._receivedCloseNotify = True
                self._shutdownTLS()
                break
            except SSL.Error:
                self._tlsShutdownFinished(Failure())
                break
            else:
                self.wrappedProtocol.dataReceived(data)
                conn = self._tlsConnection
        # Reading may have produced output (session tickets, key updates,
        # alerts).
        self._flushSendBIO()

    def _flushSendBIO(self) -> None:
        conn = self._tlsConnection
        if conn is None:
            return
        while True:
            try:
                data = conn.bio_read(_SEND_CHUNK)
            except SSL.WantReadError:
                return
            if self.transport is not None and not self._aborted:
                self.transport.write(data)

    def _tlsShutdownFinished(self, reason: Failure) -> None:
        conn = self._tlsConnection
        verification = getattr(conn, "verificationError", None)
        if verification is not None:
            reason = Failure(verification)
        if self._reason is None:
            self._reason = reason
            self._log.info(
                "TLS connection with {peer} failed: {error}",
                peer=self._peerText(),
                error=reason.getErrorMessage(),
            )
        # Send the alert OpenSSL queued, then close.
        self._flushSendBIO()
        self.disconnecting = True
        self.transport.loseConnection()

    # -- ITransport -------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """
        Encrypt and send ``data`` (buffered until the handshake is done).

        :raises TypeError: when ``data`` is not bytes.
        """
        if not isinstance(data, bytes):
            raise TypeError(
                f"TLSMemoryBIOProtocol.write takes bytes, not {type(data).__name__}"
            )
        if self.disconnecting or self._aborted or self._reason is not None:
            return
        if not data:
            return
        if not self._handshakeDone or self._appSendBuffer:
            self._appSendBuffer.append(data)
            return
        self._write(data)

    def writeSequence(self, iovec: Any) -> None:
        """
        Encrypt and send each piece of ``iovec``, in order.
        """
        self.write(b"".join(iovec))

    def _write(self, data: bytes) -> None:
        conn = self._tlsConnection
        assert conn is not None
        view = memoryview(data)
        offset = 0
        while offset < len(view):
            try:
                sent = conn.send(view[offset : offset + _SEND_CHUNK])
            except SSL.WantReadError:
                # Only possible mid key-update: keep the rest for later.
                self._appSendBuffer.insert(0, bytes(view[offset:]))
                break
            except SSL.Error:
                self._tlsShutdownFinished(Failure())
                return
            offset += sent
            self._flushSendBIO()

    def _unbufferPendingWrites(self) -> None:
        pending, self._appSendBuffer = self._appSendBuffer, []
        if pending:
            self._write(b"".join(pending))
        if (
            self._lostTLSConnection
            and not self._appSendBuffer
            and self._producer is None
        ):
            self._shutdownTLS()

    def loseConnection(self) -> None:
        """
        Send what is buffered, then a ``close_notify``, then close the
        transport.
        """
        if self.disconnecting or self._lostTLSConnection or self.transport is None:
            return
        self._lostTLSConnection = True
        if self._handshakeDone and not self._appSendBuffer and self._producer is None:
            self._shutdownTLS()
        elif not self._handshakeDone and self._reason is None:
            # Finish the handshake first so the close is a clean TLS one;
            # the handshake timeout bounds the wait.
            pass

    def _shutdownTLS(self) -> None:
        conn = self._tlsConnection
        self.disconnecting = True
        if conn is not None and not self._sentCloseNotify:
            try:
                conn.shutdown()
            except SSL.Error:
                pass
            self._sentCloseNotify = True
            self._flushSendBIO()
        # RFC 8446 section 6.1: the side that sends close_notify need not
        # wait for the peer's; waiting would let a silent peer hold us open.
        self.transport.loseConnection()

    def abortConnection(self) -> None:
        """
        Close the transport at once, discarding anything unsent.
        """
        self._aborted = True
        self.disconnecting = True
        self.transport.abortConnection()

    def loseWriteConnection(self) -> None:
        """
        Send ``close_notify`` and half-close the transport, leaving the read
        side open for the peer's remaining data.
        """
        conn = self._tlsConnection
        if conn is None or self._sentCloseNotify:
            return
        if self._appSendBuffer:
            self._unbufferPendingWrites()
        try:
            conn.shutdown()
        except SSL.Error:
            pass
        self._sentCloseNotify = True
        self._flushSendBIO()
        loseWrite = getattr(self.transport, "loseWriteConnection", None)
        if loseWrite is not None:
            loseWrite()

    def getPeer(self) -> Any:
        """
        :return: the transport's peer address.
        """
        return self.transport.getPeer()

    def getHost(self) -> Any:
        """
        :return: the transport's own address.
        """
        return self.transport.getHost()

    def getTcpNoDelay(self) -> bool:
        """
        :return: the TCP transport's ``TCP_NODELAY`` setting.
        """
        return bool(self.transport.getTcpNoDelay())

    def setTcpNoDelay(self, enabled: bool) -> None:
        """
        Set ``TCP_NODELAY`` on the TCP transport below.
        """
        self.transport.setTcpNoDelay(enabled)

    def getTcpKeepAlive(self) -> bool:
        """
        :return: the TCP transport's ``SO_KEEPALIVE`` setting.
        """
        return bool(self.transport.getTcpKeepAlive())

    def setTcpKeepAlive(self, enabled: bool) -> None:
        """
        Set ``SO_KEEPALIVE`` on the TCP transport below.
        """
        self.transport.setTcpKeepAlive(enabled)

    # -- ISSLTransport, INegotiated -----------------------------------------------

    def getPeerCertificate(self) -> Certificate | None:
        """
        :return: the certificate the peer presented (a
            ``torsion.internet.ssl.Certificate``), or ``None``.
        """
        conn = self._tlsConnection
        if conn is None or not self._handshakeDone:
            return None
        cert = conn.get_peer_certificate(as_cryptography=True)
        return None if cert is None else Certificate(cert)

    @property
    def negotiatedProtocol(self) -> bytes | None:
        """
        The ALPN protocol agreed in the handshake, or ``None``.
        """
        conn = self._tlsConnection
        if conn is None or not self._handshakeDone:
            return None
        return conn.get_alpn_proto_negotiated() or None

    # -- producers and consumers ---------------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Register the application's producer; the transport below paces it.

        :raises RuntimeError: when a producer is already registered.
        """
        if self._producer is not None:
            raise RuntimeError(
                f"Cannot register producer {producer!r}: {self._producer!r} "
                "is already registered"
            )
        if self.disconnecting and not self._lostTLSConnection:
            producer.stopProducing()
            return
        self._producer = producer
        self._producerStreaming = streaming
        if streaming and not self._handshakeDone:
            # Nothing can be sent before the handshake: do not let it fill
            # the buffer meanwhile.
            self._producerPausedForHandshake = True
            producer.pauseProducing()
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        """
        Forget the application's producer (and finish a pending close).
        """
        if self._producer is None:
            return
        self._producer = None
        self._producerPausedForHandshake = False
        self.transport.unregisterProducer()
        if self._lostTLSConnection and self._handshakeDone and not self._appSendBuffer:
            self._shutdownTLS()

    def pauseProducing(self) -> None:
        """
        Stop reading from the transport.
        """
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """
        Resume reading from the transport.
        """
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        """
        Close the connection.
        """
        self.transport.stopProducing()

    # -- the end ---------------------------------------------------------------

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The transport is gone: tell the application protocol, with a reason
        that says whether the TLS session ended cleanly.
        """
        if self.disconnected:
            return
        self.disconnected = True
        self.connected = False
        if self._timeoutCall is not None:
            if self._timeoutCall.active():
                self._timeoutCall.cancel()
            self._timeoutCall = None
        if self._reason is not None:
            reason = self._reason
        elif reason.check(ConnectionDone) and not (
            self._receivedCloseNotify or self._sentCloseNotify
        ):
            if self._handshakeDone:
                reason = Failure(
                    TruncatedTLSConnection(
                        "the peer closed the connection without a TLS close_notify"
                    )
                )
            else:
                reason = Failure(
                    ConnectionLost("the connection closed during the TLS handshake")
                )
        waiters, self._handshakeWaiters = self._handshakeWaiters, []
        for d in waiters:
            d.errback(reason)
        self._appSendBuffer = []
        if self._producer is not None:
            self._producer = None
        self.wrappedProtocol.connectionLost(reason)
        # Break the cycle through OpenSSL's app data.
        self.wrappedProtocol = _Gone(self.wrappedProtocol)


class _Gone:
    """Stands for the application protocol after the connection ended."""

    def __init__(self, original: Any) -> None:
        self._original = original

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason: Failure) -> None:
        pass


@implementer(interfaces.IProtocolFactory)
class TLSMemoryBIOFactory:
    """
    Wraps a protocol factory so that every connection it serves (or makes)
    speaks TLS.

    :param contextFactory: an ``IOpenSSLServerConnectionCreator`` (servers:
        ``CertificateOptions``) or ``IOpenSSLClientConnectionCreator``
        (clients: ``optionsForClientTLS(...)``), or an old-style object with
        ``getContext()``.
    :param isClient: whether this side starts the handshake.
    :param wrappedFactory: the application's protocol factory.
    :param handshakeTimeout: seconds allowed for the handshake, or ``None``
        for no limit.
    :param clock: the ``IReactorTime`` for the timeout (the global reactor
        when ``None``).
    """

    protocol = TLSMemoryBIOProtocol
    noisy = False

    def __init__(
        self,
        contextFactory: Any,
        isClient: bool,
        wrappedFactory: Any,
        handshakeTimeout: float | None = HANDSHAKE_TIMEOUT,
        clock: Any = None,
    ) -> None:
        self._connectionCreator = contextFactory
        self._isClient = isClient
        self.wrappedFactory = wrappedFactory
        self.handshakeTimeout = handshakeTimeout
        self._clockOverride = clock

    def _clock(self) -> Any:
        if self._clockOverride is not None:
            return self._clockOverride
        import torsion.internet.reactor

        return torsion.internet.reactor

    def _createConnection(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        return _connectionForTLS(self._connectionCreator, tlsProtocol, self._isClient)

    def logPrefix(self) -> str:
        """
        :return: the wrapped factory's log prefix, marked as TLS.
        """
        inner = getattr(self.wrappedFactory, "logPrefix", None)
        name = inner() if callable(inner) else type(self.wrappedFactory).__name__
        return f"{name} (TLS)"

    def buildProtocol(self, addr: Any) -> TLSMemoryBIOProtocol | None:
        """
        :return: a TLS layer over the wrapped factory's protocol, or ``None``
            when the wrapped factory refuses the connection.
        """
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped)

    def doStart(self) -> None:
        """
        Start the wrapped factory.
        """
        self.wrappedFactory.doStart()

    def doStop(self) -> None:
        """
        Stop the wrapped factory.
        """
        self.wrappedFactory.doStop()

    def startedConnecting(self, connector: Any) -> None:
        """
        Tell the wrapped client factory a connection attempt started.
        """
        method = getattr(self.wrappedFactory, "startedConnecting", None)
        if method is not None:
            method(connector)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """
        Tell the wrapped client factory the connection attempt failed.
        """
        method = getattr(self.wrappedFactory, "clientConnectionFailed", None)
        if method is not None:
            method(connector, reason)

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        """
        Tell the wrapped client factory an established connection ended.
        """
        method = getattr(self.wrappedFactory, "clientConnectionLost", None)
        if method is not None:
            method(connector, reason)


def startTLSOver(
    transport: Any,
    rawTransport: Any,
    contextFactory: Any,
    isClient: bool,
    protocol: Any,
    clock: Any = None,
) -> TLSMemoryBIOProtocol:
    """
    Start TLS on a connection that is already carrying ``protocol``; used by
    transports to implement ``ITLSTransport.startTLS``.

    :param transport: the transport the application protocol holds.
    :param rawTransport: an object with the transport's methods that write
        and close without going back through TLS.
    :param contextFactory: the TLS configuration.
    :param isClient: whether this side starts the handshake.
    :param protocol: the application protocol.
    :param clock: the ``IReactorTime`` for the handshake timeout.
    :return: the TLS layer: the transport delivers received bytes to it from
        now on, and routes the application's writes through it.
    """
    factory = TLSMemoryBIOFactory(contextFactory, isClient, None, clock=clock)
    tls = TLSMemoryBIOProtocol(factory, protocol, _connectWrapped=False)
    tls.makeConnection(rawTransport)
    return tls


class _BypassTLS:
    """
    A connection seen from beneath its TLS layer: writing and closing go
    straight to the socket, not back through TLS.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._cls = type(connection)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def write(self, data: bytes) -> None:
        self._cls.write(self._connection, data)

    def writeSequence(self, iovec: Any) -> None:
        self._cls.writeSequence(self._connection, iovec)

    def loseConnection(self) -> None:
        self._cls.loseConnection(self._connection)

    def abortConnection(self) -> None:
        self._cls.abortConnection(self._connection)

    def loseWriteConnection(self) -> None:
        self._cls.loseWriteConnection(self._connection)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self._cls.registerProducer(self._connection, producer, streaming)

    def unregisterProducer(self) -> None:
        self._cls.unregisterProducer(self._connection)


_ROUTED_THROUGH_TLS = (
    "write",
    "writeSequence",
    "loseConnection",
    "abortConnection",
    "loseWriteConnection",
    "registerProducer",
    "unregisterProducer",
)


def startTLSOnConnection(
    connection: Any, contextFactory: Any, isClient: bool
) -> TLSMemoryBIOProtocol:
    """
    Switch a reactor stream connection (TCP, Unix) to TLS: bytes read are
    decrypted before reaching its protocol, and the protocol's writes are
    encrypted.  Plaintext the connection had already buffered is sent first.

    :param connection: the connection (its class provides the plain
        ``write``, ``loseConnection`` and producer methods).
    :param contextFactory: the TLS configuration.
    :param isClient: whether this side starts the handshake.
    :return: the TLS layer now between the socket and the protocol.
    """
    raw = _BypassTLS(connection)
    layer = startTLSOver(
        connection,
        raw,
        contextFactory,
        isClient,
        connection.protocol,
        clock=connection.reactor,
    )
    connection.protocol = layer
    for name in _ROUTED_THROUGH_TLS:
        setattr(connection, name, getattr(layer, name))
    return layer
