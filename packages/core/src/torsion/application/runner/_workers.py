"""
``--workers N``: N processes serving the same listening sockets.

The main process builds the application like a single process would, but
while its ``privilegedStartService`` runs, ``ListenerCollector`` stands in
for the reactor's ``listenTCP``/``listenUNIX``/``adoptStreamPort``: it binds
and holds each listening socket instead of serving it.  It then runs the
worker processes under a ``ProcessMonitor`` (which restarts one that
dies); each worker is the same command line, started with the held sockets
as inherited descriptors 3, 4, ... and ``TORSION_WORKER_FDS`` naming them.
In a worker, ``InheritedListeners`` makes the same listen calls, in the
same order, adopt those descriptors.  The kernel spreads new connections
over the workers accepting on the shared socket.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.interfaces import IListeningPort

__all__ = ["InheritedListeners", "ListenerCollector", "startWorkers"]

#: The first descriptor number a worker finds its listening sockets at.
FIRST_WORKER_FD = 3

_PATCHED = ("listenTCP", "listenUNIX", "adoptStreamPort")


def _address(sock: socket.socket) -> Any:
    if sock.family == socket.AF_UNIX:
        name = sock.getsockname()
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        return UNIXAddress(name)
    host, port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        return IPv6Address("TCP", host, port)
    return IPv4Address("TCP", host, port)


@implementer(IListeningPort)
class _HeldPort:
    """
    A listening socket the main process holds for its workers.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self._address = _address(sock)

    def startListening(self) -> None:
        """
        Already listening.
        """

    def stopListening(self) -> None:
        """
        Close the socket.
        """
        self.socket.close()

    def getHost(self) -> Any:
        """
        :return: the bound address.
        """
        return self._address


class _ReactorPatch:
    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self._originals: dict[str, Any] = {}

    def __enter__(self) -> _ReactorPatch:
        for name in _PATCHED:
            if name in vars(self.reactor):
                self._originals[name] = vars(self.reactor)[name]
            setattr(self.reactor, name, getattr(self, name))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for name in _PATCHED:
            if name in self._originals:
                setattr(self.reactor, name, self._originals[name])
            else:
                delattr(self.reactor, name)

    def listenTCP(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def listenUNIX(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def adoptStreamPort(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class ListenerCollector(_ReactorPatch):
    """
    Within a ``with`` block, binds and holds the sockets the application
    asks the reactor to listen on, without serving them.

    :ivar ports: the held ports, in the order they were asked for.
    """

    def __init__(self, reactor: Any) -> None:
        """
        :param reactor: the reactor whose listen methods are replaced.
        """
        super().__init__(reactor)
        self.ports: list[_HeldPort] = []

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> _HeldPort:
        """
        Bind and listen on a TCP port.
        """
        family = socket.AF_INET6 if ":" in interface else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((interface, port))
            sock.listen(backlog)
        except OSError as e:
            sock.close()
            raise error.CannotListenError(interface, port, e)
        return self._hold(sock)

    def listenUNIX(
        self,
        address: str,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> _HeldPort:
        """
        Bind and listen on a Unix socket path.
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if (
                address
                and not address.startswith("\0")
                and os.path.exists(address)
                and stat.S_ISSOCK(os.stat(address).st_mode)
            ):
                os.unlink(address)
            sock.bind(address)
            if address and not address.startswith("\0"):
                os.chmod(address, mode)
            sock.listen(backlog)
        except OSError as e:
            sock.close()
            raise error.CannotListenError(None, address, e)
        return self._hold(sock)

    def adoptStreamPort(
        self, fileDescriptor: int, addressFamily: int, factory: Any
    ) -> _HeldPort:
        """
        Hold a duplicate of an already listening socket.
        """
        sock = socket.socket(fileno=os.dup(fileDescriptor))
        return self._hold(sock)

    def _hold(self, sock: socket.socket) -> _HeldPort:
        sock.set_inheritable(True)
        held = _HeldPort(sock)
        self.ports.append(held)
        return held

    def childFDs(self) -> dict[int, int | str]:
        """
        :return: the ``childFDs`` mapping giving a worker the sockets.
        """
        mapping: dict[int, int | str] = {0: "w", 1: "r", 2: "r"}
        for index, held in enumerate(self.ports):
            mapping[FIRST_WORKER_FD + index] = held.socket.fileno()
        return mapping

    def close(self) -> None:
        """
        Close every held socket.
        """
        for held in self.ports:
            held.stopListening()


class InheritedListeners(_ReactorPatch):
    """
    Within a ``with`` block, serves the application's listen calls from
    inherited descriptors, in order.
    """

    def __init__(self, reactor: Any, descriptors: Sequence[int]) -> None:
        """
        :param reactor: the reactor whose listen methods are replaced.
        :param descriptors: the inherited listening sockets.
        """
        super().__init__(reactor)
        self._descriptors = list(descriptors)
        self._adopt = reactor.adoptStreamPort

    def _next(self, wanted: object) -> Any:
        if not self._descriptors:
            raise error.CannotListenError(
                None, str(wanted), OSError("no inherited socket left for this worker")
            )
        fd = self._descriptors.pop(0)
        probe = socket.socket(fileno=fd)
        family = probe.family
        probe.detach()
        try:
            return self._adopt(fd, family, self._factory)
        finally:
            os.close(fd)

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> Any:
        """
        Adopt the next inherited socket.
        """
        self._factory = factory
        return self._next(port)

    def listenUNIX(self, address: str, factory: Any, *args: Any, **kwargs: Any) -> Any:
        """
        Adopt the next inherited socket.
        """
        self._factory = factory
        return self._next(address)

    def adoptStreamPort(
        self, fileDescriptor: int, addressFamily: int, factory: Any
    ) -> Any:
        """
        Adopt the next inherited socket instead of ``fileDescriptor``.
        """
        self._factory = factory
        return self._next(fileDescriptor)


def startWorkers(
    reactor: Any,
    collector: ListenerCollector,
    count: int,
    argv: Sequence[str],
    shutdownTimeout: float,
    cwd: str | None = None,
) -> Any:
    """
    Build the ``ProcessMonitor`` running the workers.

    :param reactor: the reactor.
    :param collector: the held sockets.
    :param count: how many workers.
    :param argv: the command line to start each with.
    :param shutdownTimeout: a worker's grace period; SIGKILL comes after it.
    :param cwd: the workers' working directory (where the command was
        started, so relative paths in ``argv`` keep their meaning after
        ``--daemon`` moved the main process to ``/``).
    :return: the (not yet started) monitor.
    """
    from torsion.application.app import WORKER_FDS_ENV, WORKER_ID_ENV
    from torsion.runner.procmon import ProcessMonitor

    monitor = ProcessMonitor(reactor=reactor)
    monitor.killTime = shutdownTimeout + 5.0
    childFDs = collector.childFDs()
    fds = ",".join(str(fd) for fd in childFDs if isinstance(fd, int) and fd >= 3)
    for index in range(count):
        env = dict(os.environ)
        env[WORKER_FDS_ENV] = fds
        env[WORKER_ID_ENV] = str(index)
        monitor.addProcess(
            f"worker-{index}",
            [sys.executable, "-m", "torsion", *argv],
            env=env,
            cwd=cwd,
            childFDs=childFDs,
        )
    return monitor
