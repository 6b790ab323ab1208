"""
The poll reactor, using ``poll(2)``: portable across POSIX systems.

Install it before anything imports ``torsion.internet.reactor``::

    from torsion.internet import pollreactor
    pollreactor.install()
"""

from __future__ import annotations

import errno
import select
from typing import Any

from torsion.internet import error
from torsion.internet.interfaces import IReadDescriptor, IWriteDescriptor
from torsion.internet.posixbase import PosixReactorBase

_IN = select.POLLIN
_OUT = select.POLLOUT
_INOUT = _IN | _OUT
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


class PollReactor(PosixReactorBase):
    """
    A reactor using ``poll(2)``.
    """

    def __init__(self) -> None:
        self._poller = select.poll()
        self._reads: set[int] = set()
        self._writes: set[int] = set()
        self._selectables: dict[int, Any] = {}
        PosixReactorBase.__init__(self)

    def _fdOf(self, selectable: Any) -> int:
        fd: int = selectable.fileno()
        if fd == -1 or self._selectables.get(fd) is not selectable:
            for candidate, obj in self._selectables.items():
                if obj is selectable:
                    return candidate
            return -1
        return fd

    def _update(self, fd: int) -> None:
        mask = (_IN if fd in self._reads else 0) | (_OUT if fd in self._writes else 0)
        if mask:
            self._poller.register(fd, mask)
        else:
            try:
                self._poller.unregister(fd)
            except KeyError:
                pass
            self._selectables.pop(fd, None)

    def addReader(self, reader: IReadDescriptor) -> None:
        """
        Watch ``reader`` for readability.

        :param reader: the descriptor.
        """
        fd = reader.fileno()
        if fd in self._reads:
            return
        self._reads.add(fd)
        self._selectables[fd] = reader
        self._update(fd)

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Watch ``writer`` for writability.

        :param writer: the descriptor.
        """
        fd = writer.fileno()
        if fd in self._writes:
            return
        self._writes.add(fd)
        self._selectables[fd] = writer
        self._update(fd)

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Stop watching ``reader`` for readability.

        :param reader: the descriptor.
        """
        fd = self._fdOf(reader)
        if fd in self._reads:
            self._reads.discard(fd)
            self._update(fd)

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Stop watching ``writer`` for writability.

        :param writer: the descriptor.
        """
        fd = self._fdOf(writer)
        if fd in self._writes:
            self._writes.discard(fd)
            self._update(fd)

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
            self._update(fd)
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

    def doIteration(self, timeout: float | None) -> None:
        """
        Wait up to ``timeout`` seconds for events and dispatch them.

        :param timeout: the longest wait; ``None`` waits until an event.
        """
        try:
            events = self._poller.poll(
                None if timeout is None else int(timeout * 1000 + 0.999)
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
                if event & select.POLLNVAL:
                    why = error.ConnectionFdescWentAway("invalid descriptor")
                else:
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


def makeReactor() -> PollReactor:
    """
    :return: a new poll reactor, not installed.
    """
    return PollReactor()


def install() -> PollReactor:
    """
    Install a poll reactor as the global ``torsion.internet.reactor``.

    :return: the reactor.
    :raises torsion.internet.error.ReactorAlreadyInstalledError: if one is.
    """
    from torsion.internet.main import installReactor

    reactor = PollReactor()
    installReactor(reactor)
    return reactor


__all__ = ["PollReactor", "install", "makeReactor"]
