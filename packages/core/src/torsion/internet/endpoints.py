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
"""

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
