"""
torsion.web.static over real loopback sockets, with real clients: curl
(ranges, If-Modified-Since), requests (ETag), raw request lines for
traversal attempts, and a large file whose serving must not grow the
process's memory.
"""

from __future__ import annotations

import email.utils
import http.client
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from peerhelpers import exchange
from webhelpers import inThread, listen, requireCommand, runPeer

from torsion.web.server import Site
from torsion.web.static import File


@pytest.fixture
def www(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_bytes(b"<h1>home</h1>")
    (root / "data.bin").write_bytes(bytes(range(256)) * 16)
    (root / "files").mkdir()
    (root / "files" / "<script>alert(1)<!--.txt").write_bytes(b"x")
    (root / "files" / "plain.txt").write_bytes(b"plain")
    # Beside the root, never to be served.
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    return root


async def _serve(reactor: Any, root: Any) -> tuple[Any, str]:
    port = listen(reactor, Site(root))
    return port, f"http://127.0.0.1:{port.getHost().port}"


def _raw(port: int, target: bytes, bytewise: bool = False) -> bytes:
    """
    Send one request line exactly as given (all at once, or one byte per
    segment) and read the whole answer.
    """
    request = (
        b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    return exchange(port, request, bytewise)


async def test_curlRanges(reactor: Any, www: Path) -> None:
    """
    curl gets one range and several ranges (multipart/byteranges).
    """
    curl = requireCommand("curl")
    data = (www / "data.bin").read_bytes()
    port, base = await _serve(reactor, File(str(www)))
    try:
        single = await runPeer(
            [curl, "-sS", "-r", "0-99", "-D", "-", base + "/data.bin"]
        )
        head, _, body = single.stdout.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 206")
        assert b"content-range: bytes 0-99/4096" in head.lower()
        assert body == data[:100]
        multi = await runPeer(
            [curl, "-sS", "-r", "0-9,4000-4009", "-D", "-", base + "/data.bin"]
        )
        head, _, body = multi.stdout.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 206")
        assert b"multipart/byteranges; boundary=" in head
        assert data[:10] in body and data[4000:4010] in body
        assert b"content-range: bytes 4000-4009/4096" in body.lower()
        unsatisfiable = await runPeer(
            [
                curl,
                "-sS",
                "-r",
                "5000-6000",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                base + "/data.bin",
            ]
        )
        assert unsatisfiable.stdout == b"416"
    finally:
        await port.stopListening()


async def test_curlIfModifiedSince(reactor: Any, www: Path, tmp_path: Path) -> None:
    """
    ``curl -z`` gets 304 when the file has not changed since, and the file
    when it has.
    """
    curl = requireCommand("curl")
    port, base = await _serve(reactor, File(str(www)))
    mtime = int(os.stat(www / "data.bin").st_mtime)
    try:
        later = email.utils.formatdate(mtime + 60, usegmt=True)
        result = await runPeer(
            [
                curl,
                "-sS",
                "-z",
                later,
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                base + "/data.bin",
            ]
        )
        assert result.stdout == b"304"
        earlier = email.utils.formatdate(mtime - 60, usegmt=True)
        out = tmp_path / "out.bin"
        result = await runPeer(
            [
                curl,
                "-sS",
                "-z",
                earlier,
                "-o",
                str(out),
                "-w",
                "%{http_code}",
                base + "/data.bin",
            ]
        )
        assert result.stdout == b"200"
        assert out.read_bytes() == (www / "data.bin").read_bytes()
    finally:
        await port.stopListening()


async def test_requestsETag(reactor: Any, www: Path) -> None:
    """
    requests gets an ETag, then 304 for ``If-None-Match`` with it, and the
    file again once it changes.
    """
    port, base = await _serve(reactor, File(str(www)))
    try:
        with requests.Session() as session:
            first = await inThread(session.get, base + "/files/plain.txt")
            assert first.status_code == 200 and first.content == b"plain"
            etag = first.headers["ETag"]
            again = await inThread(
                session.get, base + "/files/plain.txt", headers={"If-None-Match": etag}
            )
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["ETag"] == etag
            (www / "files" / "plain.txt").write_bytes(b"changed!")
            changed = await inThread(
                session.get, base + "/files/plain.txt", headers={"If-None-Match": etag}
            )
            assert changed.status_code == 200 and changed.content == b"changed!"
            head = await inThread(session.head, base + "/data.bin")
            assert head.status_code == 200
            assert head.headers["Content-Length"] == "4096"
            assert head.content == b""
    finally:
        await port.stopListening()


async def test_listingAndRedirect(reactor: Any, www: Path) -> None:
    """
    A directory without its slash is redirected; with it, listed with the
    names escaped; the root's index file is served.
    """
    port, base = await _serve(reactor, File(str(www)))
    try:
        response = await inThread(requests.get, base + "/files", allow_redirects=False)
        assert response.status_code == 301
        assert response.headers["Location"] == "/files/"
        response = await inThread(requests.get, base + "/files")
        assert response.status_code == 200
        assert response.url == base + "/files/"
        assert "<script>" not in response.text
        assert "&lt;script&gt;alert(1)&lt;!--.txt" in response.text
        assert "plain.txt" in response.text
        response = await inThread(requests.get, base + "/")
        assert response.content == b"<h1>home</h1>"
    finally:
        await port.stopListening()


@pytest.mark.parametrize(
    "target",
    [
        b"/..%2fsecret.txt",
        b"/..%2f..%2fetc/passwd",
        b"/%2e%2e/secret.txt",
        b"/%2E%2E/secret.txt",
        b"/%2e%2e%2fsecret.txt",
        b"/../secret.txt",
        b"/files/../../secret.txt",
        b"/..%5csecret.txt",
        b"/..\\secret.txt",
        b"/%2fetc%2fpasswd",
        b"//etc/passwd",
        b"/files/%2e%2e/%2e%2e/secret.txt",
        b"/escape.txt",
        b"/a%00.txt",
        b"/index.html%00.txt",
    ],
)
@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
async def test_HTTP_17_traversal(
    reactor: Any, www: Path, target: bytes, bytewise: bool
) -> None:
    """
    No request line reaches a file outside the root, whether it arrives in
    one piece or one byte at a time: each is refused (404, or 400 for NUL)
    and the secret never appears.
    """
    port, _ = await _serve(reactor, File(str(www)))
    try:
        answer = await inThread(_raw, port.getHost().port, target, bytewise)
    finally:
        await port.stopListening()
    status = answer.split(b"\r\n", 1)[0]
    assert status.split(b" ")[1] in (b"400", b"404"), (target, status)
    assert b"TOP SECRET" not in answer
    assert b"root:" not in answer
    if b"%00" in target:
        assert status.startswith(b"HTTP/1.1 400")


async def test_HTTP_17_symlinkAllowed(reactor: Any, www: Path) -> None:
    """
    With ``allowSymlinksOutside=True`` the link is followed.
    """
    port, base = await _serve(reactor, File(str(www), allowSymlinksOutside=True))
    try:
        response = await inThread(requests.get, base + "/escape.txt")
        assert response.content == b"TOP SECRET"
    finally:
        await port.stopListening()


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _download(port: int, path: str) -> tuple[int, int, int]:
    """
    Download ``path`` slowly enough for the server to get ahead if it
    could, and watch this process's resident memory meanwhile.

    :return: (status, bytes received, largest RSS growth seen).
    """
    baseline = _rss()
    worst = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        received = 0
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            received += len(chunk)
            worst = max(worst, _rss() - baseline)
        return response.status, received, worst
    finally:
        connection.close()


async def test_bigFileMemoryBounded(reactor: Any, tmp_path: Path) -> None:
    """
    Serving a file far larger than any buffer keeps the process's memory
    flat: the file is streamed, never loaded.
    """
    size = 128 * 1024 * 1024
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(size)
    port, _ = await _serve(reactor, File(str(tmp_path)))
    try:
        status, received, growth = await inThread(
            _download, port.getHost().port, "/big.bin"
        )
    finally:
        await port.stopListening()
    assert status == 200
    assert received == size
    assert growth < 48 * 1024 * 1024, growth
