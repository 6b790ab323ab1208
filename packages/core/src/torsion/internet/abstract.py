"""
``FileDescriptor``: the base class of stream transports over a non-blocking
descriptor.  It buffers what cannot be sent at once, applies flow control to
a registered producer and is itself a push producer (pausing it stops
reading).

Subclasses provide ``fileno``, ``doRead``, ``writeSomeData`` (and optionally
``writeSomeBuffers``) and ``_closeWriteConnection``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.interfaces import (
    IConsumer,
    ILoggingContext,
    IProducer,
    IPushProducer,
    IReadWriteDescriptor,
    ITransport,
)
from torsion.python import log
from torsion.python.failure import Failure

#: Pause a registered streaming producer when more than this many bytes are
#: waiting to be sent.
HIGH_WATER_MARK = 64 * 1024

#: Resume a producer paused for flow control once the buffer drains below
#: this many bytes.
LOW_WATER_MARK = 16 * 1024


def _globalReactor() -> Any:
    import importlib

    return importlib.import_module("torsion.internet.reactor")


@implementer(
    IPushProducer, IReadWriteDescriptor, IConsumer, ITransport, ILoggingContext
)
class FileDescriptor:
    """
    A transport over a non-blocking descriptor.

    Writes are sent at once when nothing is buffered; what the kernel does
    not take is kept (without copying) and sent when the descriptor becomes
    writable.  A registered streaming producer is paused above
    ``highWaterMark`` buffered bytes and resumed below ``lowWaterMark``; a
    pull producer is asked for more whenever the buffer empties.

    :ivar connected: ``True`` while the connection is open.
    :ivar disconnecting: ``True`` once ``loseConnection`` was called.
    :ivar disconnected: ``True`` once ``connectionLost`` ran.
    :ivar highWaterMark: see ``HIGH_WATER_MARK``.
    :ivar lowWaterMark: see ``LOW_WATER_MARK``.
    :ivar producer: the registered producer, or ``None``.
    """

    connected = False
    disconnected = False
    disconnecting = False
    _writeDisconnecting = False
    _writeDisconnected = False
    _aborting = False
    producer: Any = None
    streamingProducer = False
    producerPaused = False
    highWaterMark = HIGH_WATER_MARK
    lowWaterMark = LOW_WATER_MARK
    _pendingError: BaseException | None = None

    def __init__(self, reactor: Any = None) -> None:
        """
        :param reactor: the reactor watching this descriptor; ``None`` means
            the global one.
        """
        if reactor is None:
            reactor = _globalReactor()
        self.reactor = reactor
        # The send buffer exists only while data waits to be sent: an idle
        # connection does not keep an empty deque (760 bytes) around.
        self._buffer: deque[bytes | memoryview] | tuple[()] = ()
        self._bufferSize = 0

    # -- to be provided by subclasses ------------------------------------

    def fileno(self) -> int:
        """
        :return: the descriptor, ``-1`` once closed.
        """
        return -1

    def doRead(self) -> Any:
        """
        Read what is available; provided by subclasses.

        :return: ``None`` or a reason to disconnect.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement doRead")

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        """
        Send as much of ``data`` as possible without waiting; provided by
        subclasses.

        :param data: the bytes.
        :return: how many bytes were sent, or an exception on a fatal error.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement writeSomeData")

    def writeSomeBuffers(
        self, buffers: deque[bytes | memoryview]
    ) -> int | BaseException:
        """
        Send from the start of ``buffers`` without waiting; subclasses may
        send several at once (``sendmsg``).

        :param buffers: the buffered chunks, oldest first.
        :return: how many bytes were sent, or an exception on a fatal error.
        """
        return self.writeSomeData(buffers[0])

    def _closeWriteConnection(self) -> Any:
        """
        Shut down our writing side (``loseWriteConnection``); subclasses
        override.

        :return: ``None``, or a reason to disconnect entirely.
        """
        return None

    def logPrefix(self) -> str:
        """
        :return: a short prefix for log lines about this descriptor.
        """
        return "-"

    def getHost(self) -> Any:
        """
        :return: our side's address; provided by subclasses.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement getHost")

    def getPeer(self) -> Any:
        """
        :return: the peer's address; provided by subclasses.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement getPeer")

    # -- reactor registration ----------------------------------------------

    def startReading(self) -> None:
        """
        Ask the reactor to call ``doRead`` when data arrives.
        """
        self.reactor.addReader(self)

    def stopReading(self) -> None:
        """
        Stop reading.
        """
        self.reactor.removeReader(self)

    def startWriting(self) -> None:
        """
        Ask the reactor to call ``doWrite`` when the descriptor is writable.
        """
        self.reactor.addWriter(self)

    def stopWriting(self) -> None:
        """
        Stop waiting for writability.
        """
        self.reactor.removeWriter(self)

    # -- writing -----------------------------------------------------------

    def write(self, data: bytes) -> None:
        """
        Send ``data`` to the peer; what cannot be sent now is buffered and
        sent in order.  Ignored once ``loseConnection`` was called.

        :param data: the bytes.
        :raises TypeError: if ``data`` is not bytes (a ``str`` is refused).
        """
        if type(data) is not bytes:
            if isinstance(data, bytes | bytearray | memoryview):
                data = bytes(data)
            else:
                hint = " (encode text first)" if isinstance(data, str) else ""
                raise TypeError(
                    f"{type(self).__name__}.write() takes bytes, "
                    f"not {type(data).__name__}{hint}"
                )
        if (
            not data
            or not self.connected
            or self.disconnecting
            or self._writeDisconnecting
            or self._writeDisconnected
        ):
            return
        buffer = self._buffer
        if not buffer:
            if self._pendingError is not None:
                return
            sent = self.writeSomeData(data)
            if isinstance(sent, int):
                if sent == len(data):
                    if self.producer is not None and not self.streamingProducer:
                        # A pull producer is asked for more from doWrite.
                        self.startWriting()
                    return
                chunk: bytes | memoryview = memoryview(data)[sent:] if sent else data
            else:
                # Reported through doWrite so the protocol is not told about
                # the lost connection in the middle of its own write() call.
                self._pendingError = sent
                self.startWriting()
                return
        else:
            chunk = data
        if not buffer:
            buffer = self._buffer = deque()
        buffer.append(chunk)
        self._bufferSize += len(chunk)
        if len(buffer) == 1:
            self.startWriting()
        self._maybePauseProducer()

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """
        Send each chunk of ``iovec`` in order.

        :param iovec: byte strings.
        :raises TypeError: if an element is not bytes.
        """
        chunks = list(iovec)
        for chunk in chunks:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(
                    f"{type(self).__name__}.writeSequence() takes bytes, "
                    f"not {type(chunk).__name__}"
                )
        if chunks:
            self.write(b"".join(chunks))

    def _maybePauseProducer(self) -> None:
        producer = self.producer
        if (
            producer is not None
            and self.streamingProducer
            and not self.producerPaused
            and self._bufferSize > self.highWaterMark
        ):
            self.producerPaused = True
            producer.pauseProducing()

    def doWrite(self) -> Any:
        """
        Send buffered data; called by the reactor when writable.

        :return: ``None``, or a reason to disconnect.
        """
        if self._pendingError is not None:
            return self._pendingError
        buffer = self._buffer
        if buffer:
            sent = self.writeSomeBuffers(buffer)
            if not isinstance(sent, int):
                return sent
            self._consume(sent)
        if not buffer:
            self._buffer = ()
            self.stopWriting()
            if (
                self.producer is not None
                and not self.disconnecting
                and (not self.streamingProducer or self.producerPaused)
            ):
                self.producerPaused = False
                self.producer.resumeProducing()
                if self._buffer:
                    return None
            if self.disconnecting:
                return self._postLoseConnection()
            if self._writeDisconnecting and not self._writeDisconnected:
                self._writeDisconnected = True
                return self._closeWriteConnection()
        elif self.producerPaused and self._bufferSize <= self.lowWaterMark:
            self.producerPaused = False
            self.producer.resumeProducing()
        return None

    def _consume(self, sent: int) -> None:
        self._bufferSize -= sent
        buffer = self._buffer
        assert isinstance(buffer, deque)
        while sent:
            head = buffer[0]
            size = len(head)
            if sent >= size:
                buffer.popleft()
                sent -= size
            else:
                buffer[0] = memoryview(head)[sent:]
                break

    def _postLoseConnection(self) -> BaseException:
        """
        :return: the reason given to ``connectionLost`` after a clean close.
        """
        return error.ConnectionDone()

    def getBufferSize(self) -> int:
        """
        :return: how many bytes are waiting to be sent.
        """
        return self._bufferSize

    # -- closing -----------------------------------------------------------

    def loseConnection(self) -> None:
        """
        Close the connection once everything written so far has been sent.
        Later writes are ignored.
        """
        if self.connected and not self.disconnecting:
            self.disconnecting = True
            self.stopReading()
            # doWrite notices the empty buffer and closes.
            self.startWriting()

    def loseWriteConnection(self) -> None:
        """
        Shut down our writing side once the buffer is sent, still reading
        what the peer sends.
        """
        if self.connected and not self._writeDisconnecting:
            self._writeDisconnecting = True
            self.startWriting()

    def abortConnection(self) -> None:
        """
        Close the connection at once, discarding buffered data; the protocol
        gets ``ConnectionAborted`` at the next reactor iteration.
        """
        if self.disconnected or self._aborting:
            return
        self._aborting = True
        self.disconnecting = True
        self.stopReading()
        self.stopWriting()
        self.reactor.callLater(
            0, self.connectionLost, Failure(error.ConnectionAborted())
        )

    def connectionLost(self, reason: Failure) -> None:
        """
        Release the descriptor's resources; the reactor calls this once when
        the connection ends.  Subclasses extend it to close the descriptor
        and tell the protocol.

        :param reason: why the connection ended.
        """
        self.disconnected = True
        self.connected = False
        self.stopReading()
        self.stopWriting()
        self._buffer = ()
        self._bufferSize = 0
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                producer.stopProducing()
            except Exception:
                log.err(Failure(), "Error stopping producer")

    # -- consumer ----------------------------------------------------------

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """
        Attach a producer that writes to this transport.

        :param producer: an ``IPushProducer`` (``streaming=True``), paused
            when the buffer passes ``highWaterMark``, or an
            ``IPullProducer`` (``streaming=False``), asked for more as the
            buffer drains.
        :param streaming: which kind ``producer`` is.
        :raises RuntimeError: if a producer is already registered.
        """
        if self.producer is not None:
            raise RuntimeError(
                f"Cannot register producer {producer!r}: "
                f"{self.producer!r} is already registered"
            )
        if self.disconnected:
            producer.stopProducing()
            return
        self.producer = producer
        self.streamingProducer = streaming
        self.producerPaused = False
        if not streaming:
            producer.resumeProducing()  # type: ignore[attr-defined]
        else:
            self._maybePauseProducer()

    def unregisterProducer(self) -> None:
        """
        Detach the producer.
        """
        self.producer = None
        self.producerPaused = False
        if self.connected and self.disconnecting:
            self.startWriting()

    # -- producer (flow control of what we read) ---------------------------

    def pauseProducing(self) -> None:
        """
        Stop reading from the peer (so it is slowed by TCP flow control).
        """
        self.stopReading()

    def resumeProducing(self) -> None:
        """
        Start reading from the peer again.
        """
        if self.connected and not self.disconnecting:
            self.startReading()

    def stopProducing(self) -> None:
        """
        Close the connection.
        """
        self.loseConnection()


__all__ = ["HIGH_WATER_MARK", "LOW_WATER_MARK", "FileDescriptor"]
