"""
Tests for ``torsion.protocols.finger``: the RFC 1288 server.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reactormixins import runUntil
from zope.interface.verify import verifyObject

from torsion.internet import interfaces, protocol
from torsion.internet.testing import StringTransport
from torsion.protocols import finger, loopback


class Recording(finger.Finger):
    """
    Records the dispatched calls and answers nothing, keeping the
    connection open.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def forwardQuery(self, slash_w: bool, user: bytes, host: bytes) -> None:
        self.calls.append(("forward", slash_w, user, host))

    def getDomain(self, slash_w: bool) -> None:
        self.calls.append(("domain", slash_w))

    def getUser(self, slash_w: bool, user: bytes) -> None:
        self.calls.append(("user", slash_w, user))


def query(proto: Any, data: bytes) -> StringTransport:
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(data)
    return transport


@pytest.mark.parametrize(
    ("line", "call"),
    [
        (b"\r\n", ("domain", False)),
        (b"/W\r\n", ("domain", True)),
        (b"alice\r\n", ("user", False, b"alice")),
        (b"/W alice\r\n", ("user", True, b"alice")),
        (b"/w   alice \r\n", ("user", True, b"alice")),
        (b"alice\n", ("user", False, b"alice")),
        (b"alice@example.org\r\n", ("forward", False, b"alice", b"example.org")),
        (b"/W a@b@c\r\n", ("forward", True, b"a@b", b"c")),
        (b"@example.org\r\n", ("forward", False, b"", b"example.org")),
        (b"al\rice\r\n", None),
    ],
)
def test_dispatch(line: bytes, call: tuple[Any, ...] | None) -> None:
    proto = Recording()
    transport = query(proto, line)
    if call is None:
        # LINE-5: a bare CR is whitespace, so this is two tokens: refused.
        assert proto.calls == []
        assert transport.value() == b"Invalid query\r\n"
    else:
        assert proto.calls == [call]


def test_providesIProtocol() -> None:
    proto = finger.Finger()
    assert verifyObject(interfaces.IProtocol, proto)
    assert verifyObject(interfaces.IPushProducer, proto)


def test_defaultAnswers() -> None:
    cases = {
        b"\r\n": b"Finger online list denied\r\n",
        b"bob\r\n": b"Login: bob\r\nNo such user\r\n",
        b"bob@elsewhere\r\n": b"Finger forwarding service denied\r\n",
        b"bob alice\r\n": b"Invalid query\r\n",
    }
    for line, answer in cases.items():
        transport = query(finger.Finger(), line)
        assert transport.value() == answer, line
        assert transport.disconnecting


def test_queryInPieces() -> None:
    proto = Recording()
    transport = StringTransport()
    proto.makeConnection(transport)
    for byte in b"/W carol\r\n":
        proto.dataReceived(bytes([byte]))
    assert proto.calls == [("user", True, b"carol")]


def test_onlyFirstQueryAnswered() -> None:
    proto = Recording()
    query(proto, b"a\r\nb\r\n\r\n")
    assert proto.calls == [("user", False, b"a")]


def test_maxLengthBoundary() -> None:
    limit = finger.Finger.MAX_LENGTH
    proto = Recording()
    query(proto, b"u" * (limit - 1) + b"\r\n")
    assert proto.calls == [("user", False, b"u" * (limit - 1))]

    proto = Recording()
    transport = query(proto, b"u" * (limit + 1))
    assert proto.calls == []
    assert transport.value() == b"Query too long\r\n"
    assert transport.disconnecting


def test_longQueryStreamBounded() -> None:
    proto = Recording()
    transport = StringTransport()
    proto.makeConnection(transport)
    for _ in range(100):
        proto.dataReceived(b"v" * 4096)
    assert transport.value() == b"Query too long\r\n"
    assert proto.calls == []


@given(st.binary(max_size=3000))
def test_randomBytes(data: bytes) -> None:
    proto = finger.Finger()
    transport = query(proto, data)
    if b"\n" in data or len(data) > finger.Finger.MAX_LENGTH:
        assert transport.disconnecting
        assert transport.value().endswith(b"\r\n")
    else:
        assert transport.value() == b""


class FingerClient(protocol.Protocol):
    def __init__(self, line: bytes) -> None:
        self.line = line
        self.answer = b""

    def connectionMade(self) -> None:
        self.transport.write(self.line)

    def dataReceived(self, data: bytes) -> None:
        self.answer += data


def test_fingerOverTCP(reactor: Any) -> None:
    class Directory(finger.Finger):
        def getUser(self, slash_w: bool, user: bytes) -> None:
            self.transport.write(b"Login: " + user + b"\r\nPlan: write tests\r\n")
            self.transport.loseConnection()

    client = FingerClient(b"/W dave\r\n")
    d = loopback.loopbackTCP(Directory(), client, reactor=reactor, noisy=False)
    runUntil(reactor, d)
    assert client.answer == b"Login: dave\r\nPlan: write tests\r\n"
