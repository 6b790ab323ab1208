"""
Tests for torsion.protocols.amp over in-memory transports: the wire format,
argument types, commands, errors, limits and protocol switching.
"""

from __future__ import annotations

import datetime
import decimal
import io
import math
import pathlib
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet import interfaces
from torsion.internet.defer import Deferred, succeed
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.internet.protocol import ClientFactory, Protocol
from torsion.internet.testing import (
    EventLoggingObserver,
    IOPump,
    StringTransport,
    connectedServerAndClient,
)
from torsion.logger import globalLogPublisher
from torsion.protocols import amp
from torsion.python.failure import Failure

# -- commands used by the tests ----------------------------------------------


class Sum(amp.Command):
    arguments = [(b"a", amp.Integer()), (b"b", amp.Integer())]
    response = [(b"total", amp.Integer())]


class Oops(Exception):
    pass


class Doom(Exception):
    pass


class Fail(amp.Command):
    arguments = [(b"kind", amp.Unicode())]
    response: ClassVar[list[tuple[bytes, amp.Argument]]] = []
    errors = {Oops: b"OOPS"}
    fatalErrors = {Doom: b"DOOM"}


class Everything(amp.Command):
    arguments = [
        (b"i", amp.Integer()),
        (b"s", amp.String()),
        (b"u", amp.Unicode()),
        (b"f", amp.Float()),
        (b"yes", amp.Boolean()),
        (b"when", amp.DateTime()),
        (b"d", amp.Decimal()),
        (b"nums", amp.ListOf(amp.Integer())),
        (b"people", amp.AmpList([(b"name", amp.Unicode()), (b"age", amp.Integer())])),
        (b"where", amp.Path()),
        (b"maybe", amp.Integer(optional=True)),
    ]
    response = list(arguments)


class Notify(amp.Command):
    arguments = [(b"text", amp.Unicode())]
    requiresAnswer = False


class Renamed(amp.Command):
    commandName = b"other-name"
    arguments = [(b"from", amp.Integer()), (b"max-size", amp.Integer())]
    response = [(b"sum", amp.Integer())]


class Later(amp.Command):
    response = [(b"value", amp.Integer())]


class Bad(amp.Command):
    response = [(b"value", amp.Integer())]


class Missing(amp.Command):
    pass


class Server(amp.AMP):
    def __init__(self) -> None:
        amp.AMP.__init__(self)
        self.notes: list[str] = []
        self.later: Deferred[dict[str, int]] | None = None

    @Sum.responder
    def sum(self, a: int, b: int) -> dict[str, int]:
        return {"total": a + b}

    @Fail.responder
    def fail(self, kind: str) -> dict[str, Any]:
        if kind == "oops":
            raise Oops("declared trouble")
        if kind == "doom":
            raise Doom("the end")
        raise RuntimeError("nobody expected this")

    @Everything.responder
    def everything(self, **kw: Any) -> dict[str, Any]:
        return kw

    @Notify.responder
    def notify(self, text: str) -> dict[str, Any]:
        self.notes.append(text)
        return {}

    @Renamed.responder
    def renamed(self, From: int, max_size: int) -> dict[str, int]:
        return {"sum": From + max_size}

    @Later.responder
    def later_(self) -> Deferred[dict[str, int]]:
        self.later = Deferred()
        return self.later

    @Bad.responder
    def bad(self) -> Any:
        return "not a dict"


@pytest.fixture
def logged() -> Iterator[EventLoggingObserver]:
    observer = EventLoggingObserver()
    globalLogPublisher.addObserver(observer)
    yield observer
    globalLogPublisher.removeObserver(observer)


def pair(
    server: type[amp.AMP] = Server, client: type[amp.AMP] = amp.AMP
) -> tuple[Any, Any, IOPump]:
    c, s, pump = connectedServerAndClient(server, client)
    return c, s, pump


def result(d: Deferred[Any] | None) -> Any:
    assert d is not None
    out: list[Any] = []
    d.addBoth(out.append)
    assert out, "Deferred has not fired"
    if isinstance(out[0], Failure):
        out[0].raiseException()
    return out[0]


def failure(d: Deferred[Any] | None) -> Failure:
    assert d is not None
    out: list[Any] = []
    d.addBoth(out.append)
    assert out, "Deferred has not fired"
    assert isinstance(out[0], Failure), out[0]
    return out[0]


# -- the wire format ------------------------------------------------------------

# Written by hand from the format: each key and value preceded by its length
# as two big-endian bytes, keys in sorted order, a zero length to finish.
VECTOR = (
    b"\x00\x04_ask\x00\x0223"
    b"\x00\x08_command\x00\x03Sum"
    b"\x00\x01a\x00\x0213"
    b"\x00\x01b\x00\x0281"
    b"\x00\x00"
)
VECTOR_BOX = {b"_ask": b"23", b"_command": b"Sum", b"a": b"13", b"b": b"81"}


def test_serializeVector() -> None:
    assert amp.AmpBox(VECTOR_BOX).serialize() == VECTOR


def test_parseVector() -> None:
    assert amp.parseString(VECTOR) == [VECTOR_BOX]
    assert amp.parseString(VECTOR + VECTOR) == [VECTOR_BOX, VECTOR_BOX]
    assert amp.parse(io.BytesIO(VECTOR)) == [VECTOR_BOX]
    assert isinstance(amp.parseString(VECTOR)[0], amp.AmpBox)


def test_callOnTheWire() -> None:
    """
    A call writes exactly the hand-written bytes, and the hand-written
    answer fires the caller's Deferred.
    """
    client = amp.AMP()
    transport = StringTransport()
    client.makeConnection(transport)
    d = client.callRemote(Sum, a=13, b=81)
    assert transport.value() == (
        b"\x00\x04_ask\x00\x011"
        b"\x00\x08_command\x00\x03Sum"
        b"\x00\x01a\x00\x0213"
        b"\x00\x01b\x00\x0281"
        b"\x00\x00"
    )
    client.dataReceived(b"\x00\x07_answer\x00\x011\x00\x05total\x00\x0294\x00\x00")
    assert result(d) == {"total": 94}


def test_answerOnTheWire() -> None:
    server = Server()
    transport = StringTransport()
    server.makeConnection(transport)
    server.dataReceived(VECTOR)
    assert transport.value() == (
        b"\x00\x07_answer\x00\x0223\x00\x05total\x00\x0294\x00\x00"
    )


def test_errorOnTheWire() -> None:
    server = Server()
    transport = StringTransport()
    server.makeConnection(transport)
    server.dataReceived(
        amp.AmpBox(_command=b"Fail", _ask=b"7", kind=b"oops").serialize()
    )
    assert amp.parseString(transport.value()) == [
        {
            b"_error": b"7",
            b"_error_code": b"OOPS",
            b"_error_description": b"declared trouble",
        }
    ]


def test_boxKeywordsAndCopy() -> None:
    box = amp.AmpBox({b"x": b"1"}, y=b"2")
    assert box == {b"x": b"1", b"y": b"2"}
    copy = box.copy()
    assert isinstance(copy, amp.AmpBox) and copy == box and copy is not box


def test_serializeRejectsNonBytes() -> None:
    with pytest.raises(TypeError):
        amp.AmpBox({b"k": "text"}).serialize()
    with pytest.raises(TypeError):
        amp.AmpBox({"k": b"v"}).serialize()
    with pytest.raises(amp.MalformedAmpBox):
        amp.AmpBox({b"": b"v"}).serialize()


def test_keyLengthBoundary() -> None:
    ok = amp.AmpBox({b"k" * 255: b"v"}).serialize()
    assert amp.parseString(ok) == [{b"k" * 255: b"v"}]
    with pytest.raises(amp.TooLong) as raised:
        amp.AmpBox({b"k" * 256: b"v"}).serialize()
    assert raised.value.isKey and raised.value.isLocal


def test_valueLengthBoundary() -> None:
    ok = amp.AmpBox({b"k": b"v" * 65535}).serialize()
    assert amp.parseString(ok) == [{b"k": b"v" * 65535}]
    with pytest.raises(amp.TooLong) as raised:
        amp.AmpBox({b"k": b"v" * 65536}).serialize()
    assert not raised.value.isKey and raised.value.keyName == b"k"


def test_parseStringErrors() -> None:
    with pytest.raises(amp.MalformedAmpBox):
        amp.parseString(VECTOR[:-1])
    with pytest.raises(amp.MalformedAmpBox):
        amp.parseString(b"\x00\x01a\x00\x01b\x00\x01a\x00\x01c\x00\x00")
    with pytest.raises(amp.TooLong):
        amp.parseString(b"\x01\x00" + b"k" * 256 + b"\x00\x00\x00\x00")
    with pytest.raises(TypeError):
        amp.parseString("text")  # type: ignore[arg-type]


keys = st.binary(min_size=1, max_size=255)
values = st.binary(max_size=600)
boxes = st.dictionaries(keys, values, max_size=8)


@given(st.lists(boxes, max_size=4))
def test_roundTripProperty(items: list[dict[bytes, bytes]]) -> None:
    data = b"".join(amp.AmpBox(b).serialize() for b in items)
    assert amp.parseString(data) == items


@implementer(amp.IBoxReceiver)
class Collector:
    """An ``IBoxReceiver`` that keeps what it gets."""

    def __init__(self) -> None:
        self.boxes: list[amp.AmpBox] = []
        self.reason: Failure | None = None
        self.sender: Any = None

    def startReceivingBoxes(self, boxSender: Any) -> None:
        self.sender = boxSender

    def ampBoxReceived(self, box: amp.AmpBox) -> None:
        self.boxes.append(box)

    def stopReceivingBoxes(self, reason: Failure) -> None:
        self.reason = reason


def test_collectorIsBoxReceiver() -> None:
    assert verifyObject(amp.IBoxReceiver, Collector())


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(boxes, min_size=1, max_size=3), st.data())
def test_chunkedDeliveryProperty(items: list[dict[bytes, bytes]], data: Any) -> None:
    """
    However the bytes are cut into reads, the same boxes arrive.
    """
    wire = b"".join(amp.AmpBox(b).serialize() for b in items)
    cuts = sorted(
        data.draw(st.lists(st.integers(0, len(wire)), max_size=10), label="cuts")
    )
    collector = Collector()
    proto = amp.BinaryBoxProtocol(collector)
    transport = StringTransport()
    proto.makeConnection(transport)
    start = 0
    for cut in [*cuts, len(wire)]:
        proto.dataReceived(wire[start:cut])
        start = cut
    assert collector.boxes == items
    assert not transport.disconnecting


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_randomBytesCloseCleanly(data: bytes) -> None:
    """
    Random bytes never raise out of ``dataReceived``: they are boxes, or the
    connection is closed.
    """
    server = Server()
    transport = StringTransport()
    server.makeConnection(transport)
    server.dataReceived(data)
    server.connectionLost(Failure(ConnectionDone()))


@settings(max_examples=200)
@given(st.lists(st.tuples(keys, st.binary(max_size=40)), max_size=6), st.binary())
def test_randomBoxesCloseCleanly(pairs: list[tuple[bytes, bytes]], tail: bytes) -> None:
    """
    Random well-framed boxes (random reserved keys included) are answered or
    close the connection; nothing escapes.
    """
    reserved = [(b"_command", b"Sum"), (b"_ask", b"1")]
    wire = amp.AmpBox(dict(reserved + pairs)).serialize() + tail
    server = Server()
    transport = StringTransport()
    server.makeConnection(transport)
    for i in range(len(wire)):
        server.dataReceived(wire[i : i + 1])
    server.connectionLost(Failure(ConnectionDone()))


# -- argument types -------------------------------------------------------------


def test_argumentTypesProvideInterface() -> None:
    for argument in [
        amp.Argument(),
        amp.Integer(),
        amp.String(),
        amp.Unicode(),
        amp.Float(),
        amp.Boolean(),
        amp.DateTime(),
        amp.Decimal(),
        amp.ListOf(amp.Integer()),
        amp.AmpList([(b"a", amp.Integer())]),
        amp.Path(),
        amp.Descriptor(),
    ]:
        assert verifyObject(amp.IArgumentType, argument)


def test_integer() -> None:
    assert amp.Integer().toString(-42) == b"-42"
    assert amp.Integer().fromString(b"-42") == -42
    with pytest.raises(ValueError):
        amp.Integer().fromString(b"4x")
    with pytest.raises(TypeError):
        amp.Integer().toString("4")


def test_float() -> None:
    f = amp.Float()
    assert f.toString(0.1) == b"0.1"
    assert f.toString(float("inf")) == b"inf"
    assert f.toString(float("-inf")) == b"-inf"
    assert f.toString(float("nan")) == b"nan"
    assert math.isnan(f.fromString(b"nan"))
    assert f.fromString(b"-inf") == float("-inf")
    assert f.fromString(f.toString(1 / 3)) == 1 / 3


def test_boolean() -> None:
    b = amp.Boolean()
    assert (b.toString(True), b.toString(False)) == (b"True", b"False")
    assert b.fromString(b"True") is True and b.fromString(b"False") is False
    with pytest.raises(TypeError):
        b.fromString(b"true")


def test_stringAndUnicode() -> None:
    assert amp.String().toString(b"\xff") == b"\xff"
    with pytest.raises(TypeError):
        amp.String().toString("text")
    assert amp.Unicode().toString("h\xe9") == b"h\xc3\xa9"
    assert amp.Unicode().fromString(b"h\xc3\xa9") == "h\xe9"
    with pytest.raises(UnicodeDecodeError):
        amp.Unicode().fromString(b"\xff")
    with pytest.raises(TypeError):
        amp.Unicode().toString(b"bytes")


def test_dateTimeVector() -> None:
    zone = datetime.timezone(-datetime.timedelta(hours=1, minutes=23))
    when = datetime.datetime(2012, 1, 23, 12, 34, 56, 54321, tzinfo=zone)
    wire = b"2012-01-23T12:34:56.054321-01:23"
    assert amp.DateTime().toString(when) == wire
    back = amp.DateTime().fromString(wire)
    assert back == when and back.utcoffset() == when.utcoffset()
    utcWhen = datetime.datetime(2000, 2, 3, 4, 5, 6, tzinfo=amp.utc)
    assert amp.DateTime().toString(utcWhen) == b"2000-02-03T04:05:06.000000+00:00"


def test_dateTimeErrors() -> None:
    with pytest.raises(ValueError):
        amp.DateTime().toString(datetime.datetime(2000, 1, 1))
    odd = datetime.timezone(datetime.timedelta(seconds=30))
    with pytest.raises(ValueError):
        amp.DateTime().toString(datetime.datetime(2000, 1, 1, tzinfo=odd))
    for bad in [
        b"2012-01-23T12:34:56.054321-01:2",
        b"2012-01-23X12:34:56.054321-01:23",
        b"2012-01-23T12:34:56.054321*01:23",
        b"2012-13-23T12:34:56.054321-01:23",
        b"2012-01-23T12:34:56.05432x-01:23",
        b"2012-01-23T12:34:56.054321-01:61",
    ]:
        with pytest.raises(ValueError):
            amp.DateTime().fromString(bad)


@given(
    st.datetimes(
        timezones=st.builds(
            datetime.timezone,
            st.integers(-1439, 1439).map(lambda m: datetime.timedelta(minutes=m)),
        )
    )
)
def test_dateTimeRoundTrip(when: datetime.datetime) -> None:
    back = amp.DateTime().fromString(amp.DateTime().toString(when))
    assert back == when and back.utcoffset() == when.utcoffset()


def test_decimal() -> None:
    d = amp.Decimal()
    for text in [b"1.10", b"-0", b"NaN", b"Infinity", b"-Infinity", b"1E+3"]:
        assert d.toString(d.fromString(text)) == text
    assert d.fromString(b"1.10") == decimal.Decimal("1.10")
    with pytest.raises(ValueError):
        d.toString(1.5)
    with pytest.raises(ValueError):
        d.fromString(b"one")


def test_listOfVector() -> None:
    lo = amp.ListOf(amp.Integer())
    assert lo.toString([1, 22]) == b"\x00\x011\x00\x0222"
    assert lo.fromString(b"\x00\x011\x00\x0222") == [1, 22]
    assert lo.fromString(b"") == []
    with pytest.raises(ValueError):
        lo.fromString(b"\x00\x05ab")
    with pytest.raises(ValueError):
        lo.fromString(b"\x00")


def test_path() -> None:
    p = amp.Path()
    assert p.toString(pathlib.Path("/tmp/x y")) == b"/tmp/x y"
    assert p.fromString(b"/tmp/x y") == pathlib.Path("/tmp/x y")
    with pytest.raises(TypeError):
        p.toString("/tmp")


def test_allTypesOverTheConnection() -> None:
    client, _server, pump = pair()
    zone = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    values: dict[str, Any] = {
        "i": -7,
        "s": b"\x00\xff",
        "u": "\u2603",
        "f": float("inf"),
        "yes": True,
        "when": datetime.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=zone),
        "d": decimal.Decimal("3.14159"),
        "nums": [1, 2, 3],
        "people": [{"name": "ann", "age": 30}, {"name": "bob", "age": 4}],
        "where": pathlib.Path("/srv/data"),
    }
    d = client.callRemote(Everything, **values)
    pump.flush()
    assert result(d) == {**values, "maybe": None}
    d = client.callRemote(Everything, **values, maybe=5)
    pump.flush()
    assert result(d)["maybe"] == 5


def test_optionalNotSent() -> None:
    client = amp.AMP()
    transport = StringTransport()
    client.makeConnection(transport)
    client.callRemote(
        Everything,
        i=1,
        s=b"",
        u="",
        f=0.0,
        yes=False,
        when=datetime.datetime(2000, 1, 1, tzinfo=amp.utc),
        d=decimal.Decimal(0),
        nums=[],
        people=[],
        where=pathlib.Path("."),
    )
    (box,) = amp.parseString(transport.value())
    assert b"maybe" not in box


# -- commands ---------------------------------------------------------------------


def test_interfaces() -> None:
    proto = amp.AMP()
    assert verifyObject(amp.IBoxSender, proto)
    assert verifyObject(amp.IBoxReceiver, proto)
    assert verifyObject(amp.IResponderLocator, proto)
    assert verifyObject(interfaces.IProtocol, proto)
    assert verifyObject(interfaces.IFileDescriptorReceiver, proto)


def test_callRemote() -> None:
    client, _server, pump = pair()
    d = client.callRemote(Sum, a=2, b=3)
    pump.flush()
    assert result(d) == {"total": 5}


def test_manyCallsAnsweredInOrder() -> None:
    client, _server, pump = pair()
    ds = [client.callRemote(Sum, a=i, b=i) for i in range(50)]
    pump.flush()
    assert [result(d)["total"] for d in ds] == [2 * i for i in range(50)]


def test_callsBothWays() -> None:
    client, server, pump = pair(Server, Server)
    d1 = client.callRemote(Sum, a=1, b=1)
    d2 = server.callRemote(Sum, a=2, b=2)
    pump.flush()
    assert result(d1) == {"total": 2} and result(d2) == {"total": 4}


def test_callFromConnectionMade() -> None:
    class Eager(amp.AMP):
        def connectionMade(self) -> None:
            self.d = self.callRemote(Sum, a=40, b=2)

    client, _server, pump = pair(Server, Eager)
    pump.flush()
    assert result(client.d) == {"total": 42}


def test_wireNames() -> None:
    client = amp.AMP()
    transport = StringTransport()
    client.makeConnection(transport)
    client.callRemote(Renamed, From=1, max_size=2)
    (box,) = amp.parseString(transport.value())
    assert box[b"_command"] == b"other-name"
    assert box[b"from"] == b"1" and box[b"max-size"] == b"2"
    client, _server, pump = pair()
    d = client.callRemote(Renamed, From=1, max_size=2)
    pump.flush()
    assert result(d) == {"sum": 3}


def test_defaultCommandName() -> None:
    assert Sum.commandName == b"Sum"
    assert amp.StartTLS.commandName == b"StartTLS"


def test_invalidSignature() -> None:
    client, _server, _pump = pair()
    with pytest.raises(amp.InvalidSignature):
        client.callRemote(Sum, a=1)
    with pytest.raises(amp.InvalidSignature):
        client.callRemote(Sum, a=1, b=2, c=3)


def test_tooLongArgumentRaises() -> None:
    client, _server, _pump = pair()

    class Echo(amp.Command):
        arguments = [(b"s", amp.String())]

    with pytest.raises(amp.TooLong):
        client.callRemote(Echo, s=b"x" * 65536)


def test_deferredResponder() -> None:
    client, server, pump = pair()
    d = client.callRemote(Later)
    pump.flush()
    assert not d.called
    server.later.callback({"value": 9})
    pump.flush()
    assert result(d) == {"value": 9}


def test_noAnswer() -> None:
    client, server, pump = pair()
    assert client.callRemote(Notify, text="hello") is None
    pump.flush()
    assert server.notes == ["hello"]
    lone = Server()
    transport = StringTransport()
    lone.makeConnection(transport)
    lone.dataReceived(amp.AmpBox(_command=b"Notify", text=b"hi").serialize())
    assert lone.notes == ["hi"] and transport.value() == b""


def test_noAnswerFailureLogged(logged: EventLoggingObserver) -> None:
    class Crash(amp.Command):
        requiresAnswer = False

    class Crasher(Server):
        @Crash.responder
        def crash(self) -> dict[str, Any]:
            raise RuntimeError("bang")

    client, _server, pump = pair(Crasher)
    client.callRemote(Crash)
    pump.flush()
    assert any(
        e.get("log_failure") is not None and e["log_failure"].check(RuntimeError)
        for e in logged
    )


def test_callRemoteString() -> None:
    client, _server, pump = pair()
    d = client.callRemoteString(b"Sum", a=b"5", b=b"6")
    pump.flush()
    box = result(d)
    assert box[b"total"] == b"11" and isinstance(box, amp.AmpBox)
    assert client.callRemoteString(b"Sum", requiresAnswer=False, a=b"1", b=b"1") is None


# -- errors -------------------------------------------------------------------------


def test_declaredError() -> None:
    client, _server, pump = pair()
    d = client.callRemote(Fail, kind="oops")
    pump.flush()
    f = failure(d)
    assert f.check(Oops)
    assert str(f.value) == "declared trouble"
    assert not client.transport.disconnecting


def test_fatalErrorClosesConnection() -> None:
    client, server, pump = pair()
    d = client.callRemote(Fail, kind="doom")
    pump.flush()
    assert failure(d).check(Doom)
    assert server.transport.disconnecting


def test_undeclaredError(logged: EventLoggingObserver) -> None:
    client, _server, pump = pair()
    d = client.callRemote(Fail, kind="other")
    pump.flush()
    f = failure(d)
    assert f.check(amp.UnknownRemoteError)
    assert "nobody expected" not in str(f.value)
    assert any(
        e.get("log_failure") is not None and e["log_failure"].check(RuntimeError)
        for e in logged
    )


def test_undeclaredCodeFromPeer() -> None:
    client = amp.AMP()
    client.makeConnection(StringTransport())
    d = client.callRemote(Sum, a=1, b=2)
    client.dataReceived(
        amp.AmpBox(
            _error=b"1", _error_code=b"WHAT", _error_description=b"text"
        ).serialize()
    )
    f = failure(d)
    assert f.check(amp.UnknownRemoteError)
    assert isinstance(f.value, amp.RemoteAmpError)


def test_rawErrorFromPeer() -> None:
    client = amp.AMP()
    client.makeConnection(StringTransport())
    d = client.callRemoteString(b"X")
    client.dataReceived(
        amp.AmpBox(
            _error=b"1", _error_code=b"WHAT", _error_description=b"text"
        ).serialize()
    )
    f = failure(d)
    assert f.check(amp.RemoteAmpError)
    assert isinstance(f.value, amp.RemoteAmpError)
    assert f.value.errorCode == b"WHAT" and f.value.description == "text"


def test_unhandledCommand() -> None:
    client, _server, pump = pair()
    d = client.callRemote(Missing)
    pump.flush()
    f = failure(d)
    assert f.check(amp.UnhandledCommand)
    assert "Missing" in str(f.value)


def test_unknownCommandLocally() -> None:
    server = Server()
    transport = StringTransport()
    server.makeConnection(transport)
    server.dataReceived(amp.AmpBox(_command=b"Nope", _ask=b"1").serialize())
    (box,) = amp.parseString(transport.value())
    assert box[b"_error_code"] == amp.UNHANDLED_ERROR_CODE
    assert issubclass(amp.UnknownCommand, amp.UnhandledCommand)


def test_badLocalReturn(logged: EventLoggingObserver) -> None:
    client, _server, pump = pair()
    d = client.callRemote(Bad)
    pump.flush()
    assert failure(d).check(amp.UnknownRemoteError)
    assert any(
        e.get("log_failure") is not None and e["log_failure"].check(amp.BadLocalReturn)
        for e in logged
    )


def test_malformedArgumentAnswersError(logged: EventLoggingObserver) -> None:
    server = Server()
    transport = StringTransport()
    server.makeConnection(transport)
    server.dataReceived(
        amp.AmpBox(_command=b"Sum", _ask=b"1", a=b"x", b=b"1").serialize()
    )
    (box,) = amp.parseString(transport.value())
    assert box[b"_error_code"] == amp.UNKNOWN_ERROR_CODE
    assert not transport.disconnecting


def test_pendingCallsFailWithConnectionLost() -> None:
    client, _server, pump = pair()
    d = client.callRemote(Later)
    pump.flush()
    client.connectionLost(Failure(ConnectionLost("cable cut")))
    f = failure(d)
    assert f.check(ConnectionLost) and "cable cut" in str(f.value)
    after = client.callRemote(Sum, a=1, b=1)
    assert failure(after).check(ConnectionLost)


def test_answerAfterCallerGone() -> None:
    """
    A responder finishing after the connection ended does not raise.
    """
    client, server, pump = pair()
    client.callRemote(Later)
    pump.flush()
    server.connectionLost(Failure(ConnectionDone()))
    server.later.callback({"value": 1})


def test_errorsHaveUsefulText() -> None:
    assert "Code<X>" in str(amp.RemoteAmpError(b"X", "desc"))
    assert "key" in str(amp.TooLong(True, False, None))
    assert "value for key b'k'" in str(amp.TooLong(False, True, b"k"))
    for cls in [
        amp.ProtocolSwitched,
        amp.OnlyOneTLS,
        amp.NoEmptyBoxes,
        amp.InvalidSignature,
        amp.MalformedAmpBox,
        amp.UnhandledCommand,
        amp.IncompatibleVersions,
    ]:
        assert issubclass(cls, Exception)


# -- limits and bad input ----------------------------------------------------------


def connected(proto: amp.BinaryBoxProtocol) -> StringTransport:
    transport = StringTransport()
    proto.makeConnection(transport)
    return transport


def closeReasons(logged: EventLoggingObserver) -> list[str]:
    return [
        e["reason"]
        for e in logged
        if e.get("log_format", "").startswith("closing AMP connection")
    ]


def feedAllWays(make: Any, data: bytes) -> list[Any]:
    """Feed ``data`` at once, and one byte at a time; return both outcomes."""
    outcomes = []
    for step in (len(data) or 1, 1):
        proto = make()
        transport = connected(proto)
        for i in range(0, len(data), step):
            proto.dataReceived(data[i : i + step])
        outcomes.append((proto, transport))
    return outcomes


def test_keyTooLongReceivedCloses(logged: EventLoggingObserver) -> None:
    client = amp.AMP()
    transport = connected(client)
    d = client.callRemote(Later)
    client.dataReceived(b"\x01\x00")
    assert transport.disconnecting
    assert closeReasons(logged)
    client.connectionLost(Failure(ConnectionDone()))
    assert failure(d).check(amp.TooLong)


def test_keyLengthReceivedBoundary() -> None:
    def make() -> Any:
        return amp.BinaryBoxProtocol(Collector())

    ok = b"\x00\xff" + b"k" * 255 + b"\x00\x01v\x00\x00"
    for proto, transport in feedAllWays(make, ok):
        assert not transport.disconnecting
        assert proto.boxReceiver.boxes == [{b"k" * 255: b"v"}]
    bad = b"\x01\x00" + b"k" * 256 + b"\x00\x01v\x00\x00"
    for proto, transport in feedAllWays(make, bad):
        assert transport.disconnecting
        assert proto.boxReceiver.boxes == []


def test_valueLimitBoundary(logged: EventLoggingObserver) -> None:
    class Small(amp.BinaryBoxProtocol):
        MAX_VALUE_LENGTH = 10

    def make() -> Any:
        return Small(Collector())

    ok = amp.AmpBox({b"k": b"v" * 10}).serialize()
    for proto, transport in feedAllWays(make, ok):
        assert not transport.disconnecting
        assert proto.boxReceiver.boxes == [{b"k": b"v" * 10}]
    bad = amp.AmpBox({b"k": b"v" * 11}).serialize()
    for proto, transport in feedAllWays(make, bad):
        assert transport.disconnecting
        assert proto.boxReceiver.boxes == []
        # Refused as soon as the length is announced.
        proto.connectionLost(Failure(ConnectionDone()))
        assert proto.boxReceiver.reason.check(amp.TooLong)
    assert any("too long" in r for r in closeReasons(logged))


def test_keyLimitOverridable() -> None:
    class Small(amp.BinaryBoxProtocol):
        MAX_KEY_LENGTH = 3

    for data, closed in [
        (b"\x00\x03abc\x00\x00\x00\x00", False),
        (b"\x00\x04abcd", True),
    ]:
        proto = Small(Collector())
        transport = connected(proto)
        proto.dataReceived(data)
        assert transport.disconnecting is closed


def test_boxLengthBoundary() -> None:
    box = amp.AmpBox({b"a": b"x" * 100, b"b": b"y" * 100})
    wire = box.serialize()

    def make(limit: int) -> Any:
        class Limited(amp.BinaryBoxProtocol):
            MAX_BOX_LENGTH = limit

        return lambda: Limited(Collector())

    for proto, transport in feedAllWays(make(len(wire)), wire):
        assert not transport.disconnecting
        assert proto.boxReceiver.boxes == [box]
    for proto, transport in feedAllWays(make(len(wire) - 1), wire):
        assert transport.disconnecting
        assert proto.boxReceiver.boxes == []


def test_boxLengthDefault() -> None:
    assert amp.BinaryBoxProtocol.MAX_BOX_LENGTH == 4 * 1024 * 1024
    assert amp.BinaryBoxProtocol.MAX_KEY_LENGTH == 255
    assert amp.BinaryBoxProtocol.MAX_VALUE_LENGTH == 65535


def test_memoryBounded() -> None:
    """
    Streaming ten times the box limit holds no more than the limit plus one
    read.
    """

    class Limited(amp.BinaryBoxProtocol):
        MAX_BOX_LENGTH = 1000

    proto = Limited(Collector())
    transport = connected(proto)
    value = amp.AmpBox({b"k": b"v" * 300}).serialize()[:-2]
    pair_ = value  # one key/value pair, repeated without a terminator
    sent = 0
    while sent < 10 * 1000 and not transport.disconnecting:
        proto.dataReceived(pair_)
        sent += len(pair_)
        assert proto._parser is not None
        held = len(proto._parser.buffer) + proto._parser._boxSize
        assert held <= 1000 + len(pair_)
    assert transport.disconnecting


def test_repeatedKeyCloses() -> None:
    collector = Collector()
    proto = amp.BinaryBoxProtocol(collector)
    transport = connected(proto)
    proto.dataReceived(b"\x00\x01a\x00\x01b\x00\x01a\x00\x01c\x00\x00")
    assert transport.disconnecting and collector.boxes == []


def test_emptyBoxCloses(logged: EventLoggingObserver) -> None:
    server = Server()
    transport = connected(server)
    server.dataReceived(b"\x00\x00")
    assert transport.disconnecting
    assert any("NoEmptyBoxes" in r or "no command" in r for r in closeReasons(logged))


def test_emptyBoxNotSent() -> None:
    proto = amp.AMP()
    connected(proto)
    with pytest.raises(amp.NoEmptyBoxes):
        proto.sendBox(amp.AmpBox())


def test_unexpectedAnswerCloses() -> None:
    client = amp.AMP()
    transport = connected(client)
    client.dataReceived(amp.AmpBox(_answer=b"99").serialize())
    assert transport.disconnecting


def test_errorWithoutCodeCloses() -> None:
    client = amp.AMP()
    transport = connected(client)
    d = client.callRemote(Sum, a=1, b=1)
    client.dataReceived(amp.AmpBox(_error=b"1").serialize())
    assert transport.disconnecting
    client.connectionLost(Failure(ConnectionDone()))
    assert failure(d).check(amp.MalformedAmpBox)


def test_nothingParsedAfterClose() -> None:
    server = Server()
    transport = connected(server)
    server.dataReceived(b"\x00\x00" + VECTOR)
    assert transport.disconnecting
    assert transport.value() == b""


def test_sendAfterLossRaises() -> None:
    proto = amp.AMP()
    connected(proto)
    proto.connectionLost(Failure(ConnectionDone()))
    with pytest.raises(ConnectionLost):
        proto.sendBox(amp.AmpBox(x=b"1"))


def test_pendingDescriptorsBounded(tmp_path: pathlib.Path) -> None:
    import os

    class Few(amp.AMP):
        MAX_PENDING_DESCRIPTORS = 2

    proto = Few()
    transport = connected(proto)
    fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]
    proto.fileDescriptorReceived(fds[0])
    proto.fileDescriptorReceived(fds[1])
    assert not transport.disconnecting
    proto.fileDescriptorReceived(fds[2])
    assert transport.disconnecting
    proto.connectionLost(Failure(ConnectionDone()))
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)


# -- dispatcher and locator as separate objects --------------------------------------


class Locator(amp.CommandLocator):
    @Sum.responder
    def add(self, a: int, b: int) -> dict[str, int]:
        return {"total": a + b}


class SubLocator(Locator):
    @Later.responder
    def later(self) -> Deferred[dict[str, int]]:
        return succeed({"value": 1})


def test_separateParts() -> None:
    locator = SubLocator()
    assert verifyObject(amp.IResponderLocator, locator)
    dispatcher = amp.BoxDispatcher(locator)
    assert verifyObject(amp.IBoxReceiver, dispatcher)
    server = amp.BinaryBoxProtocol(dispatcher)
    assert verifyObject(amp.IBoxSender, server)
    client = amp.AMP()
    from torsion.internet.testing import connect

    pump = connect(server, StringTransport(), client, StringTransport())
    d1 = client.callRemote(Sum, a=1, b=2)
    d2 = client.callRemote(Later)
    pump.flush()
    assert result(d1) == {"total": 3} and result(d2) == {"value": 1}
    assert Locator().locateResponder(b"Later") is None
    assert locator.locateResponder(b"Nope") is None


def test_ampWithOtherLocator() -> None:
    client, _server, pump = connectedServerAndClient(
        lambda: amp.AMP(locator=Locator()), amp.AMP
    )
    d = client.callRemote(Sum, a=1, b=2)
    pump.flush()
    assert result(d) == {"total": 3}


# -- protocol switching ----------------------------------------------------------------


class Recorder(Protocol):
    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.data = b""
        self.reason: Failure | None = None

    def connectionMade(self) -> None:
        if self.greeting:
            self.transport.write(self.greeting)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = ConnectionDone) -> None:  # type: ignore[assignment]
        self.reason = reason


class SwitchFactory(ClientFactory):
    def __init__(self) -> None:
        self.built: list[Recorder] = []
        self.failed: list[Failure] = []
        self.lost: list[Failure] = []

    def buildProtocol(self, addr: Any) -> Recorder:
        p = Recorder(b"client-hello")
        self.built.append(p)
        return p

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.failed.append(reason)

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        self.lost.append(reason)


class Switch(amp.ProtocolSwitchCommand):
    arguments = [(b"name", amp.Unicode())]


class Switcher(amp.AMP):
    inner: Recorder | None = None

    @Switch.responder
    def switch(self, name: str) -> Any:
        if name == "no":
            raise amp.RemoteAmpError(b"NO", "refused")
        self.inner = Recorder(b"server-hello")
        return self.inner


def test_protocolSwitch() -> None:
    client, server, pump = pair(Switcher)
    factory = SwitchFactory()
    d = client.callRemote(Switch, factory, name="x")
    assert failure(client.callRemote(Sum, a=1, b=1)).check(amp.ProtocolSwitched)
    pump.flush()
    assert result(d) == {}
    (inner,) = factory.built
    assert server.inner is not None
    assert server.inner.data == b"client-hello"
    assert inner.data == b"server-hello"
    later = client.callRemote(Sum, a=1, b=1)
    assert failure(later).check(amp.ProtocolSwitched)
    client.connectionLost(Failure(ConnectionDone()))
    assert inner.reason is not None and factory.lost


def test_protocolSwitchTrailingBytes() -> None:
    """
    Bytes in the same read after the switch answer go to the new protocol.
    """
    client = amp.AMP()
    transport = connected(client)
    factory = SwitchFactory()
    client.callRemote(Switch, factory, name="x")
    client.dataReceived(amp.AmpBox(_answer=b"1").serialize() + b"raw bytes")
    assert factory.built[0].data == b"raw bytes"
    assert transport.value().endswith(b"client-hello")


def test_protocolSwitchRefused() -> None:
    client, _server, pump = pair(Switcher)
    factory = SwitchFactory()
    d = client.callRemote(Switch, factory, name="no")
    pump.flush()
    assert failure(d).check(amp.UnknownRemoteError)
    assert factory.failed and not factory.built
    d2 = client.callRemote(Sum, a=1, b=1)
    assert d2 is not None


def test_switchResponderMustReturnProtocol(logged: EventLoggingObserver) -> None:
    class Wrong(amp.AMP):
        @Switch.responder
        def switch(self, name: str) -> Any:
            return {}

    client, _server, pump = pair(Wrong)
    factory = SwitchFactory()
    d = client.callRemote(Switch, factory, name="x")
    pump.flush()
    assert failure(d).check(amp.UnknownRemoteError)
    assert factory.failed


def test_startTLSTwiceLocally() -> None:
    class Already(amp.AMP):
        pass

    proto = Already()
    connected(proto)
    proto._tlsPending = []
    d = proto.callRemote(amp.StartTLS)
    assert failure(d).check(amp.OnlyOneTLS)
