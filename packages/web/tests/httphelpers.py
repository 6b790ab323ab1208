"""
Helpers for the ``torsion.web.http`` tests: a channel over a memory
transport and clock, a tiny request class, and a response reader built on
the shared parser.
"""

from __future__ import annotations

from typing import Any

from torsion.internet.testing import MemoryReactorClock, StringTransport
from torsion.web import _parser, http


class EchoRequest(http.Request):
    """
    Answers with ``method path body`` and a Content-Length; ``/chunked``
    answers without a length; ``/hold`` waits for the test to finish it.
    """

    held: list[EchoRequest] = []

    def process(self) -> None:
        assert self.content is not None
        body = b"%s %s %s" % (self.method, self.path, self.content.read())
        if self.path == b"/hold":
            EchoRequest.held.append(self)
            return
        if self.path != b"/chunked":
            self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()


def makeChannel(
    requestFactory: Any = EchoRequest,
    transport: StringTransport | None = None,
    **kwargs: Any,
) -> tuple[http.HTTPChannel, StringTransport, MemoryReactorClock]:
    """
    :return: a connected channel built by an ``HTTPFactory`` with
        ``kwargs``, its transport and clock.
    """
    EchoRequest.held = []
    clock = MemoryReactorClock()
    factory = http.HTTPFactory(reactor=clock, **kwargs)
    factory.requestFactory = requestFactory
    factory.log = lambda request: None  # type: ignore[method-assign]
    channel = factory.buildProtocol(None)
    if transport is None:
        transport = StringTransport()
    channel.makeConnection(transport)
    return channel, transport, clock


def readResponses(
    data: bytes, methods: list[bytes] | None = None
) -> list[tuple[_parser.ResponseHead, bytes]]:
    """
    Parse every complete response in ``data``.

    :param methods: the request methods, in order (GET by default).
    """
    responses = []
    index = 0
    while data:
        result = _parser.parseResponseHead(data)
        if result is None:
            break
        head, end = result
        data = data[end:]
        if head.status < 200 and head.status != 101:
            continue
        method = methods[index] if methods and index < len(methods) else b"GET"
        index += 1
        length = _parser.responseBodyLength(head, method)
        decoder = _parser.bodyDecoder(length)
        body, data = decoder.feed(data)
        if isinstance(decoder, _parser.UntilCloseDecoder):
            data = b""
        responses.append((head, body))
    return responses


def header(head: _parser.ResponseHead, name: bytes) -> bytes | None:
    """
    :return: the last value of ``name`` in ``head``.
    """
    values = [v for n, v in head.fields if n == name]
    return values[-1] if values else None


def feedWays(data: bytes) -> list[list[bytes]]:
    """
    The ways a test feeds ``data``: whole, a byte at a time, and split at
    every position when short.
    """
    ways = [[data], [data[i : i + 1] for i in range(len(data))]]
    if len(data) <= 200:
        ways.extend([data[:i], data[i:]] for i in range(1, len(data)))
    return ways


def assertLingeringClose(
    channel: http.HTTPChannel, transport: StringTransport, clock: MemoryReactorClock
) -> None:
    """
    The channel refused a body (413) or answered before reading it: it shut
    down its writing side at once, keeps reading (and dropping) what the
    client still sends, and closes the connection ``lingerTimeout`` seconds
    later.
    """
    assert transport.writeDisconnected
    assert not transport.disconnecting
    channel.dataReceived(b"more of the refused body")
    assert channel.lingerTimeout is not None
    clock.advance(channel.lingerTimeout)
    assert transport.disconnecting
