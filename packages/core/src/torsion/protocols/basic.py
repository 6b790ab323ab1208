"""
Framing for stream protocols: lines, netstrings and length-prefixed strings.

A stream transport such as TCP delivers bytes in chunks of arbitrary size; a
protocol usually wants whole messages.  The receivers in this module cut the
stream into messages, whatever the chunking, and hand each one to an
overridable method (``lineReceived`` or ``stringReceived``).

Every receiver bounds what a peer can make it buffer (``MAX_LENGTH``) and
closes the connection, by default, when the bound is exceeded.

Line endings (SECURITY.md LINE-5): a ``LineReceiver`` splits on its
``delimiter`` and only on it.  With the default ``b"\\r\\n"`` a bare ``b"\\n"``
or a bare ``b"\\r"`` is *data* inside the line, never a terminator, and
``b"\\r\\r\\n"`` is a line ending in ``b"\\r"``.  Protocols that need another
rule (for instance rejecting bare ``b"\\n"``) check the delivered line.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from operator import length_hint
from typing import IO, TYPE_CHECKING, Any, ClassVar, cast

from zope.interface import implementer

from torsion.internet import interfaces, protocol

if TYPE_CHECKING:
    from torsion.internet.defer import Deferred

__all__ = [
    "FileSender",
    "Int8StringReceiver",
    "Int16StringReceiver",
    "Int32StringReceiver",
    "IntNStringReceiver",
    "LineOnlyReceiver",
    "LineReceiver",
    "NetstringParseError",
    "NetstringReceiver",
    "StringTooLongError",
]


def _checkBytes(data: object, call: str) -> None:
    if isinstance(data, str):
        raise TypeError(f"{call} takes bytes, not str: encode the text first")


def _partialDelimiter(tail: bytes, delimiter: bytes) -> bool:
    """
    Whether ``tail`` may be the start of ``delimiter`` still being received.
    """
    return len(tail) < len(delimiter) and delimiter.startswith(tail)


class _PauseableMixin:
    """
    Pausing support shared by receivers that can act as push producers.

    Messages cut from a read are delivered by iterating over a list.  Pausing
    from inside the message handler moves the list iterator to its end, which
    ends the loop without testing ``paused`` per message, and keeps the list
    and the index of the first message not delivered as ``_held`` and
    ``_heldIndex``: both steps are O(1), whatever the number of messages.
    """

    paused: bool = False
    transport: Any
    _held: list[bytes] | None = None
    _heldIndex: int = 0
    # Whether every held line is within MAX_LENGTH (None: not measured).
    _heldShort: bool | None = None
    _delivering: tuple[list[bytes], Iterator[bytes]] | None = None

    def pauseProducing(self) -> None:
        """
        Stop delivering messages, even in the middle of a read, and ask the
        transport to stop reading.
        """
        self._holdBack()
        self.paused = True
        if self._transportOpen():
            self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """
        Deliver the messages kept while paused, in order, then read again.
        """
        self.paused = False
        if self._transportOpen():
            self.transport.resumeProducing()
        self.dataReceived(b"")

    def stopProducing(self) -> None:
        """
        Stop delivering messages for good and close the connection.
        """
        self._holdBack()
        self.paused = True
        if self._transportOpen():
            self.transport.stopProducing()

    def _transportOpen(self) -> bool:
        # A closing transport has nothing left to pause or resume.
        transport = self.transport
        return transport is not None and not transport.disconnecting

    def _isDisconnecting(self) -> bool:
        transport = self.transport
        return transport is not None and bool(transport.disconnecting)

    def _holdBack(self) -> None:
        delivering = self._delivering
        if delivering is None:
            return
        messages, iterator = delivering
        remaining = length_hint(iterator)
        if remaining:
            self._held = messages
            self._heldIndex = len(messages) - remaining
            cast(Any, iterator).__setstate__(len(messages))

    def _takeHeld(self) -> list[bytes]:
        """
        Remove and return the messages held back, as a new list.
        """
        held, index = self._held, self._heldIndex
        self._held = None
        self._heldIndex = 0
        if held is None:
            return []
        return held[index:] if index else held

    def _iterate(self, messages: list[bytes], start: int) -> Iterator[bytes]:
        iterator = iter(messages)
        if start:
            cast(Any, iterator).__setstate__(start)
        self._delivering = (messages, iterator)
        return iterator

    def dataReceived(self, data: bytes) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


@implementer(interfaces.IPushProducer)
class LineReceiver(protocol.Protocol, _PauseableMixin):
    """
    A protocol that receives lines and, optionally, raw data.

    Override ``lineReceived`` to handle each line (the delimiter stripped).
    Call ``setRawMode`` to receive the following bytes unframed through
    ``rawDataReceived``, and ``setLineMode`` to go back to lines.

    Lines are split on ``delimiter`` only; see the module documentation for
    the rule on bare ``b"\\r"`` and ``b"\\n"``.

    A line longer than ``MAX_LENGTH`` bytes (not counting the delimiter), or
    an unterminated buffer that can no longer become a line within that bound,
    is passed to ``lineLengthExceeded``, which closes the connection by
    default.  The receiver therefore never holds more than ``MAX_LENGTH``
    bytes plus one read of unterminated data.

    ``pauseProducing`` stops delivery at once, even in the middle of a read
    holding many lines; ``resumeProducing`` delivers the rest, in order.

    :ivar delimiter: the bytes that end a line.
    :ivar MAX_LENGTH: the longest line accepted, in bytes, without the
        delimiter.
    :ivar line_mode: true while receiving lines, false in raw mode.
    :ivar paused: true while delivery is paused.
    """

    delimiter: bytes = b"\r\n"
    MAX_LENGTH: int = 16384
    line_mode: int = 1
    paused: bool = False

    # Unparsed bytes, after every line in ``_lines[_lineIndex:]``.
    _buffer: bytes = b""
    _busyReceiving: bool = False
    # Set after an overlong unterminated line: bytes are dropped up to the
    # next delimiter, so a subclass that keeps the connection stays in step.
    _discarding: bool = False

    def clearLineBuffer(self) -> bytes:
        """
        Drop everything received but not delivered yet.

        :return: the dropped bytes, exactly as received: undelivered lines
            joined by the delimiter, followed by the unterminated rest.
        """
        self._holdBack()
        buffered = self._heldAsBytes() + self._buffer
        self._buffer = b""
        return buffered

    def _heldAsBytes(self) -> bytes:
        held = self._takeHeld()
        if not held:
            return b""
        delimiter = self.delimiter
        return delimiter.join(held) + delimiter

    def setLineMode(self, extra: bytes = b"") -> Any:
        """
        Receive lines from now on.

        :param extra: bytes to parse at once as if just received, typically
            what ``rawDataReceived`` got beyond the end of its raw section.
        :return: whatever ``dataReceived`` returns for ``extra``.
        """
        self.line_mode = 1
        if extra:
            return self.dataReceived(extra)
        return None

    def setRawMode(self) -> None:
        """
        Pass the following bytes, including any already buffered and not
        delivered as lines, to ``rawDataReceived`` instead of splitting them.
        """
        self.line_mode = 0
        self._holdBack()
        if self._held is not None:
            self._buffer = self._heldAsBytes() + self._buffer

    def rawDataReceived(self, data: bytes) -> object:
        """
        Handle bytes received in raw mode.  Override this if you use
        ``setRawMode``.

        :param data: the bytes received.
        :raises NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def lineReceived(self, line: bytes) -> object:
        """
        Handle one line.  Override this.

        :param line: the line, without its delimiter.
        :return: nothing, usually; a true value stops delivery of this read
            and is returned from ``dataReceived``, which a transport takes
            as the reason to close.
        :raises NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def sendLine(self, line: bytes) -> None:
        """
        Write ``line`` followed by the delimiter to the transport.

        :param line: the line, without delimiter.
        :raises TypeError: if ``line`` is a ``str``.
        """
        _checkBytes(line, "sendLine")
        self.transport.write(line + self.delimiter)

    def lineLengthExceeded(self, line: bytes) -> object:
        """
        Called when a line is longer than ``MAX_LENGTH``.  By default, close
        the connection.

        :param line: the overlong line, or the start of it if it was not
            terminated yet.
        :return: a true value stops delivery of the current read.
        """
        return self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> Any:
        """
        Split received bytes into lines (or raw data) and deliver them.

        :param data: bytes just read from the transport.
        :return: a true value returned by ``lineReceived``, if any.
        """
        if self._busyReceiving or self.paused:
            # The running delivery loop (or resumeProducing) picks these up.
            if self._buffer:
                self._buffer += data
            else:
                self._buffer = data
            return None
        if self._isDisconnecting():
            # Closing: nothing more is delivered.
            return None
        self._busyReceiving = True
        try:
            return self._deliver(data)
        finally:
            self._busyReceiving = False

    def _deliver(self, data: bytes) -> object:
        if self._buffer:
            self._buffer += data
        else:
            self._buffer = data
        delimiter = self.delimiter
        while not self.paused:
            held = self._held
            if held is not None:
                self._held = None
                why = self._deliverLines(held, self._heldIndex, self._heldShort)
                if why is not None:
                    return why
                continue
            buffer = self._buffer
            if not buffer:
                return None
            if not self.line_mode:
                self._buffer = b""
                why = self.rawDataReceived(buffer)
                if why or self._isDisconnecting():
                    return why
                continue
            if self._discarding:
                index = buffer.find(delimiter)
                if index == -1:
                    keep = len(delimiter) - 1
                    self._buffer = buffer[-keep:] if keep else b""
                    return None
                self._discarding = False
                self._buffer = buffer[index + len(delimiter) :]
                continue
            lines = buffer.split(delimiter)
            rest = lines.pop()
            self._buffer = rest
            if lines:
                why = self._deliverLines(lines, 0, None)
                if why is not None:
                    return why
                continue
            return self._checkRest(rest)
        return None

    def _checkRest(self, rest: bytes) -> object:
        limit = self.MAX_LENGTH
        if len(rest) > limit and not _partialDelimiter(rest[limit:], self.delimiter):
            # The tail may hold the start of the delimiter ending this line.
            keep = len(self.delimiter) - 1
            self._buffer = rest[-keep:] if keep else b""
            self._discarding = True
            return self.lineLengthExceeded(rest)
        return None

    def _deliverLines(
        self, lines: list[bytes], start: int, short: bool | None
    ) -> object:
        """
        Deliver ``lines[start:]`` until done, paused, switched to raw mode or
        told to stop.  Return a stop reason, or None.
        """
        limit = self.MAX_LENGTH
        lineReceived = self.lineReceived
        transport = self.transport
        if transport is None:
            transport = _NO_TRANSPORT
        iterator = self._iterate(lines, start)
        try:
            # One C-level pass spares a length test per line in the usual case.
            if short is None:
                # Measured once per read, not again on each resume.
                short = max(map(len, lines)) <= limit
            self._heldShort = short
            if short:
                for line in iterator:
                    why = lineReceived(line)
                    if why or transport.disconnecting:
                        self._stopReading()
                        return why if why else False
            else:
                for line in iterator:
                    if len(line) > limit:
                        why = self.lineLengthExceeded(line)
                    else:
                        why = lineReceived(line)
                    if why or transport.disconnecting:
                        self._stopReading()
                        return why if why else False
        finally:
            self._delivering = None
        return None

    def _stopReading(self) -> None:
        self._held = None
        self._buffer = b""


class LineOnlyReceiver(protocol.Protocol):
    """
    A simpler and faster line receiver: lines only, no raw mode, no pausing.

    Override ``lineReceived``.  Lines are split on ``delimiter`` only.  A line
    longer than ``MAX_LENGTH`` bytes, or an unterminated buffer longer than
    that, calls ``lineLengthExceeded``, which closes the connection by
    default.

    :ivar delimiter: the bytes that end a line.
    :ivar MAX_LENGTH: the longest line accepted, in bytes, without the
        delimiter.
    """

    delimiter: bytes = b"\r\n"
    MAX_LENGTH: int = 16384
    _buffer: bytes = b""

    def dataReceived(self, data: bytes) -> Any:
        """
        Split received bytes into lines and deliver them.

        :param data: bytes just read from the transport.
        :return: a true value returned by ``lineReceived``, if any.
        """
        delimiter = self.delimiter
        transport = self.transport
        if transport is None:
            transport = _NO_TRANSPORT
        lines = (self._buffer + data).split(delimiter)
        rest = lines.pop()
        self._buffer = rest
        limit = self.MAX_LENGTH
        lineReceived = self.lineReceived
        checkLength = bool(lines) and max(map(len, lines)) > limit
        for line in lines:
            if transport.disconnecting:
                self._buffer = b""
                return None
            if checkLength and len(line) > limit:
                return self.lineLengthExceeded(line)
            why = lineReceived(line)
            if why:
                return why
        if len(rest) > limit and not _partialDelimiter(rest[limit:], delimiter):
            self._buffer = b""
            return self.lineLengthExceeded(rest)
        return None

    def lineReceived(self, line: bytes) -> object:
        """
        Handle one line.  Override this.

        :param line: the line, without its delimiter.
        :return: a true value stops delivery of this read.
        :raises NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def sendLine(self, line: bytes) -> None:
        """
        Write ``line`` followed by the delimiter to the transport.

        :param line: the line, without delimiter.
        :raises TypeError: if ``line`` is a ``str``.
        """
        _checkBytes(line, "sendLine")
        self.transport.write(line + self.delimiter)

    def lineLengthExceeded(self, line: bytes) -> object:
        """
        Called when a line is longer than ``MAX_LENGTH``.  By default, close
        the connection.

        :param line: the overlong line, or its start if unterminated.
        :return: a true value stops delivery.
        """
        return self.transport.loseConnection()


class NetstringParseError(ValueError):
    """
    The peer sent bytes that are not a valid netstring.
    """


class StringTooLongError(AssertionError):
    """
    A string is too long to be sent with the receiver's length prefix.
    """


class NetstringReceiver(protocol.Protocol):
    """
    A protocol that exchanges netstrings: ``b"<length>:<data>,"`` with the
    length in decimal ASCII digits.

    Override ``stringReceived``.  The length must be ``b"0"`` or start with a
    non-zero digit, have no sign or space, and be at most ``MAX_LENGTH``; it
    is checked digit by digit, before anything is allocated.  Any violation
    raises ``NetstringParseError`` internally, closes the connection and sets
    ``brokenPeer``; the rest of the stream is ignored.

    :ivar MAX_LENGTH: the longest string accepted, in bytes.
    :ivar brokenPeer: true once the peer sent an invalid netstring.
    """

    MAX_LENGTH: int = 99999
    brokenPeer: int = 0
    _buffer: bytes = b""

    def stringReceived(self, string: bytes) -> None:
        """
        Handle one netstring's payload.  Override this.

        :param string: the payload.
        :raises NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def sendString(self, string: bytes) -> None:
        """
        Write ``string`` to the transport as one netstring.

        :param string: the payload.
        :raises TypeError: if ``string`` is a ``str``.
        """
        _checkBytes(string, "sendString")
        self.transport.write(b"%d:%s," % (len(string), string))

    def dataReceived(self, data: bytes) -> None:
        """
        Parse netstrings from received bytes and deliver them.

        :param data: bytes just read from the transport.
        """
        if self.brokenPeer:
            return
        buffer = self._buffer + data if self._buffer else data
        try:
            offset = self._parse(buffer)
        except NetstringParseError:
            self._buffer = b""
            self.brokenPeer = 1
            self.transport.loseConnection()
            return
        self._buffer = buffer[offset:]

    def _maxDigits(self) -> int:
        return len(str(self.MAX_LENGTH))

    def _parseLength(self, digits: bytes) -> int:
        if not digits:
            raise NetstringParseError("empty netstring length")
        if not digits.isdigit() or not digits.isascii():
            raise NetstringParseError(f"netstring length is not digits: {digits!r}")
        if len(digits) > 1 and digits[:1] == b"0":
            raise NetstringParseError("netstring length has a leading zero")
        if len(digits) > self._maxDigits():
            raise NetstringParseError("netstring length too long")
        length = int(digits)
        if length > self.MAX_LENGTH:
            raise NetstringParseError(
                f"netstring of {length} bytes exceeds MAX_LENGTH {self.MAX_LENGTH}"
            )
        return length

    def _parse(self, buffer: bytes) -> int:
        """
        Deliver every complete netstring in ``buffer``; return the offset of
        the first unparsed byte.
        """
        offset = 0
        end = len(buffer)
        maxDigits = self._maxDigits()
        transport = self.transport
        while offset < end:
            if transport is not None and transport.disconnecting:
                return end
            colon = buffer.find(b":", offset, offset + maxDigits + 1)
            if colon == -1:
                # Validate the digits so far: reject bad prefixes at once.
                pending = buffer[offset : offset + maxDigits + 1]
                if len(pending) > maxDigits:
                    raise NetstringParseError("netstring length too long")
                if pending:
                    self._parseLength(pending)
                return offset
            length = self._parseLength(buffer[offset:colon])
            start = colon + 1
            stop = start + length
            if stop >= end:
                return offset
            if buffer[stop] != 0x2C:
                raise NetstringParseError("netstring not terminated by a comma")
            offset = stop + 1
            self.stringReceived(buffer[start:stop])
        return offset


@implementer(interfaces.IPushProducer)
class IntNStringReceiver(protocol.Protocol, _PauseableMixin):
    """
    Base class for protocols exchanging strings preceded by their length as
    a fixed-size unsigned big-endian integer.  Use one of
    ``Int8StringReceiver``, ``Int16StringReceiver`` or
    ``Int32StringReceiver``, or subclass and set ``structFormat`` and
    ``prefixLength``.

    Override ``stringReceived``.  A declared length above ``MAX_LENGTH``
    calls ``lengthLimitExceeded`` before anything is allocated; by default
    it closes the connection.

    :ivar structFormat: the ``struct`` format of the length prefix.
    :ivar prefixLength: the size of the prefix in bytes.
    :ivar MAX_LENGTH: the longest string accepted, in bytes.
    :ivar recvd: bytes received but not parsed yet.  Strings already cut
        from a read and held back by a pause are kept apart, and so are the
        reads of a string of 64 KiB or more still arriving, which are joined
        once it is complete.
    """

    structFormat: ClassVar[str]
    prefixLength: ClassVar[int]
    MAX_LENGTH: int = 99999
    recvd: bytes = b""
    paused: bool = False
    _busyReceiving: bool = False
    _pieces: list[bytes] | None = None
    _piecesSize: int = 0
    _awaiting: int = 0

    def stringReceived(self, string: bytes) -> None:
        """
        Handle one string.  Override this.

        :param string: the payload, without its prefix.
        :raises NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def lengthLimitExceeded(self, length: int) -> None:
        """
        Called when the peer announces a string longer than ``MAX_LENGTH``.
        By default, close the connection.

        :param length: the announced length.
        """
        self.transport.loseConnection()

    def sendString(self, string: bytes) -> None:
        """
        Write ``string`` to the transport, preceded by its length.

        :param string: the payload.
        :raises TypeError: if ``string`` is a ``str``.
        :raises StringTooLongError: if the length does not fit the prefix.
        """
        _checkBytes(string, "sendString")
        if len(string) >= 2 ** (8 * self.prefixLength):
            raise StringTooLongError(
                f"{len(string)} bytes do not fit a {self.prefixLength}-byte prefix"
            )
        self.transport.write(struct.pack(self.structFormat, len(string)) + string)

    def dataReceived(self, data: bytes) -> None:
        """
        Parse strings from received bytes and deliver them.

        :param data: bytes just read from the transport.
        """
        pieces = self._pieces
        if self._busyReceiving or self.paused:
            # The running loop, or resumeProducing, parses these in order.
            if pieces is not None:
                pieces.append(data)
                self._piecesSize += len(data)
            else:
                self.recvd = self.recvd + data if self.recvd else data
            return
        if self._isDisconnecting():
            # Closing: nothing more is delivered.
            return
        if pieces is not None:
            self._piecesSize += len(data)
            if self._piecesSize < self._awaiting:
                pieces.append(data)
                return
            pieces.append(data)
            data = b"".join(pieces)
            self._pieces = None
        self._busyReceiving = True
        try:
            self._receive(data)
        finally:
            self._busyReceiving = False

    def _receive(self, data: bytes) -> None:
        if self._held is not None and not self._deliver([]):
            self.recvd = self.recvd + data if self.recvd else data
            return
        buffer = self.recvd + data if self.recvd else data
        while buffer:
            strings, rest, exceeded = self._split(buffer)
            # Bytes received while delivering are appended after ``rest``.
            self.recvd = rest
            if strings and not self._deliver(strings):
                return
            if exceeded is not None:
                self.recvd = b""
                self.lengthLimitExceeded(exceeded)
                return
            if self.recvd is rest:
                self._awaitLongString(rest)
                return
            buffer = self.recvd

    def _awaitLongString(self, rest: bytes) -> None:
        # A long string arriving in many reads is gathered in a list and
        # joined once, instead of copying the growing buffer on every read.
        prefix = self.prefixLength
        if len(rest) < prefix:
            return
        needed = prefix + _structs[self.structFormat].unpack_from(rest)[0]
        if needed - len(rest) >= _GATHER_THRESHOLD:
            self._pieces = [rest]
            self._piecesSize = len(rest)
            self._awaiting = needed
            self.recvd = b""

    def _split(self, buffer: bytes) -> tuple[list[bytes], bytes, int | None]:
        """
        Cut the complete strings at the start of ``buffer``.

        :return: the strings, the unparsed rest, and the first length over
            ``MAX_LENGTH`` (strings after it are not cut), or None.
        """
        unpack = _structs[self.structFormat].unpack_from
        prefix = self.prefixLength
        strings: list[bytes] = []
        append = strings.append
        offset = 0
        size = len(buffer)
        last = size - prefix
        end = 0
        while offset <= last:
            start = offset + prefix
            end = start + unpack(buffer, offset)[0]
            if end > size:
                break
            append(buffer[start:end])
            offset = end
        limit = self.MAX_LENGTH
        if strings and max(map(len, strings)) > limit:
            for index, string in enumerate(strings):
                if len(string) > limit:
                    return strings[:index], b"", len(string)
        if offset <= last and end - offset - prefix > limit:
            # Announced but not received: refused before it is buffered.
            return strings, b"", end - offset - prefix
        return strings, buffer[offset:] if offset else buffer, None

    def _deliver(self, strings: list[bytes]) -> bool:
        """
        Deliver ``strings``, then any held back and released meanwhile.

        :return: whether parsing may go on (not paused, not closing).
        """
        stringReceived = self.stringReceived
        transport = self.transport
        if transport is None:
            transport = _NO_TRANSPORT
        start = 0
        while True:
            try:
                for string in self._iterate(strings, start):
                    stringReceived(string)
                    if transport.disconnecting:
                        self._held = None
                        return False
            finally:
                self._delivering = None
            if self.paused:
                return False
            if self._held is None:
                return True
            strings, start = self._held, self._heldIndex
            self._held = None


# Missing bytes from which a string's reads are gathered rather than joined
# one by one.
_GATHER_THRESHOLD = 65536


class _NoTransport:
    disconnecting = False


_NO_TRANSPORT = _NoTransport()


class _StructCache(dict[str, struct.Struct]):
    def __missing__(self, fmt: str) -> struct.Struct:
        compiled = self[fmt] = struct.Struct(fmt)
        return compiled


_structs = _StructCache()


class Int8StringReceiver(IntNStringReceiver):
    """
    Strings preceded by a one-byte length (at most 255 bytes each).
    """

    structFormat = "!B"
    prefixLength = 1


class Int16StringReceiver(IntNStringReceiver):
    """
    Strings preceded by a two-byte big-endian length.
    """

    structFormat = "!H"
    prefixLength = 2


class Int32StringReceiver(IntNStringReceiver):
    """
    Strings preceded by a four-byte big-endian length.
    """

    structFormat = "!I"
    prefixLength = 4


@implementer(interfaces.IPullProducer)
class FileSender:
    """
    Send a file to a consumer, a chunk each time the consumer asks for more.

    :ivar CHUNK_SIZE: how many bytes are read from the file per chunk.
    :ivar lastSent: the last byte written to the consumer.
    :ivar deferred: the Deferred returned by ``beginFileTransfer``.
    """

    CHUNK_SIZE: int = 2**14
    lastSent: bytes = b""
    deferred: Deferred[bytes] | None = None

    def __init__(self) -> None:
        self.file: IO[bytes] | None = None
        self.consumer: Any = None
        self.transform: Callable[[bytes], bytes] | None = None

    def beginFileTransfer(
        self,
        file: IO[bytes],
        consumer: Any,
        transform: Callable[[bytes], bytes] | None = None,
    ) -> Deferred[bytes]:
        """
        Start sending ``file`` to ``consumer``.

        :param file: a file opened for reading in binary mode.
        :param consumer: an ``IConsumer``, such as a transport; this sender
            registers itself on it as a pull producer.
        :param transform: applied to every chunk before it is written.
        :return: a Deferred firing with the last byte written (``b""`` for
            an empty file) when the whole file is sent, or failing if the
            consumer stops the transfer.
        """
        self.file = file
        self.consumer = consumer
        self.transform = transform
        from torsion.internet.defer import Deferred

        deferred: Deferred[bytes] = Deferred()
        self.deferred = deferred
        consumer.registerProducer(self, False)
        return deferred

    def resumeProducing(self) -> None:
        """
        Write the next chunk to the consumer, or finish the transfer.
        """
        chunk = b""
        if self.file is not None:
            chunk = self.file.read(self.CHUNK_SIZE)
        if not chunk:
            self.file = None
            if self.consumer is not None:
                self.consumer.unregisterProducer()
            deferred, self.deferred = self.deferred, None
            if deferred is not None:
                deferred.callback(self.lastSent)
            return
        if self.transform is not None:
            chunk = self.transform(chunk)
        self.consumer.write(chunk)
        self.lastSent = chunk[-1:]

    def pauseProducing(self) -> None:
        """
        Nothing to do: this producer only writes when asked.
        """

    def stopProducing(self) -> None:
        """
        Abandon the transfer; the Deferred fails with an ``Exception``.
        """
        self.file = None
        deferred, self.deferred = self.deferred, None
        if deferred is not None:
            deferred.errback(Exception("Consumer asked us to stop producing"))
