"""
Batched datagram reads: many datagrams per system call with ``recvmmsg(2)``.

Python's ``socket`` module reads one datagram per ``recvfrom`` call, so a
busy UDP port pays a system call (and the trailing ``EAGAIN`` exception) per
datagram.  On Linux, ``recvmmsg`` fills many buffers at once; this module
calls it through ``ctypes`` and turns the result into the same
``(bytes, address)`` pairs ``recvfrom`` gives.

Only the UDP port uses it (``torsion.internet.udp.Port.doRead``).  Where
``recvmmsg`` or ``ctypes`` is missing, ``receiverFor`` returns ``None``
and the port reads with ``recvfrom`` as before.

The receive buffers belong to a thread, not to a port: a reactor reads one
socket at a time, and every datagram is copied out (into ``bytes``) before
any protocol code runs, so one set of buffers serves every port of a family
and size, however many ports there are.
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["UNUSABLE", "BatchReceiver", "disable", "receiverFor", "structures"]

#: Most datagrams one ``recvmmsg`` call fills.
BATCH = 32

#: Most bytes of receive buffer per (thread, family, size); a larger
#: ``maxPacketSize`` means fewer datagrams per call.
BUFFER_BUDGET = 1024 * 1024

#: Most source addresses remembered per receiver (the cache is emptied when
#: full), so a flood from ever-new ports cannot grow it without bound.
ADDRESS_CACHE_LIMIT = 4096

#: What ``recvmmsg`` fails with where it cannot be used at all: a kernel
#: without it, or a sandbox (seccomp) forbidding it.
UNUSABLE = frozenset({errno.ENOSYS, errno.EPERM})

# Never wait, even on a socket someone made blocking: the call holds the GIL.
_MSG_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0x40)

_recvmmsg: Callable[..., int] | None = None
_getErrno: Callable[[], int] | None = None


def _load() -> None:
    """
    Find ``recvmmsg`` in the C library, if this platform has it.
    """
    global _recvmmsg, _getErrno
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
    except ImportError:  # pragma: no cover - Python built without _ctypes
        return
    try:
        # PyDLL keeps the GIL across the call: it never blocks (the socket
        # is non-blocking), so releasing and retaking the GIL would be waste.
        libc = ctypes.PyDLL(None, use_errno=True)
        function = libc.recvmmsg
    except (OSError, AttributeError):  # pragma: no cover - no recvmmsg
        return
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    function.restype = ctypes.c_int
    _recvmmsg = function
    _getErrno = ctypes.get_errno


_load()


def structures() -> tuple[Any, Any]:
    """
    :return: the ``ctypes`` types of ``struct iovec`` and
        ``struct mmsghdr``.
    """
    import ctypes

    class IOVec(ctypes.Structure):
        _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]

    class MsgHdr(ctypes.Structure):
        _fields_ = [
            ("msg_name", ctypes.c_void_p),
            ("msg_namelen", ctypes.c_uint32),
            ("msg_iov", ctypes.c_void_p),
            ("msg_iovlen", ctypes.c_size_t),
            ("msg_control", ctypes.c_void_p),
            ("msg_controllen", ctypes.c_size_t),
            ("msg_flags", ctypes.c_int),
        ]

    class MMsgHdr(ctypes.Structure):
        _fields_ = [("msg_hdr", MsgHdr), ("msg_len", ctypes.c_uint)]

    return IOVec, MMsgHdr


class BatchReceiver:
    """
    Buffers for one ``recvmmsg`` call, and the decoding of its results.

    :ivar family: ``socket.AF_INET`` or ``socket.AF_INET6``.
    :ivar size: the largest datagram read; longer ones are truncated, as
        ``recvfrom(size)`` truncates them.
    :ivar count: the most datagrams one call reads.
    """

    def __init__(self, family: int, size: int) -> None:
        """
        :param family: the sockets' address family.
        :param size: the largest datagram read.
        """
        import ctypes

        IOVec, MMsgHdr = structures()
        self.family = family
        self.size = size
        count = self.count = max(1, min(BATCH, BUFFER_BUDGET // size))
        # sockaddr_in is 16 bytes and sockaddr_in6 28: the kernel writes the
        # source address's true length back, which stays the same for every
        # datagram of one family, so the lengths never need resetting.
        self._nameSize = nameSize = 16 if family == socket.AF_INET else 28
        # The views keep the buffers alive (and, exported, unresizable, so
        # the addresses handed to the kernel stay valid).
        data = bytearray(count * size)
        names = bytearray(count * nameSize)
        self._dataView = memoryview(data)
        self._namesView = memoryview(names)
        dataAddress = ctypes.addressof(ctypes.c_char.from_buffer(data))
        namesAddress = ctypes.addressof(ctypes.c_char.from_buffer(names))
        self._iovecs = iovecs = (IOVec * count)()
        self._headers = headers = (MMsgHdr * count)()
        for i in range(count):
            iovecs[i].iov_base = dataAddress + i * size
            iovecs[i].iov_len = size
            header = headers[i].msg_hdr
            header.msg_name = namesAddress + i * nameSize
            header.msg_namelen = nameSize
            header.msg_iov = ctypes.addressof(iovecs[i])
            header.msg_iovlen = 1
        self._headersAddress = ctypes.addressof(headers)
        # msg_len of header i, read as unsigned ints straight from the array.
        stride = ctypes.sizeof(MMsgHdr)
        offset = MMsgHdr.msg_len.offset
        if stride % 4 or offset % 4:  # pragma: no cover - no such ABI known
            raise RuntimeError("unexpected struct mmsghdr layout")
        self._lengths = memoryview(headers).cast("B").cast("I")
        self._lengthStride = stride // 4
        self._lengthIndex = offset // 4
        self._addresses: dict[bytes, tuple[str, int]] = {}

    def receive(self, fd: int, most: int) -> list[tuple[bytes, tuple[str, int]]] | int:
        """
        Read up to ``most`` waiting datagrams from ``fd``.

        :param fd: a non-blocking datagram socket of this receiver's family.
        :param most: the most datagrams to read; capped at ``count``.
        :return: the datagrams and their sources (``(host, port)``, for
            IPv6 too), in arrival order; or, when nothing could be read, the
            ``errno`` of the failure (``EAGAIN`` when nothing is waiting).
        """
        received = _recvmmsg(  # type: ignore[misc]
            fd, self._headersAddress, min(most, self.count), _MSG_DONTWAIT, None
        )
        if received <= 0:
            return _getErrno() if received < 0 else []  # type: ignore[misc]
        index = self._lengthIndex
        stride = self._lengthStride
        lengths = self._lengths[index : index + received * stride : stride].tolist()
        nameSize = self._nameSize
        names = self._namesView[: received * nameSize].tobytes()
        data = self._dataView
        addresses = self._addresses
        result = []
        offset = 0
        nameOffset = 0
        size = self.size
        if nameSize == 16:
            # sockaddr_in: family, port, address.
            family, keyEnd, packedFrom = socket.AF_INET, 8, 2
        else:
            # sockaddr_in6: family, port, flow information, address, scope.
            family, keyEnd, packedFrom = socket.AF_INET6, 24, 6
        for length in lengths:
            key = names[nameOffset + 2 : nameOffset + keyEnd]
            address = addresses.get(key)
            if address is None:
                address = self._remember(key, family, packedFrom)
            result.append((data[offset : offset + length].tobytes(), address))
            offset += size
            nameOffset += nameSize
        return result

    def _remember(self, key: bytes, family: int, packedFrom: int) -> tuple[str, int]:
        """
        Decode a source address met for the first time, and cache it.

        :param key: the cache key: the ``sockaddr`` from the port (two bytes,
            network order) to the end of the IP address.
        :param family: the address family.
        :param packedFrom: where in ``key`` the IP address starts.
        :return: ``(host, port)`` as ``recvfrom`` spells them.
        """
        addresses = self._addresses
        if len(addresses) >= ADDRESS_CACHE_LIMIT:
            addresses.clear()
        address = (socket.inet_ntop(family, key[packedFrom:]), (key[0] << 8) | key[1])
        addresses[key] = address
        return address


_local = threading.local()


def disable() -> None:
    """
    Stop batching in this process: from now on ``receiverFor`` returns
    ``None`` and ports read with ``recvfrom``.
    """
    global _recvmmsg
    _recvmmsg = None


def receiverFor(family: int, size: int) -> BatchReceiver | None:
    """
    The calling thread's receiver for sockets of ``family`` reading datagrams
    of up to ``size`` bytes.

    :param family: ``socket.AF_INET`` or ``socket.AF_INET6``.
    :param size: the largest datagram read.
    :return: the receiver, or ``None`` where ``recvmmsg`` is unavailable.
    """
    if _recvmmsg is None:
        return None
    try:
        receivers: dict[tuple[int, int], BatchReceiver] = _local.receivers
    except AttributeError:
        receivers = _local.receivers = {}
    receiver = receivers.get((family, size))
    if receiver is None:
        receiver = receivers[(family, size)] = BatchReceiver(family, size)
    return receiver
