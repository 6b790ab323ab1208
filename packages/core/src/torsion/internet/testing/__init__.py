"""
Test doubles for networking code: in-memory transports and reactors, a fake
clock, and helpers that wire two protocols together without sockets.

* ``StringTransport``: records what a protocol writes.
* ``MemoryReactor`` / ``MemoryReactorClock``: record listen/connect requests
  (and, with the clock, schedule calls on fake time).
* ``connectedServerAndClient`` / ``connect`` / ``IOPump``: two protocols
  talking to each other in memory, one deterministic pump at a time.
* ``EventLoggingObserver``: capture log events in a test.
"""

from torsion.internet.task import Clock
from torsion.internet.testing._helpers import (
    AccumulatingProtocol,
    EventLoggingObserver,
    waitUntilAllDisconnected,
)
from torsion.internet.testing._iosim import (
    MAX_FLUSH_ROUNDS,
    IOPump,
    connect,
    connectedServerAndClient,
)
from torsion.internet.testing._reactor import (
    MemoryReactor,
    MemoryReactorClock,
    RaisingMemoryReactor,
    _FakeConnector,
    _FakePort,
)
from torsion.internet.testing._transport import (
    NonStreamingProducer,
    StringTransport,
    StringTransportWithDisconnection,
)

__all__ = [
    "MAX_FLUSH_ROUNDS",
    "AccumulatingProtocol",
    "Clock",
    "EventLoggingObserver",
    "IOPump",
    "MemoryReactor",
    "MemoryReactorClock",
    "NonStreamingProducer",
    "RaisingMemoryReactor",
    "StringTransport",
    "StringTransportWithDisconnection",
    "_FakeConnector",
    "_FakePort",
    "connect",
    "connectedServerAndClient",
    "waitUntilAllDisconnected",
]
