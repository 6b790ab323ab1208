"""
An echo server: every byte a client sends comes straight back.

Run it, then talk to it from another terminal with any TCP client, for
example ``telnet 127.0.0.1 8000`` or ``nc 127.0.0.1 8000``; stop it with
Ctrl-C::

    python3 docs/examples/echoserv.py [port]

Port 0 picks a free port; the one in use is printed.
"""

import sys

from torsion.internet import protocol, reactor
from torsion.protocols.wire import Echo


def main(argv: list[str]) -> None:
    """Listen on 127.0.0.1 and echo every connection until interrupted."""
    portNumber = int(argv[1]) if len(argv) > 1 else 8000
    factory = protocol.Factory()
    factory.protocol = Echo
    port = reactor.listenTCP(portNumber, factory, interface="127.0.0.1")
    print(f"echo server listening on 127.0.0.1:{port.getHost().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv)
