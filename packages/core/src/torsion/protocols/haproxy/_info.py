"""
``ProxyInfo``: what a PROXY protocol header says about a connection, and
the interfaces of the header parsers.
"""

from __future__ import annotations

from dataclasses import dataclass

from zope.interface import Attribute, Interface, implementer

from torsion.internet.interfaces import IAddress

__all__ = ["IProxyInfo", "IProxyParser", "ProxyInfo"]


class IProxyInfo(Interface):
    """
    The data carried by one PROXY protocol header.
    """

    header = Attribute("The raw header bytes, ``bytes``.")
    source = Attribute(
        "The original client's address (an ``IAddress``), or None when the "
        "header does not say (v1 ``UNKNOWN``, v2 ``LOCAL`` or ``UNSPEC``)."
    )
    destination = Attribute(
        "The address the original client connected to, or None when the "
        "header does not say."
    )


class IProxyParser(Interface):
    """
    An incremental parser of one PROXY protocol header.
    """

    def feed(data: bytes) -> tuple[IProxyInfo | None, bytes | None]:
        """
        Add received bytes.

        :param data: the next bytes of the connection.
        :return: ``(info, rest)`` once the header is complete, where ``rest``
            is what followed the header; ``(None, None)`` while more bytes
            are needed.
        :raises InvalidProxyHeader: if the header is malformed or too long.
        """


@implementer(IProxyInfo)
@dataclass(frozen=True)
class ProxyInfo:
    """
    What a PROXY protocol header says about a proxied connection.

    :ivar header: the raw header, as received.
    :ivar source: the original client's address, or None if unknown.
    :ivar destination: the address the client connected to (the proxy's
        listening address), or None if unknown.
    """

    header: bytes
    source: IAddress | None
    destination: IAddress | None
