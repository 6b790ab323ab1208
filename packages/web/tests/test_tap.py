"""
Tests for the ``web`` plugin's options (``torsion.web.tap.Options``) and
for what ``makeService`` builds from them, without running the command
(``test_tap_command`` runs it).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet.address import IPv4Address, UNIXAddress
from torsion.internet.testing import MemoryReactorClock
from torsion.python import usage
from torsion.web import tap
from torsion.web.iweb import IResource
from torsion.web.testing import DummyRequest


def parse(*args: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(args))
    return options


def test_serviceMaker() -> None:
    """
    The plugin is found by the ``torsion`` command under the name ``web``.
    """
    from torsion.plugins import serviceMakers

    maker = serviceMakers()["web"]
    assert maker.tapname == "web"
    assert isinstance(maker.options(), tap.Options)


def test_defaults(tmp_path: Path) -> None:
    """
    Without ``--listen`` it listens on ``tcp:8080``; no headers, no extra
    index names, tracebacks hidden.
    """
    options = parse("--path", str(tmp_path))
    assert options["listen"] == [tap.DEFAULT_LISTEN] == ["tcp:8080"]
    assert options["path"] == str(tmp_path)
    assert options["headers"] == []
    assert options["index"] == []
    assert options["ignore-ext"] == []
    assert not options["display-tracebacks"]
    assert options["https-port"] == tap.DEFAULT_HTTPS_PORT == 8443
    assert options["max-request-body"] is None


def test_repeatedOptions(tmp_path: Path) -> None:
    """
    ``--listen``, ``--index``, ``--ignore-ext`` and ``--add-header`` may be
    repeated; extensions get their dot.
    """
    options = parse(
        "--listen",
        "tcp:0",
        "--listen",
        "unix:/tmp/x.sock",
        "--path",
        str(tmp_path),
        "--index",
        "home.html",
        "--index",
        "index.txt",
        "--ignore-ext",
        "html",
        "--ignore-ext",
        ".htm",
        "--add-header",
        "X-One: 1",
        "--add-header",
        "Strict-Transport-Security:max-age=60",
    )
    assert options["listen"] == ["tcp:0", "unix:/tmp/x.sock"]
    assert options["index"] == ["home.html", "index.txt"]
    assert options["ignore-ext"] == [".html", ".htm"]
    assert options["headers"] == [
        ("X-One", "1"),
        ("Strict-Transport-Security", "max-age=60"),
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("--ignore-ext",),
        ("--ignore-ext", "--display-tracebacks"),
    ],
)
def test_ignoreExtAlone(tmp_path: Path, args: tuple[str, ...]) -> None:
    """
    ``--ignore-ext`` without a value means any extension.
    """
    options = parse("--path", str(tmp_path), *args)
    assert options["ignore-ext"] == ["*"]


def test_relativePath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    ``--path`` is made absolute (the process may change directory later).
    """
    (tmp_path / "www").mkdir()
    monkeypatch.chdir(tmp_path)
    assert parse("--path", "www")["path"] == str(tmp_path / "www")


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "Give what to serve"),
        (("--wsgi", "a.b", "--class", "c.D"), "Give only one of"),
        (("--path", "/no/such/dir"), "no such directory"),
        (("--wsgi", "a.b", "--index", "x"), "only apply to --path"),
        (("--wsgi", "a.b", "--allow-cgi"), "only apply to --path"),
        (("--wsgi", "a.b", "--add-header", "NoColon"), "Name: value"),
        (("--wsgi", "a.b", "--add-header", "Bad Name: v"), "Name: value"),
        (("--wsgi", "a.b", "--https", "/no/such.pem"), "no such file"),
        (("--wsgi", "a.b", "--https-port", "70000"), "port"),
        (("--wsgi", "a.b", "--max-request-body", "-1"), "negative"),
        (("--wsgi", "a.b", "--max-request-body", "lots"), "max-request-body"),
        (("--wsgi", "a.b", "--no-such-option"), "no-such-option"),
        (("--wsgi", "a.b", "extra"), "arguments"),
    ],
)
def test_usageErrors(args: tuple[str, ...], message: str) -> None:
    """
    Wrong or conflicting options are ``UsageError``s naming the problem.
    """
    with pytest.raises(usage.UsageError) as raised:
        parse(*args)
    assert message in str(raised.value)


def test_httpsConflictsWithSelfSigned(tmp_path: Path) -> None:
    """
    ``--https`` and ``--self-signed`` cannot be combined.
    """
    pem = tmp_path / "server.pem"
    pem.write_text("x")
    with pytest.raises(usage.UsageError, match="not both"):
        parse("--path", str(tmp_path), "--https", str(pem), "--self-signed")


def test_selfSignedNeedsTLS(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Without the TLS extra, ``--self-signed`` names the package to install.
    """
    import sys

    monkeypatch.setitem(sys.modules, "torsion.internet.ssl", None)
    with pytest.raises(usage.UsageError, match=r"torsion-web\[tls\]"):
        parse("--path", str(tmp_path), "--self-signed")


def test_headerAdder() -> None:
    """
    ``--add-header`` wraps the root resource: every response through it,
    rendered or traversed, gets the headers; the wrapper is an
    ``IResource`` with the wrapped one's ``isLeaf``.
    """
    from torsion.web.resource import Resource

    class Leaf(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            return b"leaf"

    root = Resource()
    root.putChild(b"leaf", Leaf())
    wrapped = tap._HeaderAdder(root, [("X-Frame-Options", "DENY"), ("X-A", "1")])
    assert verifyObject(IResource, wrapped)
    assert wrapped.isLeaf is False
    request = DummyRequest([b"leaf"])
    child = wrapped.getChildWithDefault(b"leaf", request)
    assert child.render(request) == b"leaf"
    assert request.responseHeaders.getRawHeaders(b"x-frame-options") == [b"DENY"]
    assert request.responseHeaders.getRawHeaders(b"x-a") == [b"1"]
    leafOnly = tap._HeaderAdder(Leaf(), [("X-B", "2")])
    assert leafOnly.isLeaf is True
    request = DummyRequest([])
    assert leafOnly.render(request) == b"leaf"
    assert request.responseHeaders.getRawHeaders(b"x-b") == [b"2"]


def test_urls() -> None:
    """
    Announced URLs name a reachable host: the wildcard addresses become
    loopback ones; Unix sockets have no port.
    """
    assert tap._urlFor("http", IPv4Address("TCP", "0.0.0.0", 8080)) == (
        "http://127.0.0.1:8080/"
    )
    assert tap._urlFor("https", IPv4Address("TCP", "10.1.2.3", 443)) == (
        "https://10.1.2.3:443/"
    )
    assert tap._urlFor("http", IPv4Address("TCP", "::", 80)) == "http://[::1]:80/"
    assert tap._urlFor("http", UNIXAddress("/tmp/s")) == "http://localhost/"


def test_makeServiceListeners(tmp_path: Path) -> None:
    """
    ``makeService`` makes one listener per ``--listen``, plus one for
    ``--self-signed`` on ``--https-port``; it prints the certificate's
    path and fingerprint, and removes it when stopped.
    """
    reactor = MemoryReactorClock()
    options = parse(
        "--path",
        str(tmp_path),
        "--listen",
        "tcp:0",
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--self-signed",
        "--https-port",
        "0",
    )
    out = io.StringIO()
    web = tap.makeService(options, reactor=reactor, out=out)
    assert [listener.scheme for listener in web.listeners] == ["http", "http", "https"]
    printed = out.getvalue()
    assert "SHA-256 fingerprint: " in printed
    certificate = printed.split("Self-signed certificate for localhost: ")[1].split()[0]
    assert os.path.exists(certificate)
    web.startService()
    assert len(reactor.tcpServers) == 2
    assert len(reactor.sslServers) == 1
    assert "Serving http://127.0.0.1:" in out.getvalue()
    web.stopService()
    assert not os.path.exists(certificate)


def test_sslListenOffersHTTP2(tmp_path: Path) -> None:
    """
    ``--listen ssl:...`` endpoints offer ``h2`` and ``http/1.1`` through
    ALPN when HTTP/2 support is installed, as ``--https`` does; the service
    is an ``IService``.
    """
    from torsion.application.service import IService
    from torsion.internet import ssl

    pem = tmp_path / "server.pem"
    pem.write_bytes(ssl.generateSelfSigned(("localhost",)).dumpPEM())
    reactor = MemoryReactorClock()
    options = parse(
        "--path",
        str(tmp_path),
        "--listen",
        f"ssl:0:privateKey={pem}",
        "--https",
        str(pem),
        "--https-port",
        "0",
    )
    web = tap.makeService(options, reactor=reactor, out=io.StringIO())
    assert verifyObject(IService, web)
    assert [listener.scheme for listener in web.listeners] == ["https", "https"]
    web.startService()
    assert len(reactor.sslServers) == 2
    for _, _, contextFactory, _, _ in reactor.sslServers:
        assert contextFactory.acceptableProtocols == [b"h2", b"http/1.1"]
    web.stopService()
