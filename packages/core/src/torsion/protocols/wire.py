"""
The small standard services of RFC 862 to RFC 868: echo, discard, character
generator, quote of the day, daytime, time and active users.

Each is a protocol; serve one with ``Factory.forProtocol``::

    reactor.listenTCP(7007, Factory.forProtocol(Echo))

``Daytime`` and ``Time`` read the time from their ``clock`` attribute (any
object with a ``seconds()`` method, such as a reactor or a ``Clock``), or
from the system clock when it is None.
"""

from __future__ import annotations

import struct
import time
from typing import Any

from zope.interface import implementer

from torsion.internet import interfaces, protocol

__all__ = ["QOTD", "Chargen", "Daytime", "Discard", "Echo", "Time", "Who"]


class Echo(protocol.Protocol):
    """
    Echo protocol (RFC 862): sends back every byte received.
    """

    def dataReceived(self, data: bytes) -> None:
        """
        Send ``data`` back.

        :param data: the bytes received.
        """
        self.transport.write(data)


class Discard(protocol.Protocol):
    """
    Discard protocol (RFC 863): ignores every byte received.
    """

    def dataReceived(self, data: bytes) -> None:
        """
        Ignore ``data``.

        :param data: the bytes received.
        """


def _chargenCycle() -> bytes:
    printable = bytes(range(32, 127))
    doubled = printable + printable
    return b"".join(
        doubled[start : start + 72] + b"\r\n" for start in range(len(printable))
    )


@implementer(interfaces.IPullProducer)
class Chargen(protocol.Protocol):
    """
    Character generator protocol (RFC 864): sends lines of 72 printable
    characters, each starting one character further along, until the peer
    closes the connection.

    It registers itself with its transport as a pull producer, so it writes
    a new batch of lines only when the transport asks for more: output stops
    while the peer stops reading, and memory stays bounded.

    :ivar noise: one batch of lines, the full 95-line cycle.
    """

    noise: bytes = _chargenCycle()

    def connectionMade(self) -> None:
        """
        Start producing.
        """
        self.transport.registerProducer(self, False)

    def resumeProducing(self) -> None:
        """
        Write one batch of lines.
        """
        self.transport.write(self.noise)

    def pauseProducing(self) -> None:
        """
        Nothing to do: lines are only written when asked for.
        """

    def stopProducing(self) -> None:
        """
        Nothing to do: the connection is going away.
        """

    def dataReceived(self, data: bytes) -> None:
        """
        Ignore ``data``, as RFC 864 says.

        :param data: the bytes received.
        """


class QOTD(protocol.Protocol):
    """
    Quote of the day protocol (RFC 865): sends ``getQuote()`` and closes.
    """

    def connectionMade(self) -> None:
        """
        Send the quote and close.
        """
        self.transport.write(self.getQuote())
        self.transport.loseConnection()

    def getQuote(self) -> bytes:
        """
        The quote to send; override this.

        :return: the quote as bytes, with its line ending.
        """
        return b"Errors should never pass silently.\r\n"


def _now(clock: Any) -> float:
    if clock is None:
        return time.time()
    seconds: float = clock.seconds()
    return seconds


_WEEKDAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class Daytime(protocol.Protocol):
    """
    Daytime protocol (RFC 867): sends the current date and time in UTC, in
    the format of the RFC's example (``Tuesday, February 22, 1982
    17:37:43-UTC``), and closes.

    :ivar clock: where the time comes from (``seconds()``), or None for the
        system clock.
    """

    clock: Any = None

    def connectionMade(self) -> None:
        """
        Send the date and time and close.
        """
        t = time.gmtime(_now(self.clock))
        # Names spelled out here: strftime's %A and %B follow the locale.
        text = (
            f"{_WEEKDAYS[t.tm_wday]}, {_MONTHS[t.tm_mon - 1]} {t.tm_mday}, "
            f"{t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}-UTC\r\n"
        )
        self.transport.write(text.encode("ascii"))
        self.transport.loseConnection()


# Seconds from 1900-01-01 (RFC 868's epoch) to 1970-01-01.
_EPOCH_1900 = 2208988800


class Time(protocol.Protocol):
    """
    Time protocol (RFC 868): sends the seconds since 1900-01-01 00:00 UTC as
    a 32-bit big-endian unsigned integer, and closes.  The count wraps
    around in 2036, as the RFC's 32 bits do.

    :ivar clock: where the time comes from (``seconds()``), or None for the
        system clock.
    """

    clock: Any = None

    def connectionMade(self) -> None:
        """
        Send the time and close.
        """
        seconds = (int(_now(self.clock)) + _EPOCH_1900) % 2**32
        self.transport.write(struct.pack("!I", seconds))
        self.transport.loseConnection()


class Who(protocol.Protocol):
    """
    Active users protocol (RFC 866): sends one user name per line and
    closes.
    """

    def connectionMade(self) -> None:
        """
        Send the user list and close.
        """
        self.transport.write(b"".join(user + b"\r\n" for user in self.getUsers()))
        self.transport.loseConnection()

    def getUsers(self) -> list[bytes]:
        """
        The users to list; override this.

        :return: user names as bytes; none by default.
        """
        return []
