"""
In-memory transports: ``StringTransport`` and friends.
"""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from typing import Literal

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.address import IPv4Address
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IAddress,
    IConsumer,
    IProducer,
    IProtocol,
    IPullProducer,
    IPushProducer,
    ITCPTransport,
)
from torsion.python.failure import Failure

__all__ = [
    "NonStreamingProducer",
    "StringTransport",
    "StringTransportWithDisconnection",
]

ProducerState = Literal["producing", "paused", "stopped"]


def _checkBytes(data: object, method: str) -> None:
    if isinstance(data, str):
        raise TypeError(
            f"{method} takes bytes, not str ({data[:20]!r}...): encode text first"
        )
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{method} takes bytes, not {type(data).__name__}")


@implementer(ITCPTransport, IConsumer, IPushProducer)
class StringTransport:
    """
    A transport that keeps everything written to it in memory, for testing
    protocols without a network.

    Bytes written are appended to ``io`` (a ``BytesIO``); ``value()`` returns
    them. ``loseConnection`` only records the request in ``disconnecting``;
    nothing calls ``connectionLost`` (see
    ``StringTransportWithDisconnection`` for that). When a protocol asks the
    transport to pause, resume or stop reading, ``producerState`` records
    it.

    :param hostAddress: what ``getHost`` returns; default
        ``IPv4Address("TCP", "10.0.0.1", 12345)``.
    :param peerAddress: what ``getPeer`` returns; default
        ``IPv4Address("TCP", "192.168.1.1", 54321)``.

    :ivar io: a ``BytesIO`` holding every byte written.
    :ivar disconnecting: ``True`` once ``loseConnection`` (or
        ``abortConnection``) was called.
    :ivar aborted: ``True`` once ``abortConnection`` was called.
    :ivar writeDisconnected: ``True`` once ``loseWriteConnection`` was called.
    :ivar producer: the producer registered with ``registerProducer``, or
        ``None``.
    :ivar streaming: whether that producer is a push (streaming) producer.
    :ivar producerState: ``"producing"``, ``"paused"`` or ``"stopped"``: what
        a protocol last asked of this transport as a producer.
    :ivar tcpNoDelay: the last value given to ``setTcpNoDelay``.
    :ivar tcpKeepAlive: the last value given to ``setTcpKeepAlive``.
    """

    disconnecting: bool = False
    aborted: bool = False
    writeDisconnected: bool = False

    def __init__(
        self,
        hostAddress: IAddress | None = None,
        peerAddress: IAddress | None = None,
    ) -> None:
        self.io = BytesIO()
        self.producer: IProducer | None = None
        self.streaming: bool | None = None
        self.producerState: ProducerState = "producing"
        self.tcpNoDelay = False
        self.tcpKeepAlive = False
        self.hostAddr: IAddress = (
            hostAddress
            if hostAddress is not None
            else IPv4Address("TCP", "10.0.0.1", 12345)
        )
        self.peerAddr: IAddress = (
            peerAddress
            if peerAddress is not None
            else IPv4Address("TCP", "192.168.1.1", 54321)
        )

    # Test helpers

    def value(self) -> bytes:
        """
        Return every byte written since creation or the last ``clear``.

        :return: the written bytes.
        """
        return self.io.getvalue()

    def clear(self) -> None:
        """
        Forget the bytes written so far.
        """
        self.io.seek(0)
        self.io.truncate()

    # ITransport

    def write(self, data: bytes) -> None:
        """
        Record ``data``.

        :param data: the bytes to send.
        :raises TypeError: if ``data`` is a ``str`` or not bytes-like.
        """
        if data.__class__ is not bytes:
            _checkBytes(data, "StringTransport.write")
        self.io.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """
        Record each item of ``data`` in turn.

        :param data: an iterable of bytes.
        :raises TypeError: if any item is a ``str``; nothing is written then.
        """
        items = list(data)
        for item in items:
            _checkBytes(item, "StringTransport.writeSequence")
        for item in items:
            self.io.write(item)

    def loseConnection(self) -> None:
        """
        Record that the protocol asked to close the connection.
        """
        self.disconnecting = True

    def abortConnection(self) -> None:
        """
        Record that the protocol asked to drop the connection at once.
        """
        self.aborted = True
        self.loseConnection()

    def loseWriteConnection(self) -> None:
        """
        Record a half-close: the protocol will write no more.
        """
        self.writeDisconnected = True

    def getPeer(self) -> IAddress:
        """
        :return: the remote address given at creation.
        """
        return self.peerAddr

    def getHost(self) -> IAddress:
        """
        :return: the local address given at creation.
        """
        return self.hostAddr

    def getTcpNoDelay(self) -> bool:
        """
        :return: the last value passed to ``setTcpNoDelay``.
        """
        return self.tcpNoDelay

    def setTcpNoDelay(self, enabled: bool) -> None:
        """
        :param enabled: whether Nagle's algorithm would be disabled.
        """
        self.tcpNoDelay = bool(enabled)

    def getTcpKeepAlive(self) -> bool:
        """
        :return: the last value passed to ``setTcpKeepAlive``.
        """
        return self.tcpKeepAlive

    def setTcpKeepAlive(self, enabled: bool) -> None:
        """
        :param enabled: whether keep-alive probes would be sent.
        """
        self.tcpKeepAlive = bool(enabled)

    # IConsumer

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """
        Register the producer that feeds this transport.

        :param producer: an ``IPushProducer`` (``streaming=True``) or
            ``IPullProducer``.
        :param streaming: whether ``producer`` is a push producer.
        :raises RuntimeError: if a producer is already registered.
        """
        if self.producer is not None:
            raise RuntimeError(
                f"Cannot register producer {producer!r}: "
                f"{self.producer!r} is already registered"
            )
        self.producer = producer
        self.streaming = streaming

    def unregisterProducer(self) -> None:
        """
        Forget the registered producer.

        :raises RuntimeError: if no producer is registered.
        """
        if self.producer is None:
            raise RuntimeError("Cannot unregister a producer: none is registered")
        self.producer = None
        self.streaming = None

    # IPushProducer

    def _checkState(self) -> None:
        if self.disconnecting:
            raise RuntimeError("Cannot pause or resume producing after loseConnection")
        if self.producerState == "stopped":
            raise RuntimeError("Cannot pause or resume a stopped producer")

    def pauseProducing(self) -> None:
        """
        Record that the protocol asked to stop reading for now.

        :raises RuntimeError: after ``loseConnection`` or ``stopProducing``.
        """
        self._checkState()
        self.producerState = "paused"

    def resumeProducing(self) -> None:
        """
        Record that the protocol asked to read again.

        :raises RuntimeError: after ``loseConnection`` or ``stopProducing``.
        """
        self._checkState()
        self.producerState = "producing"

    def stopProducing(self) -> None:
        """
        Record that the protocol asked to stop reading for good.
        """
        self.producerState = "stopped"


class StringTransportWithDisconnection(StringTransport):
    """
    A ``StringTransport`` whose ``loseConnection`` tells its protocol at once:
    the first call sets ``connected`` to ``False`` and calls
    ``protocol.connectionLost`` with a ``ConnectionDone`` failure.

    :ivar protocol: the protocol to notify; set it after creation.
    :ivar connected: ``True`` until the connection is lost.
    """

    protocol: IProtocol | None = None
    connected: bool = True

    def loseConnection(self) -> None:
        """
        Close the connection and tell ``protocol`` (once).
        """
        self.disconnecting = True
        if self.connected:
            self.connected = False
            if self.protocol is not None:
                self.protocol.connectionLost(
                    Failure(error.ConnectionDone("Connection closed cleanly."))
                )


@implementer(IPullProducer)
class NonStreamingProducer:
    """
    A pull producer that writes ``b"1"`` to ``b"9"`` to its consumer, one per
    ``resumeProducing``, then unregisters itself; for testing consumers'
    handling of pull producers.

    :param consumer: the ``IConsumer`` to write to.

    :ivar counter: how many times ``resumeProducing`` was called.
    :ivar stopped: ``True`` once ``stopProducing`` was called.
    :ivar result: a ``Deferred`` firing with ``None`` when the producer is
        done (finished or stopped).
    """

    #: How many values are written before the producer finishes.
    COUNT = 9

    def __init__(self, consumer: IConsumer) -> None:
        self.consumer: IConsumer | None = consumer
        self.counter = 0
        self.stopped = False
        self.result: Deferred[None] = Deferred()

    def resumeProducing(self) -> None:
        """
        Write the next value, or unregister once all were written.

        :raises RuntimeError: if called after the producer finished.
        """
        if self.consumer is None:
            raise RuntimeError("NonStreamingProducer already finished")
        self.counter += 1
        if self.counter <= self.COUNT:
            self.consumer.write(b"%d" % self.counter)
        else:
            consumer, self.consumer = self.consumer, None
            consumer.unregisterProducer()
            self._done()

    def stopProducing(self) -> None:
        """
        Stop for good.
        """
        self.stopped = True
        self.consumer = None
        self._done()

    def _done(self) -> None:
        if not self.result.called:
            self.result.callback(None)
