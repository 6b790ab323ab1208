"""
Services from endpoint description strings, such as ``"tcp:8080"``,
``"unix:/run/app.sock"`` or ``"systemd:domain=INET:index=0"`` (see
``torsion.internet.endpoints.serverFromString`` for the syntax)::

    from torsion.application import strports

    strports.service("tcp:8080", factory).setServiceParent(application)
"""

from __future__ import annotations

from typing import Any

from torsion.application.internet import StreamServerEndpointService
from torsion.internet.defer import Deferred
from torsion.internet.endpoints import serverFromString
from torsion.internet.interfaces import IListeningPort, IProtocolFactory

__all__ = ["listen", "service"]


def _reactorOrGlobal(reactor: Any) -> Any:
    if reactor is not None:
        return reactor
    from torsion.internet import reactor as global_reactor

    return global_reactor


def service(
    description: str, factory: IProtocolFactory, reactor: Any = None
) -> StreamServerEndpointService:
    """
    Build a service listening where ``description`` says.

    :param description: a server endpoint description.
    :param factory: builds a protocol per connection.
    :param reactor: the reactor; the global one by default.
    :return: the (not yet started) service.
    :raises ValueError: if the description is malformed or names an
        unknown endpoint type.
    """
    endpoint = serverFromString(_reactorOrGlobal(reactor), description)
    result = StreamServerEndpointService(endpoint, factory)
    result.setName(description)
    return result


def listen(
    description: str, factory: IProtocolFactory, reactor: Any = None
) -> Deferred[IListeningPort]:
    """
    Listen at once where ``description`` says.

    :param description: a server endpoint description.
    :param factory: builds a protocol per connection.
    :param reactor: the reactor; the global one by default.
    :return: a ``Deferred`` firing with the listening port.
    :raises ValueError: if the description is malformed.
    """
    endpoint = serverFromString(_reactorOrGlobal(reactor), description)
    result: Deferred[IListeningPort] = endpoint.listen(factory)
    return result
