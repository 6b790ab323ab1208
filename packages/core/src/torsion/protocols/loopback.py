"""
Connect two protocols to each other, in memory or over loopback TCP, and
learn when they are done.

``loopbackAsync(server, client)`` is for tests of a protocol pair that need
no network and no reactor: bytes written by one side are delivered to the
other synchronously, as soon as they are written, until both sides have
disconnected.  Producers are honoured: a pull producer is asked for more
each time the peer has taken what it wrote, and a push producer is paused
while the peer stops reading (``transport.pauseProducing()``) and more than
``_LoopbackTransport.HIGH_WATER`` bytes wait for it.

``loopbackTCP(server, client, reactor=reactor)`` does the same over a real
TCP connection on 127.0.0.1.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet import error, interfaces, protocol
from torsion.internet.defer import Deferred
from torsion.protocols import policies
from torsion.python.failure import Failure

__all__ = [
    "LoopbackQueue",
    "collapsingPumpPolicy",
    "identityPumpPolicy",
    "loopbackAsync",
    "loopbackTCP",
]


class LoopbackQueue:
    """
    The bytes one side wrote and the other has not received yet.

    ``get`` returns the next chunk, or None once the writer has closed and
    everything it wrote was taken.  A queue is true while ``get`` has
    something (bytes or the close) to return.
    """

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self.closed = False

    def put(self, data: bytes) -> None:
        """
        Queue ``data`` for the peer.

        :param data: the bytes written.
        """
        self._chunks.append(data)
        self._size += len(data)

    def get(self) -> bytes | None:
        """
        Take the next chunk.

        :return: bytes, or None when the writer closed.
        """
        if self._chunks:
            chunk = self._chunks.popleft()
            self._size -= len(chunk)
            return chunk
        return None

    def pending(self) -> int:
        """
        :return: how many bytes are queued.
        """
        return self._size

    def __bool__(self) -> bool:
        return bool(self._chunks)


PumpPolicy = Callable[[LoopbackQueue, Any], None]


def identityPumpPolicy(queue: LoopbackQueue, target: Any) -> None:
    """
    Deliver each queued chunk with its own ``dataReceived`` call, as written.

    :param queue: the bytes waiting for ``target``.
    :param target: the receiving protocol.
    """
    while queue:
        chunk = queue.get()
        if chunk is None:
            return
        target.dataReceived(chunk)


def collapsingPumpPolicy(queue: LoopbackQueue, target: Any) -> None:
    """
    Deliver everything queued in one ``dataReceived`` call.

    :param queue: the bytes waiting for ``target``.
    :param target: the receiving protocol.
    """
    chunks = []
    while queue:
        chunk = queue.get()
        if chunk is None:
            break
        chunks.append(chunk)
    if chunks:
        target.dataReceived(b"".join(chunks))


@implementer(interfaces.IAddress)
class _LoopbackAddress:
    """
    The address of either end of an in-memory connection.
    """

    def __repr__(self) -> str:
        return "<in-memory loopback>"


@implementer(interfaces.ITransport, interfaces.IConsumer, interfaces.IPushProducer)
class _LoopbackTransport:
    """
    One end of an in-memory connection; see ``loopbackAsync``.
    """

    # A paused reader lets this much wait before the writer's push producer
    # is paused in turn: bounded memory without stalling small exchanges.
    HIGH_WATER = 65536

    disconnecting = False
    connected = True
    producer: Any = None
    streaming = False
    readPaused = False
    _producerPaused = False

    def __init__(self, connection: _Loopback, outgoing: LoopbackQueue) -> None:
        self._connection = connection
        self._outgoing = outgoing
        self._address = _LoopbackAddress()

    def write(self, data: bytes) -> None:
        """
        Queue ``data`` for the peer and deliver it if nothing is running.

        :param data: the bytes to send.
        :raises TypeError: if ``data`` is not bytes.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"write takes bytes, not {type(data).__name__}")
        if self.disconnecting or not self.connected or not data:
            return
        self._outgoing.put(bytes(data))
        self._connection.pump()

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """
        Queue each item of ``data`` for the peer.

        :param data: an iterable of bytes.
        :raises TypeError: if an item is not bytes; nothing is sent then.
        """
        items = list(data)
        for item in items:
            if not isinstance(item, bytes | bytearray | memoryview):
                raise TypeError(f"writeSequence takes bytes, not {type(item).__name__}")
        self.write(b"".join(items))

    def loseConnection(self) -> None:
        """
        Close once the peer has received everything written.
        """
        if self.disconnecting:
            return
        self.disconnecting = True
        self._outgoing.closed = True
        self._connection.pump()

    def abortConnection(self) -> None:
        """
        Close at once, dropping what the peer has not received.
        """
        self.disconnecting = True
        self._connection.abort()

    def getPeer(self) -> interfaces.IAddress:
        """
        :return: an in-memory address.
        """
        return self._address

    def getHost(self) -> interfaces.IAddress:
        """
        :return: an in-memory address.
        """
        return self._address

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Register a producer of data for this transport.

        :param producer: an ``IPushProducer`` or ``IPullProducer``.
        :param streaming: whether it is a push producer.
        :raises RuntimeError: if a producer is already registered.
        """
        if self.producer is not None:
            raise RuntimeError("a producer is already registered")
        self.producer = producer
        self.streaming = streaming
        self._producerPaused = False
        if not self.connected:
            producer.stopProducing()
            return
        self._connection.pump()

    def unregisterProducer(self) -> None:
        """
        Forget the registered producer.
        """
        self.producer = None
        self.streaming = False

    def pauseProducing(self) -> None:
        """
        Stop delivering received data to this end's protocol.
        """
        self.readPaused = True

    def resumeProducing(self) -> None:
        """
        Deliver received data to this end's protocol again.
        """
        self.readPaused = False
        self._connection.pump()

    def stopProducing(self) -> None:
        """
        Stop reading for good: close the connection.
        """
        self.loseConnection()

    # Flow control, driven by the connection.

    def _throttle(self, peer: _LoopbackTransport) -> bool:
        """
        Pause or resume this end's push producer after the peer's reading
        state changed; ask a pull producer for more.  Return whether the
        producer wrote anything.
        """
        producer = self.producer
        if producer is None or not self.connected:
            return False
        backlog = self._outgoing.pending()
        if self.streaming:
            if peer.readPaused and backlog >= self.HIGH_WATER:
                if not self._producerPaused:
                    self._producerPaused = True
                    producer.pauseProducing()
            elif self._producerPaused and backlog < self.HIGH_WATER:
                self._producerPaused = False
                producer.resumeProducing()
            return False
        if backlog or self.disconnecting:
            return False
        before = self._outgoing.pending()
        producer.resumeProducing()
        return self._outgoing.pending() != before or self.producer is not producer


class _Loopback:
    """
    Two protocols, two transports, and the pump that moves bytes.
    """

    def __init__(self, server: Any, client: Any, pumpPolicy: PumpPolicy) -> None:
        self.server = server
        self.client = client
        self.pumpPolicy = pumpPolicy
        self.toClient = LoopbackQueue()
        self.toServer = LoopbackQueue()
        self.serverTransport = _LoopbackTransport(self, self.toClient)
        self.clientTransport = _LoopbackTransport(self, self.toServer)
        self.done: Deferred[None] = Deferred()
        self._pumping = False
        self._finished = False

    def start(self) -> None:
        self._pumping = True
        try:
            self.server.makeConnection(self.serverTransport)
            self.client.makeConnection(self.clientTransport)
        finally:
            self._pumping = False
        self.pump()

    def pump(self) -> None:
        """
        Move bytes until nothing moves; re-entrant calls are folded into
        the running loop.
        """
        if self._pumping or self._finished:
            return
        self._pumping = True
        try:
            while not self._finished and self._step():
                pass
        finally:
            self._pumping = False

    def _step(self) -> bool:
        moved = False
        for queue, transport, target in (
            (self.toServer, self.serverTransport, self.server),
            (self.toClient, self.clientTransport, self.client),
        ):
            if queue and not transport.readPaused:
                self.pumpPolicy(queue, target)
                moved = True
        if moved:
            return True
        for queue in (self.toServer, self.toClient):
            if queue.closed and not queue:
                self._finish(Failure(error.ConnectionDone("Connection done.")))
                return False
        serverMoved = self.serverTransport._throttle(self.clientTransport)
        clientMoved = self.clientTransport._throttle(self.serverTransport)
        return serverMoved or clientMoved

    def abort(self) -> None:
        self._finish(Failure(error.ConnectionAborted("Connection aborted.")))

    def _finish(self, reason: Failure) -> None:
        if self._finished:
            return
        self._finished = True
        for transport in (self.serverTransport, self.clientTransport):
            transport.connected = False
            transport.disconnecting = True
            producer = transport.producer
            if producer is not None:
                transport.producer = None
                producer.stopProducing()
        self.toServer = LoopbackQueue()
        self.toClient = LoopbackQueue()
        self.server.connectionLost(reason)
        self.client.connectionLost(reason)
        self.done.callback(None)


def loopbackAsync(
    server: Any, client: Any, pumpPolicy: PumpPolicy = identityPumpPolicy
) -> Deferred[None]:
    """
    Connect ``server`` and ``client`` in memory and let them talk.

    The server is connected first.  Bytes written by either side are
    delivered to the other at once, through ``pumpPolicy``.  When one side
    calls ``loseConnection``, the other receives everything written before,
    then both get ``connectionLost`` with ``ConnectionDone``;
    ``abortConnection`` drops undelivered bytes and reports
    ``ConnectionAborted``.

    :param server: the server-side protocol.
    :param client: the client-side protocol.
    :param pumpPolicy: called as ``pumpPolicy(queue, protocol)`` to deliver
        queued bytes; ``identityPumpPolicy`` (one ``dataReceived`` per write)
        or ``collapsingPumpPolicy`` (one per burst), or your own.
    :return: a Deferred firing with None once both sides are disconnected.
    """
    connection = _Loopback(server, client, pumpPolicy)
    connection.start()
    return connection.done


class _NotifyingWrapper(policies.ProtocolWrapper):
    """
    Tells its ``_NotifyingFactory`` when the connection is lost.
    """

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        policies.ProtocolWrapper.connectionLost(self, reason)
        factory: Any = self.factory
        if not factory.lost.called:
            factory.lost.callback(None)


class _NotifyingFactory(policies.WrappingFactory):
    """
    Serves one prebuilt protocol, and fires ``lost`` when it disconnects.
    """

    protocol = _NotifyingWrapper
    noisy = False

    def __init__(self, instance: Any, noisy: bool) -> None:
        policies.WrappingFactory.__init__(self, protocol.Factory())
        self.instance: Any = instance
        self.noisy = noisy
        self.lost: Deferred[None] = Deferred()
        self.failed: Deferred[None] = Deferred()

    def buildProtocol(self, addr: interfaces.IAddress) -> Any:
        instance, self.instance = self.instance, None
        if instance is None:
            return None
        return self.protocol(self, instance)

    def clientConnectionFailed(
        self, connector: interfaces.IConnector, reason: Failure
    ) -> None:
        self.failed.errback(reason)

    def clientConnectionLost(
        self, connector: interfaces.IConnector, reason: Failure
    ) -> None:
        pass

    def startedConnecting(self, connector: interfaces.IConnector) -> None:
        pass


def loopbackTCP(
    server: Any,
    client: Any,
    port: int = 0,
    noisy: bool = True,
    reactor: Any = None,
) -> Deferred[None]:
    """
    Connect ``server`` and ``client`` over a real TCP connection on
    127.0.0.1 and let them talk.

    Each protocol is used for one connection only, and sees a
    ``ProtocolWrapper`` around the real TCP transport as its transport.

    :param server: the server-side protocol.
    :param client: the client-side protocol.
    :param port: the port to listen on; 0 picks a free one.
    :param noisy: whether the factories log their start and stop.
    :param reactor: the reactor to use; the global reactor if None.
    :return: a Deferred firing with None once both sides are disconnected
        and the listening port is closed, or failing if the client could
        not connect.
    """
    if reactor is None:
        from torsion.internet import reactor as global_reactor

        reactor = global_reactor
    serverFactory = _NotifyingFactory(server, noisy)
    clientFactory = _NotifyingFactory(client, noisy)
    listening = reactor.listenTCP(port, serverFactory, interface="127.0.0.1")
    reactor.connectTCP("127.0.0.1", listening.getHost().port, clientFactory)
    result: Deferred[None] = Deferred()
    outcome: list[Failure | None] = []

    def settle(value: Failure | None) -> None:
        if outcome:
            return
        outcome.append(value)
        stopped = listening.stopListening()

        def report(_: object) -> None:
            if isinstance(value, Failure):
                result.errback(value)
            else:
                result.callback(None)

        if isinstance(stopped, Deferred):
            stopped.addBoth(report)
        else:
            report(None)

    waiting = [serverFactory.lost, clientFactory.lost]

    def sideLost(_: object) -> None:
        if all(d.called for d in waiting):
            settle(None)

    for lost in waiting:
        lost.addCallback(sideLost)
    clientFactory.failed.addErrback(settle)
    return result
