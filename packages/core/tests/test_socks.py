"""
Tests for ``torsion.protocols.socks``: the request parsers, the server
protocol over an in-memory transport, and real tunnels over loopback with
curl as the client.
"""

from __future__ import annotations

import socket
import struct
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from peers import requireCommand
from reactormixins import runUntil

from torsion.cred.checkers import InMemoryUsernamePasswordDatabase
from torsion.internet import protocol, threads
from torsion.internet.address import IPv4Address
from torsion.internet.testing import MemoryReactorClock, StringTransport
from torsion.protocols import socks
from torsion.protocols.socks import (
    SOCKSError,
    SOCKSFactory,
    SOCKSRequest,
    SOCKSv4Factory,
    SOCKSv5Factory,
    parseV4Request,
    parseV5Greeting,
    parseV5Password,
    parseV5Request,
)

# -- parsers -------------------------------------------------------------------


def v4(
    command: int, port: int, ip: bytes, user: bytes = b"", name: bytes = b""
) -> bytes:
    data = struct.pack("!BBH", 4, command, port) + ip + user + b"\0"
    if name:
        data += name + b"\0"
    return data


def v5(command: int, atyp: int, address: bytes, port: int) -> bytes:
    return bytes([5, command, 0, atyp]) + address + struct.pack("!H", port)


def test_v4Connect() -> None:
    data = v4(1, 80, bytes([10, 0, 0, 1]), b"alice") + b"extra"
    request, used = parseV4Request(data)  # type: ignore[misc]
    assert request == SOCKSRequest(4, 1, "10.0.0.1", 80, b"alice")
    assert data[used:] == b"extra"


def test_v4aName() -> None:
    data = v4(2, 443, b"\0\0\0\x07", b"", b"example.com")
    request, used = parseV4Request(data)  # type: ignore[misc]
    assert request == SOCKSRequest(4, 2, "example.com", 443, b"")
    assert used == len(data)


@pytest.mark.parametrize(
    "data",
    [
        v4(1, 80, bytes([10, 0, 0, 1]), b"bob"),
        v4(1, 80, b"\0\0\0\x01", b"bob", b"host.test"),
    ],
)
def test_v4IncompleteIsNone(data: bytes) -> None:
    for end in range(len(data)):
        assert parseV4Request(data[:end]) is None
    assert parseV4Request(data) is not None


@pytest.mark.parametrize(
    "data, message",
    [
        (v4(3, 80, bytes(4)), "command"),
        (v4(0, 80, bytes(4)), "command"),
        (v4(1, 80, b"\0\0\0\x01", b"") + b"\0", "empty"),
        (v4(1, 80, b"\0\0\0\x01", b"", b"h\x01st"), "control"),
        (v4(1, 80, b"\0\0\0\x01", b"", b"h st"), "spaces"),
        (v4(1, 80, b"\0\0\0\x01", b"", "hé".encode()), "ASCII"),
    ],
)
def test_v4Malformed(data: bytes, message: str) -> None:
    with pytest.raises(SOCKSError, match=message) as caught:
        parseV4Request(data)
    assert caught.value.code == 0x5B


def test_v4UserIDLimit() -> None:
    atLimit = v4(1, 80, bytes([1, 2, 3, 4]), b"u" * socks.MAX_USERID_LENGTH)
    assert parseV4Request(atLimit) is not None
    over = v4(1, 80, bytes([1, 2, 3, 4]), b"u" * (socks.MAX_USERID_LENGTH + 1))
    with pytest.raises(SOCKSError, match="user id too long"):
        parseV4Request(over)
    # Refused as soon as the limit is passed, without waiting for a NUL.
    with pytest.raises(SOCKSError):
        parseV4Request(over[:-1])
    assert parseV4Request(v4(1, 80, bytes(4), b"u" * 10), maxUserID=10) is not None
    with pytest.raises(SOCKSError):
        parseV4Request(v4(1, 80, bytes(4), b"u" * 11), maxUserID=10)


def test_v4DomainLimit() -> None:
    name = b"a" * socks.MAX_DOMAIN_LENGTH
    assert parseV4Request(v4(1, 80, b"\0\0\0\x01", b"", name)) is not None
    with pytest.raises(SOCKSError, match="too long"):
        parseV4Request(v4(1, 80, b"\0\0\0\x01", b"", name + b"a"))


def test_v5Greeting() -> None:
    assert parseV5Greeting(b"\x05\x02\x00\x02rest") == (b"\x00\x02", 4)
    assert parseV5Greeting(b"") is None
    assert parseV5Greeting(b"\x05") is None
    assert parseV5Greeting(b"\x05\x02\x00") is None
    with pytest.raises(SOCKSError) as caught:
        parseV5Greeting(b"\x05\x00")
    assert caught.value.code == 0xFF


def test_v5Password() -> None:
    data = b"\x01\x03bob\x06secret"
    assert parseV5Password(data + b"!") == (b"bob", b"secret", len(data))
    for end in range(len(data)):
        assert parseV5Password(data[:end]) is None
    assert parseV5Password(b"\x01\x03bob\x00") == (b"bob", b"", 6)
    with pytest.raises(SOCKSError):
        parseV5Password(b"\x02\x03bob\x00")
    with pytest.raises(SOCKSError):
        parseV5Password(b"\x01\x00\x00")


@pytest.mark.parametrize(
    "data, expected",
    [
        (v5(1, 1, bytes([127, 0, 0, 1]), 8080), SOCKSRequest(5, 1, "127.0.0.1", 8080)),
        (v5(2, 4, bytes(15) + b"\x01", 22), SOCKSRequest(5, 2, "::1", 22)),
        (v5(1, 3, b"\x0bexample.com", 443), SOCKSRequest(5, 1, "example.com", 443)),
        (v5(1, 3, b"\xff" + b"a" * 255, 1), SOCKSRequest(5, 1, "a" * 255, 1)),
    ],
)
def test_v5Request(data: bytes, expected: SOCKSRequest) -> None:
    for end in range(len(data)):
        assert parseV5Request(data[:end]) is None
    assert parseV5Request(data + b"x") == (expected, len(data))


@pytest.mark.parametrize(
    "data, code",
    [
        (v5(3, 1, bytes(4), 53), 7),  # UDP ASSOCIATE
        (v5(9, 1, bytes(4), 53), 7),
        (v5(1, 2, bytes(4), 53), 8),
        (v5(1, 7, bytes(4), 53), 8),
        (b"\x05\x01\x01\x01" + bytes(6), 1),  # reserved byte set
        (v5(1, 3, b"\x00", 80), 1),  # empty name
        (b"\x04\x01\x00\x01" + bytes(6), 1),
    ],
)
def test_v5Malformed(data: bytes, code: int) -> None:
    with pytest.raises(SOCKSError) as caught:
        parseV5Request(data)
    assert caught.value.code == code


@given(st.binary(max_size=300))
def test_parsersNeverRaiseOtherErrors(data: bytes) -> None:
    parsers: list[Callable[[bytes], object]] = [
        parseV4Request,
        parseV5Greeting,
        parseV5Password,
        parseV5Request,
    ]
    for parse in parsers:
        try:
            parse(data)
        except SOCKSError:
            pass


# -- the protocol over an in-memory transport ---------------------------------


def makeServer(
    factory: SOCKSFactory | None = None,
) -> tuple[socks.SOCKSServer, StringTransport, MemoryReactorClock]:
    reactor = MemoryReactorClock()
    factory = factory or SOCKSFactory(reactor=reactor)
    factory._reactor = reactor
    server = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5555))
    assert isinstance(server, socks.SOCKSServer)
    transport = StringTransport()
    server.makeConnection(transport)
    return server, transport, reactor


def feed(server: socks.SOCKSServer, data: bytes, oneByOne: bool) -> None:
    if oneByOne:
        for i in range(len(data)):
            server.dataReceived(data[i : i + 1])
    else:
        server.dataReceived(data)


BAD_INPUTS = [
    # (name, bytes, expected reply)
    ("unknown version", b"\x06\x01\x00", b""),
    ("http instead of socks", b"GET / HTTP/1.1\r\n\r\n", b""),
    ("v5 no methods", b"\x05\x00", b"\x05\xff"),
    ("v5 only gssapi", b"\x05\x01\x01", b"\x05\xff"),
    (
        "v5 udp associate",
        b"\x05\x01\x00" + v5(3, 1, bytes(4), 53),
        b"\x05\x00" + b"\x05\x07\x00\x01" + bytes(6),
    ),
    (
        "v5 bad address type",
        b"\x05\x01\x00" + v5(1, 9, bytes(4), 53),
        b"\x05\x00" + b"\x05\x08\x00\x01" + bytes(6),
    ),
    (
        "v5 reserved byte",
        b"\x05\x01\x00\x05\x01\x07\x01" + bytes(6),
        b"\x05\x00" + b"\x05\x01\x00\x01" + bytes(6),
    ),
    ("v4 bad command", v4(9, 80, bytes(4)), b"\x00\x5b" + bytes(6)),
    (
        "v4 user id too long",
        v4(1, 80, bytes([1, 2, 3, 4]), b"u" * 300),
        b"\x00\x5b" + bytes(6),
    ),
    (
        "v4a name too long",
        v4(1, 80, b"\0\0\0\x01", b"", b"n" * 300),
        b"\x00\x5b" + bytes(6),
    ),
]


@pytest.mark.parametrize("oneByOne", [False, True])
@pytest.mark.parametrize(
    "name, data, reply", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_badInputRepliesAndCloses(
    name: str, data: bytes, reply: bytes, oneByOne: bool
) -> None:
    server, transport, reactor = makeServer()
    feed(server, data, oneByOne)
    assert transport.value() == reply
    assert transport.disconnecting
    assert reactor.tcpClients == []


def test_v4OnlyFactoryRefusesV5() -> None:
    server, transport, _ = makeServer(SOCKSv4Factory())
    server.dataReceived(b"\x05\x01\x00")
    assert transport.value() == b""
    assert transport.disconnecting


def test_v5OnlyFactoryRefusesV4() -> None:
    server, transport, _ = makeServer(SOCKSv5Factory())
    server.dataReceived(v4(1, 80, bytes([1, 2, 3, 4])))
    assert transport.value() == b""
    assert transport.disconnecting


def test_loginRequired() -> None:
    checker = InMemoryUsernamePasswordDatabase(alice="pw")
    factory = SOCKSFactory(checker=checker)
    # A client that offers no login gets "no acceptable method".
    server, transport, _ = makeServer(factory)
    server.dataReceived(b"\x05\x01\x00")
    assert transport.value() == b"\x05\xff"
    assert transport.disconnecting
    # SOCKS4 cannot log in.
    server, transport, _ = makeServer(factory)
    server.dataReceived(v4(1, 80, bytes([1, 2, 3, 4])))
    assert transport.value() == b"\x00\x5b" + bytes(6)
    assert transport.disconnecting


@pytest.mark.parametrize("oneByOne", [False, True])
def test_wrongPassword(oneByOne: bool) -> None:
    checker = InMemoryUsernamePasswordDatabase(alice="pw")
    server, transport, reactor = makeServer(SOCKSFactory(checker=checker))
    feed(server, b"\x05\x02\x00\x02" + b"\x01\x05alice\x02no", oneByOne)
    assert transport.value() == b"\x05\x02\x01\x01"
    assert transport.disconnecting
    assert reactor.tcpClients == []


def test_rightPasswordThenBadRequest() -> None:
    checker = InMemoryUsernamePasswordDatabase(alice="pw")
    server, transport, _ = makeServer(SOCKSFactory(checker=checker))
    server.dataReceived(b"\x05\x01\x02\x01\x05alice\x02pw" + v5(3, 1, bytes(4), 1))
    assert transport.value() == b"\x05\x02\x01\x00" + b"\x05\x07\x00\x01" + bytes(6)
    assert transport.disconnecting


def test_handshakeTimeout() -> None:
    server, transport, reactor = makeServer()
    server.dataReceived(b"\x05\x01")
    reactor.advance(socks.HANDSHAKE_TIMEOUT - 0.1)
    assert not transport.disconnecting
    reactor.advance(0.1)
    assert transport.disconnecting


def test_connectionLogFile(tmp_path: Any) -> None:
    path = tmp_path / "socks.log"
    factory = SOCKSv4Factory(str(path))
    server, _, _ = makeServer(factory)
    server.dataReceived(v4(1, 8080, bytes([127, 0, 0, 1]), b"carol"))
    factory.stopFactory()
    line = path.read_text()
    assert "SOCKS4 CONNECT" in line and "127.0.0.1:8080" in line
    assert "user=carol" in line


# -- loopback: real tunnels ------------------------------------------------------


class HTTPResponder(protocol.Protocol):
    """
    Answers one HTTP request with a fixed body, remembering the request.
    """

    def __init__(self, seen: list[bytes]) -> None:
        self.seen = seen
        self.buffer = b""

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer:
            self.seen.append(self.buffer)
            body = b"hello through socks\n"
            self.transport.write(
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            self.transport.loseConnection()


def listenHTTP(reactor: Any, interface: str = "127.0.0.1") -> tuple[Any, list[bytes]]:
    seen: list[bytes] = []
    factory = protocol.Factory.forProtocol(lambda: HTTPResponder(seen))
    port = reactor.listenTCP(0, factory, interface=interface)
    return port, seen


def inThread(reactor: Any, f: Callable[..., Any], *args: Any) -> Any:
    return runUntil(
        reactor,
        threads.deferToThreadPool(reactor, reactor.getThreadPool(), f, *args),
        60,
    )


def runCurl(reactor: Any, *args: str) -> subprocess.CompletedProcess[bytes]:
    curl = requireCommand("curl")
    command = [curl, "-sS", "--max-time", "20", "--noproxy", "", *args]
    return inThread(  # type: ignore[no-any-return]
        reactor,
        lambda: subprocess.run(command, capture_output=True, timeout=60, check=False),
    )


CURL_MODES = [
    ("--socks5", "127.0.0.1"),
    ("--socks5-hostname", "localhost"),
    ("--socks4", "127.0.0.1"),
    ("--socks4a", "localhost"),
]


@pytest.mark.parametrize("mode, host", CURL_MODES)
def test_curlThroughProxy(reactor: Any, mode: str, host: str) -> None:
    http, seen = listenHTTP(reactor)
    proxy = reactor.listenTCP(0, SOCKSFactory(reactor=reactor), interface="127.0.0.1")
    try:
        proxyPort = proxy.getHost().port
        url = f"http://{host}:{http.getHost().port}/path"
        result = runCurl(reactor, mode, f"127.0.0.1:{proxyPort}", url)
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"hello through socks\n"
        assert seen and seen[0].startswith(b"GET /path HTTP/1.1\r\n")
    finally:
        http.stopListening()
        proxy.stopListening()


def test_curlIPv6Destination(reactor: Any) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        http, seen = listenHTTP(reactor, "::1")
    except Exception as e:
        pytest.skip(f"cannot listen on ::1: {e}")
    proxy = reactor.listenTCP(0, SOCKSv5Factory(reactor=reactor), interface="127.0.0.1")
    try:
        url = f"http://[::1]:{http.getHost().port}/six"
        result = runCurl(reactor, "--socks5", f"127.0.0.1:{proxy.getHost().port}", url)
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"hello through socks\n"
        assert seen[0].startswith(b"GET /six ")
    finally:
        http.stopListening()
        proxy.stopListening()


@pytest.mark.parametrize("password, works", [("s3cret", True), ("wrong", False)])
def test_curlWithLogin(reactor: Any, password: str, works: bool) -> None:
    http, seen = listenHTTP(reactor)
    checker = InMemoryUsernamePasswordDatabase(user="s3cret")
    factory = SOCKSv5Factory(reactor=reactor, checker=checker)
    proxy = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        result = runCurl(
            reactor,
            "--socks5",
            f"127.0.0.1:{proxy.getHost().port}",
            "--proxy-user",
            f"user:{password}",
            f"http://127.0.0.1:{http.getHost().port}/",
        )
        if works:
            assert result.returncode == 0, result.stderr
            assert result.stdout == b"hello through socks\n"
        else:
            assert result.returncode != 0
            assert seen == []
    finally:
        http.stopListening()
        proxy.stopListening()


def socksExchange(port: int, send: bytes, expect: int) -> bytes:
    """
    Blocking client (runs in a thread): send ``send``, read until ``expect``
    bytes arrived or the server closed.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(send)
        got = b""
        while len(got) < expect:
            chunk = s.recv(expect - len(got))
            if not chunk:
                break
            got += chunk
        return got


def test_connectionRefusedReply(reactor: Any) -> None:
    # A port nothing listens on: bind one, note it, close it.
    closed = reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
    deadPort = closed.getHost().port
    runUntil(reactor, closed.stopListening())
    proxy = reactor.listenTCP(0, SOCKSFactory(reactor=reactor), interface="127.0.0.1")
    try:
        request = b"\x05\x01\x00" + v5(1, 1, bytes([127, 0, 0, 1]), deadPort)
        got = inThread(reactor, socksExchange, proxy.getHost().port, request, 100)
        assert got == b"\x05\x00" + b"\x05\x05\x00\x01" + bytes(6)
        got = inThread(
            reactor,
            socksExchange,
            proxy.getHost().port,
            v4(1, deadPort, bytes([127, 0, 0, 1])),
            100,
        )
        assert got == b"\x00\x5b" + bytes(6)
    finally:
        proxy.stopListening()


def test_unknownHostReply(reactor: Any) -> None:
    proxy = reactor.listenTCP(0, SOCKSFactory(reactor=reactor), interface="127.0.0.1")
    try:
        name = b"no-such-host.invalid"
        request = b"\x05\x01\x00" + v5(1, 3, bytes([len(name)]) + name, 80)
        got = inThread(reactor, socksExchange, proxy.getHost().port, request, 100)
        assert got == b"\x05\x00" + b"\x05\x04\x00\x01" + bytes(6)
    finally:
        proxy.stopListening()


class Collector(protocol.Protocol):
    def __init__(self) -> None:
        self.received = b""
        from torsion.internet.defer import Deferred

        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(self.received)


@pytest.mark.parametrize("version", [4, 5])
def test_bind(reactor: Any, version: int) -> None:
    """
    BIND: the proxy listens, reports where, relays the one connection that
    arrives from the expected host, and reports its address.
    """
    proxy = reactor.listenTCP(0, SOCKSFactory(reactor=reactor), interface="127.0.0.1")
    proxyPort = proxy.getHost().port

    def client() -> tuple[bytes, bytes, bytes]:
        with socket.create_connection(("127.0.0.1", proxyPort), timeout=20) as s:
            if version == 5:
                s.sendall(b"\x05\x01\x00" + v5(2, 1, bytes([127, 0, 0, 1]), 0))
                assert s.recv(2) == b"\x05\x00"
                first = recvExactly(s, 10)
                boundPort = struct.unpack("!H", first[8:10])[0]
            else:
                s.sendall(v4(2, 0, bytes([127, 0, 0, 1])))
                first = recvExactly(s, 8)
                boundPort = struct.unpack("!H", first[2:4])[0]
            with socket.create_connection(("127.0.0.1", boundPort), timeout=20) as c:
                second = recvExactly(s, 10 if version == 5 else 8)
                c.sendall(b"from the remote side")
                fromRemote = recvExactly(s, 20)
                s.sendall(b"to the remote side")
                toRemote = recvExactly(c, 18)
                c.shutdown(socket.SHUT_WR)
                assert s.recv(10) == b""
                return first + second, fromRemote, toRemote

    try:
        replies, fromRemote, toRemote = inThread(reactor, client)
    finally:
        proxy.stopListening()
    assert fromRemote == b"from the remote side"
    assert toRemote == b"to the remote side"
    if version == 5:
        assert replies[:4] == b"\x05\x00\x00\x01"
        assert replies[10:14] == b"\x05\x00\x00\x01"
        assert replies[14:18] == bytes([127, 0, 0, 1])
    else:
        assert replies[:2] == b"\x00\x5a"
        assert replies[8:10] == b"\x00\x5a"


def recvExactly(s: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            raise AssertionError(f"closed after {got!r}")
        got += chunk
    return got


def test_flowControlBothWays(reactor: Any) -> None:
    """
    Once a tunnel is up, each side's transport produces for the other's: a
    full write buffer on one side pauses reading on the other.
    """
    built: list[socks.SOCKSServer] = []

    class Recording(SOCKSFactory):
        def buildProtocol(self, addr: Any) -> Any:
            p = super().buildProtocol(addr)
            built.append(p)
            return p

    http, _ = listenHTTP(reactor)
    proxy = reactor.listenTCP(0, Recording(reactor=reactor), interface="127.0.0.1")
    proxyPort = proxy.getHost().port
    observed: list[tuple[bool, bool]] = []

    def check() -> None:
        server = built[0]
        relay = server._relay
        assert relay is not None
        observed.append(
            (
                server.transport.producer is relay.transport,
                relay.transport.producer is server.transport,
            )
        )

    def client() -> None:
        with socket.create_connection(("127.0.0.1", proxyPort), timeout=20) as s:
            request = v5(1, 1, bytes([127, 0, 0, 1]), http.getHost().port)
            s.sendall(b"\x05\x01\x00" + request)
            recvExactly(s, 12)
            threads.blockingCallFromThread(reactor, check)

    try:
        inThread(reactor, client)
    finally:
        http.stopListening()
        proxy.stopListening()
    assert observed == [(True, True)]


def test_interfaces() -> None:
    from zope.interface.verify import verifyObject

    from torsion.internet.interfaces import IProtocol, IProtocolFactory

    for factory in (SOCKSFactory(), SOCKSv4Factory(), SOCKSv5Factory()):
        assert verifyObject(IProtocolFactory, factory)
        assert verifyObject(IProtocol, factory.protocol())


@pytest.mark.parametrize("version", [4, 5])
def test_bindTimeout(version: int) -> None:
    server, transport, reactor = makeServer()
    if version == 5:
        server.dataReceived(b"\x05\x01\x00" + v5(2, 1, bytes([127, 0, 0, 1]), 0))
        granted = b"\x05\x00" + b"\x05\x00\x00\x01"
        failed = b"\x05\x06\x00\x01" + bytes(6)
    else:
        server.dataReceived(v4(2, 0, bytes([127, 0, 0, 1])))
        granted = b"\x00\x5a"
        failed = b"\x00\x5b" + bytes(6)
    assert transport.value().startswith(granted)
    assert len(reactor.tcpServers) == 1
    transport.clear()
    reactor.advance(socks.BIND_TIMEOUT - 0.1)
    assert not transport.disconnecting
    reactor.advance(0.1)
    assert transport.value() == failed
    assert transport.disconnecting


def test_pendingBytesLimit() -> None:
    factory = SOCKSFactory()
    factory.maxPendingBytes = 10
    server, transport, reactor = makeServer(factory)
    server.dataReceived(b"\x05\x01\x00" + v5(1, 1, bytes([192, 0, 2, 1]), 80))
    # Connecting: the client is not read from, and what it already sent is
    # held up to the limit.
    assert [c[:2] for c in reactor.tcpClients] == [("192.0.2.1", 80)]
    assert transport.producerState == "paused"
    server.dataReceived(b"x" * 10)
    assert not transport.disconnecting
    server.dataReceived(b"x")
    assert transport.disconnecting
    assert SOCKSFactory.maxPendingBytes == socks.MAX_PENDING_BYTES
