"""
The ``haproxy:`` endpoint prefix: ``haproxy:tcp:8080`` listens like
``tcp:8080`` and reads a PROXY protocol header on every connection.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)
from torsion.protocols.haproxy._wrapper import HAProxyWrappingFactory

__all__ = [
    "HAProxyServerEndpoint",
    "HAProxyServerParser",
    "proxyEndpoint",
    "serverParser",
]


@implementer(IStreamServerEndpoint)
class HAProxyServerEndpoint:
    """
    A server endpoint that listens through another one and wraps each
    factory in ``HAProxyWrappingFactory``.
    """

    def __init__(
        self, wrappedEndpoint: IStreamServerEndpoint, clock: Any = None
    ) -> None:
        """
        :param wrappedEndpoint: where to really listen.
        :param clock: the ``IReactorTime`` that times out connections that
            send no header (the global reactor when ``None``).
        """
        self._wrappedEndpoint = wrappedEndpoint
        self._clock = clock

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        """
        Listen with ``protocolFactory`` behind a PROXY header reader.

        :param protocolFactory: the factory for the application protocol.
        :return: the wrapped endpoint's ``Deferred`` listening port.
        """
        listening: Deferred[IListeningPort] = self._wrappedEndpoint.listen(
            HAProxyWrappingFactory(protocolFactory, clock=self._clock)
        )
        return listening


def proxyEndpoint(
    wrappedEndpoint: IStreamServerEndpoint, clock: Any = None
) -> HAProxyServerEndpoint:
    """
    Wrap a server endpoint so its connections start with a PROXY header.

    :param wrappedEndpoint: where to really listen.
    :return: the wrapping endpoint.
    """
    return HAProxyServerEndpoint(wrappedEndpoint, clock)


@implementer(IStreamServerEndpointStringParser)
class HAProxyServerParser:
    """
    Parses ``haproxy:<another server description>``, such as
    ``haproxy:tcp:8080:interface=127.0.0.1``.
    """

    prefix = "haproxy"

    def parseStreamServer(
        self, reactor: Any, *args: Any, **kwargs: Any
    ) -> IStreamServerEndpoint:
        """
        :param reactor: the reactor.
        :param args: the positional fields of the inner description.
        :param kwargs: its keyword fields.
        :return: an ``HAProxyServerEndpoint`` around the inner endpoint.
        :raises ValueError: if no inner description is given.
        """
        from torsion.internet.endpoints import quoteStringArgument, serverFromString

        if not args:
            raise ValueError("haproxy: needs an inner endpoint, as in haproxy:tcp:8080")
        fields = [quoteStringArgument(str(a)) for a in args]
        fields += [
            f"{quoteStringArgument(str(k))}={quoteStringArgument(str(v))}"
            for k, v in kwargs.items()
        ]
        return proxyEndpoint(serverFromString(reactor, ":".join(fields)), reactor)


#: The parser registered for the ``haproxy`` prefix.
serverParser = HAProxyServerParser()
