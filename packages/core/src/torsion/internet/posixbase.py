"""
``PosixReactorBase``: what the select, poll and epoll reactors share — the
waker, signal handling, descriptor dispatch, and the TCP, Unix socket, UDP
and process APIs.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet._signals import SignalHandling
from torsion.internet.base import DelayedCall, ReactorBase, _logPrefixOf
from torsion.internet.interfaces import (
    IConnector,
    IListeningPort,
    IProtocolFactory,
    IReactorFDSet,
    IReactorMulticast,
    IReactorProcess,
    IReactorSocket,
    IReactorSSL,
    IReactorTCP,
    IReactorUDP,
    IReactorUNIX,
    IReactorUNIXDatagram,
    IReadDescriptor,
    IWriteDescriptor,
    ProcessEnvironment,
)
from torsion.python import log
from torsion.python.failure import Failure


@implementer(IReadDescriptor)
class _Waker:
    """
    The read end of a pipe the reactor watches, so other threads and signal
    handlers can interrupt its wait.
    """

    disconnected = False

    def __init__(self, reactor: PosixReactorBase) -> None:
        self.reactor = reactor
        self.readFD, self.writeFD = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def fileno(self) -> int:
        return self.readFD

    def logPrefix(self) -> str:
        return "-waker-"

    def wakeUp(self) -> None:
        try:
            os.write(self.writeFD, b"x")
        except (BlockingIOError, OSError):
            # A full pipe already guarantees a wake-up; a closed one means
            # the reactor is gone.
            pass

    def doRead(self) -> None:
        try:
            while os.read(self.readFD, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def connectionLost(self, reason: Failure) -> None:
        self.close()

    def close(self) -> None:
        if not self.disconnected:
            self.disconnected = True
            for fd in (self.readFD, self.writeFD):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.readFD = self.writeFD = -1


class _TableFDSetMixin:
    """
    ``IReactorFDSet`` bookkeeping for reactors that keep the descriptors they
    watch in two dictionaries, ``_readers`` and ``_writers`` (descriptor to
    whatever handle the underlying event loop gave for it), as the reactors
    driven by a foreign loop (asyncio, Qt, GLib) do.  The reactor supplies
    ``removeReader`` and ``removeWriter``.
    """

    _readers: dict[Any, Any]
    _writers: dict[Any, Any]
    _internalReaders: Any

    def removeReader(self, reader: IReadDescriptor) -> None:
        raise NotImplementedError

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        raise NotImplementedError

    def removeAll(self) -> list[IReadDescriptor | IWriteDescriptor]:
        """
        Stop watching everything but the reactor's own descriptors.

        :return: what was removed.
        """
        removed: list[Any] = []
        for reader in list(self._readers):
            if reader in self._internalReaders:
                continue
            self.removeReader(reader)
            removed.append(reader)
        for writer in list(self._writers):
            self.removeWriter(writer)
            if writer not in removed:
                removed.append(writer)
        return removed

    def getReaders(self) -> list[IReadDescriptor]:
        """
        :return: the descriptors watched for readability.
        """
        return [r for r in self._readers if r not in self._internalReaders]

    def getWriters(self) -> list[IWriteDescriptor]:
        """
        :return: the descriptors watched for writability.
        """
        return list(self._writers)


class _ForeignTimerMixin:
    """
    For reactors driven by another library's loop (GLib, Qt): every new or
    sooner-moved ``DelayedCall`` re-arms that loop's single timer through
    ``_scheduleTick(when)``, which the reactor defines.
    """

    def _scheduleTick(self, when: float) -> None:
        raise NotImplementedError

    def callLater(
        self, delay: float, callable: Any, *args: Any, **kw: Any
    ) -> DelayedCall:
        """
        Call ``callable(*args, **kw)`` after ``delay`` seconds.

        :param delay: seconds to wait, at least ``0``.
        :param callable: what to call.
        :return: a ``DelayedCall``.
        :raises ValueError: if ``delay`` is negative.
        """
        dc: DelayedCall = super().callLater(  # type: ignore[misc]
            delay, callable, *args, **kw
        )
        self._scheduleTick(dc.time)
        return dc

    def _moveCallLaterSooner(self, dc: DelayedCall) -> None:
        super()._moveCallLaterSooner(dc)  # type: ignore[misc]
        self._scheduleTick(dc.getTime())


class _HandleFDSetMixin(_TableFDSetMixin):
    """
    ``_TableFDSetMixin`` for reactors whose ``_add(selectable, table, isRead)``
    and ``_remove(selectable, table)`` register one watch per descriptor
    and direction with the foreign loop.
    """

    def _add(self, selectable: Any, registered: dict[Any, Any], isRead: bool) -> None:
        raise NotImplementedError

    def _remove(self, selectable: Any, registered: dict[Any, Any]) -> None:
        raise NotImplementedError

    def addReader(self, reader: IReadDescriptor) -> None:
        """
        Watch ``reader`` for readability.

        :param reader: the descriptor.
        """
        self._add(reader, self._readers, True)

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Watch ``writer`` for writability.

        :param writer: the descriptor.
        """
        self._add(writer, self._writers, False)

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Stop watching ``reader`` for readability.

        :param reader: the descriptor.
        """
        self._remove(reader, self._readers)

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Stop watching ``writer`` for writability.

        :param writer: the descriptor.
        """
        self._remove(writer, self._writers)


@implementer(
    IReactorFDSet,
    IReactorTCP,
    IReactorUNIX,
    IReactorUNIXDatagram,
    IReactorUDP,
    IReactorMulticast,
    IReactorSocket,
    IReactorProcess,
    IReactorSSL,
)
class PosixReactorBase(ReactorBase):
    """
    The base of the POSIX reactors.  A subclass provides ``doIteration``,
    ``addReader``, ``addWriter``, ``removeReader``, ``removeWriter``,
    ``removeAll``, ``getReaders`` and ``getWriters``.

    Extension points for other transports:

    - ``_registerChildReaper(reaper)``: ``reaper()`` runs in the reactor
      thread after every SIGCHLD (and once when registered); used by the
      process transport to collect exited children.
    - ``_internalReaders``: descriptors ``removeAll`` leaves alone.
    """

    def __init__(self) -> None:
        self._internalReaders: set[Any] = set()
        self._childReapers: list[Callable[[], object]] = []
        ReactorBase.__init__(self)
        self.waker = _Waker(self)
        self._signals = SignalHandling(self, self.waker.writeFD)
        self._internalReaders.add(self.waker)
        self.addReader(self.waker)

    # -- wake-up and signals -------------------------------------------

    def wakeUp(self) -> None:
        """
        Interrupt the reactor's wait; safe from any thread.
        """
        self.waker.wakeUp()

    def _handleSignals(self) -> None:
        self._signals.install()

    def _uninstallHandler(self) -> None:
        self._signals.uninstall()

    def _stopFromSignal(self, signum: int) -> None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        log.msg(f"Received {name}, shutting down.")
        if not self._stopped:
            self.stop()

    def _registerChildReaper(self, reaper: Callable[[], object]) -> None:
        """
        Run ``reaper()`` in the reactor thread after each SIGCHLD.

        Registering installs the SIGCHLD handler if the reactor's signal
        handlers are installed; ``reaper`` also runs once at the next
        iteration, for children that exited before.

        :param reaper: a callable collecting exited children without
            blocking (``os.waitpid(pid, os.WNOHANG)``).
        """
        if reaper not in self._childReapers:
            self._childReapers.append(reaper)
        if self._signals.installed:
            self._signals.installChildHandler()
        self.callLater(0, self._reapChildren)

    def _unregisterChildReaper(self, reaper: Callable[[], object]) -> None:
        """
        Stop running ``reaper`` on SIGCHLD.

        :param reaper: a callable given to ``_registerChildReaper``.
        """
        if reaper in self._childReapers:
            self._childReapers.remove(reaper)

    def _reapChildren(self) -> None:
        for reaper in list(self._childReapers):
            try:
                reaper()
            except Exception:
                log.err(Failure(), "Error reaping children")

    # -- descriptor dispatch ----------------------------------------------

    def _disconnectSelectable(self, selectable: Any, why: object, isRead: bool) -> None:
        """
        Remove ``selectable`` from the reactor and call its
        ``connectionLost`` with ``why``.

        :param selectable: the descriptor.
        :param why: an exception, exception class or ``Failure``.
        :param isRead: whether the reason was found while reading.
        """
        self.removeReader(selectable)
        self.removeWriter(selectable)
        if isinstance(why, Failure):
            reason = why
        elif isinstance(why, type) and issubclass(why, BaseException):
            reason = Failure(why())
        elif isinstance(why, BaseException):
            reason = Failure(why)
        else:
            reason = Failure(error.ConnectionLost(repr(why)))
        try:
            selectable.connectionLost(reason)
        except Exception:
            log.err(Failure(), f"Error in connectionLost of {_logPrefixOf(selectable)}")

    def _logDispatchError(self, selectable: Any) -> Failure:
        f = Failure()
        log.err(f, f"Unhandled error in {_logPrefixOf(selectable)}; closing it")
        return f

    def disconnectAll(self) -> None:
        """
        Close every descriptor except the reactor's own; runs during
        shutdown.
        """
        for selectable in self.removeAll():
            self._disconnectSelectable(
                selectable, error.ConnectionLost("reactor shut down"), False
            )

    def _releaseResources(self) -> None:
        """
        Close every descriptor, the waker and the poller, and stop the thread
        pool.  For tests that throw a reactor away without running
        ``stop``.
        """
        self.disconnectAll()
        self._stopThreadPool()
        self._signals.uninstall()
        self.removeReader(self.waker)
        self._internalReaders.discard(self.waker)
        self.waker.close()
        self._closePoller()

    def _closePoller(self) -> None:
        """
        Close the polling object, if the subclass has one.
        """

    # -- abstract descriptor API (provided by subclasses) -------------------

    def addReader(self, reader: IReadDescriptor) -> None:
        """
        Watch ``reader`` for readability.

        :param reader: the descriptor.
        """
        raise NotImplementedError

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Watch ``writer`` for writability.

        :param writer: the descriptor.
        """
        raise NotImplementedError

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Stop watching ``reader`` for readability.

        :param reader: the descriptor.
        """
        raise NotImplementedError

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Stop watching ``writer`` for writability.

        :param writer: the descriptor.
        """
        raise NotImplementedError

    def removeAll(self) -> list[IReadDescriptor | IWriteDescriptor]:
        """
        Stop watching everything but the reactor's own descriptors.

        :return: what was removed.
        """
        raise NotImplementedError

    def getReaders(self) -> list[IReadDescriptor]:
        """
        :return: the descriptors watched for readability.
        """
        raise NotImplementedError

    def getWriters(self) -> list[IWriteDescriptor]:
        """
        :return: the descriptors watched for writability.
        """
        raise NotImplementedError

    # -- TCP -----------------------------------------------------------

    def listenTCP(
        self,
        port: int,
        factory: IProtocolFactory,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        """
        Accept TCP connections on ``port``.

        :param port: the port; ``0`` picks a free one (see ``getHost()``).
        :param factory: builds a protocol per connection.
        :param backlog: the listen queue length.
        :param interface: the address to bind; ``""`` for every IPv4
            address, ``"::"`` for every IPv6 address.
        :return: the listening ``tcp.Port``.
        :raises torsion.internet.error.CannotListenError: if binding fails.
        """
        from torsion.internet import tcp

        p = tcp.Port(port, factory, backlog, interface, self)
        p.startListening()
        return p

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: IProtocolFactory,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """
        Connect to ``host``:``port``; the outcome reaches ``factory``.

        :param host: an IPv4 or IPv6 address, or a host name resolved with
            ``nameResolver``.
        :param port: the port.
        :param factory: a ``ClientFactory``.
        :param timeout: seconds before failing with ``TimeoutError``.
        :param bindAddress: a local ``(host, port)`` to bind first.
        :return: the ``tcp.Connector``.
        """
        from torsion.internet import tcp

        c = tcp.Connector(host, port, factory, timeout, bindAddress, self)
        c.connect()
        return c

    # -- TLS -----------------------------------------------------------

    def listenSSL(
        self,
        port: int,
        factory: IProtocolFactory,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        """
        Accept TLS connections on ``port`` (TCP under a TLS layer).

        :param port: the port; ``0`` picks a free one.
        :param factory: builds the application protocol per connection.
        :param contextFactory: the server's TLS configuration, e.g.
            ``PrivateCertificate.options()`` or ``CertificateOptions``.
        :param backlog: the listen queue length.
        :param interface: the address to bind.
        :return: the listening port.
        """
        from torsion.protocols.tls import TLSMemoryBIOFactory

        tlsFactory = TLSMemoryBIOFactory(contextFactory, False, factory, clock=self)
        return self.listenTCP(port, tlsFactory, backlog, interface)

    def connectSSL(
        self,
        host: str,
        port: int,
        factory: IProtocolFactory,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """
        Open a TLS connection (TCP under a TLS layer).

        :param host: the host name or address.
        :param port: the port.
        :param factory: a ``ClientFactory`` for the application protocol.
        :param contextFactory: the client's TLS configuration; use
            ``optionsForClientTLS(host)`` so the server is verified.
        :param timeout: seconds to wait for the TCP connection.
        :param bindAddress: a local ``(host, port)`` to bind first.
        :return: the connector.
        """
        from torsion.protocols.tls import TLSMemoryBIOFactory

        tlsFactory = TLSMemoryBIOFactory(contextFactory, True, factory, clock=self)
        return self.connectTCP(host, port, tlsFactory, timeout, bindAddress)

    # -- Unix sockets ----------------------------------------------------

    def listenUNIX(
        self,
        address: str,
        factory: IProtocolFactory,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> IListeningPort:
        """
        Accept connections on a Unix socket.

        :param address: a path, or ``"\\0name"`` for the abstract namespace.
        :param factory: builds a protocol per connection.
        :param backlog: the listen queue length.
        :param mode: permissions of the socket file.
        :param wantPID: keep ``address + ".lock"`` holding our process id and
            replace a socket left behind by a dead process.
        :return: the listening ``unix.Port``.
        :raises torsion.internet.error.CannotListenError: if binding fails or
            a live process holds the lock.
        """
        from torsion.internet import unix

        p = unix.Port(address, factory, backlog, mode, self, wantPID)
        p.startListening()
        return p

    def connectUNIX(
        self,
        address: str,
        factory: IProtocolFactory,
        timeout: float = 30,
        checkPID: bool = False,
    ) -> IConnector:
        """
        Connect to a Unix socket.

        :param address: a path, or ``"\\0name"``.
        :param factory: a ``ClientFactory``.
        :param timeout: seconds before failing with ``TimeoutError``.
        :param checkPID: fail with ``BadFileError`` unless a live process
            holds ``address + ".lock"``.
        :return: the ``unix.Connector``.
        """
        from torsion.internet import unix

        c = unix.Connector(address, factory, timeout, self, checkPID)
        c.connect()
        return c

    def listenUNIXDatagram(
        self, address: str, protocol: Any, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> IListeningPort:
        """
        Receive datagrams on a Unix datagram socket (see ``unixdgram``).

        :param address: the path.
        :param protocol: a ``DatagramProtocol``.
        :param maxPacketSize: the largest datagram read.
        :param mode: permissions of the socket file.
        :return: the port.
        """
        from torsion.internet import unixdgram

        p: Any = unixdgram.DatagramPort(address, protocol, maxPacketSize, mode, self)
        p.startListening()
        result: IListeningPort = p
        return result

    def connectUNIXDatagram(
        self,
        address: str,
        protocol: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: str | None = None,
    ) -> IConnector:
        """
        Talk to one Unix datagram socket (see ``unixdgram``).

        :param address: the peer's path.
        :param protocol: a ``ConnectedDatagramProtocol``.
        :param maxPacketSize: the largest datagram read.
        :param mode: permissions of the bound socket file.
        :param bindAddress: a local path to bind.
        :return: the connected port.
        """
        from torsion.internet import unixdgram

        p: Any = unixdgram.ConnectedDatagramPort(
            address, protocol, maxPacketSize, mode, bindAddress, self
        )
        p.startListening()
        result: IConnector = p
        return result

    # -- UDP -------------------------------------------------------------

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> IListeningPort:
        """
        Receive UDP datagrams on ``port`` (see ``udp``).

        :param port: the port; ``0`` picks a free one.
        :param protocol: a ``DatagramProtocol``.
        :param interface: the address to bind.
        :param maxPacketSize: the largest datagram read.
        :return: the port, also the protocol's transport.
        """
        from torsion.internet import udp

        p: Any = udp.Port(port, protocol, interface, maxPacketSize, self)
        p.startListening()
        result: IListeningPort = p
        return result

    def listenMulticast(
        self,
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> IListeningPort:
        """
        Receive multicast datagrams on ``port`` (see ``udp``).

        :param port: the port.
        :param protocol: a ``DatagramProtocol``.
        :param interface: the address to bind.
        :param maxPacketSize: the largest datagram read.
        :param listenMultiple: let other sockets bind the same port.
        :return: the port.
        """
        from torsion.internet import udp

        p: Any = udp.MulticastPort(
            port, protocol, interface, maxPacketSize, self, listenMultiple
        )
        p.startListening()
        result: IListeningPort = p
        return result

    # -- adopting sockets ------------------------------------------------

    def adoptStreamPort(
        self, fileDescriptor: int, addressFamily: int, factory: IProtocolFactory
    ) -> IListeningPort:
        """
        Accept connections on an already listening socket (for example one
        inherited from systemd).  The descriptor is duplicated: close yours.

        :param fileDescriptor: the listening socket.
        :param addressFamily: ``AF_INET``, ``AF_INET6`` or ``AF_UNIX``.
        :param factory: builds a protocol per connection.
        :return: the port.
        :raises torsion.internet.error.UnsupportedAddressFamily: otherwise.
        """
        if addressFamily in (socket.AF_INET, socket.AF_INET6):
            from torsion.internet import tcp

            return tcp.Port._fromListeningDescriptor(
                self, fileDescriptor, addressFamily, factory
            )
        if addressFamily == socket.AF_UNIX:
            from torsion.internet import unix

            return unix.Port._fromListeningDescriptor(self, fileDescriptor, factory)
        raise error.UnsupportedAddressFamily(addressFamily)

    def adoptStreamConnection(
        self, fileDescriptor: int, addressFamily: int, factory: IProtocolFactory
    ) -> None:
        """
        Serve an already connected socket with a protocol from ``factory``.
        The descriptor is duplicated: close yours.

        :param fileDescriptor: the connected socket.
        :param addressFamily: ``AF_INET``, ``AF_INET6`` or ``AF_UNIX``.
        :param factory: builds the protocol.
        :raises torsion.internet.error.UnsupportedAddressFamily: otherwise.
        """
        if addressFamily in (socket.AF_INET, socket.AF_INET6):
            from torsion.internet import tcp

            tcp.Server._fromConnectedSocket(
                fileDescriptor, addressFamily, factory, self
            )
        elif addressFamily == socket.AF_UNIX:
            from torsion.internet import unix

            unix.Server._fromConnectedSocket(fileDescriptor, factory, self)
        else:
            raise error.UnsupportedAddressFamily(addressFamily)

    def adoptDatagramPort(
        self,
        fileDescriptor: int,
        addressFamily: int,
        protocol: Any,
        maxPacketSize: int = 8192,
    ) -> IListeningPort:
        """
        Receive datagrams on an already bound socket (see ``udp``).  The
        descriptor is duplicated: close yours.

        :param fileDescriptor: the bound socket.
        :param addressFamily: ``AF_INET`` or ``AF_INET6``.
        :param protocol: a ``DatagramProtocol``.
        :param maxPacketSize: the largest datagram read.
        :return: the port.
        :raises torsion.internet.error.UnsupportedAddressFamily: otherwise.
        """
        if addressFamily not in (socket.AF_INET, socket.AF_INET6):
            raise error.UnsupportedAddressFamily(addressFamily)
        from torsion.internet import udp

        port: Any = udp.Port._fromListeningDescriptor(
            self, fileDescriptor, addressFamily, protocol, maxPacketSize=maxPacketSize
        )
        result: IListeningPort = port
        return result

    # -- processes -------------------------------------------------------

    def spawnProcess(
        self,
        processProtocol: Any,
        executable: bytes | str,
        args: Sequence[bytes | str],
        env: ProcessEnvironment | None = None,
        path: bytes | str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, int | str] | None = None,
    ) -> Any:
        """
        Start a child process (see ``process``).

        :param processProtocol: told about the child's output and exit.
        :param executable: the program.
        :param args: its arguments, ``args[0]`` included.
        :param env: its environment; ``None`` gives an empty one.
        :param path: its working directory.
        :param uid: a user id to switch to.
        :param gid: a group id to switch to.
        :param usePTY: run it on a pseudo-terminal.
        :param childFDs: the child's descriptor mapping.
        :return: the process transport.
        """
        import importlib

        process = importlib.import_module("torsion.internet.process")
        if usePTY:
            if childFDs is not None:
                raise ValueError("Using childFDs is not supported with usePTY=True.")
            return process.PTYProcess(
                self, executable, args, env, path, processProtocol, uid, gid, usePTY
            )
        return process.Process(
            self, executable, args, env, path, processProtocol, uid, gid, childFDs
        )


__all__ = ["PosixReactorBase"]
