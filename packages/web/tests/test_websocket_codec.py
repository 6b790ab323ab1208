"""
Tests for the sans-I/O WebSocket codec: framing, masking, fragmentation,
control frames, UTF-8 validation, close payloads, limits and
permessage-deflate.  Inputs that must fail are fed three ways: all at once,
one byte at a time, and split at every position.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.web._wscodec import (
    BytesMessage,
    CloseFrame,
    DeflateParameters,
    Ping,
    Pong,
    TextMessage,
    WebSocketCodec,
    WebSocketEvent,
    WebSocketProtocolError,
    isValidCloseCode,
    maskPayload,
)

KEY = b"\x01\x02\x03\x04"


def clientFrame(
    opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, key: bytes = KEY
) -> bytes:
    """
    A masked frame as a client sends it (built by hand, independent of the
    codec's own builder).
    """
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        header = bytes((b0, 0x80 | n))
    elif n < 65536:
        header = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", b0, 0x80 | 127, n)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + masked


def serverFrame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        return bytes((b0, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", b0, 126, n) + payload
    return struct.pack("!BBQ", b0, 127, n) + payload


def splits(data: bytes) -> list[list[bytes]]:
    ways = [[data], [data[i : i + 1] for i in range(len(data))]]
    if len(data) <= 64:
        ways.extend([[data[:i], data[i:]] for i in range(1, len(data))])
    return ways


def feedAll(
    make: Callable[[], WebSocketCodec], data: bytes
) -> list[list[WebSocketEvent]]:
    """
    Feed ``data`` to fresh codecs in every split; return each run's events.
    """
    results = []
    for chunks in splits(data):
        codec = make()
        events: list[WebSocketEvent] = []
        for chunk in chunks:
            events.extend(codec.receiveData(chunk))
        results.append(events)
    return results


def assertFails(make: Callable[[], WebSocketCodec], data: bytes, code: int) -> None:
    for chunks in splits(data):
        codec = make()
        with pytest.raises(WebSocketProtocolError) as info:
            for chunk in chunks:
                codec.receiveData(chunk)
        assert info.value.code == code


def server() -> WebSocketCodec:
    return WebSocketCodec(isClient=False)


def client() -> WebSocketCodec:
    return WebSocketCodec(isClient=True)


def test_maskPayloadRoundTrip() -> None:
    data = bytes(range(256)) * 3 + b"xyz"
    masked = maskPayload(KEY, data)
    assert masked == bytes(b ^ KEY[i % 4] for i, b in enumerate(data))
    assert maskPayload(KEY, masked) == data
    assert maskPayload(KEY, b"") == b""


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_lengthEncodings(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    data = clientFrame(0x2, payload)
    for events in feedAll(server, data) if size < 200 else [server().receiveData(data)]:
        assert events == [BytesMessage(payload)]


def test_textMessage() -> None:
    data = clientFrame(0x1, "héllo ☃".encode())
    for events in feedAll(server, data):
        assert events == [TextMessage("héllo ☃")]


def test_fragmentedTextWithInterleavedControlFrames() -> None:
    text = "a€b😀c".encode()
    # Split inside multi-byte sequences on purpose.
    data = (
        clientFrame(0x1, text[:2], fin=False)
        + clientFrame(0x9, b"p1")
        + clientFrame(0x0, text[2:6], fin=False)
        + clientFrame(0xA, b"p2")
        + clientFrame(0x0, text[6:], fin=True)
    )
    for events in feedAll(server, data):
        assert events == [Ping(b"p1"), Pong(b"p2"), TextMessage("a€b😀c")]


def test_fragmentedBinary() -> None:
    data = (
        clientFrame(0x2, b"ab", fin=False)
        + clientFrame(0x0, b"", fin=False)
        + clientFrame(0x0, b"cd")
    )
    for events in feedAll(server, data):
        assert events == [BytesMessage(b"abcd")]


def test_invalidUTF8InSingleFrame() -> None:
    assertFails(server, clientFrame(0x1, b"ok\xff"), 1007)


def test_invalidUTF8DetectedBeforeMessageEnds() -> None:
    """
    An invalid sequence fails the connection as soon as its fragment
    arrives, without waiting for the final fragment.
    """
    codec = server()
    with pytest.raises(WebSocketProtocolError) as info:
        codec.receiveData(clientFrame(0x1, b"ab\xc0\xaf", fin=False))
    assert info.value.code == 1007


def test_truncatedUTF8AtMessageEnd() -> None:
    data = clientFrame(0x1, b"a\xe2\x82", fin=False) + clientFrame(0x0, b"")
    assertFails(server, data, 1007)


def test_unmaskedClientFrameRejected() -> None:
    assertFails(server, serverFrame(0x1, b"hi"), 1002)


def test_maskedServerFrameRejected() -> None:
    assertFails(client, clientFrame(0x1, b"hi"), 1002)


def test_clientReceivesUnmasked() -> None:
    for events in feedAll(client, serverFrame(0x2, b"\x00\x01")):
        assert events == [BytesMessage(b"\x00\x01")]


@pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10])
def test_reservedBitsWithoutExtension(rsv: int) -> None:
    assertFails(server, clientFrame(0x1, b"x", rsv=rsv), 1002)


def test_rsv2Rsv3RejectedEvenWithDeflate() -> None:
    def make() -> WebSocketCodec:
        return WebSocketCodec(False, deflate=DeflateParameters())

    assertFails(make, clientFrame(0x1, b"x", rsv=0x20), 1002)


@pytest.mark.parametrize("opcode", [0x3, 0x7, 0xB, 0xF])
def test_unknownOpcodes(opcode: int) -> None:
    assertFails(server, clientFrame(opcode, b""), 1002)


def test_fragmentedControlFrame() -> None:
    assertFails(server, clientFrame(0x9, b"x", fin=False), 1002)


def test_controlFrameLimit() -> None:
    """
    125 bytes of control payload are accepted, 126 fail.
    """
    for events in [server().receiveData(clientFrame(0x9, b"x" * 125))]:
        assert events == [Ping(b"x" * 125)]
    assertFails(server, clientFrame(0x9, b"x" * 126), 1002)


def test_continuationWithoutStart() -> None:
    assertFails(server, clientFrame(0x0, b"x"), 1002)


def test_newMessageInsideFragmentedOne() -> None:
    data = clientFrame(0x1, b"a", fin=False) + clientFrame(0x1, b"b")
    assertFails(server, data, 1002)


def test_nonMinimalLength() -> None:
    data = bytes((0x82, 0x80 | 126)) + struct.pack("!H", 5) + KEY + b"12345"
    assertFails(server, data, 1002)


def test_lengthTopBitSet() -> None:
    data = bytes((0x82, 0x80 | 127)) + struct.pack("!Q", 1 << 63) + KEY
    assertFails(server, data, 1002)


def test_closePayloads() -> None:
    events = server().receiveData(
        clientFrame(0x8, struct.pack("!H", 1000) + "bye ☃".encode())
    )
    assert events == [CloseFrame(1000, "bye ☃")]
    assert server().receiveData(clientFrame(0x8, b"")) == [CloseFrame(1005, "")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_invalidCloseCodes(code: int) -> None:
    assertFails(server, clientFrame(0x8, struct.pack("!H", code)), 1002)


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1011, 1014, 3000, 4999])
def test_validCloseCodes(code: int) -> None:
    events = server().receiveData(clientFrame(0x8, struct.pack("!H", code)))
    assert events == [CloseFrame(code, "")]


def test_oneByteClosePayload() -> None:
    assertFails(server, clientFrame(0x8, b"\x03"), 1002)


def test_closeReasonNotUTF8() -> None:
    assertFails(server, clientFrame(0x8, b"\x03\xe8\xff"), 1007)


def test_messageSizeBoundary() -> None:
    """
    A message of exactly ``maxMessageSize`` bytes is accepted, one more
    byte closes with 1009, in one frame or spread over fragments.
    """

    def make() -> WebSocketCodec:
        return WebSocketCodec(False, maxMessageSize=100)

    assert make().receiveData(clientFrame(0x2, b"x" * 100)) == [
        BytesMessage(b"x" * 100)
    ]
    assertFails(make, clientFrame(0x2, b"x" * 101), 1009)
    ok = clientFrame(0x2, b"x" * 50, fin=False) + clientFrame(0x0, b"x" * 50)
    assert make().receiveData(ok) == [BytesMessage(b"x" * 100)]
    tooBig = clientFrame(0x2, b"x" * 50, fin=False) + clientFrame(0x0, b"x" * 51)
    assertFails(make, tooBig, 1009)


def test_frameSizeRejectedFromHeader() -> None:
    """
    An oversized frame fails as soon as its header is read: the payload is
    never buffered.
    """
    codec = WebSocketCodec(False, maxFrameSize=1000)
    header = bytes((0x82, 0x80 | 127)) + struct.pack("!Q", 2**40)
    with pytest.raises(WebSocketProtocolError) as info:
        codec.receiveData(header)
    assert info.value.code == 1009


def test_frameSizeBoundary() -> None:
    def make() -> WebSocketCodec:
        return WebSocketCodec(False, maxFrameSize=10)

    assert make().receiveData(clientFrame(0x2, b"x" * 10)) == [BytesMessage(b"x" * 10)]
    assertFails(make, clientFrame(0x2, b"x" * 11), 1009)


def test_failedCodecStaysFailed() -> None:
    codec = server()
    with pytest.raises(WebSocketProtocolError):
        codec.receiveData(serverFrame(0x1, b"x"))
    with pytest.raises(WebSocketProtocolError):
        codec.receiveData(clientFrame(0x1, b"x"))


def test_builderRoundTrip() -> None:
    """
    Frames built by a client codec decode in a server codec and back.
    """
    c, s = client(), server()
    wire = (
        c.buildMessage(b"bin", isText=False)
        + c.buildMessage("tëxt".encode(), isText=True)
        + c.buildPing(b"p")
        + c.buildPong(b"q")
        + c.buildFragments([b"a", b"b", b"c"], isText=False)
        + c.buildClose(4000, "done")
    )
    assert s.receiveData(wire) == [
        BytesMessage(b"bin"),
        TextMessage("tëxt"),
        Ping(b"p"),
        Pong(b"q"),
        BytesMessage(b"abc"),
        CloseFrame(4000, "done"),
    ]
    assert c.receiveData(s.buildMessage(b"x" * 70000, False)) == [
        BytesMessage(b"x" * 70000)
    ]


def test_clientMasksWithFreshKeys() -> None:
    c = client()
    frames = {c.buildMessage(b"same", False) for _ in range(20)}
    assert len(frames) > 1
    for frame in frames:
        assert frame[1] & 0x80


def test_buildCloseValidation() -> None:
    c = server()
    with pytest.raises(ValueError):
        c.buildClose(1005 + 1)
    assert c.buildClose(None) == b"\x88\x00"
    long = c.buildClose(1000, "é" * 100)
    assert len(long) <= 2 + 125
    with pytest.raises(ValueError):
        c.buildPing(b"x" * 126)


def test_isValidCloseCode() -> None:
    assert isValidCloseCode(1000) and isValidCloseCode(3000)
    assert not isValidCloseCode(1006) and not isValidCloseCode(2000)


# permessage-deflate


def deflated(payload: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def test_deflateRoundTripWithContextTakeover() -> None:
    params = DeflateParameters()
    c = WebSocketCodec(True, deflate=params)
    s = WebSocketCodec(False, deflate=params)
    for i in range(3):
        text = f"hello hello hello {i}" * 50
        frame = c.buildMessage(text.encode(), True)
        assert frame[0] & 0x40
        assert len(frame) < len(text)
        assert s.receiveData(frame) == [TextMessage(text)]


def test_deflateNoContextTakeover() -> None:
    params = DeflateParameters(
        localNoContextTakeover=True, remoteNoContextTakeover=True
    )
    c = WebSocketCodec(True, deflate=params)
    s = WebSocketCodec(False, deflate=params)
    first = c.buildMessage(b"abcabcabc" * 10, False)
    second = c.buildMessage(b"abcabcabc" * 10, False)
    # Without context takeover both messages compress identically (modulo
    # the mask), as the compressor restarts each time.
    assert len(first) == len(second)
    assert s.receiveData(first + second) == [BytesMessage(b"abcabcabc" * 10)] * 2


def test_deflateFragmentedCompressedMessage() -> None:
    body = deflated(b"fragmented " * 40)
    data = clientFrame(0x1, body[:5], fin=False, rsv=0x40) + clientFrame(0x0, body[5:])
    for events in feedAll(
        lambda: WebSocketCodec(False, deflate=DeflateParameters()), data
    ):
        assert events == [TextMessage("fragmented " * 40)]


def test_deflateRsv1OnContinuationRejected() -> None:
    def make() -> WebSocketCodec:
        return WebSocketCodec(False, deflate=DeflateParameters())

    data = clientFrame(0x1, b"a", fin=False) + clientFrame(0x0, b"b", rsv=0x40)
    assertFails(make, data, 1002)


def test_deflateRsv1OnControlRejected() -> None:
    def make() -> WebSocketCodec:
        return WebSocketCodec(False, deflate=DeflateParameters())

    assertFails(make, clientFrame(0x9, b"", rsv=0x40), 1002)


def test_deflateUncompressedMessagesStillAccepted() -> None:
    codec = WebSocketCodec(False, deflate=DeflateParameters())
    assert codec.receiveData(clientFrame(0x1, b"plain")) == [TextMessage("plain")]


def test_deflateBombClosesWith1009() -> None:
    """
    20 MiB of zeros compress to about 20 KiB; inflation stops at the
    message limit instead of producing them.
    """
    bomb = deflated(b"\x00" * (20 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    codec = WebSocketCodec(
        False, maxMessageSize=1024 * 1024, deflate=DeflateParameters()
    )
    with pytest.raises(WebSocketProtocolError) as info:
        codec.receiveData(clientFrame(0x2, bomb, rsv=0x40))
    assert info.value.code == 1009


def test_deflateSizeBoundary() -> None:
    def make() -> WebSocketCodec:
        return WebSocketCodec(False, maxMessageSize=1000, deflate=DeflateParameters())

    assert make().receiveData(clientFrame(0x2, deflated(b"z" * 1000), rsv=0x40)) == [
        BytesMessage(b"z" * 1000)
    ]
    assertFails(make, clientFrame(0x2, deflated(b"z" * 1001), rsv=0x40), 1009)


def test_deflateGarbage() -> None:
    def make() -> WebSocketCodec:
        return WebSocketCodec(False, deflate=DeflateParameters())

    assertFails(make, clientFrame(0x2, b"\xff\xff\xff\xff", rsv=0x40), 1007)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans(), st.booleans())
def test_randomBytesOnlyRaiseCodecError(
    data: bytes, isClient: bool, deflate: bool
) -> None:
    codec = WebSocketCodec(
        isClient, maxMessageSize=4096, deflate=DeflateParameters() if deflate else None
    )
    try:
        codec.receiveData(data)
    except WebSocketProtocolError as e:
        assert e.code in (1002, 1007, 1009)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=5), st.booleans())
def test_roundTripProperty(messages: list[bytes], compress: bool) -> None:
    params = DeflateParameters() if compress else None
    c = WebSocketCodec(True, deflate=params)
    s = WebSocketCodec(False, deflate=params)
    wire = b"".join(c.buildMessage(m, False) for m in messages)
    events: list[WebSocketEvent] = []
    for i in range(0, len(wire), 7):
        events.extend(s.receiveData(wire[i : i + 7]))
    assert events == [BytesMessage(m) for m in messages]
