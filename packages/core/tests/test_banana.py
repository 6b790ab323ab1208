"""
Tests for ``torsion.spread.banana``: encoding, incremental decoding, the
limits and the protocol's reaction to bad input.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reactormixins import LogCapture

from torsion.internet import error
from torsion.internet.testing import StringTransport
from torsion.spread import banana
from torsion.spread.banana import Banana, BananaError, Decoder, decode, encode

# -- encoding -------------------------------------------------


def test_knownEncodings() -> None:
    """
    Values encode to the documented header + type byte layout.
    """
    assert encode(0) == b"\x00\x81"
    assert encode(1) == b"\x01\x81"
    assert encode(128) == b"\x00\x01\x81"
    assert encode(-1) == b"\x01\x83"
    assert encode(b"ab") == b"\x02\x82ab"
    assert encode([]) == b"\x00\x80"
    assert encode([1, b"x"]) == b"\x02\x80\x01\x81\x01\x82x"
    assert encode(1.5) == b"\x84" + struct.pack("!d", 1.5)
    assert encode(2**31) == b"\x00\x00\x00\x00\x08\x85"
    assert encode(-(2**31) - 1) == b"\x01\x00\x00\x00\x08\x86"
    assert encode(-(2**31)) == b"\x00\x00\x00\x00\x08\x83"


def test_vocabulary() -> None:
    """
    Symbols in the vocabulary travel as their number and decode back.
    """
    vocab = {b"hello": 3}
    data = encode([b"hello", b"world"], vocab)
    assert data == b"\x02\x80\x03\x87\x05\x82world"
    assert decode(data, vocab) == [b"hello", b"world"]


def test_unknownVocabulary() -> None:
    """
    A vocabulary number not in the table is an error.
    """
    with pytest.raises(BananaError):
        decode(b"\x05\x87", {b"a": 1})


def test_encodeRefusesOtherTypes() -> None:
    """
    Anything but ints, floats, bytes and lists is refused, including str and
    bool.
    """
    for bad in ("text", True, None, {1: 2}, object()):
        with pytest.raises(BananaError):
            encode(bad)


def test_tuplesEncodeAsLists() -> None:
    """
    Tuples are encoded as lists.
    """
    assert decode(encode((1, (2,)))) == [1, [2]]


# -- limits -------------------------------------------------


def test_sizeLimitBoundary() -> None:
    """
    A string of exactly ``SIZE_LIMIT`` bytes decodes; one more is refused
    as soon as its header is read.
    """
    assert decode(encode(b"x" * banana.SIZE_LIMIT)) == b"x" * banana.SIZE_LIMIT
    header = encode(b"x" * (banana.SIZE_LIMIT + 1))[:4]
    with pytest.raises(BananaError, match="SIZE_LIMIT"):
        Decoder().feed(header)


def test_listLengthBoundary(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    A list of ``MAX_LIST_LENGTH`` elements is accepted; one more is refused
    from its header alone (checked at the default limit, and at a lowered
    one to keep the accepted case quick).
    """

    def listHeader(n: int) -> bytes:
        return encode(n)[:-1] + bytes([banana.LIST])

    with pytest.raises(BananaError, match="MAX_LIST_LENGTH"):
        Decoder().feed(listHeader(banana.MAX_LIST_LENGTH + 1))
    assert Decoder().feed(listHeader(banana.MAX_LIST_LENGTH)) == []
    monkeypatch.setattr(banana, "MAX_LIST_LENGTH", 1000)
    assert Decoder().feed(encode([0] * 1000)) == [[0] * 1000]
    with pytest.raises(BananaError, match="MAX_LIST_LENGTH"):
        Decoder().feed(encode([0] * 1001))


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nestingBoundary() -> None:
    """
    Lists nested ``MAX_NESTING_DEPTH`` deep round trip; one level deeper is
    refused by both the encoder and the decoder.
    """
    ok = _nested(banana.MAX_NESTING_DEPTH)
    assert decode(encode(ok)) == ok
    with pytest.raises(BananaError):
        encode(_nested(banana.MAX_NESTING_DEPTH + 1))
    tooDeep = b"\x01\x80" * banana.MAX_NESTING_DEPTH + b"\x00\x80"
    with pytest.raises(BananaError, match="MAX_NESTING_DEPTH"):
        Decoder().feed(tooDeep)


def test_headerLimitBoundary() -> None:
    """
    The largest integer whose header fits ``HEADER_LIMIT`` digits round
    trips; a larger one cannot be encoded, and a longer header is refused.
    """
    biggest = 2 ** (7 * banana.HEADER_LIMIT) - 1
    assert decode(encode(biggest)) == biggest
    assert decode(encode(-biggest)) == -biggest
    with pytest.raises(BananaError):
        encode(biggest + 1)
    with pytest.raises(BananaError, match="header"):
        Decoder().feed(b"\x01" * (banana.HEADER_LIMIT + 1))


def test_limitsAreOverridable(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    The limits are module constants a program may change.
    """
    monkeypatch.setattr(banana, "SIZE_LIMIT", 4)
    assert decode(encode(b"abcd")) == b"abcd"
    with pytest.raises(BananaError):
        decode(encode(b"abcde"))


def test_messageSizeLimit(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    One expression may take at most ``MESSAGE_SIZE_LIMIT`` bytes, even when
    made of many small pieces.
    """
    monkeypatch.setattr(banana, "MESSAGE_SIZE_LIMIT", 100)
    fits = encode([b"x" * 10] * 7)
    assert len(fits) <= 100
    assert Decoder().feed(fits) == [[b"x" * 10] * 7]
    decoder = Decoder()
    data = encode([b"x" * 10] * 20)
    with pytest.raises(BananaError, match="MESSAGE_SIZE_LIMIT"):
        for i in range(len(data)):
            decoder.feed(data[i : i + 1])


def test_unknownTypeByte() -> None:
    """
    A type byte outside the table is an error, and the decoder stays broken.
    """
    decoder = Decoder()
    with pytest.raises(BananaError):
        decoder.feed(b"\x01\x99")
    with pytest.raises(BananaError):
        decoder.feed(encode(1))


def test_floatWithHeader() -> None:
    """
    A float must not have a header.
    """
    with pytest.raises(BananaError):
        decode(b"\x01\x84" + struct.pack("!d", 1.0))


# -- incremental decoding --------------------------------------------------------


def test_byteByByte() -> None:
    """
    Fed one byte at a time, the decoder gives each expression exactly once,
    when its last byte arrives.
    """
    values: list[Any] = [[1, [b"abc", -5, 2.5], []], 2**70, b"", [[[]]]]
    data = b"".join(encode(v) for v in values)
    decoder = Decoder()
    got: list[Any] = []
    for i in range(len(data)):
        got.extend(decoder.feed(data[i : i + 1]))
    assert got == values


def test_decodeNeedsExactlyOne() -> None:
    """
    ``decode`` refuses partial input and trailing bytes.
    """
    with pytest.raises(BananaError):
        decode(encode([1, 2])[:-1])
    with pytest.raises(BananaError):
        decode(encode(1) + encode(2))


# -- property tests ----------------------------------------------------------------

_leaves = (
    st.integers(min_value=-(2**400), max_value=2**400)
    | st.binary(max_size=50)
    | st.floats(allow_nan=False)
)
_values = st.recursive(
    _leaves, lambda inner: st.lists(inner, max_size=5), max_leaves=30
)


@given(_values)
def test_roundTrip(value: Any) -> None:
    """
    Every encodable value decodes to itself (tuples aside).
    """
    assert decode(encode(value)) == value


@given(_values, st.lists(st.integers(min_value=1, max_value=7), max_size=20))
def test_roundTripAnySplit(value: Any, cuts: list[int]) -> None:
    """
    However the stream is cut into chunks, the same values come out.
    """
    data = encode(value) * 2
    decoder = Decoder()
    got: list[Any] = []
    pos = 0
    for cut in cuts:
        got.extend(decoder.feed(data[pos : pos + cut]))
        pos += cut
    got.extend(decoder.feed(data[pos:]))
    assert got == [value, value]


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_randomBytesOnlyBananaError(data: bytes) -> None:
    """
    Random bytes decode to something or raise ``BananaError``; nothing else.
    """
    decoder = Decoder(banana.PB_VOCABULARY)
    try:
        decoder.feed(data)
    except BananaError:
        pass


@settings(max_examples=100)
@given(st.binary(max_size=100))
def test_randomBytesProtocol(data: bytes) -> None:
    """
    A ``Banana`` protocol fed random bytes either gets expressions or closes
    the connection; it never raises.
    """
    received: list[Any] = []

    class Collect(Banana):
        def expressionReceived(self, expression: Any) -> None:
            received.append(expression)

    proto = Collect()
    transport = StringTransport()
    proto.makeConnection(transport)
    with LogCapture():
        proto.dataReceived(data)


# -- protocol -------------------------------------------------


class _Collector(Banana):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []

    def expressionReceived(self, expression: Any) -> None:
        self.received.append(expression)


def test_protocolSendsAndReceives() -> None:
    """
    ``sendEncoded`` writes the encoding; ``dataReceived`` calls
    ``expressionReceived`` with each complete expression.
    """
    proto = _Collector()
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.sendEncoded([b"message", 1])
    assert decode(transport.value(), banana.PB_VOCABULARY) == [b"message", 1]
    data = encode([1, b"x"]) + encode(7)
    proto.dataReceived(data[:3])
    assert proto.received == []
    proto.dataReceived(data[3:])
    assert proto.received == [[1, b"x"], 7]


def test_protocolClosesOnBadBanana() -> None:
    """
    Over-limit input closes the connection, logs why, and later bytes are
    ignored.
    """
    proto = _Collector()
    transport = StringTransport()
    proto.makeConnection(transport)
    with LogCapture() as logged:
        proto.dataReceived(encode(1) + encode(b"x" * (banana.SIZE_LIMIT + 1))[:4])
    assert proto.received == [1]
    assert transport.disconnecting
    assert any(f.check(BananaError) for f in logged.errors)
    proto.dataReceived(encode(2))
    assert proto.received == [1]
    proto.connectionLost(error.ConnectionDone())  # type: ignore[arg-type]


def test_expressionReceivedMustBeOverridden() -> None:
    """
    The base class refuses to drop expressions silently.
    """
    proto = Banana()
    proto.makeConnection(StringTransport())
    with pytest.raises(NotImplementedError):
        proto.dataReceived(encode(1))
