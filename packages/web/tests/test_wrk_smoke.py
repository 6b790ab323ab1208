"""
A smoke load from ``wrk`` (a real HTTP benchmarking client): many
keep-alive connections at once against a ``Site`` serving a rendered
resource and a static file.  Every answer must be a 2xx, no connection may
fail, and the server must answer normally afterwards.  (Speed is measured by
``benchmarks/bench_server.py``, never here.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from peerhelpers import exchange, serving
from webhelpers import inThread, requireCommand, runPeer

from torsion.internet.defer import Deferred
from torsion.web import resource, server, static


class Hello(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"Hello, world!"


class CountingSite(server.Site):
    """
    A ``Site`` that can wait until every connection it accepted closed.
    """

    def __init__(self, root: Any) -> None:
        super().__init__(root)
        self.open = 0
        self.waiting: list[Deferred[None]] = []

    def buildProtocol(self, addr: Any) -> Any:
        channel = super().buildProtocol(addr)
        original = channel.connectionLost
        self.open += 1

        def connectionLost(reason: Any) -> None:
            original(reason)
            self.open -= 1
            if not self.open:
                waiting, self.waiting = self.waiting, []
                for d in waiting:
                    d.callback(None)

        channel.connectionLost = connectionLost
        return channel

    def allClosed(self) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        if self.open:
            self.waiting.append(d)
        else:
            d.callback(None)
        return d


def _checkWrkOutput(out: str) -> int:
    """
    :return: how many requests wrk completed; fails on any error it saw.
    """
    assert "Socket errors" not in out, out
    assert "Non-2xx or 3xx responses" not in out, out
    match = re.search(r"(\d+) requests in", out)
    assert match, out
    return int(match.group(1))


async def test_wrkSmokeLoad(reactor: Any, tmp_path: Path) -> None:
    wrk = requireCommand("wrk")
    (tmp_path / "page.html").write_bytes(b"<p>static</p>" * 100)
    root = resource.Resource()
    root.putChild(b"hello", Hello())
    root.putChild(b"files", static.File(str(tmp_path)))
    site = CountingSite(root)
    site.log = lambda request: None  # type: ignore[method-assign]
    async with serving(reactor, site) as port:
        for path in ("/hello", "/files/page.html"):
            result = await runPeer(
                [wrk, "-t1", "-c20", "-d1s", f"http://127.0.0.1:{port}{path}"]
            )
            assert result.returncode == 0, result.stderr
            assert _checkWrkOutput(result.stdout.decode()) > 0
        await site.allClosed()
        answer = await inThread(
            exchange,
            port,
            b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(b"Hello, world!")
        await site.allClosed()
