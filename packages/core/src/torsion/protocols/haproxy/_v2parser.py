"""
The PROXY protocol version 2 (binary) header parser.
"""

from __future__ import annotations

import ipaddress
import struct

from zope.interface import implementer

from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.interfaces import IAddress
from torsion.protocols.haproxy._exceptions import (
    InvalidNetworkProtocol,
    InvalidProxyHeader,
    MissingAddressData,
)
from torsion.protocols.haproxy._info import IProxyParser, ProxyInfo

__all__ = ["MAX_V2_HEADER_LENGTH", "V2_SIGNATURE", "V2Parser"]

#: Every version 2 header starts with these 12 bytes.
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"

#: The longest version 2 header buffered (fixed part, addresses and TLVs).
#: The format allows 16 + 65535 bytes; real proxies send far less, so a
#: longer header is refused rather than held in memory.
MAX_V2_HEADER_LENGTH = 4096

_FIXED = 16
_LOCAL, _PROXY = 0, 1
_UNSPEC, _INET, _INET6, _UNIX = 0, 1, 2, 3
_STREAM, _DGRAM = 1, 2
_ADDRESS_LENGTHS = {_INET: 12, _INET6: 36, _UNIX: 216}


@implementer(IProxyParser)
class V2Parser:
    """
    An incremental parser of one PROXY protocol version 2 header.

    The header's TLV extensions are skipped (kept only in ``header``).

    :ivar maxLength: the longest header accepted, in bytes; the named
        constant ``MAX_V2_HEADER_LENGTH`` by default.
    """

    maxLength: int = MAX_V2_HEADER_LENGTH

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> tuple[ProxyInfo | None, bytes | None]:
        """
        Add received bytes.

        :param data: the next bytes of the connection.
        :return: ``(info, rest)`` once the header is complete, ``rest`` being
            the bytes after it; ``(None, None)`` while more is needed.
        :raises InvalidProxyHeader: for a bad signature, version or command,
            or a header longer than ``maxLength``.
        :raises InvalidNetworkProtocol: for an unknown family or transport.
        :raises MissingAddressData: if the header is too short for its
            addresses.
        """
        self._buffer += data
        prefix = self._buffer[: len(V2_SIGNATURE)]
        if not V2_SIGNATURE.startswith(prefix):
            raise InvalidProxyHeader("not a PROXY protocol version 2 header")
        if len(self._buffer) < _FIXED:
            return None, None
        total = _FIXED + struct.unpack("!H", self._buffer[14:16])[0]
        if total > self.maxLength:
            raise InvalidProxyHeader(
                f"PROXY header of {total} bytes is longer than {self.maxLength}"
            )
        self._checkFixed(self._buffer)
        if len(self._buffer) < total:
            return None, None
        header, rest = self._buffer[:total], self._buffer[total:]
        self._buffer = b""
        return self.parse(header), rest

    @staticmethod
    def _checkFixed(header: bytes) -> tuple[int, int, int]:
        versionCommand, family = header[12], header[13]
        if versionCommand >> 4 != 2:
            raise InvalidProxyHeader(
                f"unsupported PROXY protocol version {versionCommand >> 4}"
            )
        command = versionCommand & 0x0F
        if command not in (_LOCAL, _PROXY):
            raise InvalidProxyHeader(f"unknown PROXY command {command}")
        addressFamily, transport = family >> 4, family & 0x0F
        if addressFamily not in (_UNSPEC, _INET, _INET6, _UNIX) or transport > _DGRAM:
            raise InvalidNetworkProtocol(f"unknown address family byte {family:#04x}")
        return command, addressFamily, transport

    @classmethod
    def parse(cls, header: bytes) -> ProxyInfo:
        """
        Parse one complete version 2 header.

        :param header: the whole header (16 fixed bytes, addresses, TLVs).
        :return: the connection's ``ProxyInfo``; its addresses are None for
            the ``LOCAL`` command and the ``UNSPEC`` family.
        :raises InvalidProxyHeader: for a malformed header.
        :raises InvalidNetworkProtocol: for an unknown family or transport.
        :raises MissingAddressData: if the addresses do not fit.
        """
        if len(header) < _FIXED or not header.startswith(V2_SIGNATURE):
            raise InvalidProxyHeader("not a PROXY protocol version 2 header")
        if _FIXED + struct.unpack("!H", header[14:16])[0] != len(header):
            raise InvalidProxyHeader("PROXY header length does not match its data")
        command, family, transport = cls._checkFixed(header)
        if command == _LOCAL or family == _UNSPEC:
            return ProxyInfo(header, None, None)
        if transport not in (_STREAM, _DGRAM):
            raise InvalidNetworkProtocol("PROXY header with unspecified transport")
        need = _ADDRESS_LENGTHS[family]
        body = header[_FIXED:]
        if len(body) < need:
            raise MissingAddressData(
                f"PROXY header carries {len(body)} address bytes, needs {need}"
            )
        kind = "TCP" if transport == _STREAM else "UDP"
        source: IAddress
        destination: IAddress
        if family == _INET:
            sourceHost = str(ipaddress.IPv4Address(body[0:4]))
            destinationHost = str(ipaddress.IPv4Address(body[4:8]))
            sourcePort, destinationPort = struct.unpack("!HH", body[8:12])
            source = IPv4Address(kind, sourceHost, sourcePort)
            destination = IPv4Address(kind, destinationHost, destinationPort)
        elif family == _INET6:
            sourceHost = str(ipaddress.IPv6Address(body[0:16]))
            destinationHost = str(ipaddress.IPv6Address(body[16:32]))
            sourcePort, destinationPort = struct.unpack("!HH", body[32:36])
            source = IPv6Address(kind, sourceHost, sourcePort)
            destination = IPv6Address(kind, destinationHost, destinationPort)
        else:
            source = UNIXAddress(body[0:108].split(b"\0", 1)[0] or None)
            destination = UNIXAddress(body[108:216].split(b"\0", 1)[0] or None)
        return ProxyInfo(header, source, destination)
