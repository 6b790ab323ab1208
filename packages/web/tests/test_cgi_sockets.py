"""
CGI over real loopback sockets: a Site serving CGI programs to curl,
requests and raw sockets (nph- scripts, local redirects, a slow client
holding the program back, a client that leaves).
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Any

import requests
from peerhelpers import exchange
from test_cgi import _ENV, _envResult, _script
from webhelpers import inThread, listen, requireCommand, runPeer

from torsion.internet.defer import Deferred
from torsion.web import twcgi
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.static import Data


class _Watched(twcgi.CGIScript):
    """
    A CGIScript whose protocols report pausing and ending.
    """

    def __init__(self, filename: str) -> None:
        twcgi.CGIScript.__init__(self, filename)
        self.paused: Deferred[None] = Deferred()
        self.ended: Deferred[list[Any]] = Deferred()
        self.protocols: list[twcgi.CGIProcessProtocol] = []

    def _protocol(self, request: Any) -> twcgi.CGIProcessProtocol:
        protocol = twcgi.CGIScript._protocol(self, request)
        pause, ended = protocol.pauseProducing, protocol.processEnded

        def pauseProducing() -> None:
            pause()
            if not self.paused.called:
                self.paused.callback(None)

        def processEnded(reason: Any) -> None:
            ended(reason)
            self.ended.callback([reason])

        protocol.pauseProducing = pauseProducing  # type: ignore[method-assign]
        protocol.processEnded = processEnded  # type: ignore[method-assign]
        self.protocols.append(protocol)
        return protocol


def _site(tmp_path: Path) -> tuple[Resource, Path]:
    cgiBin = tmp_path / "cgi-bin"
    cgiBin.mkdir()
    root = Resource()
    root.putChild(b"cgi-bin", twcgi.CGIDirectory(str(cgiBin)))
    root.putChild(b"target", Data(b"local target", "text/plain"))
    return root, cgiBin


async def test_curlPost(reactor: Any, tmp_path: Path) -> None:
    """
    curl posts a form to a CGI program, which sees the body on stdin and
    the request in its environment.
    """
    curl = requireCommand("curl")
    root, cgiBin = _site(tmp_path)
    _script(cgiBin, "env.cgi", _ENV)
    port = listen(reactor, Site(root))
    number = port.getHost().port
    url = f"http://127.0.0.1:{number}/cgi-bin/env.cgi/more?x=1"
    try:
        result = await runPeer(
            [curl, "-sS", "-H", "Proxy: http://evil:1", "--data", "a=b&c=d", url]
        )
    finally:
        await port.stopListening()
    answer = _envResult(result.stdout)
    env = answer["env"]
    assert answer["stdin"] == "a=b&c=d"
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_LENGTH"] == "7"
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["PATH_INFO"] == "/more"
    assert env["QUERY_STRING"] == "x=1"
    assert env["SCRIPT_NAME"] == "/cgi-bin/env.cgi"
    assert env["SERVER_PORT"] == str(number)
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["HTTP_USER_AGENT"].startswith("curl/")
    assert "HTTP_PROXY" not in env


async def test_statusAndHeaders(reactor: Any, tmp_path: Path) -> None:
    """
    A client sees the status and headers the program chose.
    """
    root, cgiBin = _site(tmp_path)
    _script(
        cgiBin,
        "teapot.cgi",
        r"printf 'Status: 418 Teapot\nContent-Type: text/plain\nX-Extra: 1\n\ntea'",
    )
    port = listen(reactor, Site(root))
    try:
        response = await inThread(
            requests.get, f"http://127.0.0.1:{port.getHost().port}/cgi-bin/teapot.cgi"
        )
    finally:
        await port.stopListening()
    assert response.status_code == 418
    assert response.reason == "Teapot"
    assert response.headers["X-Extra"] == "1"
    assert response.headers["Content-Type"] == "text/plain"
    assert response.content == b"tea"


async def test_localRedirect(reactor: Any, tmp_path: Path) -> None:
    """
    A local ``Location:`` is answered by the site's own resource, without a
    redirect reaching the client.
    """
    root, cgiBin = _site(tmp_path)
    _script(cgiBin, "go.cgi", r"printf 'Location: /target\n\n'")
    port = listen(reactor, Site(root))
    try:
        response = await inThread(
            requests.get,
            f"http://127.0.0.1:{port.getHost().port}/cgi-bin/go.cgi",
            allow_redirects=False,
        )
    finally:
        await port.stopListening()
    assert response.status_code == 200
    assert response.content == b"local target"
    assert "Location" not in response.headers


async def test_nph(reactor: Any, tmp_path: Path) -> None:
    """
    An nph- program's output reaches the client byte for byte, status line
    included, and the connection closes after it.
    """
    root, cgiBin = _site(tmp_path)
    raw = (
        b"HTTP/1.1 299 Whatever\r\nX-Nph: yes\r\n"
        b"Content-Type: text/plain\r\n\r\nraw body"
    )
    _script(cgiBin, "nph-raw.cgi", "printf '%s' '" + raw.decode() + "'")
    port = listen(reactor, Site(root))
    try:
        answer = await inThread(
            exchange,
            port.getHost().port,
            b"GET /cgi-bin/nph-raw.cgi HTTP/1.1\r\nHost: x\r\n\r\n",
        )
    finally:
        await port.stopListening()
    assert answer == raw


def _slowClient(port: int, go: threading.Event) -> tuple[bytes, int]:
    """
    Ask for the response, read one byte, wait for ``go``, then read the
    rest.

    :return: the status line and the number of body bytes.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(
            b"GET /cgi-bin/flood.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        first = s.recv(1)
        go.wait(60)
        chunks = [first]
        while True:
            data = s.recv(1 << 20)
            if not data:
                break
            chunks.append(data)
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], len(body)


async def test_slowClientHoldsProgramBack(reactor: Any, tmp_path: Path) -> None:
    """
    While the client does not read, the program's output is not read
    either: the server pauses it before it could write everything, so
    neither the server nor the pipe holds the whole output.
    """
    root, cgiBin = _site(tmp_path)
    total = 64 * 1024 * 1024
    done = tmp_path / "finished-writing"
    path = _script(
        cgiBin,
        "flood.cgi",
        f"""
        printf 'Content-Type: application/octet-stream\\n'
        printf 'Content-Length: {total}\\n\\n'
        head -c {total} /dev/zero
        : > '{done}'
        """,
    )
    watched = _Watched(str(path))
    cgiBinResource = Resource()
    cgiBinResource.putChild(b"flood.cgi", watched)
    root.putChild(b"cgi-bin", cgiBinResource)
    port = listen(reactor, Site(root))
    go = threading.Event()
    try:
        client = inThread(_slowClient, port.getHost().port, go)
        await watched.paused
        assert not done.exists()
        go.set()
        status, received = await client
        await watched.ended
    finally:
        go.set()
        await port.stopListening()
    assert status == b"HTTP/1.1 200 OK"
    assert received == total
    assert done.exists()


def _leave(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /cgi-bin/slow.cgi HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"started" not in data:
            more = s.recv(4096)
            if not more:
                break
            data += more


async def test_clientLeavesProgramKilled(reactor: Any, tmp_path: Path) -> None:
    """
    A client that disconnects mid-response gets the program terminated and
    reaped, with no descriptor left open.
    """
    root, cgiBin = _site(tmp_path)
    path = _script(
        cgiBin,
        "slow.cgi",
        r"""
        printf 'Content-Type: text/plain\n\nstarted\n'
        exec sleep 600
        """,
    )
    watched = _Watched(str(path))
    cgiBinResource = Resource()
    cgiBinResource.putChild(b"slow.cgi", watched)
    root.putChild(b"cgi-bin", cgiBinResource)
    port = listen(reactor, Site(root))
    fdsBefore = len(os.listdir("/proc/self/fd"))
    try:
        await inThread(_leave, port.getHost().port)
        (reason,) = await watched.ended
        pid = watched.protocols[0].transport.pid
    finally:
        await port.stopListening()
    assert reason.value.signal == 15
    assert pid is None
    assert len(os.listdir("/proc/self/fd")) <= fdsBefore
