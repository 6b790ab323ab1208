"""
Run by ``test_tcp.test_proxyFlowControl`` in a child process (so its peak
memory is its own): streams ``total`` bytes from a fast source through a small
relaying proxy to a slow sink, all on one reactor, and prints the bytes
delivered, the growth of peak memory and the largest write buffer seen.

Usage: ``python _proxystream.py REACTOR_NAME TOTAL_BYTES``
"""

import resource
import sys

from torsion.internet import main, protocol
from torsion.internet.defer import Deferred
from torsion.python.failure import Failure

reactorName, total = sys.argv[1], int(sys.argv[2])
reactor = main.makeReactor(reactorName)
CHUNK = b"x" * 65536
state = {"maxBuffered": 0}


class Source(protocol.Protocol):
    """Writes ``total`` bytes as fast as the transport lets it."""

    def connectionMade(self) -> None:
        self.sent = 0
        self.paused = False
        self.transport.registerProducer(self, True)
        self.resumeProducing()

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        while not self.paused and self.sent < total:
            self.transport.write(CHUNK)
            self.sent += len(CHUNK)
        if self.sent >= total:
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def stopProducing(self) -> None:
        self.paused = True


class ProxyIn(protocol.Protocol):
    """Accepts from the source; relays to the sink."""

    def connectionMade(self) -> None:
        self.transport.pauseProducing()
        self.peer: ProxyOut | None = None
        f = protocol.ClientFactory()
        f.protocol = lambda: ProxyOut(self)
        reactor.connectTCP("127.0.0.1", sinkPort.getHost().port, f)

    def dataReceived(self, data: bytes) -> None:
        # The source is paused until the outgoing connection is made.
        assert self.peer is not None
        self.peer.transport.write(data)
        buffered = self.peer.transport.getBufferSize()
        state["maxBuffered"] = max(state["maxBuffered"], buffered)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        if self.peer is not None:
            self.peer.transport.loseConnection()


class ProxyOut(protocol.Protocol):
    def __init__(self, inbound: ProxyIn) -> None:
        self.inbound = inbound

    def connectionMade(self) -> None:
        self.inbound.peer = self
        # The outgoing transport throttles the incoming one.
        self.transport.registerProducer(self.inbound.transport, True)
        self.inbound.transport.resumeProducing()


class SlowSink(protocol.Protocol):
    """Reads, but pauses itself every few megabytes for a moment."""

    def connectionMade(self) -> None:
        self.received = 0
        self.nextPause = 4 << 20

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)
        if self.received >= self.nextPause:
            self.nextPause += 4 << 20
            self.transport.pauseProducing()
            reactor.callLater(0.002, self.transport.resumeProducing)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        done.callback(self.received)


done: Deferred[int] = Deferred()
sinkPort = reactor.listenTCP(
    0, protocol.Factory.forProtocol(SlowSink), interface="127.0.0.1"
)
proxyPort = reactor.listenTCP(
    0, protocol.Factory.forProtocol(ProxyIn), interface="127.0.0.1"
)
f = protocol.ClientFactory.forProtocol(Source)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
reactor.connectTCP("127.0.0.1", proxyPort.getHost().port, f)
result: list[int] = []
done.addCallback(result.append).addCallback(lambda _: reactor.stop())
reactor.callLater(60, reactor.stop)
reactor.run(installSignalHandlers=False)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(result[0] if result else -1, (after - before) * 1024, state["maxBuffered"])
