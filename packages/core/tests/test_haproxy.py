"""
Tests for ``torsion.protocols.haproxy``: the PROXY protocol v1 and v2
parsers, the wrapping factory over an in-memory transport, and the
``haproxy:`` endpoint over loopback.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reactormixins import runUntil
from zope.interface.verify import verifyObject

from torsion.internet import protocol, threads
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.endpoints import serverFromString
from torsion.internet.interfaces import (
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.protocols.haproxy import (
    MAX_V1_HEADER_LENGTH,
    MAX_V2_HEADER_LENGTH,
    V2_SIGNATURE,
    HAProxyServerEndpoint,
    HAProxyServerParser,
    HAProxyWrappingFactory,
    InvalidNetworkProtocol,
    InvalidProxyHeader,
    IProxyInfo,
    IProxyParser,
    MissingAddressData,
    ProxyInfo,
    V1Parser,
    V2Parser,
)

# -- version 1 -----------------------------------------------------------------


def feedAll(parser: Any, data: bytes, oneByOne: bool) -> tuple[Any, Any]:
    if not oneByOne:
        return parser.feed(data)  # type: ignore[no-any-return]
    outcome: tuple[Any, Any] = (None, None)
    for i in range(len(data)):
        outcome = parser.feed(data[i : i + 1])
        if outcome[0] is not None:
            # Later bytes are after the header: hand them back as the rest.
            return outcome[0], outcome[1] + data[i + 1 :]
    return outcome


V1_GOOD = [
    (
        b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n",
        IPv4Address("TCP", "192.0.2.1", 56324),
        IPv4Address("TCP", "198.51.100.7", 443),
    ),
    (
        b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n",
        IPv6Address("TCP", "2001:db8::1", 1),
        IPv6Address("TCP", "::1", 65535),
    ),
    (b"PROXY UNKNOWN\r\n", None, None),
    (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", None, None),
]


@pytest.mark.parametrize("oneByOne", [False, True])
@pytest.mark.parametrize("header, source, destination", V1_GOOD)
def test_v1Good(header: bytes, source: Any, destination: Any, oneByOne: bool) -> None:
    info, rest = feedAll(V1Parser(), header + b"GET / HTTP/1.0\r\n", oneByOne)
    assert info == ProxyInfo(header, source, destination)
    assert rest == b"GET / HTTP/1.0\r\n"


def test_v1Incomplete() -> None:
    parser = V1Parser()
    assert parser.feed(b"PROXY TCP4 1.2.3.4") == (None, None)
    info, rest = parser.feed(b" 5.6.7.8 1 2\r\n")
    assert info is not None
    assert info.source == IPv4Address("TCP", "1.2.3.4", 1)
    assert rest == b""


V1_BAD = [
    (b"GET / HTTP/1.1\r\n", InvalidProxyHeader),
    (b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", InvalidProxyHeader),
    (b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", InvalidNetworkProtocol),
    (b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", InvalidNetworkProtocol),
    (b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", InvalidNetworkProtocol),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", MissingAddressData),
    (b"PROXY TCP4\r\n", MissingAddressData),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", MissingAddressData),
    (b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", MissingAddressData),
    (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", MissingAddressData),
    (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", MissingAddressData),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", MissingAddressData),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", MissingAddressData),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", MissingAddressData),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 x 2\r\n", MissingAddressData),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r\n", InvalidProxyHeader),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", InvalidProxyHeader),
    (b"PROXY TCP4 " + b"1" * 200, InvalidProxyHeader),
    (b"PROXY \xff\xfe 1 2 3 4\r\n", InvalidNetworkProtocol),
]


@pytest.mark.parametrize("oneByOne", [False, True])
@pytest.mark.parametrize("data, exception", V1_BAD)
def test_v1Bad(data: bytes, exception: type[Exception], oneByOne: bool) -> None:
    with pytest.raises(exception):
        feedAll(V1Parser(), data, oneByOne)


def test_v1LengthLimit() -> None:
    prefix = b"PROXY UNKNOWN "
    longest = prefix + b"x" * (MAX_V1_HEADER_LENGTH - len(prefix) - 2) + b"\r\n"
    assert len(longest) == MAX_V1_HEADER_LENGTH == 107
    info, rest = V1Parser().feed(longest + b"tail")
    assert info is not None and rest == b"tail"
    tooLong = prefix + b"x" * (MAX_V1_HEADER_LENGTH - len(prefix) - 1) + b"\r\n"
    with pytest.raises(InvalidProxyHeader, match="longer"):
        V1Parser().feed(tooLong)
    # Refused once the limit passes, without waiting for the line end.
    with pytest.raises(InvalidProxyHeader, match="longer"):
        V1Parser().feed(prefix + b"x" * MAX_V1_HEADER_LENGTH)


def test_v1LimitOverridable() -> None:
    parser = V1Parser()
    parser.maxLength = 20
    with pytest.raises(InvalidProxyHeader):
        parser.feed(b"PROXY UNKNOWN 123456789\r\n")
    parser = V1Parser()
    parser.maxLength = 20
    assert parser.feed(b"PROXY UNKNOWN 1234\r\n")[0] is not None


# -- version 2 -----------------------------------------------------------------


def v2(command: int, family: int, body: bytes, version: int = 2) -> bytes:
    return (
        V2_SIGNATURE
        + bytes([(version << 4) | command, family])
        + struct.pack("!H", len(body))
        + body
    )


IPV4_BODY = bytes([192, 0, 2, 1, 198, 51, 100, 7]) + struct.pack("!HH", 56324, 443)
IPV6_BODY = (
    bytes.fromhex("20010db8000000000000000000000001")
    + bytes(15)
    + b"\x01"
    + struct.pack("!HH", 1, 2)
)
UNIX_BODY = b"/tmp/a.sock".ljust(108, b"\0") + b"/tmp/b.sock".ljust(108, b"\0")
TLVS = b"\x04\x00\x03abc" + b"\x20\x00\x00"

V2_GOOD = [
    (
        v2(1, 0x11, IPV4_BODY),
        IPv4Address("TCP", "192.0.2.1", 56324),
        IPv4Address("TCP", "198.51.100.7", 443),
    ),
    (
        v2(1, 0x12, IPV4_BODY + TLVS),
        IPv4Address("UDP", "192.0.2.1", 56324),
        IPv4Address("UDP", "198.51.100.7", 443),
    ),
    (
        v2(1, 0x21, IPV6_BODY + TLVS),
        IPv6Address("TCP", "2001:db8::1", 1),
        IPv6Address("TCP", "::1", 2),
    ),
    (
        v2(1, 0x31, UNIX_BODY),
        UNIXAddress(b"/tmp/a.sock"),
        UNIXAddress(b"/tmp/b.sock"),
    ),
    (v2(0, 0x11, IPV4_BODY), None, None),  # LOCAL: addresses ignored
    (v2(0, 0x00, b""), None, None),
    (v2(1, 0x00, TLVS), None, None),  # UNSPEC
]


@pytest.mark.parametrize("oneByOne", [False, True])
@pytest.mark.parametrize("header, source, destination", V2_GOOD)
def test_v2Good(header: bytes, source: Any, destination: Any, oneByOne: bool) -> None:
    info, rest = feedAll(V2Parser(), header + b"payload", oneByOne)
    assert info.header == header
    assert (info.source, info.destination) == (source, destination)
    assert rest == b"payload"


V2_BAD = [
    (b"\r\n\r\n\x00\r\nQUIT\r" + bytes(4), InvalidProxyHeader),
    (b"\x00" * 16, InvalidProxyHeader),
    (v2(1, 0x11, IPV4_BODY, version=1), InvalidProxyHeader),
    (v2(1, 0x11, IPV4_BODY, version=3), InvalidProxyHeader),
    (v2(2, 0x11, IPV4_BODY), InvalidProxyHeader),
    (v2(0xF, 0x11, IPV4_BODY), InvalidProxyHeader),
    (v2(1, 0x41, IPV4_BODY), InvalidNetworkProtocol),
    (v2(1, 0x13, IPV4_BODY), InvalidNetworkProtocol),
    (v2(1, 0x10, IPV4_BODY), InvalidNetworkProtocol),
    (v2(1, 0x11, IPV4_BODY[:11]), MissingAddressData),
    (v2(1, 0x21, IPV4_BODY), MissingAddressData),
    (v2(1, 0x31, UNIX_BODY[:215]), MissingAddressData),
]


@pytest.mark.parametrize("oneByOne", [False, True])
@pytest.mark.parametrize("data, exception", V2_BAD)
def test_v2Bad(data: bytes, exception: type[Exception], oneByOne: bool) -> None:
    with pytest.raises(exception):
        feedAll(V2Parser(), data, oneByOne)


def test_v2LengthLimit() -> None:
    room = MAX_V2_HEADER_LENGTH - 16 - len(IPV4_BODY)
    tlv = b"\xee" + struct.pack("!H", room - 3) + b"t" * (room - 3)
    longest = v2(1, 0x11, IPV4_BODY + tlv)
    assert len(longest) == MAX_V2_HEADER_LENGTH
    info, rest = V2Parser().feed(longest)
    assert info is not None and rest == b""
    tooLong = v2(1, 0x11, IPV4_BODY + tlv + b"!")
    # Refused from the fixed part alone, before the body is buffered.
    with pytest.raises(InvalidProxyHeader, match="longer"):
        V2Parser().feed(tooLong[:16])
    parser = V2Parser()
    parser.maxLength = 16 + len(IPV4_BODY)
    assert parser.feed(v2(1, 0x11, IPV4_BODY))[0] is not None
    parser = V2Parser()
    parser.maxLength = 16 + len(IPV4_BODY)
    with pytest.raises(InvalidProxyHeader):
        parser.feed(v2(1, 0x11, IPV4_BODY + b"\x00"))


@given(st.binary(max_size=300))
def test_randomBytesOnlyRaiseProxyErrors(data: bytes) -> None:
    for parser in (V1Parser(), V2Parser()):
        try:
            parser.feed(data)
        except InvalidProxyHeader:
            pass


@given(st.binary(max_size=100))
def test_v2ValidPrefixRandomBody(body: bytes) -> None:
    for family in (0x11, 0x21, 0x31, 0x00):
        try:
            V2Parser().feed(v2(1, family, body))
        except InvalidProxyHeader:
            pass


def test_interfaces() -> None:
    assert verifyObject(IProxyParser, V1Parser())
    assert verifyObject(IProxyParser, V2Parser())
    assert verifyObject(IProxyInfo, ProxyInfo(b"h", None, None))
    assert verifyObject(IStreamServerEndpointStringParser, HAProxyServerParser())
    endpoint = serverFromString(object(), "haproxy:tcp:8080")
    assert isinstance(endpoint, HAProxyServerEndpoint)
    assert verifyObject(IStreamServerEndpoint, endpoint)


# -- the wrapping factory over an in-memory transport --------------------------


class Recorder(protocol.Protocol):
    def __init__(self) -> None:
        self.made = 0
        self.received = b""
        self.lost: list[Any] = []
        self.peer: Any = None
        self.host: Any = None

    def connectionMade(self) -> None:
        self.made += 1
        self.peer = self.transport.getPeer()
        self.host = self.transport.getHost()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.append(reason)


def wrapped(clock: Any = None) -> tuple[Any, Recorder, StringTransport]:
    recorder = Recorder()
    factory = HAProxyWrappingFactory(
        protocol.Factory.forProtocol(lambda: recorder), clock=clock or Clock()
    )
    wrapper = factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1234))
    transport = StringTransport(
        hostAddress=IPv4Address("TCP", "10.0.0.2", 80),
        peerAddress=IPv4Address("TCP", "10.0.0.1", 1234),
    )
    wrapper.makeConnection(transport)
    return wrapper, recorder, transport


HEADERS = [
    b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n",
    v2(1, 0x11, IPV4_BODY + TLVS),
]


@pytest.mark.parametrize("oneByOne", [False, True])
@pytest.mark.parametrize("header", HEADERS)
def test_wrapperReportsRealClient(header: bytes, oneByOne: bool) -> None:
    wrapper, recorder, transport = wrapped()
    data = header + b"hello"
    for chunk in [data[i : i + 1] for i in range(len(data))] if oneByOne else [data]:
        if recorder.made == 0:
            assert recorder.received == b""
        wrapper.dataReceived(chunk)
    assert recorder.made == 1
    assert recorder.peer == IPv4Address("TCP", "192.0.2.1", 56324)
    assert recorder.host == IPv4Address("TCP", "198.51.100.7", 443)
    assert recorder.received == b"hello"
    recorder.transport.write(b"answer")
    assert transport.value() == b"answer"
    wrapper.connectionLost(protocol.connectionDone)
    assert len(recorder.lost) == 1


def test_wrapperWaitsForHeader() -> None:
    wrapper, recorder, _ = wrapped()
    wrapper.dataReceived(b"PROXY TCP4 1.1.1.1")
    assert recorder.made == 0


def test_wrapperUnknownKeepsRealAddresses() -> None:
    wrapper, recorder, _ = wrapped()
    wrapper.dataReceived(b"PROXY UNKNOWN\r\n")
    assert recorder.peer == IPv4Address("TCP", "10.0.0.1", 1234)
    assert recorder.host == IPv4Address("TCP", "10.0.0.2", 80)


@pytest.mark.parametrize("oneByOne", [False, True])
@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.0\r\n\r\n",
        b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 " + b"9" * 150,
        v2(1, 0x11, IPV4_BODY, version=1),
        V2_SIGNATURE + b"\x21\x11\xff\xff",
        b"\x00" * 20,
    ],
)
def test_wrapperClosesOnBadHeader(data: bytes, oneByOne: bool) -> None:
    wrapper, recorder, transport = wrapped()
    chunks = [data[i : i + 1] for i in range(len(data))] if oneByOne else [data]
    for chunk in chunks:
        wrapper.dataReceived(chunk)
    assert transport.disconnecting
    assert recorder.made == 0 and recorder.received == b""
    wrapper.connectionLost(protocol.connectionDone)
    assert recorder.lost == []


# -- loopback through the haproxy: endpoint ------------------------------------


class Reporter(protocol.Protocol):
    """
    Writes back the peer it believes it talks to, then closes.
    """

    def dataReceived(self, data: bytes) -> None:
        peer = self.transport.getPeer()
        self.transport.write(f"{peer.host} {peer.port} ".encode() + data)
        self.transport.loseConnection()


def talk(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(data)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return got
            got += chunk


@pytest.mark.parametrize("header", HEADERS)
def test_endpointLoopback(reactor: Any, header: bytes) -> None:
    endpoint = serverFromString(reactor, "haproxy:tcp:0:interface=127.0.0.1")
    port = runUntil(reactor, endpoint.listen(protocol.Factory.forProtocol(Reporter)))
    try:
        number = port.getHost().port
        got = runUntil(
            reactor,
            threads.deferToThreadPool(
                reactor, reactor.getThreadPool(), talk, number, header + b"ping"
            ),
        )
        assert got == b"192.0.2.1 56324 ping"
        bad = runUntil(
            reactor,
            threads.deferToThreadPool(
                reactor, reactor.getThreadPool(), talk, number, b"ping\r\n"
            ),
        )
        assert bad == b""
    finally:
        runUntil(reactor, port.stopListening())


def test_endpointNeedsInnerDescription() -> None:
    with pytest.raises(ValueError, match="inner endpoint"):
        serverFromString(object(), "haproxy")


def test_wrapperInterfaces() -> None:
    from torsion.internet.interfaces import IProtocol, IProtocolFactory

    wrapper, _, _ = wrapped()
    assert verifyObject(IProtocol, wrapper)
    assert verifyObject(IProtocolFactory, wrapper.factory)


def test_headerTimeout() -> None:
    """
    A connection that never sends its PROXY header is dropped after
    HEADER_TIMEOUT seconds (LINE-11), and the wrapped protocol never sees it.
    """
    from torsion.protocols.haproxy import HEADER_TIMEOUT

    clock = Clock()
    wrapper, recorder, transport = wrapped(clock)
    wrapper.dataReceived(b"PROXY TCP4 192.0.2.1")
    clock.advance(HEADER_TIMEOUT - 0.5)
    assert not transport.aborted
    clock.advance(0.5)
    assert transport.aborted
    assert recorder.made == 0


def test_headerTimeoutCancelledByHeader() -> None:
    clock = Clock()
    wrapper, recorder, _ = wrapped(clock)
    wrapper.dataReceived(HEADERS[0])
    assert recorder.made == 1
    assert clock.getDelayedCalls() == []
