"""
Unix domain datagram sockets.

Ask the reactor for them::

    port = reactor.listenUNIXDatagram("/run/app/log.sock", LogReceiver())
    client = reactor.connectUNIXDatagram(
        "/run/app/log.sock", LogSender(), bindAddress="/run/app/client.sock"
    )

``listenUNIXDatagram`` binds a path and delivers each datagram to the
protocol's ``datagramReceived(data, senderPath)``; its transport writes with
``write(data, path)``. ``connectUNIXDatagram`` talks to one peer:
``write(data)`` sends to it, and a ``ConnectedDatagramProtocol`` receives
``datagramReceived(data)``. A peer that cannot be reached is reported to the
protocol's ``connectionFailed``.

A path starting with a NUL character names a socket in Linux's abstract
namespace, which leaves no file behind.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.address import UNIXAddress
from torsion.internet.interfaces import (
    IListeningPort,
    IReadDescriptor,
    ISystemHandle,
    IUNIXDatagramConnectedTransport,
    IUNIXDatagramTransport,
)
from torsion.internet.udp import Port as _UDPPort
from torsion.logger import Logger
from torsion.python import failure

__all__ = ["ConnectedDatagramPort", "DatagramPort"]

_log = Logger()

_DROP_ON_SEND = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})


def _pathText(path: str | bytes | None) -> str:
    return "" if path is None else os.fsdecode(path)


def _isAbstract(path: str | bytes) -> bool:
    return path[:1] in ("\0", b"\0")


@implementer(IListeningPort, IUNIXDatagramTransport, ISystemHandle, IReadDescriptor)
class DatagramPort(_UDPPort):
    """
    A Unix datagram socket bound to a path, and its protocol's transport.

    When the port stops listening, the socket file it created is removed.

    :ivar address: the path bound, or ``None`` for an unbound socket.
    :ivar mode: the permission bits given to the socket file.
    """

    def __init__(
        self,
        address: str | bytes | None,
        proto: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        reactor: Any = None,
    ) -> None:
        """
        :param address: the path to bind, or ``None`` for an unbound socket
            (which can send but not be replied to).
        :param proto: the ``DatagramProtocol`` to connect.
        :param maxPacketSize: the largest datagram read.
        :param mode: the permission bits of the socket file.
        :param reactor: the reactor to use.
        """
        super().__init__(0, proto, "", maxPacketSize, reactor)
        self.addressFamily = socket.AF_UNIX
        self.address = address
        self.mode = mode
        self._boundInode: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"<{type(self.protocol).__name__} on {self.address!r} (UNIX datagram)>"

    def logPrefix(self) -> str:
        """
        :return: the name used for this port in log messages.
        """
        return f"{type(self.protocol).__name__} (UNIX datagram)"

    def _bindSocket(self) -> None:
        try:
            skt = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        except OSError as e:
            raise error.CannotListenError(None, _pathText(self.address), e)
        address = self.address
        try:
            if address is not None:
                skt.bind(address)
                if not _isAbstract(address):
                    os.chmod(address, self.mode)
                    st = os.stat(address)
                    self._boundInode = (st.st_dev, st.st_ino)
        except OSError as e:
            skt.close()
            raise error.CannotListenError(None, _pathText(address), e)
        skt.setblocking(False)
        self.socket = skt
        self._fileno = skt.fileno()
        self.connected = True

    def doRead(self) -> None:
        """
        Read the waiting datagrams (up to ``maxDatagramsPerRead``) and hand
        each to the protocol.
        """
        skt = self.socket
        if skt is None:
            return
        recvfrom = skt.recvfrom
        size = self.maxPacketSize
        for _ in range(self.maxDatagramsPerRead):
            try:
                data, addr = recvfrom(size)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as e:
                if e.errno == errno.ECONNREFUSED:
                    self._refused()
                    continue
                _log.failure(
                    "Error reading from a Unix datagram socket", failure.Failure(e)
                )
                return
            try:
                self._deliver(data, addr)
            except Exception:
                _log.failure("Unhandled error in a datagram protocol")
            if self.disconnecting or self.socket is None:
                return

    def _deliver(self, data: bytes, addr: Any) -> None:
        self.protocol.datagramReceived(data, addr)

    def write(self, datagram: bytes, addr: Any = None) -> None:
        """
        Send one datagram to the socket at ``addr``.

        A datagram the receiver has no room for is dropped.

        :param datagram: the payload, ``bytes``.
        :param addr: the destination path.
        :raises TypeError: if ``datagram`` is not bytes.
        :raises ValueError: if ``addr`` is missing.
        :raises torsion.internet.error.MessageLengthError: if the datagram is
            too long.
        :raises OSError: if the destination does not exist or refuses.
        """
        if not isinstance(datagram, bytes | bytearray | memoryview):
            raise TypeError(
                "Unix datagram transport write() takes bytes, not "
                f"{type(datagram).__name__}"
            )
        if addr is None:
            raise ValueError("a destination path is needed")
        skt = self.socket
        if skt is None:
            return
        self._send(skt, datagram, addr)

    def _send(self, skt: socket.socket, datagram: Any, addr: Any) -> None:
        try:
            if addr is None:
                skt.send(datagram)
            else:
                skt.sendto(datagram, addr)
        except OSError as e:
            if e.errno == errno.EMSGSIZE:
                raise error.MessageLengthError(
                    f"a {len(datagram)}-byte datagram is too long to send"
                )
            if e.errno in _DROP_ON_SEND:
                return
            raise

    def connect(self, host: str, port: int) -> None:
        """
        Not supported: use ``reactor.connectUNIXDatagram``.

        :raises NotImplementedError: always.
        """
        raise NotImplementedError("use connectUNIXDatagram for a connected socket")

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """
        :return: the path the socket is bound to.
        """
        name = self._requireSocket().getsockname()
        return UNIXAddress(name or None)

    def setBroadcastAllowed(self, enabled: bool) -> None:
        """
        Not meaningful on Unix sockets.

        :raises NotImplementedError: always.
        """
        raise NotImplementedError("Unix sockets have no broadcast")

    def getBroadcastAllowed(self) -> bool:
        """
        :return: always ``False``.
        """
        return False

    def _afterClose(self) -> None:
        # Remove the file we created, but never one that replaced it since.
        address = self.address
        inode, self._boundInode = self._boundInode, None
        if address is None or inode is None:
            return
        try:
            st = os.stat(address)
        except OSError:
            return
        if stat.S_ISSOCK(st.st_mode) and (st.st_dev, st.st_ino) == inode:
            try:
                os.unlink(address)
            except OSError:
                pass


@implementer(
    IListeningPort, IUNIXDatagramConnectedTransport, ISystemHandle, IReadDescriptor
)
class ConnectedDatagramPort(DatagramPort):
    """
    A Unix datagram socket connected to one peer.

    :ivar remoteAddress: the peer's path.
    """

    def __init__(
        self,
        address: str | bytes,
        proto: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: str | bytes | None = None,
        reactor: Any = None,
    ) -> None:
        """
        :param address: the peer's path.
        :param proto: a ``ConnectedDatagramProtocol``.
        :param maxPacketSize: the largest datagram read.
        :param mode: the permission bits of the bound socket file.
        :param bindAddress: a local path to bind, so the peer can reply; or
            ``None``.
        :param reactor: the reactor to use.
        """
        super().__init__(bindAddress, proto, maxPacketSize, mode, reactor)
        self.remoteAddress = address

    def startListening(self) -> None:
        """
        Bind, connect to the peer and start the protocol.

        If the socket cannot be bound or connected, the protocol's
        ``connectionFailed`` is called with the reason instead.
        """
        try:
            self._bindSocket()
            assert self.socket is not None
            self.socket.connect(self.remoteAddress)
        except (OSError, error.CannotListenError) as e:
            reason = e if isinstance(e, error.CannotListenError) else None
            if reason is None:
                connectError: Exception = error.getConnectError(e)
            else:
                connectError = error.ConnectBindError(string=str(reason))
            self._closeAfterFailure()
            self.protocol.connectionFailed(failure.Failure(connectError))
            return
        try:
            self.protocol.makeConnection(self)
        except BaseException:
            self._abandonSocket()
            raise
        self.reactor.addReader(self)

    def _closeAfterFailure(self) -> None:
        self._abandonSocket()

    def _deliver(self, data: bytes, addr: Any) -> None:
        self.protocol.datagramReceived(data)

    def _refused(self) -> None:
        refused = getattr(self.protocol, "connectionRefused", None)
        if refused is not None:
            try:
                refused()
            except Exception:
                _log.failure("Unhandled error in a datagram protocol")

    def write(self, datagram: bytes, addr: Any = None) -> None:
        """
        Send one datagram to the peer.

        :param datagram: the payload, ``bytes``.
        :param addr: must be omitted.
        :raises TypeError: if ``datagram`` is not bytes.
        :raises torsion.internet.error.MessageLengthError: if the datagram is
            too long.
        """
        if not isinstance(datagram, bytes | bytearray | memoryview):
            raise TypeError(
                "Unix datagram transport write() takes bytes, not "
                f"{type(datagram).__name__}"
            )
        skt = self.socket
        if skt is None:
            return
        try:
            self._send(skt, datagram, None)
        except OSError as e:
            if e.errno in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTCONN):
                self._refused()
                return
            raise

    def getPeer(self) -> UNIXAddress:
        """
        :return: the peer's path.
        """
        return UNIXAddress(self.remoteAddress)

    def getDestination(self) -> UNIXAddress:
        """
        :return: the peer's path (as for a connector).
        """
        return self.getPeer()
