"""
The HAProxy PROXY protocol (versions 1 and 2): learn the real client's
address when connections arrive through a load balancer.

Wrap a server factory, or listen on a ``haproxy:`` endpoint::

    reactor.listenTCP(8080, HAProxyWrappingFactory(MyFactory()))
    serverFromString(reactor, "haproxy:tcp:8080").listen(MyFactory())

The wrapped protocols' ``transport.getPeer()`` then returns the address the
proxy's header gave.  ``V1Parser`` and ``V2Parser`` parse headers on their
own; both produce a ``ProxyInfo``.
"""

from torsion.protocols.haproxy._exceptions import (
    InvalidNetworkProtocol,
    InvalidProxyHeader,
    MissingAddressData,
)
from torsion.protocols.haproxy._info import IProxyInfo, IProxyParser, ProxyInfo
from torsion.protocols.haproxy._parser import (
    HAProxyServerEndpoint,
    HAProxyServerParser,
    proxyEndpoint,
)
from torsion.protocols.haproxy._v1parser import (
    MAX_V1_HEADER_LENGTH,
    V1_SIGNATURE,
    V1Parser,
)
from torsion.protocols.haproxy._v2parser import (
    MAX_V2_HEADER_LENGTH,
    V2_SIGNATURE,
    V2Parser,
)
from torsion.protocols.haproxy._wrapper import (
    HEADER_TIMEOUT,
    HAProxyProtocolWrapper,
    HAProxyWrappingFactory,
)

__all__ = [
    "HEADER_TIMEOUT",
    "MAX_V1_HEADER_LENGTH",
    "MAX_V2_HEADER_LENGTH",
    "V1_SIGNATURE",
    "V2_SIGNATURE",
    "HAProxyProtocolWrapper",
    "HAProxyServerEndpoint",
    "HAProxyServerParser",
    "HAProxyWrappingFactory",
    "IProxyInfo",
    "IProxyParser",
    "InvalidNetworkProtocol",
    "InvalidProxyHeader",
    "MissingAddressData",
    "ProxyInfo",
    "V1Parser",
    "V2Parser",
    "proxyEndpoint",
]
