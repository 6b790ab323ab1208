"""
HTTP/2 over real loopback sockets with real clients: curl (prior knowledge,
ALPN over TLS) and h2load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from peerhelpers import chromiumCommand
from webhelpers import requireCommand, runPeer

from torsion.internet.protocol import Factory
from torsion.web import resource, server
from torsion.web._http2 import H2Connection

ssl = pytest.importorskip("torsion.internet.ssl", reason="needs torsion-core[tls]")


class Request:
    """
    A tiny request, answering with what it saw; the server-level tests in
    ``test_http2_site`` use the real ``Site``.
    """

    def __init__(self, channel: Any) -> None:
        from torsion.web.http_headers import Headers

        self.channel = channel
        self.requestHeaders = Headers()
        self.body = b""

    def gotLength(self, length: int | None) -> None:
        pass

    def handleContentChunk(self, data: bytes) -> None:
        self.body += data

    def requestReceived(self, method: bytes, uri: bytes, version: bytes) -> None:
        secure = b"secure" if self.channel.isSecure() else b"plain"
        body = b"%s %s %s %s %s\n" % (method, uri, version, secure, self.body)
        self.channel.writeHeaders(
            version, 200, b"OK", [(b"Content-Length", b"%d" % len(body))]
        )
        self.channel.write(body)
        self.channel.requestDone(self)

    def connectionLost(self, reason: Any) -> None:
        pass


class H2OnlyFactory(Factory):
    """
    A listener that speaks nothing but HTTP/2.
    """

    requestFactory = Request
    maxRequestBody = 1024 * 1024
    timeOut = 60.0

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    def buildProtocol(self, addr: Any) -> H2Connection:
        return H2Connection(self, self.reactor)


async def test_curlPriorKnowledge(reactor: Any) -> None:
    curl = requireCommand("curl")
    port = reactor.listenTCP(0, H2OnlyFactory(reactor), interface="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/pk?q=1"
        result = await runPeer(
            [
                curl,
                "-sS",
                "--http2-prior-knowledge",
                "-d",
                "hello",
                "-w",
                "%{http_version}",
                url,
            ]
        )
    finally:
        await port.stopListening()
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"POST /pk?q=1 HTTP/2 plain hello\n2"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    directory: Path = tmp_path_factory.mktemp("h2pki")
    ca = ssl.KeyPair.generate("ec").selfSignedCert(1, isCA=True, commonName="H2 CA")
    server = ca.issue("localhost", hostnames=["localhost", "127.0.0.1"])
    caFile = directory / "ca.pem"
    caFile.write_bytes(ca.dump(ssl.FILETYPE_PEM))
    return server, str(caFile)


async def test_curlALPN(reactor: Any, pki: tuple[Any, str]) -> None:
    """
    ``curl --http2`` over TLS negotiates h2 with ALPN; the request sees a
    secure connection.
    """
    curl = requireCommand("curl")
    server, caFile = pki
    options = ssl.CertificateOptions(
        privateKey=server.privateKey,
        certificate=server,
        acceptableProtocols=[b"h2", b"http/1.1"],
    )
    port = reactor.listenSSL(0, H2OnlyFactory(reactor), options, interface="127.0.0.1")
    try:
        url = f"https://127.0.0.1:{port.getHost().port}/tls"
        result = await runPeer(
            [curl, "-sS", "--http2", "--cacert", caFile, "-w", "%{http_version}", url]
        )
    finally:
        await port.stopListening()
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"GET /tls HTTP/2 secure \n2"


class Proto(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/plain")
        secure = b"secure" if request.isSecure() else b"plain"
        return b"%s %s %s\n" % (request.clientproto, request.uri, secure)

    def render_POST(self, request: Any) -> bytes:
        body: bytes = request.content.read()
        return b"got " + body + b"\n"


def tlsOptions(pki: tuple[Any, str]) -> Any:
    server, _ = pki
    return ssl.CertificateOptions(
        privateKey=server.privateKey,
        certificate=server,
        acceptableProtocols=[b"h2", b"http/1.1"],
    )


async def test_site_curlPriorKnowledge(reactor: Any) -> None:
    """
    A plain ``Site`` on TCP serves ``curl --http2-prior-knowledge``.
    """
    curl = requireCommand("curl")
    port = reactor.listenTCP(0, server.Site(Proto()), interface="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/pk?x=1"
        # One URL per curl: curl 7.88 fails to reuse a prior-knowledge
        # connection ("Error in the HTTP2 framing layer"), against nghttpd
        # just the same.
        posted = await runPeer(
            [curl, "-sS", "--http2-prior-knowledge", "-d", "body", url]
        )
        got = await runPeer([curl, "-sS", "--http2-prior-knowledge", url])
    finally:
        await port.stopListening()
    assert posted.returncode == 0, posted.stderr
    assert posted.stdout == b"got body\n"
    assert got.returncode == 0, got.stderr
    assert got.stdout == b"HTTP/2 /pk?x=1 plain\n"


async def _h2loadAll(h2load: str, port: Any, scheme: str, protocol: str) -> None:
    """
    Run h2load's 1000 requests (4 connections, 10 streams each at a time)
    against ``port``, then stop listening; all must succeed with 2xx over
    ``protocol``.
    """
    try:
        url = f"{scheme}://127.0.0.1:{port.getHost().port}/load"
        result = await runPeer([h2load, "-n", "1000", "-c", "4", "-m", "10", url])
    finally:
        await port.stopListening()
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert f"Application protocol: {protocol}\n" in out, out
    assert "1000 succeeded" in out, out
    assert "status codes: 1000 2xx" in out, out


async def test_site_h2loadCleartext(reactor: Any) -> None:
    """
    h2load (prior knowledge on ``http://``): 1000 requests, 4 connections,
    10 streams each at a time, against a plain ``Site``: all 2xx.
    """
    h2load = requireCommand("h2load", "nghttp2-client")
    port = reactor.listenTCP(0, server.Site(Proto()), interface="127.0.0.1")
    await _h2loadAll(h2load, port, "http", "h2c")


async def test_site_curlH2cUpgrade(reactor: Any) -> None:
    """
    ``curl --http2`` on an ``http://`` URL asks for the h2c upgrade; a
    ``Site`` answers 101 and serves the request over HTTP/2.
    """
    curl = requireCommand("curl")
    port = reactor.listenTCP(0, server.Site(Proto()), interface="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/up"
        result = await runPeer([curl, "-sS", "-v", "--http2", url, url])
    finally:
        await port.stopListening()
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"HTTP/2 /up plain\n" * 2, result.stderr
    assert b"101 Switching Protocols" in result.stderr


async def test_site_curlALPN(reactor: Any, pki: tuple[Any, str]) -> None:
    """
    A ``Site`` behind ``listenSSL`` with ``acceptableProtocols=[b"h2",
    b"http/1.1"]`` speaks HTTP/2 to ``curl --http2`` and HTTP/1.1 to
    ``curl --http1.1`` on the same port.
    """
    curl = requireCommand("curl")
    _, caFile = pki
    site = server.Site(Proto())
    port = reactor.listenSSL(0, site, tlsOptions(pki), interface="127.0.0.1")
    try:
        url = f"https://127.0.0.1:{port.getHost().port}/tls"
        two = await runPeer(
            [
                curl,
                "-sS",
                "--http2",
                "--cacert",
                caFile,
                "-d",
                "abc",
                url,
                "--next",
                "--http2",
                "--cacert",
                caFile,
                url,
            ]
        )
        one = await runPeer([curl, "-sS", "--http1.1", "--cacert", caFile, url])
    finally:
        await port.stopListening()
    assert two.returncode == 0, two.stderr
    assert two.stdout == b"got abc\nHTTP/2 /tls secure\n"
    assert one.returncode == 0, one.stderr
    assert one.stdout == b"HTTP/1.1 /tls secure\n"


async def test_site_h2load(reactor: Any, pki: tuple[Any, str]) -> None:
    """
    h2load's 1000 requests (4 connections, 10 streams each at a time)
    against a ``Site`` over TLS all succeed with 2xx.
    """
    h2load = requireCommand("h2load", "nghttp2-client")
    port = reactor.listenSSL(
        0, server.Site(Proto()), tlsOptions(pki), interface="127.0.0.1"
    )
    await _h2loadAll(h2load, port, "https", "h2")


async def test_site_staticFileOverH2(
    reactor: Any, pki: tuple[Any, str], tmp_path: Path
) -> None:
    """
    A 3 MiB file from ``static.File`` (a pull producer) reaches curl whole
    over HTTP/2, through many flow-control windows; a range request works
    too.
    """
    import hashlib

    from torsion.web import static

    curl = requireCommand("curl")
    _, caFile = pki
    data = os.urandom(3 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(data)
    site = server.Site(static.File(str(tmp_path)))
    port = reactor.listenSSL(0, site, tlsOptions(pki), interface="127.0.0.1")
    out = tmp_path / "out.bin"
    try:
        url = f"https://127.0.0.1:{port.getHost().port}/big.bin"
        whole = await runPeer(
            [
                curl,
                "-sS",
                "--http2",
                "--cacert",
                caFile,
                "-o",
                str(out),
                "-w",
                "%{http_version} %{http_code}",
                url,
            ]
        )
        part = await runPeer(
            [curl, "-sS", "--http2", "--cacert", caFile, "-r", "100-199", url]
        )
    finally:
        await port.stopListening()
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout == b"2 200"
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert part.stdout == data[100:200]


async def test_site_chromiumALPN(
    reactor: Any, pki: tuple[Any, str], tmp_path: Path
) -> None:
    """
    Headless Chromium negotiates h2 with a ``Site`` over TLS and renders
    the page it was served over HTTP/2.
    """
    chromium = requireCommand("chromium")
    site = server.Site(Proto())
    port = reactor.listenSSL(0, site, tlsOptions(pki), interface="127.0.0.1")
    try:
        url = f"https://127.0.0.1:{port.getHost().port}/browser"
        result = await runPeer(
            chromiumCommand(
                chromium,
                tmp_path / "profile",
                # The test CA is not in Chromium's store; the TLS handshake
                # and ALPN still happen as usual.
                "--ignore-certificate-errors",
                "--dump-dom",
                url,
            ),
            timeout=60,
        )
    finally:
        await port.stopListening()
    assert b"HTTP/2 /browser secure" in result.stdout, result.stderr[-2000:]
