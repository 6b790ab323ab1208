"""
Endpoints: where to listen and where to connect, as objects.

A server endpoint (``IStreamServerEndpoint``) has ``listen(factory)``; a
client endpoint (``IStreamClientEndpoint``) has ``connect(factory)``. Both
return a ``Deferred``. Code written against endpoints works unchanged over
TCP, Unix sockets, TLS, standard I/O, a child process or a socket inherited
from systemd, and the choice can come from configuration through
``serverFromString`` / ``clientFromString``::

    endpoint = serverFromString(reactor, "tcp:8080:interface=127.0.0.1")
    port = await endpoint.listen(factory)

    endpoint = HostnameEndpoint(reactor, "example.com", 443)
    protocol = await connectProtocol(endpoint, MyProtocol())

With the TLS support installed (``torsion-core[tls]``), ``SSL4ServerEndpoint``,
``SSL4ClientEndpoint`` and ``wrapClientTLS`` are available here too, and the
``ssl:`` (server) and ``tls:`` (client) descriptions work.
"""

from typing import Any

from torsion.internet._endpoint_hostname import HostnameEndpoint
from torsion.internet._endpoint_parsing import (
    ENDPOINT_PLUGIN_GROUP,
    clientFromString,
    quoteStringArgument,
    serverFromString,
)
from torsion.internet._endpoint_streams import (
    AdoptedStreamServerEndpoint,
    AlreadyListened,
    ProcessEndpoint,
    StandardErrorBehavior,
    StandardIOEndpoint,
    TCP4ClientEndpoint,
    TCP4ServerEndpoint,
    TCP6ClientEndpoint,
    TCP6ServerEndpoint,
    UNIXClientEndpoint,
    UNIXServerEndpoint,
    connectProtocol,
)
from torsion.internet._endpoint_systemd import SD_LISTEN_FDS_START, ListenFDs

__all__ = [
    "ENDPOINT_PLUGIN_GROUP",
    "SD_LISTEN_FDS_START",
    "AdoptedStreamServerEndpoint",
    "AlreadyListened",
    "HostnameEndpoint",
    "ListenFDs",
    "ProcessEndpoint",
    "StandardErrorBehavior",
    "StandardIOEndpoint",
    "TCP4ClientEndpoint",
    "TCP4ServerEndpoint",
    "TCP6ClientEndpoint",
    "TCP6ServerEndpoint",
    "UNIXClientEndpoint",
    "UNIXServerEndpoint",
    "clientFromString",
    "connectProtocol",
    "quoteStringArgument",
    "serverFromString",
]

_TLS_NAMES = ("SSL4ClientEndpoint", "SSL4ServerEndpoint", "wrapClientTLS")


def __getattr__(name: str) -> Any:
    # The TLS endpoints need the optional TLS support (torsion-core[tls]):
    # imported on first use, so endpoints work without it.
    if name in _TLS_NAMES:
        from torsion.internet import _sslendpoints

        return getattr(_sslendpoints, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
