"""
Banana: a small, length-prefixed encoding of nested lists of integers,
byte strings and floats.

Every element is a *header* (a non-negative integer written in base 128,
least significant digit first, one digit per byte with the high bit clear)
followed by a *type byte* (high bit set):

====== ======= =====================================================
byte   name    meaning of the header
====== ======= =====================================================
0x80   list    number of elements that follow
0x81   int     the value, ``0 <= n < 2**31``
0x82   string  the length of the bytes that follow
0x83   neg     minus the value, ``-2**31 <= n < 0``
0x84   float   nothing (empty header); 8 bytes, IEEE 754, big-endian
0x85   longint the value, ``n >= 2**31``
0x86   longneg minus the value, ``n < -2**31``
0x87   vocab   the number of a symbol in the vocabulary
====== ======= =====================================================

This layout is the one Twisted's banana uses, so plain values encoded here
decode there and back.  Every length a peer controls is bounded by a named
module constant (``SIZE_LIMIT``, ``MAX_LIST_LENGTH``, ``MAX_NESTING_DEPTH``,
``HEADER_LIMIT``, ``MESSAGE_SIZE_LIMIT``); input beyond a limit, or that is
malformed, raises ``BananaError``, and the ``Banana`` protocol then logs the
reason and closes the connection.

The codec itself (``encode`` and ``Decoder``) does no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

from torsion.internet import protocol
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "FLOAT",
    "HEADER_LIMIT",
    "INT",
    "LIST",
    "LONGINT",
    "LONGNEG",
    "MAX_LIST_LENGTH",
    "MAX_NESTING_DEPTH",
    "MESSAGE_SIZE_LIMIT",
    "NEG",
    "PB_VOCABULARY",
    "SIZE_LIMIT",
    "STRING",
    "VOCAB",
    "Banana",
    "BananaError",
    "Decoder",
    "decode",
    "encode",
]

LIST = 0x80
INT = 0x81
STRING = 0x82
NEG = 0x83
FLOAT = 0x84
LONGINT = 0x85
LONGNEG = 0x86
VOCAB = 0x87

SIZE_LIMIT = 640 * 1024
"""Largest byte string (in bytes) a decoder accepts: 640 KiB."""

MAX_LIST_LENGTH = 640 * 1024
"""Largest number of elements a decoder accepts in one list."""

MAX_NESTING_DEPTH = 100
"""Deepest nesting of lists a decoder accepts (a top-level list is depth 1)."""

HEADER_LIMIT = 64
"""Most base-128 digits in one header; bounds large integers to 448 bits."""

MESSAGE_SIZE_LIMIT = 16 * 1024 * 1024
"""Most bytes one top-level expression may take on the wire: 16 MiB."""

_INT_BOUND = 2**31

PB_VOCABULARY: dict[bytes, int] = {
    symbol: number
    for number, symbol in enumerate(
        [
            b"None",
            b"boolean",
            b"unicode",
            b"list",
            b"tuple",
            b"dictionary",
            b"set",
            b"frozenset",
            b"reference",
            b"dereference",
            b"message",
            b"answer",
            b"error",
            b"decref",
            b"remote",
            b"local",
            b"cache",
            b"cached",
            b"uncache",
            b"cachemessage",
            b"copy",
            b"instance",
        ],
        start=1,
    )
}
"""The symbols PB abbreviates on the wire, with their vocabulary numbers."""


class BananaError(Exception):
    """
    Bytes that are not valid banana, or that exceed one of the limits; also
    raised when asked to encode something banana cannot carry.

    :ivar expressions: raised by ``Decoder.feed``: the expressions that were
        complete in the same input before the bad bytes.
    """

    expressions: list[Any] = []


def _header(n: int) -> bytes:
    digits = bytearray()
    while True:
        digits.append(n & 0x7F)
        n >>= 7
        if not n:
            break
    if len(digits) > HEADER_LIMIT:
        raise BananaError(f"integer too large for banana (over {HEADER_LIMIT} digits)")
    return bytes(digits)


def encode(obj: object, vocabulary: Mapping[bytes, int] | None = None) -> bytes:
    """
    Encode one expression.

    :param obj: an ``int``, ``float``, ``bytes``, or a ``list`` or ``tuple``
        of such things (``bool`` is refused: jelly carries booleans).
    :param vocabulary: byte strings to send as vocabulary numbers.
    :return: the encoding.
    :raises BananaError: for anything else, for integers beyond
        ``HEADER_LIMIT`` digits, or nesting deeper than
        ``MAX_NESTING_DEPTH``.
    """
    out = bytearray()
    _encode(obj, out, vocabulary or {}, 0)
    return bytes(out)


def _encode(
    obj: object, out: bytearray, vocabulary: Mapping[bytes, int], depth: int
) -> None:
    if isinstance(obj, (list, tuple)):
        if depth >= MAX_NESTING_DEPTH:
            raise BananaError(f"lists nested deeper than {MAX_NESTING_DEPTH}")
        out += _header(len(obj))
        out.append(LIST)
        for item in obj:
            _encode(item, out, vocabulary, depth + 1)
    elif isinstance(obj, bool):
        raise BananaError("banana cannot encode bool; jelly it first")
    elif isinstance(obj, int):
        if 0 <= obj < _INT_BOUND:
            out += _header(obj)
            out.append(INT)
        elif -_INT_BOUND <= obj < 0:
            out += _header(-obj)
            out.append(NEG)
        elif obj > 0:
            out += _header(obj)
            out.append(LONGINT)
        else:
            out += _header(-obj)
            out.append(LONGNEG)
    elif isinstance(obj, bytes):
        number = vocabulary.get(obj)
        if number is not None:
            out += _header(number)
            out.append(VOCAB)
        else:
            out += _header(len(obj))
            out.append(STRING)
            out += obj
    elif isinstance(obj, float):
        out.append(FLOAT)
        out += struct.pack("!d", obj)
    else:
        raise BananaError(f"banana cannot encode {type(obj).__name__}")


class Decoder:
    """
    An incremental banana decoder: feed it bytes as they arrive, get back
    the complete top-level expressions.

    :param vocabulary: symbol to number; incoming vocabulary numbers are
        decoded to their symbols.

    After a ``BananaError`` the decoder is unusable: the stream has lost
    its framing.
    """

    def __init__(self, vocabulary: Mapping[bytes, int] | None = None) -> None:
        self._symbols = {n: s for s, n in (vocabulary or {}).items()}
        self._buffer = bytearray()
        # Each open list: [expected length, items so far].
        self._stack: list[tuple[int, list[Any]]] = []
        # Bytes of the current top-level expression consumed so far.
        self._consumed = 0
        self._broken: BananaError | None = None

    def feed(self, data: bytes) -> list[Any]:
        """
        :param data: the next bytes of the stream.
        :return: the top-level expressions completed by ``data``, in order.
        :raises BananaError: when the stream is malformed or over a limit; its
            ``expressions`` holds those completed before the problem.
        """
        if self._broken is not None:
            raise self._broken
        self._buffer += data
        done: list[Any] = []
        try:
            self._parse(done)
        except BananaError as e:
            e.expressions = done
            self._broken = e
            raise
        return done

    def _parse(self, done: list[Any]) -> None:
        buf = self._buffer
        pos = 0
        end = len(buf)
        while pos < end:
            start = pos
            # The header: digits with the high bit clear.
            while pos < end and buf[pos] < 0x80:
                pos += 1
                if pos - start > HEADER_LIMIT:
                    raise BananaError(f"header longer than {HEADER_LIMIT} bytes")
            if pos == end:
                pos = start
                break
            typeByte = buf[pos]
            header = 0
            for shift, digit in enumerate(buf[start:pos]):
                header |= digit << (7 * shift)
            pos += 1
            value: Any
            if typeByte == LIST:
                if header > MAX_LIST_LENGTH:
                    raise BananaError(
                        f"list of {header} elements is over MAX_LIST_LENGTH "
                        f"({MAX_LIST_LENGTH})"
                    )
                if len(self._stack) >= MAX_NESTING_DEPTH:
                    raise BananaError(
                        f"lists nested deeper than MAX_NESTING_DEPTH "
                        f"({MAX_NESTING_DEPTH})"
                    )
                self._consumed += pos - start
                if header:
                    self._stack.append((header, []))
                    continue
                value = []
            elif typeByte == STRING:
                if header > SIZE_LIMIT:
                    raise BananaError(
                        f"string of {header} bytes is over SIZE_LIMIT ({SIZE_LIMIT})"
                    )
                if end - pos < header:
                    pos = start
                    break
                value = bytes(buf[pos : pos + header])
                pos += header
            elif typeByte in (INT, LONGINT):
                value = header
            elif typeByte in (NEG, LONGNEG):
                value = -header
            elif typeByte == FLOAT:
                if pos != start + 1:
                    raise BananaError("a float has no header")
                if end - pos < 8:
                    pos = start
                    break
                value = struct.unpack("!d", buf[pos : pos + 8])[0]
                pos += 8
            elif typeByte == VOCAB:
                symbol = self._symbols.get(header)
                if symbol is None:
                    raise BananaError(f"unknown vocabulary number {header}")
                value = symbol
            else:
                raise BananaError(f"unknown type byte 0x{typeByte:02x}")
            if typeByte != LIST:
                self._consumed += pos - start
            # Hand the finished value to its list, closing lists as they fill.
            while True:
                if not self._stack:
                    done.append(value)
                    self._consumed = 0
                    break
                expected, items = self._stack[-1]
                items.append(value)
                if len(items) < expected:
                    break
                self._stack.pop()
                value = items
        del buf[:pos]
        if self._consumed + len(buf) > MESSAGE_SIZE_LIMIT:
            raise BananaError(
                f"expression longer than MESSAGE_SIZE_LIMIT ({MESSAGE_SIZE_LIMIT})"
            )


def decode(data: bytes, vocabulary: Mapping[bytes, int] | None = None) -> Any:
    """
    Decode exactly one complete expression.

    :param data: its encoding.
    :param vocabulary: symbol to number, as the encoder used.
    :return: the expression (lists, ints, bytes and floats).
    :raises BananaError: if ``data`` is not exactly one valid expression.
    """
    decoder = Decoder(vocabulary)
    found = decoder.feed(data)
    if len(found) != 1 or decoder._buffer or decoder._stack:
        raise BananaError("expected exactly one complete expression")
    return found[0]


class Banana(protocol.Protocol):
    """
    A protocol exchanging banana expressions.

    Override ``expressionReceived``; send with ``sendEncoded``.  A peer that
    sends malformed banana or breaks a limit gets its connection closed, and
    the reason is logged.

    :param isClient: which end of the connection this is (kept for
        subclasses; both ends speak the same way).
    :param vocabulary: symbols abbreviated on the wire; both ends must use
        the same one.
    """

    def __init__(
        self, isClient: bool = True, vocabulary: Mapping[bytes, int] | None = None
    ) -> None:
        self.isClient = isClient
        self.vocabulary: Mapping[bytes, int] = (
            PB_VOCABULARY if vocabulary is None else vocabulary
        )
        self._decoder = Decoder(self.vocabulary)

    def dataReceived(self, data: bytes) -> None:
        """
        Decode ``data`` and call ``expressionReceived`` for each complete
        expression.

        :param data: bytes from the transport.
        """
        try:
            expressions = self._decoder.feed(data)
        except BananaError as e:
            # What was complete before the bad bytes is still valid.
            self._dispatchAll(e.expressions)
            if not getattr(self, "_bananaClosed", False):
                self.handleBananaError(e)
            return
        self._dispatchAll(expressions)

    def _dispatchAll(self, expressions: Iterable[Any]) -> None:
        for expression in expressions:
            if self.transport is None or getattr(self, "_bananaClosed", False):
                return
            self.expressionReceived(expression)

    def handleBananaError(self, error: BananaError) -> None:
        """
        Called when the peer sent bad banana: logs the reason and closes
        the connection.

        :param error: what was wrong.
        """
        log.err(Failure(error), "closing connection: invalid banana from peer")
        self._bananaClosed = True
        if self.transport is not None:
            self.transport.loseConnection()

    def expressionReceived(self, expression: Any) -> None:
        """
        Called for each complete expression; override it.

        :param expression: the decoded expression.
        :raises NotImplementedError: unless overridden.
        """
        raise NotImplementedError("Banana.expressionReceived must be overridden")

    def sendEncoded(self, obj: object) -> None:
        """
        Encode ``obj`` and write it to the transport.

        :param obj: an expression ``encode`` accepts.
        :raises BananaError: if it cannot be encoded.
        """
        data = encode(obj, self.vocabulary)
        if self.transport is not None:
            self.transport.write(data)
