"""
Errors raised while parsing a PROXY protocol header.
"""

from __future__ import annotations

__all__ = ["InvalidNetworkProtocol", "InvalidProxyHeader", "MissingAddressData"]


class InvalidProxyHeader(ValueError):
    """
    The bytes received are not a well-formed PROXY protocol header (wrong
    signature, bad version or command, too long, malformed fields).
    """


class InvalidNetworkProtocol(InvalidProxyHeader):
    """
    The header names a network protocol this parser does not know (v1: not
    ``TCP4``, ``TCP6`` or ``UNKNOWN``; v2: an unknown family or transport).
    """


class MissingAddressData(InvalidProxyHeader):
    """
    The header announces addresses but does not carry all of them, or
    carries addresses that cannot be parsed.
    """
