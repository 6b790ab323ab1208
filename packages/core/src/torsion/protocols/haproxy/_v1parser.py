"""
The PROXY protocol version 1 (text) header parser.
"""

from __future__ import annotations

import ipaddress

from zope.interface import implementer

from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.interfaces import IAddress
from torsion.protocols.haproxy._exceptions import (
    InvalidNetworkProtocol,
    InvalidProxyHeader,
    MissingAddressData,
)
from torsion.protocols.haproxy._info import IProxyParser, ProxyInfo

__all__ = ["MAX_V1_HEADER_LENGTH", "V1_SIGNATURE", "V1Parser"]

#: Every version 1 header starts with these bytes.
V1_SIGNATURE = b"PROXY "

#: The longest version 1 header the specification allows, CRLF included.
MAX_V1_HEADER_LENGTH = 107


def _port(text: bytes) -> int:
    if not text.isdigit() or len(text) > 5 or (len(text) > 1 and text[:1] == b"0"):
        raise MissingAddressData(f"bad port in PROXY header: {text!r}")
    value = int(text)
    if value > 65535:
        raise MissingAddressData(f"port out of range in PROXY header: {text!r}")
    return value


def _host(text: bytes, version: int) -> str:
    try:
        decoded = text.decode("ascii")
        address = ipaddress.ip_address(decoded)
    except (UnicodeDecodeError, ValueError):
        raise MissingAddressData(f"bad address in PROXY header: {text!r}")
    if address.version != version:
        raise MissingAddressData(f"address {decoded!r} is not an IPv{version} address")
    return decoded


@implementer(IProxyParser)
class V1Parser:
    """
    An incremental parser of one PROXY protocol version 1 header, such as
    ``b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\\r\\n"``.

    Feed it the connection's first bytes with ``feed``; it buffers at most
    ``maxLength`` bytes before giving up.

    :ivar maxLength: the longest header accepted, CRLF included; the
        specification's ``MAX_V1_HEADER_LENGTH`` by default.
    """

    maxLength: int = MAX_V1_HEADER_LENGTH

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> tuple[ProxyInfo | None, bytes | None]:
        """
        Add received bytes.

        :param data: the next bytes of the connection.
        :return: ``(info, rest)`` once the header line is complete, ``rest``
            being the bytes after it; ``(None, None)`` while more is needed.
        :raises InvalidProxyHeader: if the bytes cannot start a version 1
            header, or no CRLF came within ``maxLength`` bytes.
        :raises InvalidNetworkProtocol: for a protocol other than ``TCP4``,
            ``TCP6`` or ``UNKNOWN``.
        :raises MissingAddressData: if addresses or ports are missing or
            malformed.
        """
        self._buffer += data
        prefix = self._buffer[: len(V1_SIGNATURE)]
        if not V1_SIGNATURE.startswith(prefix):
            raise InvalidProxyHeader("not a PROXY protocol version 1 header")
        end = self._buffer.find(b"\r\n", 0, self.maxLength)
        if end == -1:
            if len(self._buffer) >= self.maxLength:
                raise InvalidProxyHeader(
                    f"PROXY header longer than {self.maxLength} bytes"
                )
            return None, None
        line, rest = self._buffer[: end + 2], self._buffer[end + 2 :]
        self._buffer = b""
        return self.parse(line), rest

    @classmethod
    def parse(cls, line: bytes) -> ProxyInfo:
        """
        Parse one complete version 1 header.

        :param line: the header, with its trailing CRLF.
        :return: the connection's ``ProxyInfo``; its addresses are None for
            ``UNKNOWN``.
        :raises InvalidProxyHeader: for a malformed line.
        :raises InvalidNetworkProtocol: for an unknown protocol.
        :raises MissingAddressData: for missing or malformed addresses.
        """
        if not line.startswith(V1_SIGNATURE) or not line.endswith(b"\r\n"):
            raise InvalidProxyHeader("not a PROXY protocol version 1 header")
        if len(line) > cls.maxLength:
            raise InvalidProxyHeader(f"PROXY header longer than {cls.maxLength} bytes")
        body = line[len(V1_SIGNATURE) : -2]
        if b"\r" in body or b"\n" in body:
            raise InvalidProxyHeader("stray line break in PROXY header")
        fields = body.split(b" ")
        protocol = fields[0]
        if protocol == b"UNKNOWN":
            return ProxyInfo(line, None, None)
        if protocol not in (b"TCP4", b"TCP6"):
            raise InvalidNetworkProtocol(
                f"unknown network protocol in PROXY header: {protocol!r}"
            )
        if len(fields) != 5:
            raise MissingAddressData(
                f"PROXY header needs 4 address fields, got {len(fields) - 1}"
            )
        version = 4 if protocol == b"TCP4" else 6
        sourceHost = _host(fields[1], version)
        destinationHost = _host(fields[2], version)
        sourcePort = _port(fields[3])
        destinationPort = _port(fields[4])
        source: IAddress
        destination: IAddress
        if version == 4:
            source = IPv4Address("TCP", sourceHost, sourcePort)
            destination = IPv4Address("TCP", destinationHost, destinationPort)
        else:
            source = IPv6Address("TCP", sourceHost, sourcePort)
            destination = IPv6Address("TCP", destinationHost, destinationPort)
        return ProxyInfo(line, source, destination)
