"""
Unix domain stream sockets: ``Port`` (listening), ``Server``, ``Client`` and
``Connector``, with descriptor passing (``sendFileDescriptor`` /
``fileDescriptorReceived``) and peer credentials.

Use them through the reactor: ``reactor.listenUNIX`` and
``reactor.connectUNIX``.  An address starting with ``"\\0"`` names a socket in
Linux's abstract namespace: no file is created.
"""

from __future__ import annotations

import array
import errno
import os
import socket
import stat
import struct
from collections import deque
from typing import Any

from zope.interface import implementer

from torsion.internet import error, tcp
from torsion.internet.address import UNIXAddress
from torsion.internet.interfaces import (
    IFileDescriptorReceiver,
    IListeningPort,
    IProtocolFactory,
    ISystemHandle,
    IUNIXTransport,
)
from torsion.python import log
from torsion.python.failure import Failure

#: The most descriptors accepted with one read; extra ones are closed.
MAX_FDS_PER_READ = 64

_CMSG_SPACE = socket.CMSG_SPACE(MAX_FDS_PER_READ * array.array("i").itemsize)


def _isAbstract(address: str | bytes) -> bool:
    return address[:1] in ("\0", b"\0")


def _pathBytes(address: str | bytes | None) -> bytes | None:
    if address is None:
        return None
    if isinstance(address, str):
        return os.fsencode(address)
    return address


def _processAlive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _readLock(lockPath: str) -> int | None:
    try:
        with open(lockPath) as f:
            return int(f.read().strip() or "0") or None
    except (OSError, ValueError):
        return None


def isLocked(lockPath: str) -> bool:
    """
    Tell whether a live process holds the lock file ``lockPath``.

    :param lockPath: the lock file's path (the socket path + ``".lock"``).
    :return: ``True`` if it names a running process.
    """
    pid = _readLock(lockPath)
    return pid is not None and _processAlive(pid)


class _UNIXConnectionMixin:
    """
    Descriptor passing and credentials, shared by ``Server`` and ``Client``.
    """

    socket: Any
    protocol: Any
    _sendmsgQueue: deque[int]

    def doRead(self) -> Any:
        """
        Read data and any descriptors sent with it.

        :return: ``None`` or why the connection ended.
        """
        return self._doReadUNIX()

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        """
        Send ``data``, with queued descriptors attached.

        :param data: the bytes.
        :return: the count sent, or ``ConnectionLost``.
        """
        if self._sendmsgQueue:
            return self._writeWithDescriptors(data)
        sent: int | BaseException = super().writeSomeData(data)  # type: ignore[misc]
        return sent

    def writeSomeBuffers(
        self, buffers: deque[bytes | memoryview]
    ) -> int | BaseException:
        """
        Send buffered data, with queued descriptors attached.

        :param buffers: the buffered chunks.
        :return: the count sent, or ``ConnectionLost``.
        """
        if self._sendmsgQueue:
            return self._writeWithDescriptors(buffers[0])
        sent: int | BaseException = super().writeSomeBuffers(buffers)  # type: ignore[misc]
        return sent

    def sendFileDescriptor(self, descriptor: int) -> None:
        """
        Send a copy of ``descriptor`` to the peer along with the next bytes
        written (at least one byte must follow).  The caller keeps its copy.

        :param descriptor: an open descriptor.
        """
        self._sendmsgQueue.append(descriptor)

    def getPeerCredentials(self) -> tuple[int, int, int]:
        """
        Ask the kernel who the peer is (``SO_PEERCRED``, Linux).

        :return: ``(pid, uid, gid)`` of the peer process at connect time.
        """
        size = struct.calcsize("3i")
        raw = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size)
        pid, uid, gid = struct.unpack("3i", raw)
        return pid, uid, gid

    def _writeWithDescriptors(self, data: bytes | memoryview) -> int | BaseException:
        queue = self._sendmsgQueue
        sent = 0
        view = memoryview(data)
        try:
            while queue and sent < len(view):
                fd = queue[0]
                n: int = self.socket.sendmsg(
                    [view[sent : sent + 1]],
                    [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))],
                )
                queue.popleft()
                sent += n
            if sent < len(view):
                sent += self.socket.send(view[sent:])
        except BlockingIOError:
            return sent
        except OSError as e:
            return error.ConnectionLost(e.strerror or str(e))
        return sent

    def _doReadUNIX(self) -> Any:
        try:
            data, ancillary, flags, _ = self.socket.recvmsg(
                tcp.READ_SIZE, _CMSG_SPACE, socket.MSG_CMSG_CLOEXEC
            )
        except BlockingIOError:
            return None
        except OSError as e:
            return error.ConnectionLost(e.strerror or str(e))
        received: list[int] = []
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
                received.extend(fds)
        if received:
            if IFileDescriptorReceiver.providedBy(self.protocol):
                for fd in received:
                    self.protocol.fileDescriptorReceived(fd)
            else:
                for fd in received:
                    os.close(fd)
                log.msg(
                    f"{type(self.protocol).__name__} does not accept descriptors; "
                    f"closed {len(received)} received"
                )
        if flags & socket.MSG_CTRUNC:
            log.msg("descriptors were dropped by the kernel (too many in one read)")
        if data:
            self.protocol.dataReceived(data)
            return None
        return self._readEOF()  # type: ignore[attr-defined]


@implementer(IUNIXTransport, ISystemHandle)
class Server(_UNIXConnectionMixin, tcp.Server):
    """
    An accepted Unix socket connection.
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
        :param skt: the accepted socket.
        :param protocol: its protocol.
        :param client: the peer's address (usually empty for Unix sockets).
        :param server: the accepting port.
        :param sessionno: a connection number.
        :param reactor: the reactor.
        """
        self._sendmsgQueue = deque()
        tcp.Server.__init__(self, skt, protocol, client, server, sessionno, reactor)
        self.hostname = "unix"
        self.logstr = f"{tcp._protocolName(protocol)},{sessionno},unix"

    def __repr__(self) -> str:
        where = self.server.port if self.server is not None else "?"
        return f"<{type(self.protocol).__name__} #{self.sessionno} on {where!r}>"

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """
        :return: the listening socket's address.
        """
        return UNIXAddress(_pathBytes(self.socket.getsockname()) or None)

    def getPeer(self) -> UNIXAddress:  # type: ignore[override]
        """
        :return: the peer's address (``UNIXAddress(None)`` for an unbound
            client).
        """
        return UNIXAddress(_pathBytes(self.client) or None)

    @classmethod
    def _fromConnectedSocket(  # type: ignore[override]
        cls, fileDescriptor: int, factory: IProtocolFactory, reactor: Any
    ) -> Server | None:
        skt = socket.fromfd(fileDescriptor, socket.AF_UNIX, socket.SOCK_STREAM)
        skt.setblocking(False)
        peer = skt.getpeername()
        protocol = factory.buildProtocol(UNIXAddress(_pathBytes(peer) or None))
        if protocol is None:
            skt.close()
            return None
        transport = cls(skt, protocol, peer, None, 0, reactor)
        protocol.makeConnection(transport)
        return transport


@implementer(IListeningPort, ISystemHandle)
class Port(tcp.Port):
    """
    A listening Unix socket.

    :ivar port: the socket's path (the name mirrors ``tcp.Port``).
    :ivar mode: the socket file's permissions.
    :ivar wantPID: whether a ``.lock`` file with our process id is kept.
    """

    addressFamily = socket.AF_UNIX
    transport = Server
    lockFile: str | None = None

    def __init__(
        self,
        fileName: str | bytes,
        factory: IProtocolFactory,
        backlog: int = 50,
        mode: int = 0o666,
        reactor: Any = None,
        wantPID: bool = False,
    ) -> None:
        """
        :param fileName: the socket's path, or ``"\\0name"``.
        :param factory: builds a protocol per connection.
        :param backlog: the listen queue length.
        :param mode: permissions of the socket file.
        :param reactor: the reactor.
        :param wantPID: keep a lock file holding our process id.
        """
        tcp.Port.__init__(self, 0, factory, backlog, "", reactor)
        self.addressFamily = socket.AF_UNIX
        self.port = os.fsdecode(fileName)
        self.mode = mode
        self.wantPID = wantPID

    def __repr__(self) -> str:
        state = "" if self.connected else " (not listening)"
        return f"<{tcp._protocolName(self.factory)} on {self.port!r}{state}>"

    def _bindAddress(self) -> tuple[Any, ...]:
        return (self.port,)

    def _takeLock(self) -> None:
        path = str(self.port)
        lockPath = path + ".lock"
        for _ in range(2):
            try:
                fd = os.open(lockPath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = _readLock(lockPath)
                if pid is not None and _processAlive(pid):
                    raise error.CannotListenError(
                        None,
                        path,
                        OSError(errno.EADDRINUSE, f"locked by process {pid}"),
                    ) from None
                # Left by a dead process: take over its lock and socket.
                try:
                    os.unlink(lockPath)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self.lockFile = lockPath
            try:
                if stat.S_ISSOCK(os.stat(path).st_mode):
                    os.unlink(path)
            except FileNotFoundError:
                pass
            return
        raise error.CannotListenError(
            None, path, OSError(errno.EADDRINUSE, "lock contention")
        )

    def _releaseLock(self) -> None:
        if self.lockFile is not None:
            try:
                os.unlink(self.lockFile)
            except OSError:
                pass
            self.lockFile = None

    def startListening(self) -> None:
        """
        Bind, set the socket file's mode and listen.

        :raises torsion.internet.error.CannotListenError: if binding fails or
            another live process holds the lock.
        """
        if self._preexistingSocket is None:
            abstract = _isAbstract(self.port)
            if self.wantPID and not abstract:
                self._takeLock()
            skt = self._createSocket()
            try:
                skt.bind(self.port)
                if not abstract:
                    os.chmod(self.port, self.mode)
                skt.listen(self.backlog)
            except OSError as e:
                skt.close()
                self._releaseLock()
                raise error.CannotListenError(None, self.port, e) from e
            self._preexistingSocket = skt
        tcp.Port.startListening(self)

    def _createSocket(self) -> socket.socket:
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def _setRealPortNumber(self, skt: socket.socket) -> None:
        self._realPortNumber = 0

    def _peerAddress(self, addr: Any) -> UNIXAddress:
        return UNIXAddress(_pathBytes(addr) or None)

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """
        :return: the socket's address.
        """
        return UNIXAddress(_pathBytes(self.port))

    def connectionLost(self, reason: Failure) -> None:
        """
        Close the socket, remove its file and lock, and stop the factory.

        :param reason: why.
        """
        wasListening = self.connected and not self.disconnected
        tcp.Port.connectionLost(self, reason)
        if wasListening and not _isAbstract(self.port) and self._ownsFile:
            try:
                os.unlink(self.port)
            except OSError:
                pass
        self._releaseLock()

    _ownsFile = True

    @classmethod
    def _fromListeningDescriptor(  # type: ignore[override]
        cls, reactor: Any, fd: int, factory: IProtocolFactory
    ) -> Port:
        skt = socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM)
        name = skt.getsockname()
        port = cls(name, factory, reactor=reactor)
        port._ownsFile = False
        port._preexistingSocket = skt
        port.startListening()
        return port


@implementer(IUNIXTransport, ISystemHandle)
class Client(_UNIXConnectionMixin, tcp.Client):
    """
    An outgoing Unix socket connection.
    """

    def __init__(
        self, filename: str, connector: Any, reactor: Any, checkPID: bool
    ) -> None:
        """
        :param filename: the socket's path, or ``"\\0name"``.
        :param connector: the connector to report to.
        :param reactor: the reactor.
        :param checkPID: fail unless a live process holds the lock file.
        """
        self._sendmsgQueue = deque()
        tcp.Connection.__init__(self, None, None, reactor)
        self.connector = connector
        self.addr = (filename, 0)
        self.bindAddress = None
        self.logstr = f"Uninitialized connection to {filename!r}"
        if checkPID and not _isAbstract(filename) and not isLocked(filename + ".lock"):
            self._failLater(
                error.BadFileError(
                    string=f"{filename!r} is not locked by a live process"
                )
            )
            return
        self._startConnecting(socket.AF_UNIX, filename)

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """
        :return: our address (usually unbound).
        """
        return UNIXAddress(_pathBytes(self.socket.getsockname()) or None)

    def getPeer(self) -> UNIXAddress:  # type: ignore[override]
        """
        :return: the listening socket's address.
        """
        return UNIXAddress(_pathBytes(self.addr[0]))


class Connector(tcp.BaseConnector):
    """
    Connects to a Unix socket.
    """

    def __init__(
        self,
        address: str,
        factory: Any,
        timeout: float | None,
        reactor: Any,
        checkPID: bool,
    ) -> None:
        """
        :param address: the socket's path, or ``"\\0name"``.
        :param factory: the ``ClientFactory``.
        :param timeout: seconds before failing with ``TimeoutError``.
        :param reactor: the reactor.
        :param checkPID: fail unless a live process holds the lock file.
        """
        tcp.BaseConnector.__init__(self, factory, timeout, reactor)
        self.address = os.fsdecode(address)
        self.checkPID = checkPID

    def _makeTransport(self) -> Client:
        return Client(self.address, self, self.reactor, self.checkPID)

    def getDestination(self) -> UNIXAddress:
        """
        :return: the socket's address.
        """
        return UNIXAddress(_pathBytes(self.address))


__all__ = ["MAX_FDS_PER_READ", "Client", "Connector", "Port", "Server", "isLocked"]
