"""
UDP and IP multicast transports.

You rarely build these classes yourself: ask the reactor instead::

    from torsion.internet.protocol import DatagramProtocol

    class Echo(DatagramProtocol):
        def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.write(data, addr)

    port = reactor.listenUDP(9999, Echo(), interface="127.0.0.1")

``listenUDP`` returns a ``Port``, which is also the protocol's ``transport``.
``listenMulticast`` returns a ``MulticastPort``, which adds group membership,
TTL, loopback and outgoing-interface control.

Addresses given to ``write``, ``connect`` and ``joinGroup`` must be IP
literals such as ``"127.0.0.1"`` or ``"::1"``: resolving names is left to the
caller, so that a datagram is never delayed or reordered by a DNS lookup.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from typing import Any

from zope.interface import implementer

from torsion.internet import _mmsg, defer, error
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.interfaces import (
    IListeningPort,
    IMulticastTransport,
    IReadDescriptor,
    ISystemHandle,
    IUDPTransport,
)
from torsion.logger import Logger
from torsion.python import failure

__all__ = [
    "MAX_DATAGRAMS_PER_READ",
    "InvalidAddressError",
    "MulticastPort",
    "Port",
]

MAX_DATAGRAMS_PER_READ = 256
"""
How many datagrams a port reads each time its socket becomes readable, at
most, before letting other descriptors and timers run. Reading many at once
saves a trip through the event loop per datagram; the bound keeps a flood on
one port from starving everything else.
"""

_log = Logger()

# Destination hosts already validated by ``write`` are remembered (up to this
# many per port) so that answering the same peers skips the address parsing.
_CHECKED_HOSTS_LIMIT = 1024

_DROP_ON_SEND = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})
_REFUSED = frozenset({errno.ECONNREFUSED})
_AGAIN = frozenset({errno.EAGAIN, errno.EWOULDBLOCK})
# Errors a datagram socket reports after an ICMP message; the socket is fine.
_TRANSIENT = frozenset(
    {
        errno.ECONNREFUSED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.ENETDOWN,
        errno.EMSGSIZE,
    }
)


class InvalidAddressError(ValueError):
    """
    An address given to a UDP transport is not an IP literal of the socket's
    family.

    :ivar address: the rejected address.
    :ivar message: why it was rejected.
    """

    def __init__(self, address: object, message: str) -> None:
        """
        :param address: the rejected address.
        :param message: why it was rejected.
        """
        super().__init__(f"{address!r}: {message}")
        self.address = address
        self.message = message


def _addressFamily(host: str) -> int | None:
    """
    Tell which address family an IP literal belongs to.

    :param host: the text to examine.
    :return: ``socket.AF_INET``, ``socket.AF_INET6``, or ``None`` if ``host``
        is not an IP literal.
    """
    try:
        socket.inet_pton(socket.AF_INET, host)
        return socket.AF_INET
    except (OSError, ValueError, TypeError):
        pass
    try:
        # A scope suffix such as "fe80::1%lo" is accepted by the socket calls.
        socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
        return socket.AF_INET6
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _globalReactor() -> Any:
    # Only reached when a port is built by hand without a reactor; the
    # reactor's own listen methods always pass themselves.
    import importlib

    return importlib.import_module("torsion.internet.reactor")


def _familyForInterface(interface: str) -> int:
    if interface == "":
        return socket.AF_INET
    family = _addressFamily(interface)
    if family is None:
        raise InvalidAddressError(interface, "the interface must be an IP literal")
    return family


@implementer(IListeningPort, IUDPTransport, ISystemHandle, IReadDescriptor)
class Port:
    """
    A UDP socket bound to a local port, and the transport of its protocol.

    :ivar port: the port number asked for (``0`` means any free port).
    :ivar interface: the local address asked for (``""`` means all IPv4
        interfaces).
    :ivar maxPacketSize: the largest datagram read; longer ones are truncated
        by the operating system.
    :ivar protocol: the ``DatagramProtocol`` receiving the datagrams.
    :ivar reactor: the reactor watching the socket.
    :ivar socket: the socket, once listening.
    :ivar connected: ``True`` while the port is listening.
    :ivar maxDatagramsPerRead: overrides ``MAX_DATAGRAMS_PER_READ`` for this
        port.
    :ivar batchReads: read many datagrams per system call with
        ``recvmmsg`` where the platform has it (Linux); ``False`` reads one
        per ``recvfrom`` call.  Either way the protocol sees the same
        datagrams, sources and order.
    """

    socketType = socket.SOCK_DGRAM
    maxDatagramsPerRead = MAX_DATAGRAMS_PER_READ
    batchReads = True

    def __init__(
        self,
        port: int,
        proto: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        reactor: Any = None,
    ) -> None:
        """
        :param port: the port to bind; ``0`` picks a free one.
        :param proto: the ``DatagramProtocol`` to connect.
        :param interface: the local IP address to bind, ``""`` for all IPv4
            interfaces or ``"::"`` for all IPv6 ones.
        :param maxPacketSize: the largest datagram read, at least 1.
        :param reactor: the reactor to use.
        :raises InvalidAddressError: if ``interface`` is not an IP literal.
        :raises ValueError: if ``maxPacketSize`` is less than 1.
        """
        if maxPacketSize < 1:
            raise ValueError(f"maxPacketSize must be >= 1, not {maxPacketSize}")
        if reactor is None:
            reactor = _globalReactor()
        self.port = port
        self.interface = interface
        self.maxPacketSize = maxPacketSize
        self.protocol = proto
        self.reactor = reactor
        self.addressFamily = _familyForInterface(interface)
        self.socket: socket.socket | None = None
        self.connected = False
        self.disconnecting = False
        self._connectedAddr: tuple[str, int] | None = None
        self._realPortNumber: int | None = None
        self._stopped: defer.Deferred[None] | None = None
        self._fileno = -1
        self._adopted: socket.socket | None = None
        self._checkedHosts: set[str] = set()

    def __repr__(self) -> str:
        if self._realPortNumber is not None:
            return f"<{type(self.protocol).__name__} on {self._realPortNumber} (UDP)>"
        return f"<{type(self.protocol).__name__} not connected (UDP)>"

    # Setting up

    def _createSocket(self) -> socket.socket:
        return socket.socket(self.addressFamily, self.socketType)

    def _prepareSocket(self, skt: socket.socket) -> None:
        """
        Set options that must be in place before ``bind``.

        :param skt: the new socket.
        """

    @classmethod
    def _fromListeningDescriptor(
        cls,
        reactor: Any,
        fd: int,
        addressFamily: int,
        protocol: Any,
        maxPacketSize: int = 8192,
    ) -> Port:
        """
        Build a port over an already bound datagram socket (used by
        ``reactor.adoptDatagramPort``); the descriptor is duplicated, so the
        caller keeps its own.

        :param reactor: the reactor to use.
        :param fd: the bound socket's descriptor.
        :param addressFamily: ``socket.AF_INET`` or ``socket.AF_INET6``.
        :param protocol: the ``DatagramProtocol`` to connect.
        :param maxPacketSize: the largest datagram read.
        :return: the port, already listening.
        :raises torsion.internet.error.UnsupportedAddressFamily: for another
            family.
        :raises ValueError: if the descriptor is not a datagram socket of
            that family.
        """
        if addressFamily not in (socket.AF_INET, socket.AF_INET6):
            raise error.UnsupportedAddressFamily(addressFamily)
        skt = socket.socket(fileno=os.dup(fd))
        if skt.family != addressFamily or skt.type != socket.SOCK_DGRAM:
            skt.close()
            raise ValueError(
                f"descriptor {fd} is not a bound {addressFamily!r} datagram socket"
            )
        name = skt.getsockname()
        interface = "::" if addressFamily == socket.AF_INET6 else ""
        port = cls(name[1], protocol, interface, maxPacketSize, reactor)
        port._adopted = skt
        port.startListening()
        return port

    def _bindSocket(self) -> None:
        adopted, self._adopted = self._adopted, None
        if adopted is not None:
            adopted.setblocking(False)
            self.interface = adopted.getsockname()[0]
            self._realPortNumber = adopted.getsockname()[1]
            self.socket = adopted
            self._fileno = adopted.fileno()
            self.connected = True
            return
        try:
            skt = self._createSocket()
        except OSError as e:
            raise error.CannotListenError(self.interface, self.port, e)
        try:
            self._prepareSocket(skt)
            skt.bind((self.interface, self.port))
        except OSError as e:
            skt.close()
            raise error.CannotListenError(self.interface, self.port, e)
        skt.setblocking(False)
        self._realPortNumber = skt.getsockname()[1]
        self.socket = skt
        self._fileno = skt.fileno()
        self.connected = True

    def startListening(self) -> None:
        """
        Bind the socket, start the protocol and start reading.

        :raises torsion.internet.error.CannotListenError: if the socket cannot
            be bound.
        """
        self._bindSocket()
        try:
            self.protocol.makeConnection(self)
        except BaseException:
            self._abandonSocket()
            raise
        self.reactor.addReader(self)

    def _abandonSocket(self) -> None:
        """
        Close the socket of a port that failed to start.
        """
        skt, self.socket = self.socket, None
        self._fileno = -1
        self.connected = False
        if skt is not None:
            skt.close()
        self._afterClose()

    # IReadDescriptor

    def fileno(self) -> int:
        """
        :return: the socket's descriptor, or ``-1`` once closed.
        """
        return self._fileno

    def logPrefix(self) -> str:
        """
        :return: the name used for this port in log messages.
        """
        prefix: Any = getattr(self.protocol, "logPrefix", None)
        if callable(prefix):
            return f"{prefix()} (UDP)"
        return f"{type(self.protocol).__name__} (UDP)"

    def doRead(self) -> None:
        """
        Read the waiting datagrams (up to ``maxDatagramsPerRead``) and hand
        each to the protocol's ``datagramReceived``.
        """
        skt = self.socket
        if skt is None:
            return
        if self.batchReads:
            receiver = _mmsg.receiverFor(self.addressFamily, self.maxPacketSize)
            if receiver is not None and self._doReadBatched(receiver):
                return
        recvfrom = skt.recvfrom
        size = self.maxPacketSize
        protocol = self.protocol
        ipv6 = self.addressFamily == socket.AF_INET6
        for _ in range(self.maxDatagramsPerRead):
            try:
                data, addr = recvfrom(size)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as e:
                if self._readFailed(e):
                    continue
                return
            if ipv6:
                addr = addr[:2]
            try:
                protocol.datagramReceived(data, addr)
            except Exception:
                _log.failure("Unhandled error in a UDP protocol's datagramReceived")
            if self.disconnecting or self.socket is None:
                # The protocol stopped listening while handling the datagram.
                return

    def _doReadBatched(self, receiver: _mmsg.BatchReceiver) -> bool:
        """
        ``doRead`` with ``recvmmsg``: many datagrams per system call.

        :param receiver: the buffers to read into.
        :return: ``False`` if ``recvmmsg`` turned out to be unusable here (a
            sandbox forbidding it, say): batching is then switched off for
            the process and the caller reads with ``recvfrom`` instead.
        """
        protocol = self.protocol
        fd = self._fileno
        left = self.maxDatagramsPerRead
        while left > 0:
            batch = receiver.receive(fd, left)
            if type(batch) is int:
                if batch in _AGAIN:
                    return True
                if batch == errno.EINTR:
                    continue
                if batch in _mmsg.UNUSABLE:
                    _mmsg.disable()
                    return False
                left -= 1
                if self._readFailed(OSError(batch, os.strerror(batch))):
                    continue
                return True
            # The same delivery as in doRead, inline in both: it runs once
            # per datagram.
            for data, addr in batch:  # type: ignore[union-attr]
                try:
                    protocol.datagramReceived(data, addr)
                except Exception:
                    _log.failure("Unhandled error in a UDP protocol's datagramReceived")
                if self.disconnecting or self.socket is None:
                    # The protocol stopped listening while handling the
                    # datagram; the rest of the batch is dropped with the
                    # socket's queue.
                    return True
            if len(batch) < receiver.count:  # type: ignore[arg-type]
                # The queue is empty: no need for a call that finds nothing.
                return True
            left -= len(batch)  # type: ignore[arg-type]
        return True

    def _readFailed(self, e: OSError) -> bool:
        """
        Handle a read that failed with ``e``.

        :return: whether to go on reading: after an ICMP report about an
            earlier datagram (the socket itself is fine) unless the protocol
            stopped listening on hearing of it; never after anything else,
            which is logged.
        """
        if e.errno in _TRANSIENT:
            if e.errno in _REFUSED and self._connectedAddr is not None:
                self._refused()
            return not (self.disconnecting or self.socket is None)
        _log.failure("Error reading from a UDP socket", failure.Failure(e))
        return False

    def _refused(self) -> None:
        refused = getattr(self.protocol, "connectionRefused", None)
        if refused is None:
            return
        try:
            refused()
        except Exception:
            _log.failure("Unhandled error in a UDP protocol's connectionRefused")

    # IUDPTransport

    def _checkHost(self, host: object) -> None:
        if not isinstance(host, str):
            raise InvalidAddressError(host, "the host must be a str IP literal")
        family = _addressFamily(host)
        if family is None:
            raise InvalidAddressError(host, "the host must be an IP literal")
        if family != self.addressFamily:
            raise InvalidAddressError(
                host, "the address family does not match the port's"
            )

    def write(self, datagram: bytes, addr: tuple[str, int] | None = None) -> None:
        """
        Send one datagram.

        A datagram the kernel has no buffer room for is dropped, as UDP
        permits.

        :param datagram: the payload, ``bytes``.
        :param addr: the destination ``(host, port)`` with ``host`` an IP
            literal; must be omitted (or equal to the peer) on a connected
            port.
        :raises TypeError: if ``datagram`` is not bytes.
        :raises InvalidAddressError: for a host that is not an IP literal of
            the port's family.
        :raises ValueError: if ``addr`` is missing on an unconnected port or
            differs from the peer of a connected one.
        :raises torsion.internet.error.MessageLengthError: if the datagram is
            too long to send.
        """
        skt = self.socket
        if (
            type(datagram) is bytes
            and addr is not None
            and skt is not None
            and self._connectedAddr is None
            and addr[0] in self._checkedHosts
        ):
            # The common case of a server answering a known peer.
            try:
                skt.sendto(datagram, addr)
            except OSError as e:
                self._sendFailed(e, datagram)
            return
        if not isinstance(datagram, bytes | bytearray | memoryview):
            raise TypeError(
                f"UDP transport write() takes bytes, not {type(datagram).__name__}"
            )
        if skt is None:
            return
        connectedAddr = self._connectedAddr
        try:
            if connectedAddr is not None:
                if addr is not None and tuple(addr) != connectedAddr:
                    raise ValueError(
                        f"this port is connected to {connectedAddr!r}; "
                        f"it cannot send to {addr!r}"
                    )
                skt.send(datagram)
            else:
                if addr is None:
                    raise ValueError("an unconnected UDP port needs a destination")
                host = addr[0]
                self._checkHost(host)
                checked = self._checkedHosts
                if len(checked) >= _CHECKED_HOSTS_LIMIT:
                    checked.clear()
                checked.add(host)
                skt.sendto(datagram, addr)
        except OSError as e:
            self._sendFailed(e, datagram)

    def _sendFailed(self, e: OSError, datagram: Any) -> None:
        if e.errno == errno.EMSGSIZE:
            raise error.MessageLengthError(
                f"a {len(datagram)}-byte datagram is too long to send"
            )
        if e.errno in _REFUSED and self._connectedAddr is not None:
            self._refused()
            return
        if e.errno in _DROP_ON_SEND or e.errno in _REFUSED:
            return
        raise e

    def writeSequence(
        self, seq: list[bytes], addr: tuple[str, int] | None = None
    ) -> None:
        """
        Send the concatenation of ``seq`` as one datagram.

        :param seq: the parts of the payload.
        :param addr: as for ``write``.
        """
        self.write(b"".join(seq), addr)

    def connect(self, host: str, port: int) -> None:
        """
        Only exchange datagrams with ``host``:``port`` from now on.

        ``write`` then needs no address, datagrams from elsewhere are
        discarded by the kernel, and ICMP "port unreachable" errors reach the
        protocol's ``connectionRefused``.

        :param host: the peer's IP literal.
        :param port: the peer's port.
        :raises RuntimeError: if the port is already connected.
        :raises InvalidAddressError: if ``host`` is not an IP literal of the
            port's family.
        """
        if self._connectedAddr is not None:
            raise RuntimeError(
                "this UDP port is already connected; it cannot be reconnected"
            )
        self._checkHost(host)
        self._connectedAddr = (host, port)
        if self.socket is not None:
            self.socket.connect((host, port))

    def getHost(self) -> IPv4Address | IPv6Address:
        """
        :return: the address the socket is bound to.
        """
        if self.socket is None:
            raise error.NotListeningError("this UDP port is not listening")
        name = self.socket.getsockname()
        if self.addressFamily == socket.AF_INET6:
            return IPv6Address("UDP", name[0], name[1], name[2], name[3])
        return IPv4Address("UDP", name[0], name[1])

    def setBroadcastAllowed(self, enabled: bool) -> None:
        """
        Allow or forbid sending to broadcast addresses (``SO_BROADCAST``).

        :param enabled: the new setting.
        """
        self._requireSocket().setsockopt(
            socket.SOL_SOCKET, socket.SO_BROADCAST, int(enabled)
        )

    def getBroadcastAllowed(self) -> bool:
        """
        :return: whether sending to broadcast addresses is allowed.
        """
        return bool(
            self._requireSocket().getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
        )

    def getHandle(self) -> socket.socket:
        """
        :return: the underlying socket.
        """
        return self._requireSocket()

    def _requireSocket(self) -> socket.socket:
        if self.socket is None:
            raise error.NotListeningError("this UDP port is not listening")
        return self.socket

    # Shutting down

    def stopListening(self) -> defer.Deferred[None]:
        """
        Stop reading, close the socket and stop the protocol.

        :return: a ``Deferred`` that fires with ``None`` once the socket is
            closed and the protocol's ``stopProtocol`` has run.
        """
        if self._stopped is not None:
            return _chain(self._stopped)
        if not self.connected:
            return defer.succeed(None)
        self._stopped = defer.Deferred()
        self.disconnecting = True
        self.reactor.removeReader(self)
        self.reactor.callLater(0, self.connectionLost)
        return _chain(self._stopped)

    loseConnection = stopListening

    def connectionLost(self, reason: object = None) -> None:
        """
        Close the socket and tell the protocol it stopped.

        Called by ``stopListening`` and by the reactor when it shuts down;
        calling it again does nothing.

        :param reason: why the port stopped.
        """
        skt = self.socket
        if skt is None:
            return
        if reason is not None and not self.disconnecting and self._pendingICMPError():
            return
        self.reactor.removeReader(self)
        self.socket = None
        self._fileno = -1
        self.connected = False
        self.disconnecting = False
        try:
            skt.close()
        finally:
            try:
                self.protocol.doStop()
            except Exception:
                _log.failure("Error stopping a UDP protocol")
            stopped = self._stopped
            if stopped is None:
                self._stopped = defer.succeed(None)
            elif not stopped.called:
                stopped.callback(None)
        self._afterClose()

    def _afterClose(self) -> None:
        """
        Clean up after the socket closed (used by subclasses).
        """

    def _pendingICMPError(self) -> bool:
        """
        Handle a socket error that is no reason to close the port.

        An ICMP error (port unreachable after a send on a connected port)
        leaves an error pending on the socket; poll-style reactors see only
        an error condition and report it as a lost connection. Datagram
        sockets are not lost by it: report a refusal and keep reading.

        :return: ``True`` if the error was handled and the port stays open.
        """
        skt = self.socket
        if skt is None:
            return False
        try:
            pending = skt.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError:
            return False
        if pending not in _TRANSIENT:
            return False
        if pending in _REFUSED and self._connectedAddr is not None:
            self._refused()
        if self.socket is not None and not self.disconnecting:
            self.reactor.addReader(self)
        return True


def _chain(d: defer.Deferred[None]) -> defer.Deferred[None]:
    """
    A fresh Deferred that fires when ``d`` does, so that each caller of
    ``stopListening`` gets its own callback chain.
    """
    result: defer.Deferred[None] = defer.Deferred()

    def fire(value: None) -> None:
        result.callback(None)

    if d.called:
        result.callback(None)
    else:
        d.addCallback(fire)
    return result


@implementer(IMulticastTransport)
class MulticastPort(Port):
    """
    A UDP port that can join IP multicast groups.

    :ivar listenMultiple: whether other sockets may bind the same port
        (``SO_REUSEADDR`` and ``SO_REUSEPORT``), so several programs on one
        host can receive the same group traffic.
    """

    def __init__(
        self,
        port: int,
        proto: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        reactor: Any = None,
        listenMultiple: bool = False,
    ) -> None:
        """
        :param port: the port to bind.
        :param proto: the ``DatagramProtocol`` to connect.
        :param interface: the local address to bind (``""`` for all IPv4
            interfaces, ``"::"`` for IPv6); binding the wildcard is usual for
            multicast.
        :param maxPacketSize: the largest datagram read.
        :param reactor: the reactor to use.
        :param listenMultiple: let other sockets bind the same port.
        """
        super().__init__(port, proto, interface, maxPacketSize, reactor)
        self.listenMultiple = listenMultiple

    def _prepareSocket(self, skt: socket.socket) -> None:
        if self.listenMultiple:
            skt.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            reusePort = getattr(socket, "SO_REUSEPORT", None)
            if reusePort is not None:
                skt.setsockopt(socket.SOL_SOCKET, reusePort, 1)

    @property
    def _v6(self) -> bool:
        return self.addressFamily == socket.AF_INET6

    def getOutgoingInterface(self) -> str:
        """
        :return: for IPv4, the address of the interface multicast is sent
            from (``"0.0.0.0"`` for the kernel's choice); for IPv6, the
            interface index as text.
        """
        skt = self._requireSocket()
        if self._v6:
            return str(skt.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF))
        packed = skt.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4)
        return socket.inet_ntoa(packed)

    def setOutgoingInterface(self, addr: str) -> defer.Deferred[None]:
        """
        Send multicast from the interface that has address ``addr``.

        :param addr: for IPv4, an interface's IP literal (such as
            ``"127.0.0.1"``); for IPv6, an interface name or index.
        :return: a ``Deferred`` that fires with ``None`` once set, or fails
            with ``InvalidAddressError`` or the ``OSError`` raised.
        """
        try:
            skt = self._requireSocket()
            if self._v6:
                skt.setsockopt(
                    socket.IPPROTO_IPV6,
                    socket.IPV6_MULTICAST_IF,
                    _interfaceIndex(addr),
                )
            else:
                if _addressFamily(addr) != socket.AF_INET:
                    raise InvalidAddressError(addr, "not an IPv4 interface address")
                skt.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr)
                )
        except Exception as e:
            return defer.fail(e)
        return defer.succeed(None)

    def getLoopbackMode(self) -> bool:
        """
        :return: whether multicast sent by this socket is delivered back to
            listeners on this host.
        """
        skt = self._requireSocket()
        if self._v6:
            return bool(skt.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP))
        return bool(skt.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP))

    def setLoopbackMode(self, mode: bool) -> None:
        """
        Deliver this socket's own multicast back to listeners on this host,
        or not.

        :param mode: the new setting.
        """
        skt = self._requireSocket()
        if self._v6:
            skt.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, int(mode))
        else:
            skt.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, struct.pack("B", mode)
            )

    def getTTL(self) -> int:
        """
        :return: the time-to-live (IPv6: hop limit) of multicast sent.
        """
        skt = self._requireSocket()
        if self._v6:
            return skt.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS)
        return skt.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL)

    def setTTL(self, ttl: int) -> None:
        """
        Set the time-to-live of multicast sent; ``1`` keeps it on the local
        network.

        :param ttl: 0 to 255.
        :raises ValueError: if ``ttl`` is outside 0 to 255.
        """
        if not 0 <= ttl <= 255:
            raise ValueError(f"a multicast TTL must be 0 to 255, not {ttl}")
        skt = self._requireSocket()
        if self._v6:
            skt.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        else:
            skt.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("B", ttl)
            )

    def joinGroup(self, addr: str, interface: str = "") -> defer.Deferred[None]:
        """
        Join the multicast group ``addr`` so its datagrams reach this port.

        :param addr: the group's IP literal, such as ``"239.1.2.3"``.
        :param interface: for IPv4, the IP literal of the interface to join
            on (``""`` lets the kernel choose); for IPv6, an interface name or
            index.
        :return: a ``Deferred`` that fires with ``None`` once joined, or fails
            with ``torsion.internet.error.MulticastJoinError``.
        """
        return self._membership(addr, interface, join=True)

    def leaveGroup(self, addr: str, interface: str = "") -> defer.Deferred[None]:
        """
        Leave a multicast group joined with ``joinGroup``.

        :param addr: the group's IP literal.
        :param interface: the interface given to ``joinGroup``.
        :return: a ``Deferred`` that fires with ``None`` once left, or fails
            with ``torsion.internet.error.MulticastJoinError``.
        """
        return self._membership(addr, interface, join=False)

    def _membership(
        self, addr: str, interface: str, join: bool
    ) -> defer.Deferred[None]:
        try:
            skt = self._requireSocket()
            if _addressFamily(addr) != self.addressFamily:
                raise InvalidAddressError(
                    addr, "not a group address of the port's family"
                )
            if self._v6:
                request = socket.inet_pton(socket.AF_INET6, addr) + struct.pack(
                    "@I", _interfaceIndex(interface)
                )
                option = socket.IPV6_JOIN_GROUP if join else socket.IPV6_LEAVE_GROUP
                skt.setsockopt(socket.IPPROTO_IPV6, option, request)
            else:
                localInterface = interface or "0.0.0.0"
                if _addressFamily(localInterface) != socket.AF_INET:
                    raise InvalidAddressError(
                        interface, "not an IPv4 interface address"
                    )
                request = socket.inet_aton(addr) + socket.inet_aton(localInterface)
                option = socket.IP_ADD_MEMBERSHIP if join else socket.IP_DROP_MEMBERSHIP
                skt.setsockopt(socket.IPPROTO_IP, option, request)
        except (OSError, ValueError) as e:
            return defer.fail(error.MulticastJoinError(addr, interface, e))
        return defer.succeed(None)


def _interfaceIndex(interface: str | int) -> int:
    """
    Turn an IPv6 interface designation into an index.

    :param interface: ``""`` or ``0`` for the default, an index, or a name
        such as ``"lo"``.
    :return: the index.
    :raises InvalidAddressError: if there is no such interface.
    """
    if isinstance(interface, int):
        return interface
    if interface == "":
        return 0
    if interface.isdigit():
        return int(interface)
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        raise InvalidAddressError(interface, "no such network interface")
