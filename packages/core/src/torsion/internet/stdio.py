"""
Run a protocol over the process's own standard input and output.

``StandardIO`` is a transport for any ``Protocol``: what arrives on standard
input is given to ``dataReceived``, and ``transport.write`` writes to standard
output. This turns a protocol into a command-line filter, or into the child
side of ``spawnProcess``::

    from torsion.internet import stdio
    from torsion.internet.protocol import Protocol

    class Shout(Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data.upper())

        def connectionLost(self, reason) -> None:
            reactor.stop()

    stdio.StandardIO(Shout(), reactor=reactor)
    reactor.run()

When standard input reaches end of file, a protocol providing
``IHalfCloseableProtocol`` gets ``readConnectionLost`` and may go on
writing; any other protocol's connection is closed (after pending output is
written) and ``connectionLost`` receives ``ConnectionDone``. If the reader
of standard output goes away, ``connectionLost`` receives ``ConnectionLost``.

The descriptors must be pipes, sockets or terminals (which the reactor can
watch), not regular files. They are made non-blocking while in use and put
back to blocking mode when closed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.interfaces import (
    IAddress,
    IConsumer,
    IHalfCloseableProtocol,
    IProducer,
    IPushProducer,
    ITransport,
)
from torsion.internet.process import _ChildReader, _ChildWriter
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = ["PipeAddress", "StandardIO"]

_log = Logger()


@implementer(IAddress)
class PipeAddress:
    """
    The address of either end of a ``StandardIO`` connection: pipes have no
    addresses of their own.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PipeAddress)

    def __hash__(self) -> int:
        return hash(PipeAddress)

    def __repr__(self) -> str:
        return "PipeAddress()"


class _StdioReader(_ChildReader):
    def close(self) -> None:
        if not self.closed:
            _restoreBlocking(self.fd)
        super().close()


class _StdioWriter(_ChildWriter):
    def close(self) -> None:
        if not self.closed:
            _restoreBlocking(self.fd)
        super().close()


def _restoreBlocking(fd: int) -> None:
    try:
        os.set_blocking(fd, True)
    except OSError:
        pass


@implementer(ITransport, IConsumer, IPushProducer)
class StandardIO:
    """
    A transport over a pair of descriptors, standard input and output by
    default.

    :ivar protocol: the protocol connected to the descriptors.
    :ivar reactor: the reactor watching them.
    :ivar disconnecting: ``True`` once ``loseConnection`` was called.
    :ivar disconnected: ``True`` once ``connectionLost`` was called.
    """

    def __init__(
        self, proto: Any, stdin: int = 0, stdout: int = 1, reactor: Any = None
    ) -> None:
        """
        :param proto: the ``Protocol`` to connect; its ``makeConnection`` is
            called at once.
        :param stdin: the descriptor to read.
        :param stdout: the descriptor to write.
        :param reactor: the reactor to use; the global one if omitted.
        """
        if reactor is None:
            import importlib

            reactor = importlib.import_module("torsion.internet.reactor")
        self.reactor = reactor
        self.protocol = proto
        self.disconnecting = False
        self.disconnected = False
        self._reason: Failure | None = None
        os.set_blocking(stdin, False)
        os.set_blocking(stdout, False)
        self._reader: _ChildReader | None = _StdioReader(self, stdin, 0)
        self._writer: _ChildWriter | None = _StdioWriter(self, stdout, 1)
        reactor.addReader(self._reader)
        try:
            isPipe = stat.S_ISFIFO(os.fstat(stdout).st_mode)
        except OSError:
            isPipe = False
        if isPipe:
            # A pipe's write end turns readable (an error) when its reader
            # goes away: notice that even while we have nothing to write.
            self._writer.startWatching()
        try:
            proto.makeConnection(self)
        except Exception:
            _log.failure("Unhandled error in a standard I/O protocol's connectionMade")

    # What the shared pipe descriptors call back

    def logPrefix(self) -> str:
        """
        :return: the name used for this connection in log messages.
        """
        return f"{type(self.protocol).__name__} (stdio)"

    def _childDataReceived(self, fd: int, data: bytes) -> None:
        try:
            self.protocol.dataReceived(data)
        except Exception:
            _log.failure("Unhandled error in a standard I/O protocol's dataReceived")
            self.loseConnection()

    def _childConnectionLost(self, fd: int, descriptor: object) -> None:
        if descriptor is self._reader:
            self._reader = None
            self._readConnectionLost()
        elif descriptor is self._writer and self._writer is not None:
            writer = self._writer
            self._writer = None
            if not writer.disconnecting and self._reason is None:
                # Closed under us, not by loseConnection: the reader of our
                # output went away.
                self._reason = Failure(error.ConnectionLost("standard output closed"))
            self._writeConnectionLost()
        self._maybeLost()

    def _readConnectionLost(self) -> None:
        if self.disconnecting or self.disconnected:
            return
        halfCloseable = IHalfCloseableProtocol(self.protocol, None)
        if halfCloseable is not None and self._writer is not None:
            try:
                halfCloseable.readConnectionLost()
            except Exception:
                _log.failure("Unhandled error in readConnectionLost")
                self.loseConnection()
        else:
            self.loseConnection()

    def _writeConnectionLost(self) -> None:
        if self._reader is None or self.disconnecting:
            return
        halfCloseable = IHalfCloseableProtocol(self.protocol, None)
        if halfCloseable is not None and self._reason is None:
            try:
                halfCloseable.writeConnectionLost()
            except Exception:
                _log.failure("Unhandled error in writeConnectionLost")
                self.loseConnection()
        else:
            self._reader.close()

    def _maybeLost(self) -> None:
        if self.disconnected or self._reader is not None or self._writer is not None:
            return
        self.disconnected = True
        reason = self._reason or Failure(error.ConnectionDone("standard I/O closed"))
        try:
            self.protocol.connectionLost(reason)
        except Exception:
            _log.failure("Unhandled error in a standard I/O protocol's connectionLost")

    # ITransport

    def write(self, data: bytes) -> None:
        """
        Write ``data`` to standard output; what does not fit now is buffered.

        Writing after ``loseConnection`` is ignored.

        :param data: the bytes.
        :raises TypeError: if ``data`` is not bytes.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(
                f"StandardIO.write() takes bytes, not {type(data).__name__}"
            )
        if self._writer is not None:
            self._writer.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """
        Write each element of ``data`` to standard output.

        :param data: the byte strings.
        """
        for chunk in data:
            self.write(chunk)

    def loseConnection(self) -> None:
        """
        Stop reading, write what is buffered, then close both descriptors;
        ``connectionLost`` follows.
        """
        if self.disconnecting:
            return
        self.disconnecting = True
        if self._reader is not None:
            self._reader.close()
        if self._writer is not None:
            self._writer.loseConnection()
        self._maybeLost()

    def loseWriteConnection(self) -> None:
        """
        Close standard output once buffered data is written; keep reading.
        """
        if self._writer is not None:
            self._writer.loseConnection()

    def closeStdin(self) -> None:
        """
        Stop reading standard input and close it.
        """
        if self._reader is not None:
            self._reader.close()

    def getPeer(self) -> PipeAddress:
        """
        :return: a ``PipeAddress``.
        """
        return PipeAddress()

    def getHost(self) -> PipeAddress:
        """
        :return: a ``PipeAddress``.
        """
        return PipeAddress()

    # IConsumer

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """
        Register a producer of data for standard output.

        A streaming producer is paused while much output waits to be
        written; a non-streaming one is asked for more when it drains.

        :param producer: the producer.
        :param streaming: whether it is a push (streaming) producer.
        :raises RuntimeError: if a producer is already registered.
        """
        writer = self._writer
        if writer is None:
            producer.stopProducing()
            return
        if writer.producer is not None:
            raise RuntimeError("a producer is already registered")
        writer.producer = producer
        writer.streamingProducer = streaming
        if not streaming:
            producer.resumeProducing()  # type: ignore[attr-defined]

    def unregisterProducer(self) -> None:
        """
        Forget the registered producer.
        """
        if self._writer is not None:
            self._writer.producer = None

    # IPushProducer

    def pauseProducing(self) -> None:
        """
        Stop reading standard input for now.
        """
        if self._reader is not None:
            self.reactor.removeReader(self._reader)

    def resumeProducing(self) -> None:
        """
        Read standard input again.
        """
        if self._reader is not None:
            self.reactor.addReader(self._reader)

    def stopProducing(self) -> None:
        """
        Close the connection.
        """
        self.loseConnection()
