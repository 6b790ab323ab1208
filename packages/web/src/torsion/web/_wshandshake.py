"""
Pure helpers for the WebSocket opening handshake (RFC 6455 section 4) and
the ``permessage-deflate`` negotiation (RFC 7692 section 7): no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass

from torsion.web import _parser
from torsion.web._wscodec import DeflateParameters

__all__ = [
    "DeflateOptions",
    "HandshakeError",
    "ResponseHead",
    "ResponseHeadParser",
    "acceptFor",
    "clientAcceptDeflate",
    "clientOffer",
    "isValidKey",
    "newKey",
    "parseExtensions",
    "parseTokens",
    "serverAcceptDeflate",
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class HandshakeError(Exception):
    """
    The opening handshake failed: the server answered something other than
    a valid ``101 Switching Protocols`` for this request, or its response
    head was malformed.
    """


def newKey() -> bytes:
    """
    :return: a fresh random ``Sec-WebSocket-Key`` (16 random bytes, base64).
    """
    return base64.b64encode(os.urandom(16))


def acceptFor(key: bytes) -> bytes:
    """
    :param key: the ``Sec-WebSocket-Key`` value sent by the client.
    :return: the matching ``Sec-WebSocket-Accept`` value.
    """
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def isValidKey(key: bytes) -> bool:
    """
    :param key: a ``Sec-WebSocket-Key`` value.
    :return: whether it is base64 for exactly 16 bytes.
    """
    if len(key) != 24:
        return False
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def parseTokens(values: list[bytes] | None) -> list[bytes]:
    """
    Split comma-separated header values into their trimmed, non-empty
    elements.

    :param values: the raw values of every field line of one header.
    :return: the elements, in order.
    """
    out: list[bytes] = []
    for value in values or ():
        for item in value.split(b","):
            item = item.strip(b" \t")
            if item:
                out.append(item)
    return out


def parseExtensions(
    values: list[bytes] | None,
) -> list[tuple[bytes, dict[bytes, bytes | None]]]:
    """
    Parse ``Sec-WebSocket-Extensions`` header values.

    :param values: the raw header values.
    :return: ``(name, {parameter: value or None})`` for each offered
        extension, in order; names and parameter names lowercased.
    :raises HandshakeError: on a malformed element (a name or parameter that
        is not a token, a duplicated parameter).
    """
    out: list[tuple[bytes, dict[bytes, bytes | None]]] = []
    for element in parseTokens(values):
        parts = [p.strip(b" \t") for p in element.split(b";")]
        name = parts[0].lower()
        if not _TOKEN.match(name):
            raise HandshakeError(f"malformed extension {element!r}")
        params: dict[bytes, bytes | None] = {}
        for part in parts[1:]:
            if not part:
                continue
            key, eq, value = part.partition(b"=")
            key = key.strip(b" \t").lower()
            if not _TOKEN.match(key) or key in params:
                raise HandshakeError(f"malformed extension parameter {part!r}")
            if eq:
                value = value.strip(b" \t")
                if value.startswith(b'"') and value.endswith(b'"') and len(value) >= 2:
                    value = value[1:-1]
                if not _TOKEN.match(value):
                    raise HandshakeError(f"malformed extension parameter {part!r}")
                params[key] = value
            else:
                params[key] = None
        out.append((name, params))
    return out


@dataclass(frozen=True)
class DeflateOptions:
    """
    Local policy for ``permessage-deflate``.

    :ivar serverNoContextTakeover: ask (client) or decide (server) that the
        server resets its compressor after each message: less memory, less
        compression.
    :ivar clientNoContextTakeover: the same for the client's compressor.
    :ivar serverMaxWindowBits: the largest window the server's compressor
        uses (9-15).
    :ivar clientMaxWindowBits: the largest window the client's compressor
        uses (9-15).
    :ivar compressLevel: zlib compression level (0-9).
    """

    serverNoContextTakeover: bool = False
    clientNoContextTakeover: bool = False
    serverMaxWindowBits: int = 15
    clientMaxWindowBits: int = 15
    compressLevel: int = 6


def _windowBits(value: bytes | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 2:
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


def serverAcceptDeflate(
    offers: list[tuple[bytes, dict[bytes, bytes | None]]], options: DeflateOptions
) -> tuple[bytes, DeflateParameters] | None:
    """
    Choose the first acceptable ``permessage-deflate`` offer.

    :param offers: the client's parsed extension offers.
    :param options: the server's policy.
    :return: the ``Sec-WebSocket-Extensions`` response value and the
        server-side parameters, or ``None`` to decline the extension.
    """
    for name, params in offers:
        if name != b"permessage-deflate":
            continue
        if set(params) - {
            b"server_no_context_takeover",
            b"client_no_context_takeover",
            b"server_max_window_bits",
            b"client_max_window_bits",
        }:
            continue
        response = [b"permessage-deflate"]
        serverNoContext = options.serverNoContextTakeover
        if b"server_no_context_takeover" in params:
            if params[b"server_no_context_takeover"] is not None:
                continue
            serverNoContext = True
        if serverNoContext:
            response.append(b"server_no_context_takeover")
        clientNoContext = options.clientNoContextTakeover
        if (
            b"client_no_context_takeover" in params
            and params[b"client_no_context_takeover"] is not None
        ):
            continue
        if clientNoContext:
            response.append(b"client_no_context_takeover")
        serverBits = options.serverMaxWindowBits
        if b"server_max_window_bits" in params:
            asked = _windowBits(params[b"server_max_window_bits"])
            if asked is None:
                continue
            serverBits = min(serverBits, asked)
        if serverBits == 8:
            # zlib cannot compress with a 256-byte window: decline rather
            # than send back-references the peer could not follow.
            continue
        if serverBits != 15 or b"server_max_window_bits" in params:
            response.append(b"server_max_window_bits=%d" % serverBits)
        if b"client_max_window_bits" in params:
            value = params[b"client_max_window_bits"]
            if value is not None and _windowBits(value) is None:
                continue
            clientBits = options.clientMaxWindowBits
            if value is not None:
                clientBits = min(clientBits, int(value))
            if clientBits != 15:
                response.append(b"client_max_window_bits=%d" % clientBits)
        elif options.clientMaxWindowBits != 15:
            # The client did not say it can limit its window: accept its
            # default, our decompressor copes with any window anyway.
            pass
        return b"; ".join(response), DeflateParameters(
            localNoContextTakeover=serverNoContext,
            remoteNoContextTakeover=clientNoContext,
            localMaxWindowBits=serverBits,
            remoteMaxWindowBits=15,
            compressLevel=options.compressLevel,
        )
    return None


def clientOffer(options: DeflateOptions) -> bytes:
    """
    :param options: the client's policy.
    :return: the ``Sec-WebSocket-Extensions`` value offering
        ``permessage-deflate``.
    """
    parts = [b"permessage-deflate"]
    if options.serverNoContextTakeover:
        parts.append(b"server_no_context_takeover")
    if options.clientNoContextTakeover:
        parts.append(b"client_no_context_takeover")
    if options.serverMaxWindowBits != 15:
        parts.append(b"server_max_window_bits=%d" % options.serverMaxWindowBits)
    parts.append(b"client_max_window_bits")
    return b"; ".join(parts)


def clientAcceptDeflate(
    values: list[bytes] | None, options: DeflateOptions | None
) -> DeflateParameters | None:
    """
    Check the server's ``Sec-WebSocket-Extensions`` answer.

    :param values: the raw response header values.
    :param options: what the client offered (``None``: nothing offered).
    :return: the client-side parameters, or ``None`` when the server
        declined.
    :raises HandshakeError: if the server accepted something not offered or
        with parameters that break the offer.
    """
    accepted = parseExtensions(values)
    if not accepted:
        return None
    if options is None or len(accepted) != 1 or accepted[0][0] != b"permessage-deflate":
        raise HandshakeError(f"server accepted extensions not offered: {values!r}")
    params = accepted[0][1]
    allowed = {
        b"server_no_context_takeover",
        b"client_no_context_takeover",
        b"server_max_window_bits",
        b"client_max_window_bits",
    }
    if set(params) - allowed:
        raise HandshakeError(f"unknown permessage-deflate parameters: {values!r}")
    for flag in (b"server_no_context_takeover", b"client_no_context_takeover"):
        if flag in params and params[flag] is not None:
            raise HandshakeError(f"{flag.decode()} takes no value")
    serverBits = 15
    if b"server_max_window_bits" in params:
        bits = _windowBits(params[b"server_max_window_bits"])
        if bits is None or bits > options.serverMaxWindowBits:
            raise HandshakeError("invalid server_max_window_bits in the answer")
        serverBits = bits
    elif options.serverMaxWindowBits != 15:
        raise HandshakeError("server ignored the server_max_window_bits asked for")
    clientBits = min(15, options.clientMaxWindowBits)
    if b"client_max_window_bits" in params:
        bits = _windowBits(params[b"client_max_window_bits"])
        if bits is None:
            raise HandshakeError("invalid client_max_window_bits in the answer")
        clientBits = min(clientBits, bits)
    if clientBits == 8:
        raise HandshakeError("a client_max_window_bits of 8 is not supported")
    if options.serverNoContextTakeover and b"server_no_context_takeover" not in params:
        raise HandshakeError("server ignored server_no_context_takeover")
    return DeflateParameters(
        localNoContextTakeover=options.clientNoContextTakeover
        or b"client_no_context_takeover" in params,
        remoteNoContextTakeover=b"server_no_context_takeover" in params,
        localMaxWindowBits=clientBits,
        remoteMaxWindowBits=serverBits,
        compressLevel=options.compressLevel,
    )


@dataclass
class ResponseHead:
    """
    A parsed HTTP response head.

    :ivar version: e.g. ``b"HTTP/1.1"``.
    :ivar code: the status code.
    :ivar phrase: the reason phrase.
    :ivar headers: ``(lowercased name, value)`` pairs in order.
    """

    version: bytes
    code: int
    phrase: bytes
    headers: list[tuple[bytes, bytes]]

    def get(self, name: bytes) -> list[bytes] | None:
        """
        :param name: a lowercase header name.
        :return: every value of that header, or ``None`` when absent.
        """
        values = [v for n, v in self.headers if n == name]
        return values or None


class ResponseHeadParser:
    """
    Read an HTTP/1.1 response head (status line and headers) from a byte
    stream, bounded in size and header count.

    :param maxSize: the largest head accepted (bytes).
    :param maxHeaders: the most header lines accepted.
    """

    def __init__(self, maxSize: int = 16384, maxHeaders: int = 500) -> None:
        self.maxSize = maxSize
        self.maxHeaders = maxHeaders
        self._limits = _parser.ParserLimits(maxHeadSize=maxSize, maxFields=maxHeaders)
        self._buffer = b""

    def feed(self, data: bytes) -> tuple[ResponseHead, bytes] | None:
        """
        :param data: bytes received.
        :return: ``None`` while the head is incomplete, then the head and
            the bytes that followed it.
        :raises HandshakeError: if the head is malformed or too big.
        """
        self._buffer += data
        try:
            parsed = _parser.parseResponseHead(self._buffer, self._limits)
        except _parser.HTTPParseError as e:
            raise HandshakeError(f"malformed response head: {e}") from e
        if parsed is None:
            return None
        head, end = parsed
        major, minor = head.version
        return (
            ResponseHead(
                b"HTTP/%d.%d" % (major, minor),
                head.status,
                head.reason,
                list(head.fields),
            ),
            self._buffer[end:],
        )
