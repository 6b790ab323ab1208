"""
Tests for ``torsion.protocols.basic``: line, netstring and length-prefixed
framing, and ``FileSender``.
"""

from __future__ import annotations

import io
import struct
import sys
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface.verify import verifyObject

from torsion.internet import interfaces
from torsion.internet.testing import StringTransport
from torsion.protocols import basic

# Helpers


class Lines(basic.LineReceiver):
    """
    Records lines, raw data and overflows.
    """

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.raw: list[bytes] = []
        self.exceeded: list[bytes] = []

    def lineReceived(self, line: bytes) -> object:
        self.lines.append(line)
        return None

    def rawDataReceived(self, data: bytes) -> None:
        self.raw.append(data)


class TolerantLines(Lines):
    """
    Records overlong lines instead of closing the connection.
    """

    def lineLengthExceeded(self, line: bytes) -> None:
        self.exceeded.append(line)


class OnlyLines(basic.LineOnlyReceiver):
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)


class Netstrings(basic.NetstringReceiver):
    def __init__(self) -> None:
        self.strings: list[bytes] = []

    def stringReceived(self, string: bytes) -> None:
        self.strings.append(string)


class Int8(basic.Int8StringReceiver):
    def __init__(self) -> None:
        self.strings: list[bytes] = []
        self.exceeded: list[int] = []

    def stringReceived(self, string: bytes) -> None:
        self.strings.append(string)


class Int16(basic.Int16StringReceiver):
    def __init__(self) -> None:
        self.strings: list[bytes] = []

    def stringReceived(self, string: bytes) -> None:
        self.strings.append(string)


class Int32(basic.Int32StringReceiver):
    def __init__(self) -> None:
        self.strings: list[bytes] = []

    def stringReceived(self, string: bytes) -> None:
        self.strings.append(string)


def connect(proto: Any) -> StringTransport:
    transport = StringTransport()
    proto.makeConnection(transport)
    return transport


def feed(proto: Any, data: bytes, cuts: list[int]) -> None:
    """
    Deliver ``data`` to ``proto`` split at the offsets in ``cuts``.
    """
    previous = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        cut = min(max(cut, 0), len(data))
        if cut > previous or cut == len(data):
            proto.dataReceived(data[previous:cut])
            previous = cut


def producerState(transport: StringTransport) -> str:
    return str(transport.producerState)


def stackDepth() -> int:
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    return depth


chunkings = st.lists(st.integers(min_value=0, max_value=400), max_size=12)


# LineReceiver


def test_lineReceiverIsPushProducer() -> None:
    proto = Lines()
    connect(proto)
    assert verifyObject(interfaces.IPushProducer, proto)


def test_linesInOneRead() -> None:
    proto = Lines()
    connect(proto)
    proto.dataReceived(b"one\r\ntwo\r\nthr")
    assert proto.lines == [b"one", b"two"]
    proto.dataReceived(b"ee\r\n")
    assert proto.lines == [b"one", b"two", b"three"]


def test_linesByteByByte() -> None:
    proto = Lines()
    connect(proto)
    for byte in b"alpha\r\n\r\nbeta\r\n":
        proto.dataReceived(bytes([byte]))
    assert proto.lines == [b"alpha", b"", b"beta"]


def test_otherDelimiter() -> None:
    proto = Lines()
    proto.delimiter = b"\n"
    connect(proto)
    proto.dataReceived(b"a\nb\r\nc")
    assert proto.lines == [b"a", b"b\r"]


def test_sendLine() -> None:
    proto = Lines()
    transport = connect(proto)
    proto.sendLine(b"hello")
    assert transport.value() == b"hello\r\n"


def test_sendLineRejectsStr() -> None:
    proto = Lines()
    transport = connect(proto)
    with pytest.raises(TypeError, match="sendLine"):
        proto.sendLine("hello")  # type: ignore[arg-type]
    assert transport.value() == b""


def test_defaultLineReceivedRaises() -> None:
    proto = basic.LineReceiver()
    connect(proto)
    with pytest.raises(NotImplementedError):
        proto.dataReceived(b"x\r\n")


def test_rawModeAndBack() -> None:
    """
    A protocol switches to raw mode for a counted body and back to lines;
    the bytes already buffered go to the right mode.
    """

    class Body(Lines):
        remaining = 0

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            if line.startswith(b"BODY "):
                self.remaining = int(line[5:])
                self.setRawMode()

        def rawDataReceived(self, data: bytes) -> None:
            body, extra = data[: self.remaining], data[self.remaining :]
            self.remaining -= len(body)
            self.raw.append(body)
            if self.remaining == 0:
                self.setLineMode(extra)

    whole = b"first\r\nBODY 9\r\nraw\r\ndatalast\r\n"
    for cut in range(len(whole) + 1):
        proto = Body()
        connect(proto)
        proto.dataReceived(whole[:cut])
        proto.dataReceived(whole[cut:])
        assert proto.lines == [b"first", b"BODY 9", b"last"], cut
        assert b"".join(proto.raw) == b"raw\r\ndata", cut


def test_clearLineBuffer() -> None:
    proto = Lines()
    connect(proto)
    proto.dataReceived(b"partial")
    assert proto.clearLineBuffer() == b"partial"
    proto.dataReceived(b"\r\nnext\r\n")
    assert proto.lines == [b"", b"next"]


def test_clearLineBufferFromLineReceived() -> None:
    """
    Clearing from ``lineReceived`` returns the undelivered bytes as received
    and nothing more is delivered from them.
    """

    class Clearing(Lines):
        cleared = b""

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            self.cleared = self.clearLineBuffer()

    proto = Clearing()
    connect(proto)
    proto.dataReceived(b"a\r\nb\r\nc\r\nrest")
    assert proto.lines == [b"a"]
    assert proto.cleared == b"b\r\nc\r\nrest"


def test_lineReceivedReturnValueStopsDelivery() -> None:
    class Stop(Lines):
        def lineReceived(self, line: bytes) -> object:
            self.lines.append(line)
            return ValueError("stop")

    proto = Stop()
    connect(proto)
    why = proto.dataReceived(b"a\r\nb\r\n")
    assert isinstance(why, ValueError)
    assert proto.lines == [b"a"]


def test_noLinesAfterLoseConnection() -> None:
    class Quit(Lines):
        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            if line == b"QUIT":
                self.transport.loseConnection()

    proto = Quit()
    connect(proto)
    proto.dataReceived(b"a\r\nQUIT\r\nb\r\nc\r\n")
    assert proto.lines == [b"a", b"QUIT"]


def test_lineReentry() -> None:
    """
    Bytes fed to ``dataReceived`` from inside ``lineReceived`` (as an
    in-memory peer may do) are parsed after the current read, in order.
    """

    class Reentrant(Lines):
        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            if line == b"a":
                self.dataReceived(b"c\r\n")

    proto = Reentrant()
    connect(proto)
    proto.dataReceived(b"a\r\nb\r\n")
    assert proto.lines == [b"a", b"b", b"c"]


def test_LINE_1_unterminated_stream_closes_bounded() -> None:
    """
    100 MB without a delimiter: the connection is closed once the buffer
    exceeds ``MAX_LENGTH``, and the buffer never holds more than
    ``MAX_LENGTH`` plus one read.
    """
    proto = Lines()
    transport = connect(proto)
    read = b"a" * 65536
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(100 * 2**20 // len(read)):
            proto.dataReceived(read)
            assert len(proto._buffer) <= proto.MAX_LENGTH + len(read)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert transport.disconnecting
    assert proto.lines == []
    assert peak < 4 * (proto.MAX_LENGTH + len(read))


def test_LINE_1_ten_times_max_length_small_reads() -> None:
    proto = TolerantLines()
    connect(proto)
    read = b"b" * 1000
    for _ in range(10 * proto.MAX_LENGTH // len(read)):
        proto.dataReceived(read)
        assert len(proto._buffer) <= proto.MAX_LENGTH + len(read)
    assert len(proto.exceeded) == 1
    # The overlong line is skipped up to its end; the next one is delivered.
    proto.dataReceived(b"tail\r\nnext\r\n")
    assert proto.lines == [b"next"]


def test_LINE_1_default_closes() -> None:
    proto = Lines()
    transport = connect(proto)
    proto.dataReceived(b"x" * (proto.MAX_LENGTH + 1))
    assert transport.disconnecting


def test_LINE_2_exact_max_length_split_delimiter() -> None:
    """
    A line of exactly ``MAX_LENGTH`` bytes is accepted, also when the
    ``\\r\\n`` is split across reads.
    """
    line = b"m" * basic.LineReceiver.MAX_LENGTH
    for cut in (len(line) - 1, len(line), len(line) + 1, len(line) + 2):
        proto = Lines()
        transport = connect(proto)
        feed(proto, line + b"\r\n", [cut])
        assert proto.lines == [line], cut
        assert not transport.disconnecting


def test_LINE_2_one_over_max_length_rejected() -> None:
    line = b"m" * (basic.LineReceiver.MAX_LENGTH + 1)
    for cut in (len(line) - 1, len(line), len(line) + 1, len(line) + 2):
        proto = Lines()
        transport = connect(proto)
        feed(proto, line + b"\r\n", [cut])
        assert proto.lines == [], cut
        assert transport.disconnecting


@pytest.mark.parametrize("size", [7, 8, 9])
def test_LINE_2_every_split_small_limit(size: int) -> None:
    """
    With ``MAX_LENGTH`` 8, lines of 7, 8 and 9 bytes behave the same at every
    pair of cut points.
    """
    data = b"x" * size + b"\r\nok\r\n"
    for first in range(len(data) + 1):
        for second in range(first, len(data) + 1):
            proto = TolerantLines()
            proto.MAX_LENGTH = 8
            connect(proto)
            feed(proto, data, [first, second])
            if size <= 8:
                assert proto.lines == [b"x" * size, b"ok"]
                assert proto.exceeded == []
            else:
                assert proto.lines == [b"ok"]
                assert len(proto.exceeded) == 1


def test_maxLengthIsOverridable() -> None:
    proto = Lines()
    proto.MAX_LENGTH = 3
    transport = connect(proto)
    proto.dataReceived(b"abc\r\n")
    assert proto.lines == [b"abc"]
    proto.dataReceived(b"abcd\r\n")
    assert transport.disconnecting


def test_LINE_4_pause_from_first_lineReceived() -> None:
    """
    100 000 lines in one read; pausing from the first ``lineReceived`` stops
    delivery until resumed; resuming delivers the rest in order without
    growing the stack.
    """

    class Pausing(Lines):
        depths: list[int]

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            self.depths.append(stackDepth())
            if len(self.lines) % 10000 == 1:
                self.pauseProducing()

    proto = Pausing()
    proto.depths = []
    transport = connect(proto)
    count = 100000
    proto.dataReceived(b"".join(b"%d\r\n" % i for i in range(count)))
    assert proto.lines == [b"0"]
    assert producerState(transport) == "paused"
    # More bytes while paused are queued behind the pending lines.
    proto.dataReceived(b"late\r\n")
    assert proto.lines == [b"0"]
    while proto.paused:
        proto.resumeProducing()
    assert producerState(transport) == "producing"
    assert proto.lines == [b"%d" % i for i in range(count)] + [b"late"]
    assert len(set(proto.depths[1:])) == 1


def test_LINE_4_pause_on_every_line() -> None:
    """
    The usual asynchronous pattern: pause in each ``lineReceived``, resume
    when the work is done.  Every line of a 100 000-line read comes out once,
    in order (and each resume costs O(1), so this finishes quickly).
    """

    class OneAtATime(Lines):
        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            self.pauseProducing()

    proto = OneAtATime()
    connect(proto)
    count = 100000
    proto.dataReceived(b"".join(b"%d\r\n" % i for i in range(count)))
    resumes = 0
    while proto.paused:
        assert len(proto.lines) == resumes + 1
        proto.resumeProducing()
        resumes += 1
    assert proto.lines == [b"%d" % i for i in range(count)]


def test_LINE_4_resume_from_lineReceived_no_recursion() -> None:
    """
    Pausing and resuming from inside ``lineReceived`` does not recurse.
    """

    class Flapping(Lines):
        depths: list[int]

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            self.depths.append(stackDepth())
            self.pauseProducing()
            self.resumeProducing()

    proto = Flapping()
    proto.depths = []
    connect(proto)
    proto.dataReceived(b"x\r\n" * 5000)
    assert len(proto.lines) == 5000
    assert max(proto.depths) - min(proto.depths) <= 3


def test_stopProducing() -> None:
    class Stopping(Lines):
        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            self.stopProducing()

    proto = Stopping()
    transport = connect(proto)
    proto.dataReceived(b"a\r\nb\r\n")
    assert proto.lines == [b"a"]
    assert producerState(transport) == "stopped"


def test_LINE_5_bare_cr_and_lf_are_data() -> None:
    """
    The rule for ``LineReceiver``: only the delimiter ends a line; bare
    ``\\n`` and bare ``\\r`` stay inside the line and ``\\r\\r\\n`` is a line
    ending in ``\\r``, however the bytes are split.
    """
    data = b"a\nb\r\nc\rd\r\ne\r\r\n"
    for cut in range(len(data) + 1):
        proto = Lines()
        connect(proto)
        feed(proto, data, [cut])
        assert proto.lines == [b"a\nb", b"c\rd", b"e\r"], cut


@given(
    lines=st.lists(
        st.binary(max_size=30).map(lambda b: b.replace(b"\r\n", b"")), max_size=20
    ),
    cuts=chunkings,
)
def test_lineReceiverAnyChunking(lines: list[bytes], cuts: list[int]) -> None:
    data = b"".join(line + b"\r\n" for line in lines)
    # A line ending with \r would merge with its delimiter into \r\r\n; the
    # split line is then the same, so compare with a one-read parse.
    reference = Lines()
    connect(reference)
    reference.dataReceived(data)
    proto = Lines()
    connect(proto)
    feed(proto, data, cuts)
    assert proto.lines == reference.lines
    assert len(proto.lines) == len(lines)


@pytest.mark.parametrize("delimiter", [b"\r\n", b"\n", b"\r\n\r\n"])
@given(
    data=st.lists(
        st.sampled_from([b"a", b"b", b"\r", b"\n", b"\r\n", b"x" * 7]), max_size=150
    ).map(b"".join),
    cuts=chunkings,
)
def test_lineReceiverOverflowAnyChunking(
    delimiter: bytes, data: bytes, cuts: list[int]
) -> None:
    reference = TolerantLines()
    reference.MAX_LENGTH = 10
    reference.delimiter = delimiter
    connect(reference)
    reference.dataReceived(data)
    proto = TolerantLines()
    proto.MAX_LENGTH = 10
    proto.delimiter = delimiter
    connect(proto)
    feed(proto, data, cuts)
    assert proto.lines == reference.lines
    assert len(proto.exceeded) == len(reference.exceeded)
    assert all(len(line) <= 10 for line in proto.lines)


@given(data=st.binary(max_size=2000), cuts=chunkings)
def test_lineReceiverRandomBytes(data: bytes, cuts: list[int]) -> None:
    proto = Lines()
    proto.MAX_LENGTH = 50
    transport = connect(proto)
    feed(proto, data, cuts)
    assert all(len(line) <= 50 for line in proto.lines)
    if any(len(line) > 50 for line in data.split(b"\r\n")[:-1]):
        assert transport.disconnecting


@pytest.mark.parametrize("cls", [Lines, OnlyLines])
def test_nothingDeliveredAfterLoseConnection(cls: type[Any]) -> None:
    proto = cls()
    transport = connect(proto)
    proto.dataReceived(b"a\r\n")
    transport.loseConnection()
    proto.dataReceived(b"b\r\nc\r\n")
    assert proto.lines == [b"a"]


def test_intNNothingDeliveredAfterLoseConnection() -> None:
    proto = Int8()
    transport = connect(proto)
    transport.loseConnection()
    proto.dataReceived(b"\x01a")
    assert proto.strings == []


# LineOnlyReceiver


def test_lineOnlyReceiver() -> None:
    proto = OnlyLines()
    transport = connect(proto)
    proto.dataReceived(b"a\r\nb")
    proto.dataReceived(b"c\r\n")
    assert proto.lines == [b"a", b"bc"]
    proto.sendLine(b"out")
    assert transport.value() == b"out\r\n"
    with pytest.raises(TypeError):
        proto.sendLine("out")  # type: ignore[arg-type]


def test_lineOnlyReceiverLimits() -> None:
    limit = basic.LineOnlyReceiver.MAX_LENGTH
    proto = OnlyLines()
    transport = connect(proto)
    proto.dataReceived(b"z" * limit + b"\r")
    assert not transport.disconnecting
    proto.dataReceived(b"\n")
    assert proto.lines == [b"z" * limit]
    proto.dataReceived(b"z" * (limit + 1) + b"\r\n")
    assert transport.disconnecting


def test_LINE_1_line_only_unterminated_stream() -> None:
    proto = OnlyLines()
    transport = connect(proto)
    read = b"q" * 4096
    for _ in range(10 * proto.MAX_LENGTH // len(read)):
        proto.dataReceived(read)
        assert len(proto._buffer) <= proto.MAX_LENGTH + len(read)
    assert transport.disconnecting


def test_lineOnlyStopsAfterLoseConnection() -> None:
    class Quit(OnlyLines):
        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            self.transport.loseConnection()

    proto = Quit()
    connect(proto)
    proto.dataReceived(b"a\r\nb\r\n")
    assert proto.lines == [b"a"]


@given(
    lines=st.lists(
        st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"")), max_size=20
    ),
    cuts=chunkings,
)
def test_lineOnlyAnyChunking(lines: list[bytes], cuts: list[int]) -> None:
    data = b"".join(line + b"\r\n" for line in lines)
    proto = OnlyLines()
    connect(proto)
    feed(proto, data, cuts)
    assert proto.lines == lines


# NetstringReceiver


def test_netstrings() -> None:
    proto = Netstrings()
    transport = connect(proto)
    proto.dataReceived(b"5:hello,0:,3:a")
    proto.dataReceived(b"bc,")
    assert proto.strings == [b"hello", b"", b"abc"]
    proto.sendString(b"hi there")
    assert transport.value() == b"8:hi there,"
    with pytest.raises(TypeError):
        proto.sendString("hi")  # type: ignore[arg-type]


@given(strings=st.lists(st.binary(max_size=50), max_size=10), cuts=chunkings)
def test_netstringAnyChunking(strings: list[bytes], cuts: list[int]) -> None:
    sender = Netstrings()
    wire = connect(sender)
    for string in strings:
        sender.sendString(string)
    proto = Netstrings()
    transport = connect(proto)
    feed(proto, wire.value(), cuts)
    assert proto.strings == strings
    assert not transport.disconnecting


@given(data=st.binary(max_size=300), cuts=chunkings)
def test_netstringRandomBytes(data: bytes, cuts: list[int]) -> None:
    proto = Netstrings()
    proto.MAX_LENGTH = 60
    transport = connect(proto)
    feed(proto, data, cuts)
    assert all(len(s) <= 60 for s in proto.strings)
    assert bool(proto.brokenPeer) == transport.disconnecting


@pytest.mark.parametrize(
    "bad",
    [
        b"9999999999:",
        b"100000:",
        b"01:a,",
        b"00:,",
        b"+1:a,",
        b"-1:a,",
        b" 1:a,",
        b"1 :a,",
        b"a:",
        b":",
        b"1:ab",
        b"\xd9\xa1:a,",
        b"123456",
    ],
)
def test_LINE_9_netstring_bad_length_rejected(bad: bytes) -> None:
    """
    An over-long or malformed length prefix closes the connection as soon as
    it is seen, before any payload is buffered.
    """
    for cut in range(len(bad) + 1):
        proto = Netstrings()
        transport = connect(proto)
        feed(proto, bad, [cut])
        assert transport.disconnecting, (bad, cut)
        assert proto.brokenPeer
        assert proto.strings == []
        # The rest of the stream is ignored.
        proto.dataReceived(b"1:a,")
        assert proto.strings == []
        assert proto._buffer == b""


def test_LINE_9_netstring_max_length_boundary() -> None:
    limit = basic.NetstringReceiver.MAX_LENGTH
    proto = Netstrings()
    transport = connect(proto)
    proto.dataReceived(b"%d:%s," % (limit, b"p" * limit))
    assert proto.strings == [b"p" * limit]
    assert not transport.disconnecting
    proto.dataReceived(b"%d:" % (limit + 1))
    assert transport.disconnecting


def test_netstringMissingComma() -> None:
    proto = Netstrings()
    transport = connect(proto)
    proto.dataReceived(b"3:abc;")
    assert proto.strings == []
    assert transport.disconnecting


# IntNStringReceiver


@pytest.mark.parametrize(("cls", "fmt"), [(Int8, "!B"), (Int16, "!H"), (Int32, "!I")])
def test_intNRoundTrip(cls: type[Any], fmt: str) -> None:
    proto = cls()
    transport = connect(proto)
    proto.sendString(b"hello")
    proto.sendString(b"")
    assert transport.value() == struct.pack(fmt, 5) + b"hello" + struct.pack(fmt, 0)
    assert proto.prefixLength == struct.calcsize(fmt)
    assert proto.structFormat == fmt
    receiver = cls()
    connect(receiver)
    receiver.dataReceived(transport.value())
    assert receiver.strings == [b"hello", b""]


def test_intNPartialKeptInRecvd() -> None:
    proto = Int16()
    connect(proto)
    proto.dataReceived(b"\x00\x05he")
    assert proto.strings == []
    assert proto.recvd == b"\x00\x05he"
    proto.dataReceived(b"llo\x00")
    assert proto.strings == [b"hello"]
    assert proto.recvd == b"\x00"


def test_sendStringTooLong() -> None:
    proto = Int8()
    transport = connect(proto)
    proto.sendString(b"x" * 255)
    with pytest.raises(basic.StringTooLongError):
        proto.sendString(b"x" * 256)
    proto16 = Int16()
    connect(proto16)
    with pytest.raises(basic.StringTooLongError):
        proto16.sendString(b"x" * 65536)
    assert transport.value() == b"\xff" + b"x" * 255


def test_sendStringRejectsStr() -> None:
    proto = Int32()
    connect(proto)
    with pytest.raises(TypeError, match="sendString"):
        proto.sendString("text")  # type: ignore[arg-type]


def test_LINE_9_int32_length_0xFFFFFFFF_rejected() -> None:
    proto = Int32()
    transport = connect(proto)
    proto.dataReceived(b"\xff\xff\xff\xff")
    assert transport.disconnecting
    assert proto.strings == []
    assert proto.recvd == b""


def test_LINE_9_int32_max_length_boundary() -> None:
    limit = basic.Int32StringReceiver.MAX_LENGTH
    proto = Int32()
    transport = connect(proto)
    proto.dataReceived(struct.pack("!I", limit) + b"q" * limit)
    assert proto.strings == [b"q" * limit]
    assert not transport.disconnecting
    proto.dataReceived(struct.pack("!I", limit + 1))
    assert transport.disconnecting


def test_lengthLimitExceededOverridable() -> None:
    class Small(Int8):
        MAX_LENGTH = 3

        def lengthLimitExceeded(self, length: int) -> None:
            self.exceeded.append(length)

    proto = Small()
    transport = connect(proto)
    proto.dataReceived(b"\x03abc\x04abcd")
    assert proto.strings == [b"abc"]
    assert proto.exceeded == [4]
    assert not transport.disconnecting


def test_intNPauseResume() -> None:
    class Pausing(Int8):
        def stringReceived(self, string: bytes) -> None:
            self.strings.append(string)
            self.pauseProducing()

    proto = Pausing()
    transport = connect(proto)
    assert verifyObject(interfaces.IPushProducer, proto)
    proto.dataReceived(b"\x01a\x01b\x01c")
    assert proto.strings == [b"a"]
    assert producerState(transport) == "paused"
    proto.dataReceived(b"\x01d")
    proto.resumeProducing()
    assert proto.strings == [b"a", b"b"]
    while proto.recvd:
        proto.resumeProducing()
    assert proto.strings == [b"a", b"b", b"c", b"d"]


def test_intNPauseOnEveryString() -> None:
    class OneAtATime(Int16):
        def stringReceived(self, string: bytes) -> None:
            self.strings.append(string)
            self.pauseProducing()

    proto = OneAtATime()
    connect(proto)
    count = 100000
    proto.dataReceived(b"".join(b"\x00\x02%02d" % (i % 100) for i in range(count)))
    while proto.paused:
        proto.resumeProducing()
    assert proto.strings == [b"%02d" % (i % 100) for i in range(count)]


def test_intNStopsAfterLoseConnection() -> None:
    class Quit(Int8):
        def stringReceived(self, string: bytes) -> None:
            self.strings.append(string)
            self.transport.loseConnection()

    proto = Quit()
    connect(proto)
    proto.dataReceived(b"\x01a\x01b")
    assert proto.strings == [b"a"]


def test_intNReentry() -> None:
    class Reentrant(Int8):
        def stringReceived(self, string: bytes) -> None:
            self.strings.append(string)
            if string == b"a":
                self.dataReceived(b"\x01c")

    proto = Reentrant()
    connect(proto)
    proto.dataReceived(b"\x01a\x01b")
    assert proto.strings == [b"a", b"b", b"c"]


@pytest.mark.parametrize("cls", [Int8, Int16, Int32])
@given(strings=st.lists(st.binary(max_size=255), max_size=10), cuts=chunkings)
def test_intNAnyChunking(cls: type[Any], strings: list[bytes], cuts: list[int]) -> None:
    sender = cls()
    wire = connect(sender)
    for string in strings:
        sender.sendString(string)
    proto = cls()
    transport = connect(proto)
    feed(proto, wire.value(), cuts)
    assert proto.strings == strings
    assert not transport.disconnecting


@pytest.mark.parametrize("cls", [Int8, Int16, Int32])
@given(data=st.binary(max_size=600), cuts=chunkings)
def test_intNRandomBytes(cls: type[Any], data: bytes, cuts: list[int]) -> None:
    proto = cls()
    proto.MAX_LENGTH = 100
    connect(proto)
    feed(proto, data, cuts)
    assert all(len(s) <= 100 for s in proto.strings)


@given(
    strings=st.lists(st.binary(max_size=20), max_size=40),
    pauses=st.sets(st.integers(min_value=0, max_value=40)),
    cuts=chunkings,
)
def test_intNPauseAnywhere(
    strings: list[bytes], pauses: set[int], cuts: list[int]
) -> None:
    """
    Pausing after any string and resuming later loses, repeats or reorders
    nothing.
    """

    class Pausing(Int16):
        def stringReceived(self, string: bytes) -> None:
            if len(self.strings) in pauses:
                self.pauseProducing()
            self.strings.append(string)

    wire = b"".join(struct.pack("!H", len(s)) + s for s in strings)
    proto = Pausing()
    connect(proto)
    feed(proto, wire, cuts)
    while proto.paused:
        proto.resumeProducing()
    assert proto.strings == strings


@given(
    lines=st.lists(
        st.binary(max_size=20).map(lambda b: b.replace(b"\r", b"")), max_size=40
    ),
    pauses=st.sets(st.integers(min_value=0, max_value=40)),
    cuts=chunkings,
)
def test_linePauseAnywhere(
    lines: list[bytes], pauses: set[int], cuts: list[int]
) -> None:
    class Pausing(Lines):
        def lineReceived(self, line: bytes) -> None:
            if len(self.lines) in pauses:
                self.pauseProducing()
            self.lines.append(line)

    proto = Pausing()
    connect(proto)
    feed(proto, b"".join(line + b"\r\n" for line in lines), cuts)
    while proto.paused:
        proto.resumeProducing()
    assert proto.lines == lines


class BigInt32(Int32):
    MAX_LENGTH = 2_000_000


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(
        st.sampled_from([0, 5, 65535, 65536, 70000, 300_000]), min_size=1, max_size=4
    ),
    read=st.integers(min_value=1000, max_value=100_000),
    pauseAt=st.integers(min_value=0, max_value=40),
)
def test_int32LongStringsAnyChunking(sizes: list[int], read: int, pauseAt: int) -> None:
    """
    Long strings arriving over many reads (gathered, not re-joined per
    read) come out whole and in order, also with a pause in the middle.
    """
    strings = [bytes([i % 256]) * size for i, size in enumerate(sizes)]
    wire = b"".join(struct.pack("!I", len(s)) + s for s in strings)
    proto = BigInt32()
    transport = connect(proto)
    for index, offset in enumerate(range(0, len(wire), read)):
        if index == pauseAt:
            proto.pauseProducing()
        proto.dataReceived(wire[offset : offset + read])
        if index == pauseAt + 2:
            proto.resumeProducing()
    while proto.paused:
        proto.resumeProducing()
    assert [len(s) for s in proto.strings] == sizes
    assert proto.strings == strings
    assert not transport.disconnecting


def test_int32LongStringThenClose() -> None:
    proto = BigInt32()
    transport = connect(proto)
    proto.dataReceived(struct.pack("!I", 500_000) + b"a" * 1000)
    proto.dataReceived(b"a" * 100_000)
    transport.loseConnection()
    proto.dataReceived(b"a" * 399_000)
    assert proto.strings == []


# FileSender


def runFileSender(
    content: bytes, transform: Any = None
) -> tuple[StringTransport, list[object], basic.FileSender]:
    consumer = StringTransport()
    sender = basic.FileSender()
    results: list[object] = []
    d = sender.beginFileTransfer(io.BytesIO(content), consumer, transform)
    d.addBoth(results.append)
    assert consumer.producer is sender
    assert consumer.streaming is False
    return consumer, results, sender


def test_fileSenderIsPullProducer() -> None:
    assert verifyObject(interfaces.IPullProducer, basic.FileSender())


def test_fileSenderSendsInChunks() -> None:
    content = bytes(range(256)) * 200
    consumer, results, sender = runFileSender(content)
    writes = 0
    while consumer.producer is not None:
        sender.resumeProducing()
        writes += 1
    assert consumer.value() == content
    assert results == [content[-1:]]
    assert writes == -(-len(content) // basic.FileSender.CHUNK_SIZE) + 1


def test_fileSenderTransform() -> None:
    consumer, results, sender = runFileSender(b"abc", bytes.upper)
    while consumer.producer is not None:
        sender.resumeProducing()
    assert consumer.value() == b"ABC"
    assert results == [b"C"]


def test_fileSenderEmptyFile() -> None:
    consumer, results, sender = runFileSender(b"")
    sender.resumeProducing()
    assert consumer.producer is None
    assert results == [b""]


def test_fileSenderStopProducing() -> None:
    consumer, results, sender = runFileSender(b"x" * 100000)
    sender.resumeProducing()
    sender.stopProducing()
    assert len(results) == 1
    failure: Any = results[0]
    assert isinstance(failure.value, Exception)
    failure.trap(Exception)
    assert len(consumer.value()) == basic.FileSender.CHUNK_SIZE


@settings(max_examples=20)
@given(size=st.integers(min_value=0, max_value=70000))
def test_fileSenderAnySize(size: int) -> None:
    content = b"%d" % size * (size // len(b"%d" % size) + 1)
    content = content[:size]
    consumer, results, sender = runFileSender(content)
    while consumer.producer is not None:
        sender.resumeProducing()
    assert consumer.value() == content
    assert results == [content[-1:]]
