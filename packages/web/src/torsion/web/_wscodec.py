"""
Sans-I/O WebSocket codec (RFC 6455, with RFC 7692 ``permessage-deflate``).

Bytes go in through ``WebSocketCodec.receiveData``, which returns events
(``TextMessage``, ``BytesMessage``, ``Ping``, ``Pong``, ``CloseFrame``);
frames to send come out of the ``WebSocketCodec.build*`` methods as bytes.
No I/O, no reactor, no clock: the protocol in ``torsion.web.websocket``
drives it.  Every violation of the RFC by the peer raises
``WebSocketProtocolError`` carrying the close code to answer with.
"""

from __future__ import annotations

import codecs
import os
import struct
import zlib
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "BytesMessage",
    "CloseFrame",
    "DeflateParameters",
    "Ping",
    "Pong",
    "TextMessage",
    "WebSocketCodec",
    "WebSocketProtocolError",
    "maskPayload",
]

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_DATA_OPCODES = frozenset((OP_CONTINUATION, OP_TEXT, OP_BINARY))
_CONTROL_OPCODES = frozenset((OP_CLOSE, OP_PING, OP_PONG))

#: Largest message (after decompression) accepted by default: 16 MiB.
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
#: Largest single frame payload (as sent on the wire) accepted by default.
DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024

#: Close codes from RFC 6455 section 7.4.1 (and the IANA registry).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_NO_STATUS = 1005
CLOSE_ABNORMAL = 1006
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_MANDATORY_EXTENSION = 1010
CLOSE_INTERNAL_ERROR = 1011

# Codes a peer may put on the wire.  1004, 1005, 1006 and 1015 are reserved
# for local use (they describe what happened, never travel), the rest of
# 1000-2999 is unassigned, 3000-4999 belongs to libraries and applications.
_SENDABLE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011))
_SENDABLE_CODES |= frozenset((1012, 1013, 1014))


def isValidCloseCode(code: int) -> bool:
    """
    :param code: a close status code.
    :return: whether ``code`` may be sent in a close frame.
    """
    return code in _SENDABLE_CODES or 3000 <= code <= 4999


class WebSocketProtocolError(Exception):
    """
    The peer broke RFC 6455 (or RFC 7692); the connection must be failed.

    :ivar code: the close code to send (1002, 1007, 1009, ...).
    :ivar reason: a short human-readable explanation, also sent as the close
        reason.
    :ivar events: when raised by ``WebSocketCodec.receiveData``, the events
        completed by the same bytes before the error (to be delivered
        before the connection is failed).
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.events: list[WebSocketEvent] = []

    def __str__(self) -> str:
        return f"WebSocket protocol error {self.code}: {self.reason}"


@dataclass(frozen=True)
class TextMessage:
    """
    A complete text message.

    :ivar data: the decoded text.
    """

    data: str


@dataclass(frozen=True)
class BytesMessage:
    """
    A complete binary message.

    :ivar data: the payload.
    """

    data: bytes


@dataclass(frozen=True)
class Ping:
    """
    A ping control frame.

    :ivar payload: its application data (at most 125 bytes).
    """

    payload: bytes


@dataclass(frozen=True)
class Pong:
    """
    A pong control frame.

    :ivar payload: its application data (at most 125 bytes).
    """

    payload: bytes


@dataclass(frozen=True)
class CloseFrame:
    """
    A close control frame.

    :ivar code: the status code, ``1005`` when the frame had no payload.
    :ivar reason: the decoded reason text.
    """

    code: int
    reason: str


WebSocketEvent = TextMessage | BytesMessage | Ping | Pong | CloseFrame


@dataclass(frozen=True)
class DeflateParameters:
    """
    The negotiated ``permessage-deflate`` parameters, seen from one side.

    :ivar localNoContextTakeover: reset our compressor after every message.
    :ivar remoteNoContextTakeover: the peer resets its compressor after
        every message (so our decompressor must too).
    :ivar localMaxWindowBits: the window size our compressor may use (9-15).
    :ivar remoteMaxWindowBits: the window size the peer's compressor uses.
    :ivar compressLevel: zlib level for our compressor.
    """

    localNoContextTakeover: bool = False
    remoteNoContextTakeover: bool = False
    localMaxWindowBits: int = 15
    remoteMaxWindowBits: int = 15
    compressLevel: int = 6


def maskPayload(key: bytes, data: bytes) -> bytes:
    """
    XOR ``data`` with the repeated 4-byte masking ``key`` (the operation is
    its own inverse, so it both masks and unmasks).

    :param key: 4 bytes.
    :param data: the payload.
    :return: the masked payload.
    """
    n = len(data)
    if n == 0:
        return b""
    # One big-integer XOR is far faster in CPython than a per-byte loop.
    repeated = (key * ((n >> 2) + 1))[:n]
    return (
        int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")
    ).to_bytes(n, "little")


_TAIL = b"\x00\x00\xff\xff"


class _MaskSource:
    """
    Random masking keys, read from the OS in batches so that every frame a
    client sends does not cost a system call.
    """

    def __init__(self) -> None:
        self._pool = b""
        self._offset = 0

    def next(self) -> bytes:
        if self._offset >= len(self._pool):
            self._pool = os.urandom(4096)
            self._offset = 0
        key = self._pool[self._offset : self._offset + 4]
        self._offset += 4
        return key


_masks = _MaskSource()


class WebSocketCodec:
    """
    The WebSocket framing state machine for one connection.

    :param isClient: ``True`` for the client side (our frames are masked,
        the peer's must not be), ``False`` for the server side.
    :param maxMessageSize: largest message accepted, after decompression;
        a bigger one raises ``WebSocketProtocolError`` with code 1009.
    :param maxFrameSize: largest single frame payload accepted; bigger
        raises 1009 as soon as the frame header arrives.
    :param deflate: the negotiated ``permessage-deflate`` parameters, or
        ``None`` when no extension was negotiated (then any reserved bit is
        a protocol error).
    """

    def __init__(
        self,
        isClient: bool,
        maxMessageSize: int = DEFAULT_MAX_MESSAGE_SIZE,
        maxFrameSize: int = DEFAULT_MAX_FRAME_SIZE,
        deflate: DeflateParameters | None = None,
    ) -> None:
        self.isClient = isClient
        self.maxMessageSize = maxMessageSize
        self.maxFrameSize = maxFrameSize
        self.deflate = deflate
        self._buffer = bytearray()
        self._failed = False
        # State of the data message being reassembled.
        self._messageOpcode: int | None = None
        self._messageCompressed = False
        self._fragments: list[bytes] = []
        self._messageSize = 0
        self._wireSize = 0
        self._textDecoder: codecs.IncrementalDecoder | None = None
        self._textParts: list[str] = []
        self._inflater: zlib._Decompress | None = None
        self._deflater: zlib._Compress | None = None

    # Receiving

    def receiveData(self, data: bytes) -> list[WebSocketEvent]:
        """
        Feed bytes from the peer.

        :param data: whatever arrived, in any split.
        :return: the events completed by these bytes, in order.
        :raises WebSocketProtocolError: if the peer broke the protocol;
            the codec must not be used afterwards.
        """
        if self._failed:
            raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "codec already failed")
        buf = self._buffer
        buf += data
        events: list[WebSocketEvent] = []
        offset = 0
        # The fast path below handles whole, small, unfragmented,
        # uncompressed text and binary frames, the bulk of real traffic.
        expectMask = 0 if self.isClient else 0x80
        smallLimit = min(125, self.maxFrameSize, self.maxMessageSize)
        try:
            while True:
                available = len(buf) - offset
                if available < 2:
                    break
                b0 = buf[offset]
                b1 = buf[offset + 1]
                length = b1 & 0x7F
                if (
                    (b0 == 0x81 or b0 == 0x82)
                    and (b1 & 0x80) == expectMask
                    and length <= smallLimit
                    and self._messageOpcode is None
                ):
                    if expectMask:
                        end = offset + 6 + length
                        if available < 6 + length:
                            break
                        payload = maskPayload(
                            bytes(buf[offset + 2 : offset + 6]),
                            bytes(buf[offset + 6 : end]),
                        )
                    else:
                        end = offset + 2 + length
                        if available < 2 + length:
                            break
                        payload = bytes(buf[offset + 2 : end])
                    offset = end
                    if b0 == 0x82:
                        events.append(BytesMessage(payload))
                    else:
                        try:
                            events.append(TextMessage(payload.decode("utf-8")))
                        except UnicodeDecodeError:
                            raise WebSocketProtocolError(
                                CLOSE_INVALID_PAYLOAD, "text message is not valid UTF-8"
                            ) from None
                    continue
                headerSize = 2
                if length == 126:
                    if available < 4:
                        break
                    length = (buf[offset + 2] << 8) | buf[offset + 3]
                    headerSize = 4
                    if length < 126:
                        raise WebSocketProtocolError(
                            CLOSE_PROTOCOL_ERROR, "non-minimal frame length"
                        )
                elif length == 127:
                    if available < 10:
                        break
                    (length,) = struct.unpack_from("!Q", buf, offset + 2)
                    headerSize = 10
                    if length >> 63:
                        raise WebSocketProtocolError(
                            CLOSE_PROTOCOL_ERROR, "frame length has its top bit set"
                        )
                    if length < 65536:
                        raise WebSocketProtocolError(
                            CLOSE_PROTOCOL_ERROR, "non-minimal frame length"
                        )
                masked = b1 & 0x80
                self._checkHeader(b0, masked, length)
                if masked:
                    headerSize += 4
                if available < headerSize + length:
                    break
                start = offset + headerSize
                payload = bytes(buf[start : start + length])
                if masked:
                    payload = maskPayload(bytes(buf[start - 4 : start]), payload)
                offset = start + length
                event = self._frameReceived(b0, payload)
                if event is not None:
                    events.append(event)
        except WebSocketProtocolError as e:
            self._failed = True
            e.events = events
            raise
        finally:
            if offset:
                del buf[:offset]
        return events

    def _checkHeader(self, b0: int, masked: int, length: int) -> None:
        opcode = b0 & 0x0F
        if b0 & 0x30:
            raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bit set")
        if b0 & 0x40:
            if self.deflate is None:
                raise WebSocketProtocolError(
                    CLOSE_PROTOCOL_ERROR, "RSV1 set without a negotiated extension"
                )
            if opcode not in (OP_TEXT, OP_BINARY):
                raise WebSocketProtocolError(
                    CLOSE_PROTOCOL_ERROR,
                    "RSV1 set on a frame other than a message's first",
                )
        if opcode in _CONTROL_OPCODES:
            if not b0 & 0x80:
                raise WebSocketProtocolError(
                    CLOSE_PROTOCOL_ERROR, "fragmented control frame"
                )
            if length > 125:
                raise WebSocketProtocolError(
                    CLOSE_PROTOCOL_ERROR, "control frame longer than 125 bytes"
                )
        elif opcode not in _DATA_OPCODES:
            raise WebSocketProtocolError(
                CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}"
            )
        if self.isClient:
            if masked:
                raise WebSocketProtocolError(
                    CLOSE_PROTOCOL_ERROR, "the server sent a masked frame"
                )
        elif not masked:
            raise WebSocketProtocolError(
                CLOSE_PROTOCOL_ERROR, "the client sent an unmasked frame"
            )
        if length > self.maxFrameSize:
            raise WebSocketProtocolError(
                CLOSE_MESSAGE_TOO_BIG, f"frame larger than {self.maxFrameSize} bytes"
            )
        if length > self.maxMessageSize - self._wireSize and opcode in _DATA_OPCODES:
            raise WebSocketProtocolError(
                CLOSE_MESSAGE_TOO_BIG,
                f"message larger than {self.maxMessageSize} bytes",
            )

    def _frameReceived(self, b0: int, payload: bytes) -> WebSocketEvent | None:
        opcode = b0 & 0x0F
        fin = b0 & 0x80
        if opcode == OP_PING:
            return Ping(payload)
        if opcode == OP_PONG:
            return Pong(payload)
        if opcode == OP_CLOSE:
            return _parseClose(payload)
        if opcode == OP_CONTINUATION:
            if self._messageOpcode is None:
                raise WebSocketProtocolError(
                    CLOSE_PROTOCOL_ERROR, "continuation frame without a message"
                )
        else:
            if self._messageOpcode is not None:
                raise WebSocketProtocolError(
                    CLOSE_PROTOCOL_ERROR, "new message before the previous one ended"
                )
            if fin and not b0 & 0x40:
                # The common case: a whole uncompressed message in one frame.
                if len(payload) > self.maxMessageSize:
                    raise WebSocketProtocolError(
                        CLOSE_MESSAGE_TOO_BIG,
                        f"message larger than {self.maxMessageSize} bytes",
                    )
                if opcode == OP_BINARY:
                    return BytesMessage(payload)
                try:
                    return TextMessage(payload.decode("utf-8"))
                except UnicodeDecodeError:
                    raise WebSocketProtocolError(
                        CLOSE_INVALID_PAYLOAD, "text message is not valid UTF-8"
                    ) from None
            self._messageOpcode = opcode
            self._messageCompressed = bool(b0 & 0x40)
            self._messageSize = 0
            self._wireSize = 0
            if opcode == OP_TEXT:
                self._textDecoder = codecs.getincrementaldecoder("utf-8")()
                self._textParts = []
        self._wireSize += len(payload)
        if self._messageCompressed:
            payload = self._inflate(payload, bool(fin))
        self._messageSize += len(payload)
        if self._messageSize > self.maxMessageSize:
            raise WebSocketProtocolError(
                CLOSE_MESSAGE_TOO_BIG,
                f"message larger than {self.maxMessageSize} bytes",
            )
        if self._textDecoder is not None:
            # Validate as the fragments arrive, so that an invalid sequence
            # fails the connection at once (RFC 6455 section 8.1).
            try:
                self._textParts.append(self._textDecoder.decode(payload, bool(fin)))
            except UnicodeDecodeError:
                raise WebSocketProtocolError(
                    CLOSE_INVALID_PAYLOAD, "text message is not valid UTF-8"
                ) from None
        else:
            self._fragments.append(payload)
        if not fin:
            return None
        event: WebSocketEvent
        if self._textDecoder is not None:
            event = TextMessage("".join(self._textParts))
            self._textDecoder = None
            self._textParts = []
        else:
            event = BytesMessage(b"".join(self._fragments))
            self._fragments = []
        self._messageOpcode = None
        self._messageSize = 0
        self._wireSize = 0
        return event

    def _inflate(self, payload: bytes, fin: bool) -> bytes:
        assert self.deflate is not None
        if self._inflater is None:
            # A decompressor with the largest window accepts whatever
            # window the peer chose.
            self._inflater = zlib.decompressobj(-15)
        if fin:
            payload += _TAIL
        remaining = self.maxMessageSize - self._messageSize
        try:
            # Bounded output: a compression bomb stops here, at the limit.
            out = self._inflater.decompress(payload, remaining + 1)
        except zlib.error as e:
            raise WebSocketProtocolError(
                CLOSE_INVALID_PAYLOAD, f"invalid compressed data: {e}"
            ) from None
        if len(out) > remaining:
            raise WebSocketProtocolError(
                CLOSE_MESSAGE_TOO_BIG,
                f"message larger than {self.maxMessageSize} bytes",
            )
        if fin and self.deflate.remoteNoContextTakeover:
            self._inflater = None
        return out

    # Sending

    def _frame(self, b0: int, payload: bytes) -> bytes:
        n = len(payload)
        if n < 126:
            header = bytes((b0, n | (0x80 if self.isClient else 0)))
        elif n < 65536:
            header = struct.pack("!BBH", b0, 126 | (0x80 if self.isClient else 0), n)
        else:
            header = struct.pack("!BBQ", b0, 127 | (0x80 if self.isClient else 0), n)
        if self.isClient:
            key = _masks.next()
            return header + key + maskPayload(key, payload)
        return header + payload

    def _compress(self, payload: bytes) -> bytes:
        assert self.deflate is not None
        if self._deflater is None:
            self._deflater = zlib.compressobj(
                self.deflate.compressLevel,
                zlib.DEFLATED,
                -self.deflate.localMaxWindowBits,
            )
        out = self._deflater.compress(payload) + self._deflater.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(_TAIL):
            out = out[:-4]
        if self.deflate.localNoContextTakeover:
            self._deflater = None
        return out

    def buildMessage(self, data: bytes, isText: bool) -> bytes:
        """
        Encode one whole message as a single frame (compressed when
        ``permessage-deflate`` was negotiated).

        :param data: the payload (UTF-8 encoded text when ``isText``).
        :param isText: send a text message rather than a binary one.
        :return: the frame's bytes.
        """
        b0 = 0x80 | (OP_TEXT if isText else OP_BINARY)
        if self.deflate is not None:
            data = self._compress(data)
            b0 |= 0x40
        return self._frame(b0, data)

    def buildFragments(self, chunks: list[bytes], isText: bool) -> bytes:
        """
        Encode one message as several frames, one per chunk (uncompressed).

        :param chunks: the payload split into fragments (at least one).
        :param isText: send a text message rather than a binary one.
        :return: the frames' bytes.
        """
        out = []
        last = len(chunks) - 1
        for i, chunk in enumerate(chunks):
            opcode = (OP_TEXT if isText else OP_BINARY) if i == 0 else OP_CONTINUATION
            out.append(self._frame(opcode | (0x80 if i == last else 0), chunk))
        return b"".join(out)

    def buildPing(self, payload: bytes = b"") -> bytes:
        """
        :param payload: at most 125 bytes.
        :return: a ping frame.
        :raises ValueError: if ``payload`` is longer than 125 bytes.
        """
        _checkControl(payload)
        return self._frame(0x80 | OP_PING, payload)

    def buildPong(self, payload: bytes = b"") -> bytes:
        """
        :param payload: at most 125 bytes.
        :return: a pong frame.
        :raises ValueError: if ``payload`` is longer than 125 bytes.
        """
        _checkControl(payload)
        return self._frame(0x80 | OP_PONG, payload)

    def buildClose(self, code: int | None = CLOSE_NORMAL, reason: str = "") -> bytes:
        """
        :param code: the status code, or ``None`` (or 1005) for a close frame
            without a payload.
        :param reason: the reason text; with the code, at most 125 bytes of
            UTF-8 (a longer one is truncated at a character boundary).
        :return: a close frame.
        :raises ValueError: if ``code`` may not be sent.
        """
        if code is None or code == CLOSE_NO_STATUS:
            return self._frame(0x80 | OP_CLOSE, b"")
        if not isValidCloseCode(code):
            raise ValueError(f"{code} is not a close code that may be sent")
        encoded = reason.encode("utf-8")
        if len(encoded) > 123:
            encoded = encoded[:123].decode("utf-8", "ignore").encode("utf-8")
        return self._frame(0x80 | OP_CLOSE, struct.pack("!H", code) + encoded)


def _checkControl(payload: bytes) -> None:
    if len(payload) > 125:
        raise ValueError("control frame payloads are at most 125 bytes")


def _parseClose(payload: bytes) -> CloseFrame:
    if not payload:
        return CloseFrame(CLOSE_NO_STATUS, "")
    if len(payload) == 1:
        raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "one-byte close payload")
    (code,) = struct.unpack_from("!H", payload)
    if not isValidCloseCode(code):
        raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise WebSocketProtocolError(
            CLOSE_INVALID_PAYLOAD, "close reason is not valid UTF-8"
        ) from None
    return CloseFrame(code, reason)
