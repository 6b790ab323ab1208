"""
Requests per second through a ``Site`` over an in-memory transport: the
server's own cost (parsing, traversal, rendering, writing), without sockets,
for torsion-web and twisted.web (26.10) in the same run.

Scenarios, each a keep-alive connection fed one request at a time:

- ``hello``: a leaf resource at the root answering 13 bytes;
- ``deep``: traversal of five static children, then a 13-byte answer;
- ``deferred``: the body comes from an already fired Deferred;
- ``gzip``: a 10 KiB text body through ``EncodingResourceWrapper`` and
  ``GzipEncoderFactory`` (``Accept-Encoding: gzip``);
- ``session``: ``request.getSession()`` with the session cookie sent back.

Run with the benchmark environment (Twisted installed)::

    /work/benchvenv/bin/pip install -e packages/web   # once
    /work/benchvenv/bin/python packages/web/benchmarks/bench_resource.py

Twisted's column is left out (shown as "-") when it cannot be imported.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

HELLO = b"Hello, world!"
BIG = b"".join(b"line %d of a compressible body\n" % i for i in range(330))
DURATION = 2.0
PER_CONNECTION = 500


def _build(web: Any, internet: Any, scenario: str) -> tuple[Any, bytes]:
    """
    :return: the site for ``scenario`` and the request bytes to send; ``web``
        and ``internet`` are the packages (``torsion.web``/``twisted.web``,
        ``torsion.internet``/``twisted.internet``).
    """
    resource = web.resource
    server = web.server
    defer = internet.defer

    class Hello(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            return HELLO

    class Later(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> Any:
            d = defer.succeed(HELLO)
            d.addCallback(lambda body: (request.write(body), request.finish()))
            return server.NOT_DONE_YET

    class Big(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            return BIG

    class Sessions(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            request.getSession()
            return HELLO

    headers = b"Host: bench\r\n"
    target = b"/"
    if scenario == "hello":
        root = Hello()
    elif scenario == "deep":
        root = node = resource.Resource()
        for name in (b"a", b"b", b"c", b"d"):
            child = resource.Resource()
            node.putChild(name, child)
            node = child
        node.putChild(b"e", Hello())
        target = b"/a/b/c/d/e"
    elif scenario == "deferred":
        root = Later()
    elif scenario == "gzip":
        root = resource.EncodingResourceWrapper(Big(), [server.GzipEncoderFactory()])
        headers += b"Accept-Encoding: gzip\r\n"
    elif scenario == "session":
        root = Sessions()
    else:
        raise ValueError(scenario)
    site = server.Site(root)
    site.log = lambda request: None
    request = b"GET " + target + b" HTTP/1.1\r\n" + headers
    if scenario == "session":
        probe = _connection(site, internet)
        probe[0].dataReceived(request + b"\r\n")
        cookie = probe[1].value().split(b"Set-Cookie: ", 1)[1].split(b";", 1)[0]
        request += b"Cookie: " + cookie + b"\r\n"
    return site, request + b"\r\n"


def _connection(site: Any, internet: Any) -> tuple[Any, Any]:
    channel = site.buildProtocol(None)
    transport = internet.testing.StringTransport()
    channel.makeConnection(transport)
    return channel, transport


def _measure(site: Any, internet: Any, request: bytes) -> float:
    """
    :return: requests per second over ``DURATION`` seconds.
    """
    count = 0
    start = time.perf_counter()
    deadline = start + DURATION
    while time.perf_counter() < deadline:
        channel, transport = _connection(site, internet)
        for _ in range(PER_CONNECTION):
            channel.dataReceived(request)
        if transport.value().count(b" 200 OK\r\n") != PER_CONNECTION:
            raise AssertionError(transport.value()[-500:])
        channel.connectionLost(internet.error.ConnectionDone())
        count += PER_CONNECTION
    return count / (time.perf_counter() - start)


def _load(top: str) -> tuple[Any, Any]:
    """
    Import ``<top>.web`` and ``<top>.internet`` with the submodules the
    benchmark uses.

    :raises ImportError: if ``top`` is not installed.
    """
    for name in (
        "internet.defer",
        "internet.error",
        "internet.testing",
        "web.resource",
        "web.server",
    ):
        importlib.import_module(f"{top}.{name}")
    return importlib.import_module(f"{top}.web"), importlib.import_module(
        f"{top}.internet"
    )


def _implementations() -> dict[str, Callable[[], tuple[Any, Any]]]:
    return {
        "torsion-web": lambda: _load("torsion"),
        "twisted.web": lambda: _load("twisted"),
    }


def main() -> None:
    scenarios = ["hello", "deep", "deferred", "gzip", "session"]
    results: dict[tuple[str, str], float | None] = {}
    for name, load in _implementations().items():
        try:
            web, internet = load()
        except ImportError:
            for scenario in scenarios:
                results[name, scenario] = None
            continue
        for scenario in scenarios:
            site, request = _build(web, internet, scenario)
            _measure(site, internet, request)  # warm up
            results[name, scenario] = _measure(site, internet, request)
            for session in list(getattr(site, "sessions", {}).values()):
                session.expire()
    print(f"{'scenario':10} {'torsion-web':>14} {'twisted.web':>14} {'ratio':>7}")
    for scenario in scenarios:
        ours = results["torsion-web", scenario]
        theirs = results["twisted.web", scenario]
        ratio = f"{ours / theirs:.2f}x" if ours and theirs else "-"
        print(
            f"{scenario:10} {ours or 0:>10,.0f} r/s "
            + (f"{theirs:>10,.0f} r/s" if theirs else f"{'-':>14}")
            + f" {ratio:>7}"
        )


if __name__ == "__main__":
    main()
