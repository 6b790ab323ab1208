"""
The epoll reactor, the default on Linux.

Install it before anything imports ``torsion.internet.reactor``::

    from torsion.internet import epollreactor
    epollreactor.install()
"""

from __future__ import annotations

import errno
import select
from typing import Any

from torsion.internet.interfaces import IReadDescriptor, IWriteDescriptor
from torsion.internet.posixbase import PosixReactorBase

_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_INOUT = _IN | _OUT
_GONE = select.EPOLLHUP | select.EPOLLERR

#: The most events one ``epoll_wait`` returns.
MAX_EVENTS_PER_ITERATION = 1024


class EPollReactor(PosixReactorBase):
    """
    A reactor using Linux's ``epoll``: each iteration costs time in the
    number of ready descriptors, not the number watched.
    """

    def __init__(self) -> None:
        self._poller = select.epoll(MAX_EVENTS_PER_ITERATION)
        self._reads: set[int] = set()
        self._writes: set[int] = set()
        self._selectables: dict[int, Any] = {}
        PosixReactorBase.__init__(self)

    def _fdOf(self, selectable: Any) -> int:
        fd: int = selectable.fileno()
        if fd == -1 or self._selectables.get(fd) is not selectable:
            # Closed (or its number reused): find it by identity instead.
            for candidate, obj in self._selectables.items():
                if obj is selectable:
                    return candidate
            return -1
        return fd

    def addReader(self, reader: IReadDescriptor) -> None:
        """
        Watch ``reader`` for readability.

        :param reader: the descriptor.
        """
        fd = reader.fileno()
        if fd in self._reads:
            return
        if fd in self._writes:
            self._poller.modify(fd, _INOUT)
        else:
            self._poller.register(fd, _IN)
        self._selectables[fd] = reader
        self._reads.add(fd)

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Watch ``writer`` for writability.

        :param writer: the descriptor.
        """
        fd = writer.fileno()
        if fd in self._writes:
            return
        if fd in self._reads:
            self._poller.modify(fd, _INOUT)
        else:
            self._poller.register(fd, _OUT)
        self._selectables[fd] = writer
        self._writes.add(fd)

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Stop watching ``reader`` for readability.

        :param reader: the descriptor.
        """
        fd = self._fdOf(reader)
        if fd not in self._reads:
            return
        self._reads.discard(fd)
        try:
            if fd in self._writes:
                self._poller.modify(fd, _OUT)
            else:
                del self._selectables[fd]
                self._poller.unregister(fd)
        except OSError:
            pass

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Stop watching ``writer`` for writability.

        :param writer: the descriptor.
        """
        fd = self._fdOf(writer)
        if fd not in self._writes:
            return
        self._writes.discard(fd)
        try:
            if fd in self._reads:
                self._poller.modify(fd, _IN)
            else:
                del self._selectables[fd]
                self._poller.unregister(fd)
        except OSError:
            pass

    def removeAll(self) -> list[Any]:
        """
        Stop watching everything but the reactor's own descriptors.

        :return: what was removed.
        """
        removed = []
        for fd, selectable in list(self._selectables.items()):
            if selectable in self._internalReaders:
                continue
            removed.append(selectable)
            self._reads.discard(fd)
            self._writes.discard(fd)
            del self._selectables[fd]
            try:
                self._poller.unregister(fd)
            except OSError:
                pass
        return removed

    def getReaders(self) -> list[Any]:
        """
        :return: the descriptors watched for readability.
        """
        return [
            self._selectables[fd]
            for fd in self._reads
            if self._selectables[fd] not in self._internalReaders
        ]

    def getWriters(self) -> list[Any]:
        """
        :return: the descriptors watched for writability.
        """
        return [self._selectables[fd] for fd in self._writes]

    def _closePoller(self) -> None:
        self._poller.close()

    def doIteration(self, timeout: float | None) -> None:
        """
        Wait up to ``timeout`` seconds for events and dispatch them.

        :param timeout: the longest wait; ``None`` waits until an event.
        """
        try:
            events = self._poller.poll(
                -1 if timeout is None else timeout, MAX_EVENTS_PER_ITERATION
            )
        except OSError as e:
            if e.errno == errno.EINTR:
                return
            raise
        selectables = self._selectables
        writes = self._writes
        for fd, event in events:
            selectable: Any = selectables.get(fd)
            if selectable is None:
                continue
            why: Any = None
            isRead = False
            try:
                if event & _GONE and not event & _INOUT:
                    # An error or hang-up: the read (or write) call reports
                    # exactly what happened, e.g. ECONNREFUSED on a UDP socket.
                    event |= _IN if fd in self._reads else _OUT
                if event & _IN:
                    isRead = True
                    why = selectable.doRead()
                if (
                    why is None
                    and event & _OUT
                    and fd in writes
                    and selectables[fd] is selectable
                ):
                    isRead = False
                    why = selectable.doWrite()
            except Exception:
                why = self._logDispatchError(selectable)
            if why is not None:
                self._disconnectSelectable(selectable, why, isRead)


def makeReactor() -> EPollReactor:
    """
    :return: a new epoll reactor, not installed.
    """
    return EPollReactor()


def install() -> EPollReactor:
    """
    Install an epoll reactor as the global ``torsion.internet.reactor``.

    :return: the reactor.
    :raises torsion.internet.error.ReactorAlreadyInstalledError: if one is.
    """
    from torsion.internet.main import installReactor

    reactor = EPollReactor()
    installReactor(reactor)
    return reactor


__all__ = ["EPollReactor", "install", "makeReactor"]
