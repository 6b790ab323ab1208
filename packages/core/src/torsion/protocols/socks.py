"""
A SOCKS proxy server: SOCKS4, SOCKS4a and SOCKS5 (RFC 1928), with
optional user name and password authentication (RFC 1929).

::

    reactor.listenTCP(1080, SOCKSFactory(reactor=reactor), interface="127.0.0.1")

``SOCKSFactory`` serves both versions, telling them apart by the first
byte a client sends (4 or 5); ``SOCKSv4Factory`` serves only SOCKS4/4a and
``SOCKSv5Factory`` only SOCKS5.  The ``CONNECT`` and ``BIND`` commands are
supported, to IPv4 and IPv6 addresses and to host names (resolved through
the reactor's non-blocking name resolver); ``UDP ASSOCIATE`` is refused.
Once a tunnel is up, bytes are relayed both ways with flow control: each
side's transport is the producer of the other's, so a slow reader slows
the other peer down instead of filling memory.

A malformed or unsupported request gets the protocol's error reply (where
the protocol has one) and the connection is closed.

Give a ``checker`` (an ``ICredentialsChecker`` accepting
``IUsernamePassword``, from ``torsion.cred``) to require SOCKS5 clients to
log in; SOCKS4 clients, which cannot send a password, are then refused.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from torsion.internet import error, protocol
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IAddress, IDelayedCall, IListeningPort
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "BIND_TIMEOUT",
    "HANDSHAKE_TIMEOUT",
    "MAX_DOMAIN_LENGTH",
    "MAX_PENDING_BYTES",
    "MAX_USERID_LENGTH",
    "SOCKSError",
    "SOCKSFactory",
    "SOCKSRequest",
    "SOCKSServer",
    "SOCKSv4",
    "SOCKSv4Factory",
    "SOCKSv5",
    "SOCKSv5Factory",
    "parseV4Request",
    "parseV5Greeting",
    "parseV5Password",
    "parseV5Request",
]

_log = Logger(namespace="torsion.protocols.socks")

#: Longest SOCKS4 user id accepted (bytes before the terminating NUL).
MAX_USERID_LENGTH = 255
#: Longest host name accepted (SOCKS4a names; SOCKS5 encodes at most 255).
MAX_DOMAIN_LENGTH = 255
#: Seconds a client may take to finish its greeting and request.
HANDSHAKE_TIMEOUT = 30.0
#: Seconds a ``BIND`` waits for the incoming connection.
BIND_TIMEOUT = 120.0
#: Most bytes a client may send after its request before the tunnel is up.
MAX_PENDING_BYTES = 65536

CONNECT, BIND, UDP_ASSOCIATE = 1, 2, 3

# SOCKS4 reply codes.
_V4_GRANTED, _V4_REJECTED = 0x5A, 0x5B
# SOCKS5 reply codes (RFC 1928, section 6).
_V5_SUCCEEDED = 0x00
_V5_FAILURE = 0x01
_V5_NOT_ALLOWED = 0x02
_V5_NETWORK_UNREACHABLE = 0x03
_V5_HOST_UNREACHABLE = 0x04
_V5_REFUSED = 0x05
_V5_TTL_EXPIRED = 0x06
_V5_COMMAND_NOT_SUPPORTED = 0x07
_V5_ADDRESS_NOT_SUPPORTED = 0x08
# SOCKS5 methods.
_NO_AUTH, _USERNAME_PASSWORD, _NO_ACCEPTABLE = 0x00, 0x02, 0xFF
_ATYP_IPV4, _ATYP_DOMAIN, _ATYP_IPV6 = 1, 3, 4


class SOCKSError(Exception):
    """
    A client sent something the server cannot accept.

    :ivar code: the reply code to send back (SOCKS4 ``0x5B``, or a SOCKS5
        ``REP`` value), or None when the protocol has no reply for it.
    """

    def __init__(self, message: str, code: int | None) -> None:
        """
        :param message: what was wrong.
        :param code: the reply code, or None.
        """
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SOCKSRequest:
    """
    One parsed ``CONNECT`` or ``BIND`` request.

    :ivar version: 4 or 5.
    :ivar command: ``CONNECT`` (1) or ``BIND`` (2).
    :ivar host: the destination: an IPv4 or IPv6 address or a host name.
    :ivar port: the destination port.
    :ivar user: the SOCKS4 user id (empty for SOCKS5).
    """

    version: int
    command: int
    host: str
    port: int
    user: bytes = b""


def _decodeName(raw: bytes, code: int) -> str:
    if not raw:
        raise SOCKSError("empty host name", code)
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        raise SOCKSError("host name is not ASCII", code)
    if not name.isprintable() or " " in name:
        raise SOCKSError("host name has control characters or spaces", code)
    return name


def parseV4Request(
    data: bytes,
    maxUserID: int = MAX_USERID_LENGTH,
    maxDomain: int = MAX_DOMAIN_LENGTH,
) -> tuple[SOCKSRequest, int] | None:
    """
    Parse a SOCKS4 or SOCKS4a request from the start of ``data``.

    :param data: the bytes received so far.
    :param maxUserID: the longest user id accepted.
    :param maxDomain: the longest SOCKS4a host name accepted.
    :return: ``(request, consumed)``, or None if more bytes are needed.
    :raises SOCKSError: for a malformed request (code ``0x5B``).
    """
    if data[:1] and data[0] != 4:
        raise SOCKSError(f"not a SOCKS4 request (version {data[0]})", None)
    if len(data) < 8:
        return None
    command = data[1]
    if command not in (CONNECT, BIND):
        raise SOCKSError(f"unknown SOCKS4 command {command}", _V4_REJECTED)
    (port,) = struct.unpack("!H", data[2:4])
    raw = data[4:8]
    end = data.find(b"\0", 8, 8 + maxUserID + 1)
    if end == -1:
        if len(data) > 8 + maxUserID:
            raise SOCKSError("SOCKS4 user id too long", _V4_REJECTED)
        return None
    user = data[8:end]
    consumed = end + 1
    if raw[:3] == b"\0\0\0" and raw[3] != 0:
        nameEnd = data.find(b"\0", consumed, consumed + maxDomain + 1)
        if nameEnd == -1:
            if len(data) > consumed + maxDomain:
                raise SOCKSError("SOCKS4a host name too long", _V4_REJECTED)
            return None
        host = _decodeName(data[consumed:nameEnd], _V4_REJECTED)
        consumed = nameEnd + 1
    else:
        host = str(ipaddress.IPv4Address(raw))
    return SOCKSRequest(4, command, host, port, user), consumed


def parseV5Greeting(data: bytes) -> tuple[bytes, int] | None:
    """
    Parse a SOCKS5 method-selection greeting.

    :param data: the bytes received so far.
    :return: ``(methods, consumed)``, or None if more bytes are needed.
    :raises SOCKSError: for a wrong version or an empty method list (code
        ``0xFF``, no acceptable method).
    """
    if data[:1] and data[0] != 5:
        raise SOCKSError(f"not a SOCKS5 greeting (version {data[0]})", None)
    if len(data) < 2:
        return None
    count = data[1]
    if count == 0:
        raise SOCKSError("SOCKS5 greeting offers no method", _NO_ACCEPTABLE)
    if len(data) < 2 + count:
        return None
    return data[2 : 2 + count], 2 + count


def parseV5Password(data: bytes) -> tuple[bytes, bytes, int] | None:
    """
    Parse an RFC 1929 user name and password request.

    :param data: the bytes received so far.
    :return: ``(username, password, consumed)``, or None if more bytes are
        needed.
    :raises SOCKSError: for a wrong sub-negotiation version or an empty user
        name (code 1, failure).
    """
    if data[:1] and data[0] != 1:
        raise SOCKSError(f"bad RFC 1929 version {data[0]}", 1)
    if len(data) < 2:
        return None
    userLength = data[1]
    if userLength == 0:
        raise SOCKSError("empty SOCKS5 user name", 1)
    if len(data) < 3 + userLength:
        return None
    passwordLength = data[2 + userLength]
    end = 3 + userLength + passwordLength
    if len(data) < end:
        return None
    return data[2 : 2 + userLength], data[3 + userLength : end], end


def parseV5Request(data: bytes) -> tuple[SOCKSRequest, int] | None:
    """
    Parse a SOCKS5 request.

    :param data: the bytes received so far.
    :return: ``(request, consumed)``, or None if more bytes are needed.
    :raises SOCKSError: with the RFC 1928 reply code: 7 for an unknown or
        unsupported command, 8 for an unknown address type, 1 for other
        malformations.
    """
    if data[:1] and data[0] != 5:
        raise SOCKSError(f"not a SOCKS5 request (version {data[0]})", _V5_FAILURE)
    if len(data) < 4:
        return None
    command, reserved, addressType = data[1], data[2], data[3]
    if reserved != 0:
        raise SOCKSError("SOCKS5 reserved byte is not zero", _V5_FAILURE)
    if addressType == _ATYP_IPV4:
        end = 4 + 4
        if len(data) < end + 2:
            return None
        host = str(ipaddress.IPv4Address(data[4:end]))
    elif addressType == _ATYP_IPV6:
        end = 4 + 16
        if len(data) < end + 2:
            return None
        host = str(ipaddress.IPv6Address(data[4:end]))
    elif addressType == _ATYP_DOMAIN:
        if len(data) < 5:
            return None
        end = 5 + data[4]
        if len(data) < end + 2:
            return None
        host = _decodeName(data[5:end], _V5_FAILURE)
    else:
        raise SOCKSError(
            f"unknown SOCKS5 address type {addressType}", _V5_ADDRESS_NOT_SUPPORTED
        )
    if command not in (CONNECT, BIND):
        raise SOCKSError(
            f"unsupported SOCKS5 command {command}", _V5_COMMAND_NOT_SUPPORTED
        )
    (port,) = struct.unpack("!H", data[end : end + 2])
    return SOCKSRequest(5, command, host, port), end + 2


def _v4Reply(code: int, address: IAddress | None = None) -> bytes:
    host, port = "0.0.0.0", 0
    if isinstance(address, IPv4Address):
        host, port = address.host, address.port
    return struct.pack("!BBH", 0, code, port) + ipaddress.IPv4Address(host).packed


def _v5Reply(code: int, address: IAddress | None = None) -> bytes:
    if isinstance(address, IPv6Address):
        packed = bytes([_ATYP_IPV6]) + ipaddress.IPv6Address(address.host).packed
        port = address.port
    elif isinstance(address, IPv4Address):
        packed = bytes([_ATYP_IPV4]) + ipaddress.IPv4Address(address.host).packed
        port = address.port
    else:
        packed, port = bytes([_ATYP_IPV4, 0, 0, 0, 0]), 0
    return bytes([5, code, 0]) + packed + struct.pack("!H", port)


def _v5Code(reason: Failure) -> int:
    if reason.check(error.ConnectionRefusedError):
        return _V5_REFUSED
    if reason.check(error.DNSLookupError, error.UnknownHostError):
        return _V5_HOST_UNREACHABLE
    if reason.check(error.NoRouteError):
        return _V5_NETWORK_UNREACHABLE
    if reason.check(error.TimeoutError, error.TCPTimedOutError):
        return _V5_TTL_EXPIRED
    return _V5_FAILURE


class _Relay(protocol.Protocol):
    """
    The proxy's side of a tunnel to (or from) the destination: relays what
    it receives to the SOCKS client.
    """

    server: SOCKSServer | None = None
    onConnect: Callable[[_Relay], None] | None = None

    def connectionMade(self) -> None:
        if self.onConnect is not None:
            self.onConnect(self)

    def dataReceived(self, data: bytes) -> None:
        if self.server is not None:
            self.server.transport.write(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        server, self.server = self.server, None
        if server is not None:
            server._relayLost()


class _RelayFactory(protocol.ClientFactory):
    def __init__(self) -> None:
        self.built: list[_Relay] = []

    def buildProtocol(self, addr: IAddress) -> _Relay:
        relay = _Relay()
        relay.factory = self
        self.built.append(relay)
        return relay


class _BindFactory(protocol.Factory):
    """
    Accepts the one connection a ``BIND`` waits for.
    """

    def __init__(self, server: SOCKSServer, expectedHost: str | None) -> None:
        self.server = server
        self.expectedHost = expectedHost

    def buildProtocol(self, addr: IAddress) -> _Relay | None:
        host = getattr(addr, "host", None)
        if self.server._bindRelay is not None or self.server._done:
            return None
        if self.expectedHost is not None and host != self.expectedHost:
            _log.info(
                "BIND: refusing connection from {host}, expected {expected}",
                host=host,
                expected=self.expectedHost,
            )
            return None
        relay = _Relay()
        relay.factory = self
        relay.onConnect = self.server._bindAccepted
        self.server._bindRelay = relay
        return relay


class SOCKSServer(protocol.Protocol):
    """
    One client connection to the SOCKS proxy.

    ``versions`` says which SOCKS versions are accepted; the first byte the
    client sends picks one.  The factory (a ``SOCKSFactory``) provides the
    reactor, the optional credentials checker and the connection log.

    :ivar versions: the accepted versions, a tuple of 4 and/or 5.
    :ivar request: the client's ``SOCKSRequest`` once parsed, else None.
    """

    versions: tuple[int, ...] = (4, 5)
    request: SOCKSRequest | None = None

    def __init__(self) -> None:
        self._buffer = b""
        self._state = "start"
        self._version = 0
        self._relay: _Relay | None = None
        self._bindRelay: _Relay | None = None
        self._bindPort: IListeningPort | None = None
        self._timer: IDelayedCall | None = None
        self._pendingConnect: Deferred[Any] | None = None
        self._done = False

    @property
    def _reactor(self) -> Any:
        return self.factory.reactor

    def connectionMade(self) -> None:
        """
        Start the handshake timer.
        """
        self._timer = self._reactor.callLater(
            getattr(self.factory, "handshakeTimeout", HANDSHAKE_TIMEOUT),
            self._timedOut,
        )

    def _timedOut(self) -> None:
        self._timer = None
        _log.info("SOCKS client {peer} timed out", peer=self.transport.getPeer())
        self.transport.loseConnection()

    def _cancelTimer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def dataReceived(self, data: bytes) -> None:
        """
        Parse the handshake, or relay once the tunnel is up.

        :param data: the bytes received.
        """
        if self._state == "relay":
            if self._relay is not None and self._relay.transport is not None:
                self._relay.transport.write(data)
            return
        if self._state == "closed":
            return
        self._buffer += data
        if self._state == "waiting":
            limit = getattr(self.factory, "maxPendingBytes", MAX_PENDING_BYTES)
            if len(self._buffer) > limit:
                self._fail("client sent too much before the tunnel was up", None)
            return
        try:
            self._advance()
        except SOCKSError as e:
            self._fail(str(e), e.code)

    def _advance(self) -> None:
        while self._state in ("start", "greeting", "password", "request"):
            if self._state == "start":
                if not self._buffer:
                    return
                version = self._buffer[0]
                if version not in (4, 5) or version not in self.versions:
                    raise SOCKSError(f"unsupported SOCKS version {version}", None)
                self._version = version
                self._state = "request" if version == 4 else "greeting"
            elif self._state == "greeting":
                greeting = parseV5Greeting(self._buffer)
                if greeting is None:
                    return
                methods, used = greeting
                self._buffer = self._buffer[used:]
                needLogin = self._checker() is not None
                method = _USERNAME_PASSWORD if needLogin else _NO_AUTH
                if method not in methods:
                    raise SOCKSError("no acceptable SOCKS5 method", _NO_ACCEPTABLE)
                self.transport.write(bytes([5, method]))
                self._state = "password" if method == _USERNAME_PASSWORD else "request"
            elif self._state == "password":
                parsed = parseV5Password(self._buffer)
                if parsed is None:
                    return
                user, password, used = parsed
                self._buffer = self._buffer[used:]
                self._state = "waiting"
                self._checkPassword(user, password)
                return
            elif self._state == "request":
                if self._version == 4:
                    v4 = parseV4Request(
                        self._buffer,
                        getattr(self.factory, "maxUserID", MAX_USERID_LENGTH),
                        getattr(self.factory, "maxDomain", MAX_DOMAIN_LENGTH),
                    )
                    if v4 is None:
                        return
                    request, used = v4
                    if self._checker() is not None:
                        raise SOCKSError(
                            "SOCKS4 cannot authenticate; a login is required",
                            _V4_REJECTED,
                        )
                else:
                    v5 = parseV5Request(self._buffer)
                    if v5 is None:
                        return
                    request, used = v5
                self._buffer = self._buffer[used:]
                self.request = request
                self._state = "waiting"
                self._startRequest(request)
                return

    def _checker(self) -> Any:
        return getattr(self.factory, "checker", None)

    def _checkPassword(self, user: bytes, password: bytes) -> None:
        from torsion.cred.credentials import UsernamePassword
        from torsion.internet.defer import maybeDeferred

        checker = self._checker()
        d = maybeDeferred(checker.requestAvatarId, UsernamePassword(user, password))

        def accepted(avatarId: object) -> None:
            if self._state != "waiting":
                return
            self.transport.write(b"\x01\x00")
            self._state = "request"
            try:
                self._advance()
            except SOCKSError as e:
                self._fail(str(e), e.code)

        def refused(reason: Failure) -> None:
            if self._state != "waiting":
                return
            _log.info(
                "SOCKS5 login failed for {user!r} from {peer}",
                user=user,
                peer=self.transport.getPeer(),
            )
            self.transport.write(b"\x01\x01")
            self._close()

        d.addCallbacks(accepted, refused)

    def _reply(self, code: int, address: IAddress | None = None) -> None:
        if self._version == 4:
            self.transport.write(_v4Reply(code, address))
        else:
            self.transport.write(_v5Reply(code, address))

    def _fail(self, message: str, code: int | None) -> None:
        _log.info(
            "SOCKS client {peer}: {message}",
            peer=self.transport.getPeer(),
            message=message,
        )
        if code is not None:
            if self._state == "greeting" and self._version == 5:
                self.transport.write(bytes([5, code]))
            elif self._state == "password":
                self.transport.write(bytes([1, code]))
            else:
                self._reply(code)
        self._close()

    def _close(self) -> None:
        self._state = "closed"
        self._done = True
        self._cancelTimer()
        self.transport.loseConnection()

    def _startRequest(self, request: SOCKSRequest) -> None:
        log = getattr(self.factory, "logConnection", None)
        if log is not None:
            log(self, request)
        self.transport.pauseProducing()
        if request.command == CONNECT:
            self._connect(request)
        else:
            self._bind(request)

    def _connect(self, request: SOCKSRequest) -> None:
        from torsion.internet.endpoints import (
            HostnameEndpoint,
            TCP4ClientEndpoint,
            TCP6ClientEndpoint,
        )

        factory = _RelayFactory()
        endpoint: Any
        try:
            literal = ipaddress.ip_address(request.host)
        except ValueError:
            literal = None
        try:
            if literal is None:
                # Names are resolved without blocking, trying every address.
                endpoint = HostnameEndpoint(self._reactor, request.host, request.port)
            elif literal.version == 4:
                endpoint = TCP4ClientEndpoint(self._reactor, request.host, request.port)
            else:
                endpoint = TCP6ClientEndpoint(self._reactor, request.host, request.port)
        except ValueError as e:
            code = _V4_REJECTED if self._version == 4 else _V5_HOST_UNREACHABLE
            self._fail(f"bad destination: {e}", code)
            return
        d = endpoint.connect(factory)
        self._pendingConnect = d

        def connected(relay: _Relay) -> None:
            self._pendingConnect = None
            if self._done:
                relay.transport.loseConnection()
                return
            self._startRelay(relay, relay.transport.getHost())

        def failed(reason: Failure) -> None:
            self._pendingConnect = None
            if self._done:
                return
            code = _V4_REJECTED if self._version == 4 else _v5Code(reason)
            self._fail(
                f"cannot connect to {request.host}:{request.port}: "
                f"{reason.getErrorMessage()}",
                code,
            )

        d.addCallbacks(connected, failed)

    def _bind(self, request: SOCKSRequest) -> None:
        host = self.transport.getHost()
        interface = getattr(host, "host", "127.0.0.1")
        expected: str | None = request.host
        try:
            ipaddress.ip_address(request.host)
        except ValueError:
            # A name cannot be compared with the incoming peer's address.
            expected = None
        if expected in ("0.0.0.0", "::"):
            expected = None
        try:
            self._bindPort = self._reactor.listenTCP(
                0, _BindFactory(self, expected), interface=interface
            )
        except error.CannotListenError as e:
            code = _V4_REJECTED if self._version == 4 else _V5_FAILURE
            self._fail(f"BIND cannot listen: {e}", code)
            return
        assert self._bindPort is not None
        self._reply(
            _V4_GRANTED if self._version == 4 else _V5_SUCCEEDED,
            self._bindPort.getHost(),
        )
        self._cancelTimer()
        self._timer = self._reactor.callLater(
            getattr(self.factory, "bindTimeout", BIND_TIMEOUT), self._bindTimedOut
        )

    def _bindAccepted(self, relay: _Relay) -> None:
        if self._done:
            relay.transport.loseConnection()
            return
        self._stopBindListening()
        self._startRelay(relay, relay.transport.getPeer())

    def _bindTimedOut(self) -> None:
        self._timer = None
        code = _V4_REJECTED if self._version == 4 else _V5_TTL_EXPIRED
        self._stopBindListening()
        self._fail("BIND: no connection arrived in time", code)

    def _stopBindListening(self) -> None:
        port, self._bindPort = self._bindPort, None
        if port is not None:
            port.stopListening()

    def _startRelay(self, relay: _Relay, replyAddress: IAddress) -> None:
        self._cancelTimer()
        self._relay = relay
        relay.server = self
        self._reply(_V4_GRANTED if self._version == 4 else _V5_SUCCEEDED, replyAddress)
        self._state = "relay"
        # A full outgoing buffer on one side pauses reading on the other.
        self.transport.registerProducer(relay.transport, True)
        relay.transport.registerProducer(self.transport, True)
        pending, self._buffer = self._buffer, b""
        if pending:
            relay.transport.write(pending)
        self.transport.resumeProducing()

    def _relayLost(self) -> None:
        self._relay = None
        if self._state != "closed":
            self._state = "closed"
            self._done = True
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """
        Close the tunnel's other side and stop anything still pending.

        :param reason: why the client's connection was lost.
        """
        self._done = True
        self._state = "closed"
        self._cancelTimer()
        self._stopBindListening()
        if self._pendingConnect is not None:
            pending, self._pendingConnect = self._pendingConnect, None
            pending.cancel()
        for relay in (self._relay, self._bindRelay):
            if relay is not None:
                relay.server = None
                if relay.transport is not None:
                    relay.transport.loseConnection()
        self._relay = self._bindRelay = None


class SOCKSv4(SOCKSServer):
    """
    A SOCKS server connection that accepts only SOCKS4 and SOCKS4a.
    """

    versions = (4,)


class SOCKSv5(SOCKSServer):
    """
    A SOCKS server connection that accepts only SOCKS5.
    """

    versions = (5,)


def _globalReactor() -> Any:
    # Only reached when no reactor was given: the outermost layer's choice.
    from torsion.internet import reactor

    return reactor


class SOCKSFactory(protocol.Factory):
    """
    Builds SOCKS server connections accepting SOCKS4, SOCKS4a and SOCKS5
    (the version is detected from the client's first byte).

    :ivar reactor: the reactor used to connect, listen and time out.
    :ivar checker: the credentials checker SOCKS5 logins go through, or
        None to accept clients without a login.
    :ivar handshakeTimeout: seconds allowed to finish the handshake.
    :ivar bindTimeout: seconds a ``BIND`` waits for its connection.
    :ivar maxUserID: the longest SOCKS4 user id accepted.
    :ivar maxDomain: the longest SOCKS4a host name accepted.
    :ivar maxPendingBytes: the most bytes a client may send after its
        request (or login) before the tunnel is up.
    """

    protocol: Callable[[], SOCKSServer] = SOCKSServer
    handshakeTimeout = HANDSHAKE_TIMEOUT
    bindTimeout = BIND_TIMEOUT
    maxUserID = MAX_USERID_LENGTH
    maxDomain = MAX_DOMAIN_LENGTH
    maxPendingBytes = MAX_PENDING_BYTES

    def __init__(
        self,
        log: str | IO[str] | None = None,
        reactor: Any = None,
        checker: Any = None,
    ) -> None:
        """
        :param log: a file name, or an open text file, where one line is
            written per tunnel requested; None for no connection log.
        :param reactor: the reactor; the global one if None (looked up when
            the factory starts).
        :param checker: an ``ICredentialsChecker`` for ``IUsernamePassword``
            credentials: SOCKS5 clients must then log in (RFC 1929) and
            SOCKS4 clients are refused.
        """
        self._logSpec = log
        self._logFile: IO[str] | None = None
        self._reactor = reactor
        self.checker = checker

    @property
    def reactor(self) -> Any:
        """
        The reactor the connections use.
        """
        if self._reactor is None:
            self._reactor = _globalReactor()
        return self._reactor

    def logConnection(self, server: SOCKSServer, request: SOCKSRequest) -> None:
        """
        Record one tunnel request in the connection log (if any) and at
        debug level through ``torsion.logger``.

        :param server: the client's connection.
        :param request: what it asked for.
        """
        peer = server.transport.getPeer()
        command = "CONNECT" if request.command == CONNECT else "BIND"
        _log.debug(
            "SOCKS{version} {command} from {peer} to {host}:{port}",
            version=request.version,
            command=command,
            peer=peer,
            host=request.host,
            port=request.port,
        )
        if self._logSpec is None:
            return
        if self._logFile is None:
            if isinstance(self._logSpec, str):
                self._logFile = open(self._logSpec, "a", encoding="utf-8")  # noqa: SIM115
            else:
                self._logFile = self._logSpec
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        peerHost = getattr(peer, "host", peer)
        user = request.user.decode("ascii", "replace")
        self._logFile.write(
            f"{stamp} SOCKS{request.version} {command} {peerHost} "
            f"{request.host}:{request.port} user={user}\n"
        )
        self._logFile.flush()

    def stopFactory(self) -> None:
        """
        Close the connection log file this factory opened.
        """
        if self._logFile is not None and isinstance(self._logSpec, str):
            self._logFile.close()
        self._logFile = None


class SOCKSv4Factory(SOCKSFactory):
    """
    Builds SOCKS server connections accepting only SOCKS4 and SOCKS4a.
    """

    protocol = SOCKSv4


class SOCKSv5Factory(SOCKSFactory):
    """
    Builds SOCKS server connections accepting only SOCKS5.
    """

    protocol = SOCKSv5
