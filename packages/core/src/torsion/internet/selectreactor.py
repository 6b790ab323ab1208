"""
The select reactor, using ``select(2)``: the most portable, limited to
descriptors below ``FD_SETSIZE`` (usually 1024).

Install it before anything imports ``torsion.internet.reactor``::

    from torsion.internet import selectreactor
    selectreactor.install()
"""

from __future__ import annotations

import errno
import select
from typing import Any

from torsion.internet import error
from torsion.internet.interfaces import IReadDescriptor, IWriteDescriptor
from torsion.internet.posixbase import PosixReactorBase


class SelectReactor(PosixReactorBase):
    """
    A reactor using ``select(2)``.
    """

    def __init__(self) -> None:
        # Dicts keep insertion order and give O(1) membership.
        self._reads: dict[Any, None] = {}
        self._writes: dict[Any, None] = {}
        PosixReactorBase.__init__(self)

    def addReader(self, reader: IReadDescriptor) -> None:
        """
        Watch ``reader`` for readability.

        :param reader: the descriptor.
        """
        self._reads[reader] = None

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Watch ``writer`` for writability.

        :param writer: the descriptor.
        """
        self._writes[writer] = None

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Stop watching ``reader`` for readability.

        :param reader: the descriptor.
        """
        self._reads.pop(reader, None)

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Stop watching ``writer`` for writability.

        :param writer: the descriptor.
        """
        self._writes.pop(writer, None)

    def removeAll(self) -> list[Any]:
        """
        Stop watching everything but the reactor's own descriptors.

        :return: what was removed.
        """
        removed = dict.fromkeys(list(self._reads) + list(self._writes))
        for s in list(removed):
            if s in self._internalReaders:
                del removed[s]
                continue
            self._reads.pop(s, None)
            self._writes.pop(s, None)
        return list(removed)

    def getReaders(self) -> list[Any]:
        """
        :return: the descriptors watched for readability.
        """
        return [r for r in self._reads if r not in self._internalReaders]

    def getWriters(self) -> list[Any]:
        """
        :return: the descriptors watched for writability.
        """
        return list(self._writes)

    def _dropBadDescriptors(self) -> None:
        for selectable in list(self._reads) + list(self._writes):
            try:
                fd = selectable.fileno()
                if fd < 0:
                    raise ValueError(fd)
                select.select([fd], [fd], [fd], 0)
            except (OSError, ValueError):
                self._disconnectSelectable(
                    selectable, error.ConnectionFdescWentAway("bad descriptor"), False
                )

    def doIteration(self, timeout: float | None) -> None:
        """
        Wait up to ``timeout`` seconds for events and dispatch them.

        :param timeout: the longest wait; ``None`` waits until an event.
        """
        try:
            readable, writable, _ = select.select(
                list(self._reads), list(self._writes), [], timeout
            )
        except ValueError:
            self._dropBadDescriptors()
            return
        except OSError as e:
            if e.errno == errno.EINTR:
                return
            if e.errno == errno.EBADF:
                self._dropBadDescriptors()
                return
            raise
        for selectables, method, isRead in (
            (readable, "doRead", True),
            (writable, "doWrite", False),
        ):
            watched = self._reads if isRead else self._writes
            for selectable in selectables:
                # An earlier callback in this iteration may have removed it.
                if selectable not in watched:
                    continue
                try:
                    why = getattr(selectable, method)()
                except Exception:
                    why = self._logDispatchError(selectable)
                if why is not None:
                    self._disconnectSelectable(selectable, why, isRead)


def makeReactor() -> SelectReactor:
    """
    :return: a new select reactor, not installed.
    """
    return SelectReactor()


def install() -> SelectReactor:
    """
    Install a select reactor as the global ``torsion.internet.reactor``.

    :return: the reactor.
    :raises torsion.internet.error.ReactorAlreadyInstalledError: if one is.
    """
    from torsion.internet.main import installReactor

    reactor = SelectReactor()
    installReactor(reactor)
    return reactor


__all__ = ["SelectReactor", "install", "makeReactor"]
