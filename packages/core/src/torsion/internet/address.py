"""
Address values for the transports: ``IPv4Address``, ``IPv6Address``,
``UNIXAddress`` and ``HostnameAddress``.

Addresses are frozen: they compare by value and can be used as dictionary keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from zope.interface import implementer

from torsion.internet.interfaces import IAddress


@implementer(IAddress)
@dataclass(frozen=True)
class IPv4Address:
    """
    An IPv4 socket address.

    :ivar type: ``"TCP"`` or ``"UDP"``.
    :ivar host: the dotted-quad address, a ``str``.
    :ivar port: the port number.
    """

    type: str
    host: str
    port: int

    def __post_init__(self) -> None:
        if self.type not in ("TCP", "UDP"):
            raise ValueError(
                f"IPv4Address type must be 'TCP' or 'UDP', not {self.type!r}"
            )


@implementer(IAddress)
@dataclass(frozen=True)
class IPv6Address:
    """
    An IPv6 socket address.

    :ivar type: ``"TCP"`` or ``"UDP"``.
    :ivar host: the address text, such as ``"::1"``.
    :ivar port: the port number.
    :ivar flowInfo: the IPv6 flow information.
    :ivar scopeID: the scope identifier (interface index or name).
    """

    type: str
    host: str
    port: int
    flowInfo: int = 0
    scopeID: str | int = 0

    def __post_init__(self) -> None:
        if self.type not in ("TCP", "UDP"):
            raise ValueError(
                f"IPv6Address type must be 'TCP' or 'UDP', not {self.type!r}"
            )


@implementer(IAddress)
@dataclass(frozen=True)
class UNIXAddress:
    """
    A Unix socket address.

    :ivar name: the socket's path as ``bytes`` (or ``str``), a name starting
        with a NUL byte for the Linux abstract namespace, or ``None`` for an
        unbound socket.
    """

    name: bytes | str | None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UNIXAddress):
            return NotImplemented
        mine, theirs = _fsName(self.name), _fsName(other.name)
        if mine == theirs:
            return True
        if mine is None or theirs is None or mine.startswith(b"\0"):
            return False
        try:
            return os.path.samefile(mine, theirs)
        except OSError:
            return False

    def __hash__(self) -> int:
        name = _fsName(self.name)
        if name is None or name.startswith(b"\0"):
            return hash((UNIXAddress, name))
        try:
            st = os.stat(name)
        except OSError:
            return hash((UNIXAddress, name))
        return hash((UNIXAddress, st.st_ino, st.st_dev))


def _fsName(name: bytes | str | None) -> bytes | None:
    if name is None:
        return None
    if isinstance(name, str):
        return os.fsencode(name)
    return name


@implementer(IAddress)
@dataclass(frozen=True)
class HostnameAddress:
    """
    A host name and port, before resolution.

    :ivar hostname: the host name, as ``bytes``.
    :ivar port: the port number.
    """

    hostname: bytes
    port: int


@implementer(IAddress)
@dataclass(frozen=True)
class _ProcessAddress:
    """
    The address of a child process's pipes.
    """

    pid: int | None = field(default=None)


__all__ = ["HostnameAddress", "IPv4Address", "IPv6Address", "UNIXAddress"]
