"""
systemd socket activation: the descriptors systemd passes a service, and the
``systemd:`` server endpoint built on them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zope.interface import implementer

from torsion.internet._endpoint_streams import AdoptedStreamServerEndpoint
from torsion.internet.interfaces import IStreamServerEndpointStringParser

__all__ = ["SD_LISTEN_FDS_START", "ListenFDs"]

#: The first descriptor systemd passes (``SD_LISTEN_FDS_START`` in
#: sd-daemon.h); the others follow in order.
SD_LISTEN_FDS_START = 3

#: Most descriptors accepted from ``LISTEN_FDS``: a corrupted environment
#: must not make us build a list of millions of numbers.
MAX_LISTEN_FDS = 4096


@dataclass(frozen=True)
class ListenFDs:
    """
    The listening descriptors systemd passed this process, in order, with
    their names (from ``FileDescriptorName=`` in the socket unit).

    :ivar descriptors: the descriptor numbers.
    :ivar names: one name per descriptor (``"unknown"`` when systemd gave
        none).
    """

    descriptors: Sequence[int] = field(default_factory=tuple)
    names: Sequence[str] = field(default_factory=tuple)

    @classmethod
    def fromEnvironment(
        cls,
        environ: Mapping[str, str] | None = None,
        start: int = SD_LISTEN_FDS_START,
    ) -> ListenFDs:
        """
        Read ``LISTEN_PID``, ``LISTEN_FDS`` and ``LISTEN_FDNAMES``.

        Descriptors are only taken if ``LISTEN_PID`` is this process's PID:
        the variables may have been inherited from a parent they were meant
        for. Missing or malformed variables mean no descriptors.

        :param environ: the environment to read; ``os.environ`` by default.
        :param start: the first descriptor number.
        :return: the descriptors found (possibly none).
        """
        env = os.environ if environ is None else environ
        try:
            pid = int(env.get("LISTEN_PID", ""))
            count = int(env.get("LISTEN_FDS", ""))
        except ValueError:
            return cls()
        if pid != os.getpid() or not 0 < count <= MAX_LISTEN_FDS:
            return cls()
        descriptors = tuple(range(start, start + count))
        rawNames = env.get("LISTEN_FDNAMES")
        names: tuple[str, ...]
        if rawNames is None:
            names = ("unknown",) * count
        else:
            split = rawNames.split(":")
            names = tuple(
                split[i] if i < len(split) and split[i] else "unknown"
                for i in range(count)
            )
        return cls(descriptors, names)

    def inheritedDescriptors(self) -> list[int]:
        """
        :return: the descriptor numbers, in systemd's order.
        """
        return list(self.descriptors)

    def inheritedNamedDescriptors(self) -> dict[str, int]:
        """
        :return: a mapping from name to descriptor (for repeated names, the
            first).
        """
        named: dict[str, int] = {}
        for name, fd in zip(self.names, self.descriptors, strict=False):
            named.setdefault(name, fd)
        return named


_DOMAINS = {
    "INET": socket.AF_INET,
    "INET6": socket.AF_INET6,
    "UNIX": socket.AF_UNIX,
}


@implementer(IStreamServerEndpointStringParser)
class _SystemdParser:
    """
    ``systemd:domain=INET:index=0`` or ``systemd:domain=INET6:name=web``.
    """

    prefix = "systemd"

    def _listenFDs(self) -> ListenFDs:
        return ListenFDs.fromEnvironment()

    def parseStreamServer(
        self, reactor: Any, *args: Any, **kwargs: Any
    ) -> AdoptedStreamServerEndpoint:
        from torsion.internet._endpoint_parsing import _callChecked

        endpoint: AdoptedStreamServerEndpoint = _callChecked(
            self._server, self.prefix, reactor, args, kwargs
        )
        return endpoint

    def _server(
        self,
        reactor: Any,
        domain: str | None = None,
        index: str | None = None,
        name: str | None = None,
    ) -> AdoptedStreamServerEndpoint:
        if domain is None:
            raise ValueError("systemd: endpoint needs domain=INET, INET6 or UNIX")
        family = _DOMAINS.get(domain.upper())
        if family is None:
            raise ValueError(
                f"systemd: unknown domain {domain!r}; use INET, INET6 or UNIX"
            )
        if (index is None) == (name is None):
            raise ValueError("systemd: endpoint needs exactly one of index= or name=")
        fds = self._listenFDs()
        if not fds.descriptors:
            raise ValueError(
                "systemd: no descriptors were passed to this process "
                "(LISTEN_PID/LISTEN_FDS not set for it)"
            )
        if index is not None:
            try:
                position = int(index)
            except ValueError:
                raise ValueError(f"systemd: index must be an integer, not {index!r}")
            if not 0 <= position < len(fds.descriptors):
                raise ValueError(
                    f"systemd: index {position} out of range: "
                    f"{len(fds.descriptors)} descriptor(s) passed"
                )
            fileno = fds.descriptors[position]
        else:
            assert name is not None
            named = fds.inheritedNamedDescriptors()
            if name not in named:
                raise ValueError(
                    f"systemd: no descriptor named {name!r}; "
                    f"passed names: {sorted(named)}"
                )
            fileno = named[name]
        return AdoptedStreamServerEndpoint(reactor, fileno, family)
