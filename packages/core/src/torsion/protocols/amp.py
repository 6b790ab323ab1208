"""
AMP, the Asynchronous Messaging Protocol: typed remote calls over any stream.

Two peers exchange *boxes*: small ordered maps from byte-string keys to
byte-string values.  On the wire each key and each value is preceded by its
length as a 16-bit big-endian integer, and a box ends with an empty key
(two zero bytes)::

    \\x00\\x04_ask\\x00\\x011\\x00\\x08_command\\x00\\x03Sum ... \\x00\\x00

Keys are at most 255 bytes long and values at most 65535 bytes long.  The
format, and the meaning of the reserved keys ``_ask``, ``_answer``,
``_command``, ``_error``, ``_error_code`` and ``_error_description``, are those
of Twisted's AMP, so torsion and Twisted peers talk to each other.

A user describes each remote call with a ``Command`` subclass listing typed
``arguments``, a typed ``response`` and the ``errors`` it may raise::

    class Sum(amp.Command):
        arguments = [(b"a", amp.Integer()), (b"b", amp.Integer())]
        response = [(b"total", amp.Integer())]

    class Calculator(amp.AMP):
        @Sum.responder
        def sum(self, a: int, b: int) -> dict[str, int]:
            return {"total": a + b}

and the other side calls ``protocol.callRemote(Sum, a=1, b=2)``, which returns
a ``Deferred`` firing with ``{"total": 3}``.

Limits (overridable class attributes of ``BinaryBoxProtocol``):
``MAX_KEY_LENGTH`` (255), ``MAX_VALUE_LENGTH`` (65535), ``MAX_BOX_LENGTH``
(bytes of one box, 4 MiB) and ``MAX_PENDING_DESCRIPTORS`` (64).  A peer that
exceeds one, or sends bytes that are not a valid box stream, has its
connection closed, with the reason logged; calls still waiting for an answer
fail with that reason.
"""

from __future__ import annotations

import datetime
import decimal
import keyword
import os
import pathlib
import struct
from collections.abc import Callable, Mapping
from typing import IO, Any, ClassVar, TypeVar, cast

from zope.interface import Interface, implementer

from torsion.internet import interfaces
from torsion.internet.defer import Deferred, fail, maybeDeferred
from torsion.internet.error import ConnectionClosed, ConnectionLost
from torsion.internet.protocol import Protocol, connectionDone
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "AMP",
    "ANSWER",
    "ASK",
    "COMMAND",
    "ERROR",
    "ERROR_CODE",
    "ERROR_DESCRIPTION",
    "MAX_KEY_LENGTH",
    "MAX_VALUE_LENGTH",
    "UNHANDLED_ERROR_CODE",
    "UNKNOWN_ERROR_CODE",
    "AmpBox",
    "AmpError",
    "AmpList",
    "Argument",
    "BadLocalReturn",
    "BinaryBoxProtocol",
    "Boolean",
    "BoxDispatcher",
    "Command",
    "CommandLocator",
    "DateTime",
    "Decimal",
    "Descriptor",
    "Float",
    "IArgumentType",
    "IBoxReceiver",
    "IBoxSender",
    "IResponderLocator",
    "IncompatibleVersions",
    "Integer",
    "InvalidSignature",
    "ListOf",
    "MalformedAmpBox",
    "NoEmptyBoxes",
    "OnlyOneTLS",
    "Path",
    "ProtocolSwitchCommand",
    "ProtocolSwitched",
    "RemoteAmpError",
    "StartTLS",
    "String",
    "TooLong",
    "UnhandledCommand",
    "Unicode",
    "UnknownCommand",
    "UnknownRemoteError",
    "parse",
    "parseString",
    "utc",
]

ASK = b"_ask"
"""The key carrying the tag of a command that wants an answer."""

ANSWER = b"_answer"
"""The key carrying the tag of the command a successful answer is for."""

COMMAND = b"_command"
"""The key carrying the name of the command being called."""

ERROR = b"_error"
"""The key carrying the tag of the command an error answer is for."""

ERROR_CODE = b"_error_code"
"""The key carrying the code of an error answer."""

ERROR_DESCRIPTION = b"_error_description"
"""The key carrying the human-readable text of an error answer."""

UNKNOWN_ERROR_CODE = b"UNKNOWN"
"""The error code sent when a responder failed with an undeclared error."""

UNHANDLED_ERROR_CODE = b"UNHANDLED"
"""The error code sent when no responder handles the command called."""

MAX_KEY_LENGTH = 0xFF
"""The longest key the wire format allows, in bytes."""

MAX_VALUE_LENGTH = 0xFFFF
"""The longest value the wire format allows, in bytes."""

_DEFAULT_MAX_BOX_LENGTH = 4 * 1024 * 1024

_log = Logger()

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])


# -- errors -------------------------------------------------------------------


class AmpError(Exception):
    """
    The base class of AMP's own errors.
    """


class ProtocolSwitched(Exception):
    """
    The connection was switched to another protocol (``ProtocolSwitchCommand``)
    or is about to be: AMP boxes can no longer be sent on it.
    """


class OnlyOneTLS(AmpError):
    """
    TLS was requested on a connection that already uses it or is starting it.
    """


class NoEmptyBoxes(AmpError):
    """
    A box with none of ``_command``, ``_answer`` or ``_error`` was received,
    or an empty box was about to be sent.
    """


class InvalidSignature(AmpError):
    """
    A command was called, or a responder answered, with arguments that do not
    match the command's declared ``arguments`` or ``response``.
    """


class TooLong(AmpError):
    """
    A key or a value is longer than the wire format (or the configured limit)
    allows.

    :ivar isKey: whether the key (rather than the value) is too long.
    :ivar isLocal: whether it was about to be sent (rather than received).
    :ivar keyName: the key concerned, when known (the key of an over-long
        value).
    :ivar value: the over-long value or key, when it was available.
    """

    def __init__(
        self,
        isKey: bool,
        isLocal: bool,
        keyName: bytes | None,
        value: bytes | None = None,
    ) -> None:
        """
        :param isKey: whether the key is the one too long.
        :param isLocal: whether the box was being sent.
        :param keyName: the key concerned, if known.
        :param value: the over-long bytes, if available.
        """
        self.isKey = isKey
        self.isLocal = isLocal
        self.keyName = keyName
        self.value = value
        Exception.__init__(self, str(self))

    def __str__(self) -> str:
        what = "key" if self.isKey else "value"
        where = "sent" if self.isLocal else "received"
        name = "" if self.keyName is None else f" for key {self.keyName!r}"
        return f"{what}{name} {where} is too long"


class BadLocalReturn(AmpError):
    """
    A responder returned something its command cannot serialize (not a
    ``dict``, or with values of the wrong type).

    :ivar message: what went wrong.
    :ivar enclosed: the ``Failure`` of the serialization, if any.
    """

    def __init__(self, message: str, enclosed: Failure | None = None) -> None:
        """
        :param message: what went wrong.
        :param enclosed: the ``Failure`` of the serialization, if any.
        """
        Exception.__init__(self, message)
        self.message = message
        self.enclosed = enclosed


class RemoteAmpError(AmpError):
    """
    The peer answered a command with an error.

    :ivar errorCode: the error code, bytes.
    :ivar description: the peer's description of the error.
    :ivar fatal: whether the connection is closed after this error.
    :ivar local: on the side that raised it, the original ``Failure``.
    """

    def __init__(
        self,
        errorCode: bytes,
        description: str,
        fatal: bool = False,
        local: Failure | None = None,
    ) -> None:
        """
        :param errorCode: the error code.
        :param description: text describing the error.
        :param fatal: whether the connection is closed after sending it.
        :param local: the original ``Failure``, on the raising side.
        """
        if local is not None:
            text = f"Local Exception: {local.getErrorMessage()}"
        else:
            text = f"Code<{errorCode.decode('ascii', 'replace')}>: {description}"
        Exception.__init__(self, text)
        self.errorCode = errorCode
        self.description = description
        self.fatal = fatal
        self.local = local


class UnknownRemoteError(RemoteAmpError):
    """
    The peer answered with an error code the called command does not declare
    in its ``errors`` or ``fatalErrors``.
    """

    def __init__(self, description: str) -> None:
        """
        :param description: the peer's description of the error.
        """
        RemoteAmpError.__init__(self, UNKNOWN_ERROR_CODE, description)


class MalformedAmpBox(AmpError):
    """
    Bytes that are not a valid box (an empty or repeated key, a truncated
    box, a box larger than the limit, or a malformed reserved field).
    """


class UnhandledCommand(AmpError):
    """
    A command could not be dispatched: no responder handles it.  The caller
    of such a command sees this error.
    """


class UnknownCommand(UnhandledCommand):
    """
    The command named in a received box is unknown to the responder locator.
    """


class IncompatibleVersions(AmpError):
    """
    The two peers could not agree on a version of a protocol built on AMP.
    """


_PROTOCOL_ERRORS: dict[bytes, type[Exception]] = {
    UNHANDLED_ERROR_CODE: UnhandledCommand,
}


# -- interfaces ---------------------------------------------------------------


class IArgumentType(Interface):
    """
    A type of command argument: converts between a Python value and the bytes
    stored in a box.
    """

    def fromBox(
        name: bytes, strings: AmpBox, objects: dict[str, Any], proto: Any
    ) -> None:
        """
        Read argument ``name`` from ``strings`` and store its Python value in
        ``objects`` under its Python name.
        """

    def toBox(
        name: bytes, strings: AmpBox, objects: dict[str, Any], proto: Any
    ) -> None:
        """
        Take the Python value of argument ``name`` from ``objects`` and store
        its bytes in ``strings``.
        """


class IBoxSender(Interface):
    """
    Something boxes can be sent to: the framing side of a connection.
    """

    def sendBox(box: AmpBox) -> None:
        """
        Send ``box`` to the peer.
        """

    def unhandledError(failure: Failure) -> None:
        """
        Report an error that nothing else could handle.
        """


class IBoxReceiver(Interface):
    """
    Something that consumes the boxes received on a connection.
    """

    def startReceivingBoxes(boxSender: IBoxSender) -> None:
        """
        Boxes are about to arrive; answers go to ``boxSender``.
        """

    def ampBoxReceived(box: AmpBox) -> None:
        """
        One box was received.
        """

    def stopReceivingBoxes(reason: Failure) -> None:
        """
        No more boxes will arrive, for ``reason``.
        """


class IResponderLocator(Interface):
    """
    Finds the function answering a command, by the command's name.
    """

    def locateResponder(name: bytes) -> Callable[[AmpBox], Deferred[AmpBox]] | None:
        """
        :return: a callable taking the received box and returning a
            ``Deferred`` of the answer box, or ``None`` if ``name`` is unknown.
        """


# -- boxes --------------------------------------------------------------------

_pack16 = struct.Struct("!H").pack


def _asKey(key: bytes | str) -> bytes:
    if isinstance(key, str):
        return key.encode("ascii")
    if not isinstance(key, bytes):
        raise TypeError(f"AMP keys are bytes, not {type(key).__name__}")
    return key


class AmpBox(dict[bytes, bytes]):
    """
    One AMP box: a ``dict`` from byte-string keys to byte-string values.

    Keyword arguments are accepted for convenience, their names encoded as
    ASCII: ``AmpBox(_command=b"Sum", a=b"1")``.
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kw: bytes) -> None:
        """
        :param args: what ``dict`` accepts (a mapping or pairs).
        :param kw: more entries, their keys encoded as ASCII.
        """
        dict.__init__(self, *args)
        for key, value in kw.items():
            self[key.encode("ascii")] = value

    def copy(self) -> AmpBox:
        """
        :return: a shallow copy, still an ``AmpBox``.
        """
        return AmpBox(self)

    def serialize(self) -> bytes:
        """
        Encode the box in AMP's wire format, keys in sorted order.

        :return: the bytes of the box, terminator included.
        :raises TypeError: if a key or value is not ``bytes``.
        :raises TooLong: if a key exceeds 255 bytes or a value 65535 bytes.
        :raises MalformedAmpBox: if a key is empty.
        """
        pieces: list[bytes] = []
        append = pieces.append
        for key, value in sorted(self.items()):
            if not isinstance(key, bytes):
                raise TypeError(f"AMP keys are bytes, not {type(key).__name__}")
            if not isinstance(value, bytes):
                raise TypeError(
                    f"value of key {key!r} is {type(value).__name__}, not bytes"
                )
            if not key:
                raise MalformedAmpBox("an AMP key cannot be empty")
            if len(key) > MAX_KEY_LENGTH:
                raise TooLong(True, True, key, None)
            if len(value) > MAX_VALUE_LENGTH:
                raise TooLong(False, True, key, value)
            append(_pack16(len(key)))
            append(key)
            append(_pack16(len(value)))
            append(value)
        append(b"\x00\x00")
        return b"".join(pieces)

    def _sendTo(self, proto: IBoxSender) -> None:
        """
        Send this box through ``proto``.
        """
        proto.sendBox(self)

    def __repr__(self) -> str:
        return f"AmpBox({dict.__repr__(self)})"


class _SwitchBox(AmpBox):
    """
    The answer to a ``ProtocolSwitchCommand``: once sent, the connection is
    handed to ``innerProto``.
    """

    __slots__ = ("innerProto",)

    def __init__(self, innerProto: Any, **kw: bytes) -> None:
        AmpBox.__init__(self, **kw)
        self.innerProto = innerProto

    def _sendTo(self, proto: Any) -> None:
        proto.sendBox(self)
        proto._switchTo(self.innerProto)


class _TLSBox(AmpBox):
    """
    The answer to ``StartTLS``: once sent, this side starts TLS as the server.
    """

    __slots__ = ("authorities", "certificate")

    def __init__(self, certificate: Any, authorities: Any) -> None:
        AmpBox.__init__(self)
        self.certificate = certificate
        self.authorities = authorities

    def _sendTo(self, proto: Any) -> None:
        proto.sendBox(self)
        proto._startTLS(self.certificate, self.authorities, False)


class _BoxParser:
    """
    Incremental parser of a stream of boxes: bytes in, boxes out.

    It keeps the pairs of the box being received as they complete, and
    holds at most one incomplete key or value in its buffer.
    """

    def __init__(self, maxKey: int, maxValue: int, maxBox: int) -> None:
        self.maxKey = maxKey
        self.maxValue = maxValue
        self.maxBox = maxBox
        self.buffer = b""
        # Where parsing resumes in ``buffer``: complete boxes are not cut
        # off one by one, which would copy the rest of a large read each time.
        self._offset = 0
        self._box: AmpBox = AmpBox()
        self._boxSize = 0
        self._key: bytes | None = None

    def feed(self, data: bytes) -> None:
        """
        Add received bytes.
        """
        if self._offset:
            self.buffer = self.buffer[self._offset :]
            self._offset = 0
        self.buffer = self.buffer + data if self.buffer else data

    def pending(self) -> bool:
        """
        :return: whether part of a box has been received.
        """
        return (
            len(self.buffer) > self._offset or self._key is not None or bool(self._box)
        )

    def takeRest(self) -> bytes:
        """
        :return: the unparsed bytes, which the parser forgets.
        """
        rest = self.buffer[self._offset :]
        self.buffer = b""
        self._offset = 0
        return rest

    def next(self) -> AmpBox | None:
        """
        :return: the next complete box, or ``None`` if more bytes are needed.
        :raises TooLong: if a key or value exceeds its limit.
        :raises MalformedAmpBox: for a repeated key or a box over the limit.
        """
        buf = self.buffer
        size = len(buf)
        offset = self._offset
        box = self._box
        key = self._key
        try:
            while size - offset >= 2:
                length = (buf[offset] << 8) | buf[offset + 1]
                if key is None:
                    if length == 0:
                        offset += 2
                        self._box = AmpBox()
                        self._boxSize = 0
                        if offset == size:
                            self.buffer = b""
                            offset = 0
                        return box
                    if length > self.maxKey:
                        raise TooLong(True, False, None, None)
                    end = offset + 2 + length
                    self._checkBoxSize(2 + length)
                    if end > size:
                        break
                    key = buf[offset + 2 : end]
                    if key in box:
                        raise MalformedAmpBox(f"key {key!r} repeated in one box")
                    self._boxSize += 2 + length
                    offset = end
                else:
                    if length > self.maxValue:
                        raise TooLong(False, False, key, None)
                    end = offset + 2 + length
                    self._checkBoxSize(2 + length)
                    if end > size:
                        break
                    box[key] = buf[offset + 2 : end]
                    self._boxSize += 2 + length
                    key = None
                    offset = end
            # Keep only the incomplete pair.
            if offset:
                self.buffer = buf[offset:]
                offset = 0
            return None
        finally:
            self._key = key
            self._offset = offset

    def _checkBoxSize(self, more: int) -> None:
        # Two bytes for the terminator still to come.
        if self._boxSize + more + 2 > self.maxBox:
            raise MalformedAmpBox(f"box longer than the limit of {self.maxBox} bytes")


def parse(fileObj: IO[bytes]) -> list[AmpBox]:
    """
    Read every box from a binary file.

    :param fileObj: a file opened for reading bytes.
    :return: the boxes, in order.
    :raises MalformedAmpBox: if the data is not a sequence of whole boxes.
    :raises TooLong: if a key is longer than 255 bytes.
    """
    return parseString(fileObj.read())


def parseString(data: bytes) -> list[AmpBox]:
    """
    Decode the boxes in ``data``.

    :param data: zero or more serialized boxes.
    :return: the boxes, in order.
    :raises TypeError: if ``data`` is not ``bytes``.
    :raises MalformedAmpBox: if the data is not a sequence of whole boxes.
    :raises TooLong: if a key is longer than 255 bytes.
    """
    if not isinstance(data, bytes):
        raise TypeError(f"parseString takes bytes, not {type(data).__name__}")
    parser = _BoxParser(MAX_KEY_LENGTH, MAX_VALUE_LENGTH, len(data) + 2)
    parser.feed(data)
    boxes: list[AmpBox] = []
    while True:
        box = parser.next()
        if box is None:
            break
        boxes.append(box)
    if parser.pending():
        raise MalformedAmpBox("data ends in the middle of a box")
    return boxes


# -- argument types -----------------------------------------------------------


def _wireNameToPythonIdentifier(key: bytes) -> str:
    """
    The Python keyword argument name of wire key ``key``: dashes become
    underscores, and a Python keyword gets a capital first letter.
    """
    name = key.replace(b"-", b"_").decode("ascii")
    if keyword.iskeyword(name):
        return name.title()
    return name


@implementer(IArgumentType)
class Argument:
    """
    The base class of argument types.  Subclasses implement ``fromString``
    and ``toString`` (or, when they need the connection, ``fromStringProto``
    and ``toStringProto``).

    :ivar optional: whether the argument may be left out; a missing optional
        argument reaches the responder as ``None``, and ``None`` is not sent.
    """

    optional: bool = False

    def __init__(self, optional: bool = False) -> None:
        """
        :param optional: whether the argument may be left out.
        """
        self.optional = optional

    def retrieve(self, d: dict[str, Any], name: str, proto: Any) -> Any:
        """
        Take the value of ``name`` out of ``d``.

        :param d: Python values by name.
        :param name: the Python name of the argument.
        :param proto: the connection.
        :return: the value, or ``None`` if optional and absent.
        :raises KeyError: if a required argument is absent.
        """
        if self.optional:
            return d.pop(name, None)
        return d.pop(name)

    def fromBox(
        self, name: bytes, strings: AmpBox, objects: dict[str, Any], proto: Any
    ) -> None:
        """
        Decode argument ``name`` from a received box.

        :param name: the wire key.
        :param strings: the received box.
        :param objects: where the Python value goes, under its Python name.
        :param proto: the connection.
        :raises KeyError: if a required argument is absent.
        """
        pyName = _wireNameToPythonIdentifier(name)
        raw = strings.get(name)
        if raw is None:
            if not self.optional:
                raise KeyError(f"required argument {name!r} missing")
            objects[pyName] = None
            return
        objects[pyName] = self.fromStringProto(raw, proto)

    def toBox(
        self, name: bytes, strings: AmpBox, objects: dict[str, Any], proto: Any
    ) -> None:
        """
        Encode argument ``name`` into a box being built.

        :param name: the wire key.
        :param strings: the box.
        :param objects: the Python values, by Python name.
        :param proto: the connection.
        """
        value = self.retrieve(objects, _wireNameToPythonIdentifier(name), proto)
        if value is None and self.optional:
            return
        strings[name] = self.toStringProto(value, proto)

    def fromStringProto(self, inString: bytes, proto: Any) -> Any:
        """
        :param inString: the wire value.
        :param proto: the connection.
        :return: the Python value.
        """
        return self.fromString(inString)

    def toStringProto(self, inObject: Any, proto: Any) -> bytes:
        """
        :param inObject: the Python value.
        :param proto: the connection.
        :return: the wire value.
        """
        return self.toString(inObject)

    def fromString(self, inString: bytes) -> Any:
        """
        Decode a wire value.  Override this.

        :param inString: the wire value.
        :return: the Python value.
        :raises NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def toString(self, inObject: Any) -> bytes:
        """
        Encode a Python value.  Override this.

        :param inObject: the Python value.
        :return: the wire value.
        :raises NotImplementedError: unless overridden.
        """
        raise NotImplementedError


class Integer(Argument):
    """
    An ``int``, sent as its decimal digits (``b"-42"``).
    """

    def fromString(self, inString: bytes) -> int:
        """
        :param inString: decimal digits, optionally signed.
        :return: the integer.
        :raises ValueError: if it is not a decimal integer.
        """
        return int(inString)

    def toString(self, inObject: Any) -> bytes:
        """
        :param inObject: an integer.
        :return: its decimal digits.
        :raises TypeError: if it is not an ``int``.
        """
        if isinstance(inObject, bool) or not isinstance(inObject, int):
            raise TypeError(f"Integer argument needs an int, not {inObject!r}")
        return b"%d" % (inObject,)


class String(Argument):
    """
    A byte string, sent as is.
    """

    def fromString(self, inString: bytes) -> bytes:
        """
        :param inString: the wire value.
        :return: the same bytes.
        """
        return inString

    def toString(self, inObject: Any) -> bytes:
        """
        :param inObject: bytes.
        :return: the same bytes.
        :raises TypeError: if it is not ``bytes``.
        """
        if not isinstance(inObject, bytes):
            raise TypeError(f"String argument needs bytes, not {type(inObject)}")
        return inObject


class Unicode(Argument):
    """
    A text string, sent encoded as UTF-8.
    """

    def fromString(self, inString: bytes) -> str:
        """
        :param inString: UTF-8 bytes.
        :return: the text.
        :raises UnicodeDecodeError: if it is not valid UTF-8.
        """
        return inString.decode("utf-8")

    def toString(self, inObject: Any) -> bytes:
        """
        :param inObject: a ``str``.
        :return: its UTF-8 encoding.
        :raises TypeError: if it is not a ``str``.
        """
        if not isinstance(inObject, str):
            raise TypeError(f"Unicode argument needs str, not {type(inObject)}")
        return inObject.encode("utf-8")


class Float(Argument):
    """
    A ``float``, sent as its ``repr`` (``b"0.1"``, ``b"nan"``, ``b"inf"``,
    ``b"-inf"``), so that it round-trips exactly.
    """

    def fromString(self, inString: bytes) -> float:
        """
        :param inString: a decimal or special float.
        :return: the float.
        :raises ValueError: if it is not a float.
        """
        return float(inString)

    def toString(self, inObject: Any) -> bytes:
        """
        :param inObject: a ``float`` (or an ``int``, converted).
        :return: its ``repr`` as bytes.
        :raises TypeError: if it is not a number.
        """
        if isinstance(inObject, bool) or not isinstance(inObject, (int, float)):
            raise TypeError(f"Float argument needs a float, not {inObject!r}")
        return repr(float(inObject)).encode("ascii")


class Boolean(Argument):
    """
    A ``bool``, sent as ``b"True"`` or ``b"False"``.
    """

    def fromString(self, inString: bytes) -> bool:
        """
        :param inString: ``b"True"`` or ``b"False"``.
        :return: the boolean.
        :raises TypeError: for any other value.
        """
        if inString == b"True":
            return True
        if inString == b"False":
            return False
        raise TypeError(f"bad boolean value: {inString!r}")

    def toString(self, inObject: Any) -> bytes:
        """
        :param inObject: a truth value.
        :return: ``b"True"`` or ``b"False"``.
        """
        return b"True" if inObject else b"False"


utc = datetime.UTC
"""The UTC time zone, for ``DateTime`` values."""


class DateTime(Argument):
    """
    A timezone-aware ``datetime.datetime``, sent as 32 ASCII bytes such as
    ``b"2012-01-23T12:34:56.054321-01:23"`` (microseconds and a UTC offset in
    minutes).  Received values carry a fixed-offset ``datetime.timezone``.
    """

    _LENGTH = 32

    def fromString(self, inString: bytes) -> datetime.datetime:
        """
        :param inString: the 32-byte representation.
        :return: the aware datetime.
        :raises ValueError: if the representation is malformed.
        """
        if len(inString) != self._LENGTH:
            raise ValueError(f"DateTime values are 32 bytes long, not {len(inString)}")
        text = inString.decode("ascii")
        if text[10] != "T" or text[19] != "." or text[29] != ":":
            raise ValueError(f"malformed DateTime value {inString!r}")
        sign = text[26]
        if sign not in "+-":
            raise ValueError(f"malformed DateTime offset in {inString!r}")
        fields = (
            text[0:4],
            text[5:7],
            text[8:10],
            text[11:13],
            text[14:16],
            text[17:19],
            text[20:26],
            text[27:29],
            text[30:32],
        )
        if text[4] != "-" or text[7] != "-" or text[13] != ":" or text[16] != ":":
            raise ValueError(f"malformed DateTime value {inString!r}")
        if not all(f.isdigit() and f.isascii() for f in fields):
            raise ValueError(f"malformed DateTime value {inString!r}")
        year, month, day, hour, minute, second, micro, oh, om = map(int, fields)
        if om >= 60:
            raise ValueError(f"malformed DateTime offset in {inString!r}")
        offset = datetime.timedelta(hours=oh, minutes=om)
        if sign == "-":
            offset = -offset
        return datetime.datetime(
            year,
            month,
            day,
            hour,
            minute,
            second,
            micro,
            tzinfo=datetime.timezone(offset),
        )

    def toString(self, inObject: Any) -> bytes:
        """
        :param inObject: an aware ``datetime.datetime``.
        :return: the 32-byte representation.
        :raises ValueError: if it is naive or its offset is not whole minutes
            within a day.
        :raises TypeError: if it is not a ``datetime``.
        """
        if not isinstance(inObject, datetime.datetime):
            raise TypeError(f"DateTime argument needs a datetime, not {inObject!r}")
        offset = inObject.utcoffset()
        if offset is None:
            raise ValueError("DateTime values must be timezone-aware (see amp.utc)")
        seconds = int(offset.total_seconds())
        if offset.microseconds or seconds % 60:
            raise ValueError("DateTime offsets must be whole minutes")
        sign = "-" if seconds < 0 else "+"
        minutes = abs(seconds) // 60
        d = inObject
        text = (
            f"{d.year:04d}-{d.month:02d}-{d.day:02d}T"
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond:06d}"
            f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
        )
        return text.encode("ascii")


class Decimal(Argument):
    """
    A ``decimal.Decimal``, sent as its string form (``b"1.10"``, ``b"NaN"``,
    ``b"-Infinity"``), which keeps its exponent and special values.
    """

    def fromString(self, inString: bytes) -> decimal.Decimal:
        """
        :param inString: a decimal number's text.
        :return: the decimal.
        :raises ValueError: if it is not a decimal.
        """
        try:
            return decimal.Decimal(inString.decode("ascii"))
        except decimal.InvalidOperation:
            raise ValueError(f"bad Decimal value {inString!r}") from None

    def toString(self, inObject: Any) -> bytes:
        """
        :param inObject: a ``decimal.Decimal``.
        :return: its string form.
        :raises ValueError: if it is not a ``decimal.Decimal``.
        """
        if not isinstance(inObject, decimal.Decimal):
            raise ValueError(f"Decimal argument needs a decimal.Decimal: {inObject!r}")
        return str(inObject).encode("ascii")


class ListOf(Argument):
    """
    A list of values of one simple type, each preceded by its 16-bit length
    inside the one AMP value.

    :ivar elementType: the ``Argument`` of each element (its ``fromString``
        and ``toString`` are used).
    """

    def __init__(self, elementType: Argument, optional: bool = False) -> None:
        """
        :param elementType: the type of the elements.
        :param optional: whether the argument may be left out.
        """
        Argument.__init__(self, optional)
        self.elementType = elementType

    def fromString(self, inString: bytes) -> list[Any]:
        """
        :param inString: the concatenated length-prefixed elements.
        :return: the list.
        :raises ValueError: if an element is truncated.
        """
        items: list[Any] = []
        offset = 0
        size = len(inString)
        while offset < size:
            if size - offset < 2:
                raise ValueError("truncated ListOf value")
            length = (inString[offset] << 8) | inString[offset + 1]
            end = offset + 2 + length
            if end > size:
                raise ValueError("truncated ListOf value")
            items.append(self.elementType.fromString(inString[offset + 2 : end]))
            offset = end
        return items

    def toString(self, inObject: Any) -> bytes:
        """
        :param inObject: an iterable of elements.
        :return: the concatenated length-prefixed elements.
        :raises TooLong: if an element is longer than 65535 bytes.
        """
        pieces: list[bytes] = []
        for element in inObject:
            encoded = self.elementType.toString(element)
            if len(encoded) > MAX_VALUE_LENGTH:
                raise TooLong(False, True, None, encoded)
            pieces.append(_pack16(len(encoded)))
            pieces.append(encoded)
        return b"".join(pieces)


class AmpList(Argument):
    """
    A list of dictionaries with typed fields, sent as a sequence of boxes
    inside the one AMP value.

    :ivar subargs: the fields of each element, ``(name, Argument)`` pairs as
        in ``Command.arguments``.
    """

    def __init__(
        self, subargs: list[tuple[bytes | str, Argument]], optional: bool = False
    ) -> None:
        """
        :param subargs: the fields of each element.
        :param optional: whether the argument may be left out.
        """
        Argument.__init__(self, optional)
        self.subargs = [(_asKey(name), arg) for name, arg in subargs]

    def fromStringProto(self, inString: bytes, proto: Any) -> list[dict[str, Any]]:
        """
        :param inString: serialized boxes.
        :param proto: the connection.
        :return: one ``dict`` per box.
        """
        return [
            _stringsToObjects(box, self.subargs, proto) for box in parseString(inString)
        ]

    def toStringProto(self, inObject: Any, proto: Any) -> bytes:
        """
        :param inObject: an iterable of dictionaries.
        :param proto: the connection.
        :return: the serialized boxes.
        """
        return b"".join(
            _objectsToStrings(element, self.subargs, AmpBox(), proto).serialize()
            for element in inObject
        )


class Path(Argument):
    """
    A filesystem path (``pathlib.Path``), sent as its UTF-8 text.  Bytes that
    are not UTF-8 in a local path are carried with ``surrogateescape``.
    """

    def fromString(self, inString: bytes) -> pathlib.Path:
        """
        :param inString: the path's bytes.
        :return: the path.
        """
        return pathlib.Path(inString.decode("utf-8", "surrogateescape"))

    def toString(self, inObject: Any) -> bytes:
        """
        :param inObject: a ``pathlib.PurePath`` (or any ``os.PathLike``).
        :return: the path's bytes.
        :raises TypeError: if it is not a path.
        """
        if not isinstance(inObject, os.PathLike):
            raise TypeError(f"Path argument needs a path, not {inObject!r}")
        text = os.fsdecode(inObject)
        return text.encode("utf-8", "surrogateescape")


class Descriptor(Integer):
    """
    A file descriptor, passed to the peer over a Unix socket.

    Sending calls the transport's ``sendFileDescriptor`` (the sender keeps its
    own descriptor); the box carries a sequence number matching it with the
    descriptor the peer's transport receives.  The receiving responder gets
    a new descriptor number, which it owns and must close.
    """

    def fromStringProto(self, inString: bytes, proto: Any) -> int:
        """
        :param inString: the sequence number.
        :param proto: the connection that received the descriptor.
        :return: the received descriptor.
        :raises KeyError: if no descriptor with that number was received.
        """
        return cast(int, proto._getDescriptor(int(inString)))

    def toStringProto(self, inObject: Any, proto: Any) -> bytes:
        """
        :param inObject: an open descriptor number.
        :param proto: the connection, over a transport that can send
            descriptors.
        :return: the sequence number.
        """
        return self.toString(proto._sendFileDescriptor(inObject))


class _LocalArgument(Argument):
    """
    An argument used on one side only, never sent.
    """

    def fromBox(
        self, name: bytes, strings: AmpBox, objects: dict[str, Any], proto: Any
    ) -> None:
        pass

    def toBox(
        self, name: bytes, strings: AmpBox, objects: dict[str, Any], proto: Any
    ) -> None:
        pass


def _objectsToStrings(
    objects: Mapping[str, Any],
    arglist: list[tuple[bytes, Argument]],
    strings: AmpBox,
    proto: Any,
) -> AmpBox:
    """
    Encode Python values into ``strings`` according to ``arglist``.

    :raises InvalidSignature: for a missing required value or an unknown name.
    """
    remaining = dict(objects)
    for name, argument in arglist:
        pyName = _wireNameToPythonIdentifier(name)
        required = not argument.optional and not isinstance(argument, _LocalArgument)
        if required and pyName not in remaining:
            raise InvalidSignature(f"missing required value {pyName!r}")
        argument.toBox(name, strings, remaining, proto)
        remaining.pop(pyName, None)
    if remaining:
        raise InvalidSignature(f"unexpected values {sorted(remaining)!r}")
    return strings


def _stringsToObjects(
    strings: AmpBox, arglist: list[tuple[bytes, Argument]], proto: Any
) -> dict[str, Any]:
    """
    Decode the values of ``arglist`` out of ``strings``.
    """
    objects: dict[str, Any] = {}
    for name, argument in arglist:
        argument.fromBox(name, strings, objects, proto)
    return objects


# -- commands -----------------------------------------------------------------


class Command:
    """
    The description of one remote call.  Subclass it and set:

    - ``arguments``: ``(name, Argument)`` pairs; the wire name is bytes and
      the responder receives it as a keyword argument (dashes become
      underscores, Python keywords get a capital first letter);
    - ``response``: the pairs of the answer, returned by the responder as a
      ``dict`` and given to the caller as one;
    - ``errors``: exception classes the responder may raise, mapped to the
      error codes (bytes) sent in their place; the caller's ``Deferred``
      fails with the same class, built from the description;
    - ``fatalErrors``: like ``errors``, and the connection is closed after
      the error is sent;
    - ``requiresAnswer``: ``False`` for a call that gets no answer at all
      (``callRemote`` then returns ``None``);
    - ``commandName``: the name on the wire, the class name by default.

    :ivar commandName: the name on the wire.
    """

    arguments: ClassVar[list[tuple[bytes, Argument]]] = []
    response: ClassVar[list[tuple[bytes, Argument]]] = []
    extra: ClassVar[list[tuple[bytes, Argument]]] = []
    errors: ClassVar[dict[type[BaseException], bytes]] = {}
    fatalErrors: ClassVar[dict[type[BaseException], bytes]] = {}
    requiresAnswer: ClassVar[bool] = True
    commandName: ClassVar[bytes] = b"Command"
    responseType: ClassVar[type[AmpBox]] = AmpBox
    reverseErrors: ClassVar[dict[bytes, type[BaseException]]] = {}
    allErrors: ClassVar[dict[type[BaseException], bytes]] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        name = cls.__dict__.get("commandName")
        if name is None:
            cls.commandName = cls.__name__.encode("ascii")
        else:
            cls.commandName = _asKey(name)
        cls.arguments = [(_asKey(n), a) for n, a in cls.arguments]
        cls.response = [(_asKey(n), a) for n, a in cls.response]
        allErrors: dict[type[BaseException], bytes] = {}
        for errorType, code in list(cls.errors.items()) + list(cls.fatalErrors.items()):
            allErrors[errorType] = _asKey(code)
        cls.allErrors = allErrors
        cls.reverseErrors = {code: errorType for errorType, code in allErrors.items()}

    def __init__(self, **kw: Any) -> None:
        """
        :param kw: the Python values of the arguments.
        """
        self.structured = kw

    @classmethod
    def responder(cls, methodfunc: _F) -> _F:
        """
        Decorator marking a method of a ``CommandLocator`` (or ``AMP``)
        subclass as the responder of this command.  It is called with the
        arguments as keyword arguments and returns the response ``dict``, or
        a ``Deferred`` of it.

        :param methodfunc: the method.
        :return: the same method.
        """
        marks: list[type[Command]] = methodfunc.__dict__.setdefault(
            "_torsionAmpCommands", []
        )
        marks.append(cls)
        return methodfunc

    @classmethod
    def makeArguments(cls, objects: Mapping[str, Any], proto: Any) -> AmpBox:
        """
        Encode the Python argument values into a box.

        :param objects: the values by Python name.
        :param proto: the connection.
        :return: the box.
        :raises InvalidSignature: if values are missing or unexpected.
        """
        return _objectsToStrings(objects, cls.arguments, AmpBox(), proto)

    @classmethod
    def parseArguments(cls, box: AmpBox, proto: Any) -> dict[str, Any]:
        """
        Decode a received command box.

        :param box: the box.
        :param proto: the connection.
        :return: the keyword arguments for the responder.
        """
        return _stringsToObjects(box, cls.arguments, proto)

    @classmethod
    def makeResponse(cls, objects: Any, proto: Any) -> AmpBox:
        """
        Encode what a responder returned.

        :param objects: the responder's ``dict``.
        :param proto: the connection.
        :return: the answer box, without its tag.
        :raises BadLocalReturn: if ``objects`` cannot be encoded.
        """
        if not isinstance(objects, Mapping):
            raise BadLocalReturn(
                f"responder of {cls.commandName!r} returned {objects!r}, not a dict"
            )
        try:
            return _objectsToStrings(objects, cls.response, cls.responseType(), proto)
        except Exception as e:
            raise BadLocalReturn(
                f"cannot encode the response of {cls.commandName!r}: {e}", Failure()
            ) from e

    @classmethod
    def parseResponse(cls, box: AmpBox, proto: Any) -> dict[str, Any]:
        """
        Decode an answer box.

        :param box: the box.
        :param proto: the connection.
        :return: the response values by Python name.
        """
        return _stringsToObjects(box, cls.response, proto)

    def _doCommand(self, proto: Any) -> Deferred[Any] | None:
        """
        Send this command through ``proto`` (a ``BoxDispatcher``).
        """
        box = self.makeArguments(self.structured, proto)
        d = proto._sendBoxCommand(self.commandName, box, self.requiresAnswer)
        if d is None:
            return None
        d.addCallbacks(lambda answer: self.parseResponse(answer, proto), self._massage)
        return cast(Deferred[Any], d)

    def _massage(self, failure: Failure) -> Failure:
        """
        Turn a ``RemoteAmpError`` into the declared exception of its code.
        """
        error = failure.value
        if not isinstance(error, RemoteAmpError):
            return failure
        if isinstance(error, UnknownRemoteError):
            return failure
        errorType = self.reverseErrors.get(error.errorCode)
        if errorType is None:
            return Failure(UnknownRemoteError(error.description))
        return Failure(errorType(error.description))


class StartTLS(Command):
    """
    Switch the connection to TLS.  The caller passes its own certificate
    (``tls_localCertificate``, a ``PrivateCertificate``, optional) and the
    authorities it trusts to sign the peer's (``tls_verifyAuthorities``, a
    list of ``Certificate``; without it the peer is not verified).  Neither is
    sent.

    The answering side declares a responder returning a ``dict`` with the
    same two keys (``tls_localCertificate`` is required there); once the
    answer is sent, both sides start TLS, the caller as the TLS client.
    Boxes sent by the caller while the answer is pending are held and sent
    over TLS.  A second ``StartTLS`` on the same connection fails with
    ``OnlyOneTLS``.
    """

    arguments = [
        (b"tls_localCertificate", _LocalArgument(optional=True)),
        (b"tls_verifyAuthorities", _LocalArgument(optional=True)),
    ]
    response = [
        (b"tls_localCertificate", _LocalArgument(optional=True)),
        (b"tls_verifyAuthorities", _LocalArgument(optional=True)),
    ]
    errors = {OnlyOneTLS: b"ONLY_ONE_TLS"}
    responseType = _TLSBox

    def __init__(self, **kw: Any) -> None:
        """
        :param kw: ``tls_localCertificate`` and ``tls_verifyAuthorities``.
        """
        self.certificate = kw.pop("tls_localCertificate", None)
        self.authorities = kw.pop("tls_verifyAuthorities", None)
        Command.__init__(self, **kw)

    @classmethod
    def makeResponse(cls, objects: Any, proto: Any) -> AmpBox:
        """
        :param objects: the responder's ``dict`` with ``tls_localCertificate``
            and, optionally, ``tls_verifyAuthorities``.
        :param proto: the connection.
        :return: an answer box that starts TLS once it is sent.
        :raises BadLocalReturn: if no certificate was returned.
        """
        if not isinstance(objects, Mapping):
            raise BadLocalReturn(f"StartTLS responder returned {objects!r}")
        certificate = objects.get("tls_localCertificate")
        if certificate is None:
            raise BadLocalReturn("StartTLS responder gave no tls_localCertificate")
        return _TLSBox(certificate, objects.get("tls_verifyAuthorities"))

    def _doCommand(self, proto: Any) -> Deferred[Any] | None:
        try:
            proto._refuseSecondTLS()
        except OnlyOneTLS:
            return fail()
        d = Command._doCommand(self, proto)
        assert d is not None
        # Boxes sent from now until the answer travel over TLS.
        proto._prepareTLS()

        def started(result: Any) -> Any:
            proto._startTLS(self.certificate, self.authorities, True)
            return result

        def failed(failure: Failure) -> Failure:
            proto._unprepareTLS()
            return failure

        d.addCallbacks(started, failed)
        return d


class ProtocolSwitchCommand(Command):
    """
    A command after whose answer the connection stops carrying AMP and is
    handed to another protocol.

    The caller passes ``_protoToSwitchToFactory``, a factory whose
    ``buildProtocol`` makes its new protocol; if the command fails, the
    factory's ``clientConnectionFailed`` is called instead.  The responder
    returns the protocol instance the answering side switches to (not a
    ``dict``).  While the answer is pending no other box can be sent
    (``ProtocolSwitched``), and bytes that follow the answer go to the new
    protocol.
    """

    responseType = _SwitchBox

    def __init__(self, _protoToSwitchToFactory: Any, **kw: Any) -> None:
        """
        :param _protoToSwitchToFactory: the caller's factory of the protocol
            to switch to.
        :param kw: the command's arguments.
        """
        self.protoToSwitchToFactory = _protoToSwitchToFactory
        Command.__init__(self, **kw)

    @classmethod
    def makeResponse(cls, objects: Any, proto: Any) -> AmpBox:
        """
        :param objects: the protocol to switch to.
        :param proto: the connection.
        :return: an answer box that switches protocols once it is sent.
        :raises BadLocalReturn: if the responder returned a ``dict``.
        """
        if isinstance(objects, Mapping) or objects is None:
            raise BadLocalReturn(
                f"{cls.commandName!r} responder must return a protocol, not {objects!r}"
            )
        return _SwitchBox(objects)

    def _doCommand(self, proto: Any) -> Deferred[Any] | None:
        d = Command._doCommand(self, proto)
        assert d is not None
        proto._lockForSwitch()
        factory = self.protoToSwitchToFactory

        def switchNow(result: Any) -> Any:
            transport = proto.transport
            inner = factory.buildProtocol(transport.getPeer())
            proto._switchTo(inner, factory)
            return result

        def failed(failure: Failure) -> Failure:
            proto._unlockFromSwitch()
            factory.clientConnectionFailed(None, failure)
            return failure

        d.addCallbacks(switchNow, failed)
        return d


# -- dispatching --------------------------------------------------------------


@implementer(IBoxReceiver)
class BoxDispatcher:
    """
    Turns received boxes into calls of responders and answers, and sends
    commands: the ``IBoxReceiver`` half of ``AMP``.

    :ivar locator: the ``IResponderLocator`` finding responders.
    :ivar boxSender: the ``IBoxSender`` answers and commands go to, set by
        ``startReceivingBoxes``.
    """

    _failAllReason: Failure | None = None
    boxSender: Any = None

    def __init__(self, locator: IResponderLocator) -> None:
        """
        :param locator: finds the responder of each received command.
        """
        self.locator = locator
        self._outstandingRequests: dict[bytes, Deferred[AmpBox]] = {}
        self._counter = 0

    def startReceivingBoxes(self, boxSender: IBoxSender) -> None:
        """
        :param boxSender: where answers and commands are sent.
        """
        self.boxSender = boxSender

    def stopReceivingBoxes(self, reason: Failure) -> None:
        """
        Fail every call still waiting for an answer with ``reason``; later
        calls fail with it too.

        :param reason: why boxes stopped.
        """
        self._failAllReason = reason
        outstanding, self._outstandingRequests = self._outstandingRequests, {}
        for d in outstanding.values():
            d.errback(reason)

    def _nextTag(self) -> bytes:
        self._counter += 1
        return b"%x" % (self._counter,)

    def _sendBoxCommand(
        self, command: bytes, box: AmpBox, requiresAnswer: bool = True
    ) -> Deferred[AmpBox] | None:
        """
        Send ``box`` as command ``command``.

        :return: a ``Deferred`` of the answer box, or ``None`` if no answer
            is wanted.
        """
        if self._failAllReason is not None:
            if requiresAnswer:
                return fail(self._failAllReason)
            return None
        if self.boxSender is None:
            raise ConnectionLost("callRemote before the connection was made")
        box[COMMAND] = command
        if not requiresAnswer:
            box._sendTo(self.boxSender)
            return None
        tag = box[ASK] = self._nextTag()
        d: Deferred[AmpBox] = Deferred()
        self._outstandingRequests[tag] = d
        try:
            box._sendTo(self.boxSender)
        except (ProtocolSwitched, ConnectionClosed):
            self._outstandingRequests.pop(tag, None)
            return fail()
        except BaseException:
            self._outstandingRequests.pop(tag, None)
            raise
        return d

    def callRemoteString(
        self, command: bytes, requiresAnswer: bool = True, **kw: bytes
    ) -> Deferred[AmpBox] | None:
        """
        Call a command with raw byte-string arguments, without a ``Command``
        class.

        :param command: the command name.
        :param requiresAnswer: whether to ask for an answer.
        :param kw: the arguments, bytes values by ASCII name.
        :return: a ``Deferred`` of the raw answer box (it fails with
            ``RemoteAmpError`` or ``UnhandledCommand``), or ``None``.
        """
        return self._sendBoxCommand(command, AmpBox(**kw), requiresAnswer)

    def callRemote(
        self, commandType: type[Command], *a: Any, **kw: Any
    ) -> Deferred[Any] | None:
        """
        Call ``commandType`` on the peer.

        :param commandType: a ``Command`` subclass.
        :param a: positional arguments of the command's constructor (only
            ``ProtocolSwitchCommand`` takes one, its factory).
        :param kw: the arguments, by Python name.
        :return: a ``Deferred`` of the response ``dict`` (failing with the
            declared error, ``UnknownRemoteError``, ``UnhandledCommand`` or
            the reason the connection was lost), or ``None`` when
            ``requiresAnswer`` is ``False``.
        :raises InvalidSignature: if arguments are missing or unexpected.
        """
        return commandType(*a, **kw)._doCommand(self)

    def unhandledError(self, failure: Failure) -> None:
        """
        Report an error nothing else handled (passed to the box sender).

        :param failure: the error.
        """
        self.boxSender.unhandledError(failure)

    def ampBoxReceived(self, box: AmpBox) -> None:
        """
        Dispatch a received box: an answer, an error or a command.

        :param box: the box.
        :raises NoEmptyBoxes: if it is none of those.
        :raises MalformedAmpBox: for an answer to no pending call or an error
            box without a code.
        """
        if ANSWER in box:
            self._answerReceived(box)
        elif ERROR in box:
            self._errorReceived(box)
        elif COMMAND in box:
            self._commandReceived(box)
        else:
            raise NoEmptyBoxes(f"box with no command, answer or error: {box!r}")

    def _takeRequest(self, tag: bytes) -> Deferred[AmpBox]:
        d = self._outstandingRequests.pop(tag, None)
        if d is None:
            raise MalformedAmpBox(f"answer to {tag!r}, which is not a pending call")
        return d

    def _answerReceived(self, box: AmpBox) -> None:
        self._takeRequest(box[ANSWER]).callback(box)

    def _errorReceived(self, box: AmpBox) -> None:
        code = box.get(ERROR_CODE)
        if code is None:
            raise MalformedAmpBox("error box without an error code")
        d = self._takeRequest(box[ERROR])
        description = box.get(ERROR_DESCRIPTION, b"").decode("utf-8", "replace")
        errorType = _PROTOCOL_ERRORS.get(code)
        exc: Exception
        if errorType is not None:
            exc = errorType(description)
        elif code == UNKNOWN_ERROR_CODE:
            exc = UnknownRemoteError(description)
        else:
            exc = RemoteAmpError(code, description)
        d.errback(Failure(exc))

    def _commandReceived(self, box: AmpBox) -> None:
        name = box[COMMAND]
        tag = box.get(ASK)

        def answered(answer: AmpBox) -> None:
            if tag is None:
                return
            answer[ANSWER] = tag
            try:
                self._safeEmit(answer)
            except Exception:
                failed(Failure())

        def failed(failure: Failure) -> None:
            error = failure.value
            if tag is None:
                self.unhandledError(failure)
                return
            if isinstance(error, RemoteAmpError):
                code, description, fatal = (
                    error.errorCode,
                    error.description,
                    error.fatal,
                )
            elif isinstance(error, UnhandledCommand):
                code, description, fatal = UNHANDLED_ERROR_CODE, str(error), False
            else:
                self.unhandledError(failure)
                code, description, fatal = UNKNOWN_ERROR_CODE, "Unknown Error", False
            encoded = description.encode("utf-8", "replace")[:MAX_VALUE_LENGTH]
            self._safeEmit(
                AmpBox({ERROR: tag, ERROR_CODE: code, ERROR_DESCRIPTION: encoded})
            )
            if fatal:
                transport = getattr(self.boxSender, "transport", None)
                if transport is not None:
                    transport.loseConnection()

        responder = self.locator.locateResponder(name)
        if responder is None:
            d: Deferred[Any] = fail(
                UnknownCommand(f"Unhandled Command: {name.decode('ascii', 'replace')}")
            )
        else:
            d = maybeDeferred(responder, box)
        d.addCallbacks(answered, failed)
        d.addErrback(self.unhandledError)

    def _safeEmit(self, box: AmpBox) -> None:
        """
        Send an answer, unless the connection is gone or switched.
        """
        if self.boxSender is None:
            return
        try:
            box._sendTo(self.boxSender)
        except (ProtocolSwitched, ConnectionClosed):
            pass


@implementer(IResponderLocator)
class CommandLocator:
    """
    Finds responders among the methods decorated with ``Command.responder``
    in this class and its bases.
    """

    _commandDispatch: ClassVar[
        dict[bytes, tuple[type[Command], Callable[..., Any]]]
    ] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        dispatch: dict[bytes, tuple[type[Command], Callable[..., Any]]] = {}
        for base in reversed(cls.__mro__[1:]):
            dispatch.update(base.__dict__.get("_commandDispatch", {}))
        for value in cls.__dict__.values():
            for command in getattr(value, "_torsionAmpCommands", ()):
                dispatch[command.commandName] = (command, value)
        cls._commandDispatch = dispatch

    def locateResponder(
        self, name: bytes
    ) -> Callable[[AmpBox], Deferred[AmpBox]] | None:
        """
        :param name: a command name.
        :return: a callable taking the received box and returning a
            ``Deferred`` of the answer box, or ``None`` if no responder was
            declared for ``name``.
        """
        found = self._commandDispatch.get(name)
        if found is None:
            return None
        command, function = found
        bound = function.__get__(self, type(self))
        return self._wrapWithSerialization(bound, command)

    def _wrapWithSerialization(
        self, responder: Callable[..., Any], command: type[Command]
    ) -> Callable[[AmpBox], Deferred[AmpBox]]:
        def call(box: AmpBox) -> Any:
            if command is StartTLS:
                self._checkTLSAllowed()
            return responder(**command.parseArguments(box, self))

        def respond(box: AmpBox) -> Deferred[AmpBox]:
            d = maybeDeferred(call, box)

            def declared(failure: Failure) -> Failure:
                errorType = failure.check(*command.allErrors)
                if errorType is None:
                    return failure
                code = command.allErrors[cast(type[BaseException], errorType)]
                return Failure(
                    RemoteAmpError(
                        code,
                        str(failure.value),
                        errorType in command.fatalErrors,
                        local=failure,
                    )
                )

            d.addCallbacks(lambda result: command.makeResponse(result, self), declared)
            return cast(Deferred[AmpBox], d)

        return respond

    def _checkTLSAllowed(self) -> None:
        checker = getattr(self, "_refuseSecondTLS", None)
        if checker is not None:
            checker()


# -- framing ------------------------------------------------------------------


class _TLSShim:
    """
    The protocol above the TLS layer started by ``StartTLS``: it hands the
    decrypted bytes and the end of the connection back to the AMP protocol.
    """

    def __init__(self, amp: BinaryBoxProtocol) -> None:
        self._amp = amp

    def logPrefix(self) -> str:
        return self._amp.logPrefix()

    def makeConnection(self, transport: Any) -> None:
        pass

    def dataReceived(self, data: bytes) -> None:
        self._amp._boxDataReceived(data)

    def connectionLost(self, reason: Failure) -> None:
        self._amp._connectionEnded(reason)


@implementer(IBoxSender, interfaces.IFileDescriptorReceiver)
class BinaryBoxProtocol(Protocol):
    """
    The framing half of ``AMP``: parses received bytes into boxes for an
    ``IBoxReceiver`` and writes the boxes it is given.

    :ivar boxReceiver: where received boxes go.
    :ivar MAX_KEY_LENGTH: the longest key accepted from the peer (255).
    :ivar MAX_VALUE_LENGTH: the longest value accepted from the peer (65535).
    :ivar MAX_BOX_LENGTH: the most bytes one received box may take.
    :ivar MAX_PENDING_DESCRIPTORS: how many received descriptors may wait to
        be claimed by a ``Descriptor`` argument.
    :ivar clock: the ``IReactorTime`` timing the ``StartTLS`` handshake
        (``None``: the global reactor).
    :ivar innerProtocol: the protocol the connection was switched to, if any.
    :ivar innerProtocolClientFactory: the factory of ``innerProtocol`` on the
        side that asked for the switch.
    """

    MAX_KEY_LENGTH: int = MAX_KEY_LENGTH
    MAX_VALUE_LENGTH: int = MAX_VALUE_LENGTH
    MAX_BOX_LENGTH: int = _DEFAULT_MAX_BOX_LENGTH
    MAX_PENDING_DESCRIPTORS: int = 64

    clock: Any = None
    innerProtocol: Any = None
    innerProtocolClientFactory: Any = None
    hostCertificate: Any = None

    _locked = False
    _tlsLayer: Any = None
    _tlsPending: list[bytes] | None = None
    _closingReason: Failure | None = None
    _ended = False

    def __init__(self, boxReceiver: IBoxReceiver) -> None:
        """
        :param boxReceiver: where received boxes go.
        """
        self.boxReceiver = boxReceiver
        self._parser: _BoxParser | None = None
        self._outgoingDescriptors = 0
        self._incomingDescriptors = 0
        self._descriptors: dict[int, int] = {}

    def makeConnection(self, transport: Any) -> None:
        """
        Attach the transport and start delivering boxes.

        :param transport: the transport.
        """
        self._parser = _BoxParser(
            self.MAX_KEY_LENGTH, self.MAX_VALUE_LENGTH, self.MAX_BOX_LENGTH
        )
        # Boxes can be sent from connectionMade.
        self.boxReceiver.startReceivingBoxes(self)
        Protocol.makeConnection(self, transport)

    # -- sending --

    def sendBox(self, box: AmpBox) -> None:
        """
        Write ``box`` to the peer.

        :param box: the box.
        :raises ProtocolSwitched: if the connection was (or is being)
            switched to another protocol.
        :raises NoEmptyBoxes: if the box is empty.
        :raises torsion.internet.error.ConnectionLost: if the connection is gone.
        :raises TooLong: if a key or value is too long.
        """
        if self._locked:
            raise ProtocolSwitched(
                "this connection has switched protocols; AMP boxes cannot be sent"
            )
        if not box:
            raise NoEmptyBoxes("empty boxes cannot be sent")
        if self.transport is None or self._ended:
            raise ConnectionLost("the AMP connection is gone")
        data = box.serialize()
        if self._tlsPending is not None:
            self._tlsPending.append(data)
            return
        self.transport.write(data)

    def unhandledError(self, failure: Failure) -> None:
        """
        Log an error no responder or caller handled.

        :param failure: the error.
        """
        _log.failure(
            "unhandled error on AMP connection {prefix}",
            failure,
            prefix=self.logPrefix(),
        )

    # -- receiving --

    def dataReceived(self, data: bytes) -> None:
        """
        Parse received bytes into boxes (or pass them to the TLS layer or the
        protocol switched to).

        :param data: bytes from the transport.
        """
        if self.innerProtocol is not None:
            self.innerProtocol.dataReceived(data)
        elif self._tlsLayer is not None:
            self._tlsLayer.dataReceived(data)
        else:
            self._boxDataReceived(data)

    def _boxDataReceived(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self._closingReason is not None or self._ended:
            return
        parser.feed(data)
        tls = self._tlsLayer
        while True:
            try:
                box = parser.next()
            except (TooLong, MalformedAmpBox):
                self._protocolViolation(Failure())
                return
            if box is None:
                return
            try:
                self.boxReceiver.ampBoxReceived(box)
            except Exception:
                self._protocolViolation(Failure())
                return
            if self.innerProtocol is not None:
                rest = parser.takeRest()
                if rest:
                    self.innerProtocol.dataReceived(rest)
                return
            if self._tlsLayer is not tls:
                # TLS started as this box was handled: what follows in the
                # same read is the peer's handshake, or an injection attempt
                # the TLS layer rejects; it is never read as a box.
                rest = parser.takeRest()
                if rest:
                    self._tlsLayer.dataReceived(rest)
                return
            if self._closingReason is not None or self._ended:
                return
            if getattr(self.transport, "disconnecting", False):
                return

    def _protocolViolation(self, failure: Failure) -> None:
        """
        Close the connection because the peer broke the protocol.
        """
        if self._closingReason is not None:
            return
        self._closingReason = failure
        _log.info(
            "closing AMP connection {prefix}: {reason}",
            prefix=self.logPrefix(),
            reason=failure.getErrorMessage(),
        )
        if self.transport is not None:
            self.transport.loseConnection()

    # -- descriptors --

    def fileDescriptorReceived(self, descriptor: int) -> None:
        """
        Keep a descriptor received over a Unix socket until a ``Descriptor``
        argument claims it.

        :param descriptor: the new descriptor, owned by this protocol.
        """
        if len(self._descriptors) >= self.MAX_PENDING_DESCRIPTORS:
            os.close(descriptor)
            self._protocolViolation(
                Failure(
                    MalformedAmpBox(
                        f"more than {self.MAX_PENDING_DESCRIPTORS} descriptors "
                        "received and not claimed"
                    )
                )
            )
            return
        self._descriptors[self._incomingDescriptors] = descriptor
        self._incomingDescriptors += 1

    def _getDescriptor(self, number: int) -> int:
        return self._descriptors.pop(number)

    def _sendFileDescriptor(self, descriptor: int) -> int:
        transport = self.transport
        send = getattr(transport, "sendFileDescriptor", None)
        if send is None:
            raise TypeError("this transport cannot send file descriptors")
        send(descriptor)
        number = self._outgoingDescriptors
        self._outgoingDescriptors += 1
        return number

    # -- switching protocols --

    def _lockForSwitch(self) -> None:
        """
        Refuse to send boxes while a protocol switch is pending.

        :raises ProtocolSwitched: if one is already pending or done.
        """
        if self._locked:
            raise ProtocolSwitched("a protocol switch is already pending")
        self._locked = True

    def _unlockFromSwitch(self) -> None:
        """
        The pending switch failed: allow boxes again.

        :raises ProtocolSwitched: if the connection already switched.
        """
        if self.innerProtocol is not None:
            raise ProtocolSwitched("protocol already switched, cannot unlock")
        self._locked = False

    def _switchTo(self, newProto: Any, clientFactory: Any = None) -> None:
        """
        Hand the connection to ``newProto``; bytes received from now on go
        to it.

        :param newProto: the protocol.
        :param clientFactory: the factory that made it, on the calling side.
        """
        self._locked = True
        self.innerProtocol = newProto
        self.innerProtocolClientFactory = clientFactory
        self.boxReceiver.stopReceivingBoxes(
            Failure(ProtocolSwitched("the connection switched to another protocol"))
        )
        newProto.makeConnection(self.transport)

    # -- TLS --

    def _refuseSecondTLS(self) -> None:
        if self._tlsLayer is not None or self._tlsPending is not None:
            raise OnlyOneTLS("TLS is already started on this connection")
        if interfaces.ISSLTransport.providedBy(self.transport):
            raise OnlyOneTLS("this connection already uses TLS")

    def _prepareTLS(self) -> None:
        """
        The caller side: hold boxes until TLS starts.

        :raises OnlyOneTLS: if TLS is already used or starting.
        """
        self._refuseSecondTLS()
        self._tlsPending = []

    def _unprepareTLS(self) -> None:
        """
        ``StartTLS`` failed: send the held boxes in the clear.
        """
        held, self._tlsPending = self._tlsPending, None
        if held and self.transport is not None and not self._ended:
            self.transport.writeSequence(held)

    def _startTLS(self, certificate: Any, authorities: Any, isClient: bool) -> None:
        """
        Start TLS on this connection.

        :param certificate: this side's ``PrivateCertificate``, or ``None``.
        :param authorities: the ``Certificate`` list the peer's must chain
            to, or ``None`` for no verification.
        :param isClient: whether this side starts the handshake.
        """
        from torsion.internet import ssl
        from torsion.protocols import tls

        options: dict[str, Any] = {}
        if certificate is not None:
            options["privateKey"] = certificate.privateKey
            options["certificate"] = certificate
        if authorities:
            options["verify"] = True
            options["trustRoot"] = ssl.trustRootFromCertificates(authorities)
        contextFactory = ssl.CertificateOptions(**options)
        self.hostCertificate = certificate
        raw = self.transport
        layer = tls.startTLSOver(
            raw, raw, contextFactory, isClient, _TLSShim(self), clock=self.clock
        )
        self._tlsLayer = layer
        self.transport = layer
        held, self._tlsPending = self._tlsPending, None
        if held:
            layer.writeSequence(held)

    @property
    def peerCertificate(self) -> Any:
        """
        The peer's certificate (a ``torsion.internet.ssl.Certificate``) once
        the TLS handshake is done and the peer presented one.

        :raises ValueError: if there is none.
        """
        getter = getattr(self.transport, "getPeerCertificate", None)
        peer = getter() if getter is not None else None
        if peer is None:
            raise ValueError("the peer presented no certificate")
        return peer

    # -- the end --

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The connection ended: tell the protocol switched to, or fail the
        pending calls with ``reason`` (or with the protocol error that made
        this side close).

        :param reason: why the connection ended.
        """
        if self._tlsLayer is not None and not self._ended:
            # The TLS layer reports back through the shim, with a reason that
            # says whether TLS ended cleanly.
            self._tlsLayer.connectionLost(reason)
            if self._ended:
                return
        self._connectionEnded(reason)

    def _connectionEnded(self, reason: Failure) -> None:
        if self._ended:
            return
        self._ended = True
        for fd in self._descriptors.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._descriptors.clear()
        if self.innerProtocol is not None:
            self.innerProtocol.connectionLost(reason)
            if self.innerProtocolClientFactory is not None:
                self.innerProtocolClientFactory.clientConnectionLost(None, reason)
            return
        if self._closingReason is not None:
            reason = self._closingReason
        self.boxReceiver.stopReceivingBoxes(reason)


class AMP(BinaryBoxProtocol, BoxDispatcher, CommandLocator):
    """
    The AMP protocol: a ``BinaryBoxProtocol`` that is its own box receiver
    (``BoxDispatcher``) and responder locator (``CommandLocator``).  Subclass
    it, declare responders with ``Command.responder``, and call the peer with
    ``callRemote``.
    """

    def __init__(
        self,
        boxReceiver: IBoxReceiver | None = None,
        locator: IResponderLocator | None = None,
        clock: Any = None,
    ) -> None:
        """
        :param boxReceiver: where boxes go; this object by default.
        :param locator: where responders are found; this object by default.
        :param clock: the ``IReactorTime`` for the TLS handshake timeout.
        """
        BinaryBoxProtocol.__init__(self, self if boxReceiver is None else boxReceiver)
        BoxDispatcher.__init__(self, self if locator is None else locator)
        self.clock = clock

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at 0x{id(self):x}>"

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The connection ended; pending calls fail with the reason.

        :param reason: why the connection ended.
        """
        BinaryBoxProtocol.connectionLost(self, reason)
