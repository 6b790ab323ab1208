"""
The FTP server over real loopback sockets, with real clients: Python's
``ftplib``, curl, and torsion's own ``FTPClient``.
"""

from __future__ import annotations

import ftplib
import io
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from peers import requireCommand
from reactormixins import runUntil

from torsion.cred.checkers import AllowAnonymousAccess, InMemoryUsernamePasswordDatabase
from torsion.cred.portal import Portal
from torsion.internet import defer, protocol, threads
from torsion.protocols import ftp

BIG = bytes(range(256)) * 4096 * 2  # 2 MiB


class Site:
    """A running FTP server with an anonymous root and one user's home."""

    def __init__(self, reactor: Any, root: Path) -> None:
        self.reactor = reactor
        self.anon = root / "anon"
        self.home = root / "home"
        self.alice = self.home / "alice"
        self.anon.mkdir()
        self.alice.mkdir(parents=True)
        (self.anon / "hello.txt").write_bytes(b"hello world\n")
        (self.anon / "big.bin").write_bytes(BIG)
        (self.anon / "sub").mkdir()
        (self.anon / "sub" / "inner.txt").write_bytes(b"inner\n")
        (self.anon / "ünï.txt").write_bytes(b"unicode\n")
        outside = root / "outside"
        outside.mkdir()
        (outside / "secret").write_bytes(b"top secret\n")
        os.symlink(outside / "secret", self.anon / "escape")
        portal = Portal(
            ftp.FTPRealm(str(self.anon), str(self.home)),
            [AllowAnonymousAccess(), InMemoryUsernamePasswordDatabase(alice="secret")],
        )
        self.factory = ftp.FTPFactory(portal, reactor=reactor)
        self.listening = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.port = self.listening.getHost().port

    def inThread(self, f: Callable[[], Any]) -> Any:
        d = threads.deferToThreadPool(self.reactor, self.reactor.getThreadPool(), f)
        return runUntil(self.reactor, d, 60)

    def ftplib(self, user: str = "anonymous", password: str = "a@b") -> ftplib.FTP:
        client = ftplib.FTP()
        client.connect("127.0.0.1", self.port, timeout=20)
        client.login(user, password)
        return client


@pytest.fixture
def site(reactor: Any, tmp_path: Path) -> Iterator[Site]:
    s = Site(reactor, tmp_path)
    yield s
    s.listening.stopListening()


# ftplib


@pytest.mark.parametrize("passive", [True, False])
def test_ftplibAnonymousDownloads(site: Site, passive: bool) -> None:
    def session() -> dict[str, Any]:
        client = site.ftplib()
        client.set_pasv(passive)
        got: dict[str, Any] = {"welcome": client.getwelcome(), "pwd": client.pwd()}
        buf = io.BytesIO()
        client.retrbinary("RETR hello.txt", buf.write)
        got["hello"] = buf.getvalue()
        buf = io.BytesIO()
        client.retrbinary("RETR big.bin", buf.write)
        got["big"] = buf.getvalue()
        buf = io.BytesIO()
        client.retrbinary("RETR big.bin", buf.write, rest=1000)
        got["rest"] = buf.getvalue()
        got["nlst"] = client.nlst()
        lines: list[str] = []
        client.retrlines("LIST", lines.append)
        got["list"] = lines
        got["mlsd"] = dict(client.mlsd())
        got["size"] = client.size("big.bin")
        got["mdtm"] = client.voidcmd("MDTM hello.txt")
        client.cwd("sub")
        got["subpwd"] = client.pwd()
        got["subnlst"] = client.nlst()
        client.quit()
        return got

    got = site.inThread(session)
    assert got["welcome"].startswith("220")
    assert got["pwd"] == "/"
    assert got["hello"] == b"hello world\n"
    assert got["big"] == BIG
    assert got["rest"] == BIG[1000:]
    assert got["nlst"] == ["big.bin", "hello.txt", "sub", "ünï.txt"]
    assert len(got["list"]) == 4
    assert got["list"][2].startswith("d")
    assert got["mlsd"]["hello.txt"]["type"] == "file"
    assert got["mlsd"]["hello.txt"]["size"] == "12"
    assert got["mlsd"]["sub"]["type"] == "dir"
    assert got["size"] == len(BIG)
    assert got["mdtm"].startswith("213 ")
    assert got["subpwd"] == "/sub"
    assert got["subnlst"] == ["inner.txt"]


def test_ftplibRefusals(site: Site) -> None:
    def session() -> list[str]:
        client = site.ftplib()
        errors = []
        calls: list[Callable[[], object]] = [
            lambda: client.cwd("../.."),
            lambda: client.retrbinary("RETR ../../outside/secret", lambda d: None),
            lambda: client.retrbinary("RETR escape", lambda d: None),
            lambda: client.storbinary("STOR new.txt", io.BytesIO(b"x")),
            lambda: client.delete("hello.txt"),
            lambda: client.mkd("d"),
        ]
        for call in calls:
            try:
                call()
            except ftplib.error_perm as e:
                errors.append(str(e)[:3])
        client.quit()
        return errors

    assert site.inThread(session) == ["550"] * 6
    assert sorted(os.listdir(site.anon)) == [
        "big.bin",
        "escape",
        "hello.txt",
        "sub",
        "ünï.txt",
    ]


def test_ftplibBadLogin(site: Site) -> None:
    def session() -> str:
        client = ftplib.FTP()
        client.connect("127.0.0.1", site.port, timeout=20)
        try:
            client.login("alice", "wrong")
        except ftplib.error_perm as e:
            return str(e)
        finally:
            client.close()
        return "logged in"

    assert site.inThread(session) == "530 Sorry, Authentication failed."


@pytest.mark.parametrize("passive", [True, False])
def test_ftplibUserUploads(site: Site, passive: bool) -> None:
    def session() -> dict[str, Any]:
        client = site.ftplib("alice", "secret")
        client.set_pasv(passive)
        got: dict[str, Any] = {}
        client.storbinary("STOR up.bin", io.BytesIO(BIG))
        client.storbinary("APPE up.bin", io.BytesIO(b"tail"))
        got["size"] = client.size("up.bin")
        client.storbinary("STOR part.bin", io.BytesIO(b"0123456789"))
        client.storbinary("STOR part.bin", io.BytesIO(b"abc"), rest=4)
        got["mkd"] = client.mkd("dir")
        client.rename("up.bin", "dir/moved.bin")
        got["dirlist"] = client.nlst("dir")
        client.delete("dir/moved.bin")
        client.rmd("dir")
        client.quit()
        return got

    got = site.inThread(session)
    assert got["size"] == len(BIG) + 4
    assert got["mkd"] == "/dir"
    assert got["dirlist"] == ["moved.bin"]
    assert (site.alice / "part.bin").read_bytes() == b"0123abc"
    assert sorted(os.listdir(site.alice)) == ["part.bin"]


def test_ftplibUTF8Names(site: Site) -> None:
    def session() -> bytes:
        client = ftplib.FTP(encoding="utf-8")
        client.connect("127.0.0.1", site.port, timeout=20)
        client.login()
        client.sendcmd("OPTS UTF8 ON")
        buf = io.BytesIO()
        client.retrbinary("RETR ünï.txt", buf.write)
        client.quit()
        return buf.getvalue()

    assert site.inThread(session) == b"unicode\n"


# curl


def runCurl(site: Site, *args: str) -> subprocess.CompletedProcess[bytes]:
    curl = requireCommand("curl")
    command = [curl, "-sS", "--max-time", "20", "--noproxy", "*", *args]
    return site.inThread(  # type: ignore[no-any-return]
        lambda: subprocess.run(command, capture_output=True, timeout=60, check=False)
    )


@pytest.mark.parametrize(
    "mode", [["--ftp-pasv"], ["--ftp-port", "127.0.0.1"], ["--disable-epsv"]]
)
def test_curlDownload(site: Site, mode: list[str]) -> None:
    url = f"ftp://127.0.0.1:{site.port}/big.bin"
    result = runCurl(site, *mode, url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == BIG


def test_curlListOnly(site: Site) -> None:
    result = runCurl(site, "--list-only", f"ftp://127.0.0.1:{site.port}/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").splitlines() == [
        "big.bin",
        "hello.txt",
        "sub",
        "ünï.txt",
    ]


def test_curlList(site: Site) -> None:
    result = runCurl(site, f"ftp://127.0.0.1:{site.port}/sub/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(b" inner.txt\n")


@pytest.mark.parametrize("mode", [["--ftp-pasv"], ["--ftp-port", "127.0.0.1"]])
def test_curlUpload(site: Site, tmp_path: Path, mode: list[str]) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(BIG)
    url = f"ftp://127.0.0.1:{site.port}/sent.bin"
    result = runCurl(site, *mode, "-u", "alice:secret", "-T", str(upload), url)
    assert result.returncode == 0, result.stderr
    assert (site.alice / "sent.bin").read_bytes() == BIG


def test_curlResume(site: Site) -> None:
    result = runCurl(site, "-C", "100", f"ftp://127.0.0.1:{site.port}/big.bin")
    assert result.returncode == 0, result.stderr
    assert result.stdout == BIG[100:]


@pytest.mark.parametrize(
    "path",
    ["%2e%2e/%2e%2e/outside/secret", "..%2f..%2foutside%2fsecret", "escape"],
)
def test_curlTraversalRefused(site: Site, path: str) -> None:
    result = runCurl(site, f"ftp://127.0.0.1:{site.port}/{path}")
    assert result.returncode != 0
    assert b"secret" not in result.stdout


def test_curlBadPassword(site: Site) -> None:
    result = runCurl(site, "-u", "alice:nope", f"ftp://127.0.0.1:{site.port}/")
    assert result.returncode == 67, result.stderr  # CURLE_LOGIN_DENIED


# torsion's own client


class Collector(protocol.Protocol):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


def connectClient(site: Site, **kwargs: Any) -> ftp.FTPClient:
    client = ftp.FTPClient(reactor=site.reactor, **kwargs)
    factory = protocol.ClientFactory()
    factory.buildProtocol = lambda addr: client  # type: ignore[method-assign]
    site.reactor.connectTCP("127.0.0.1", site.port, factory)
    runUntil(site.reactor, client.greeting)
    return client


@pytest.mark.parametrize("passive", [True, False])
def test_torsionClientAnonymous(site: Site, passive: bool) -> None:
    client = connectClient(site, passive=passive)
    reply = runUntil(site.reactor, client.pwd())
    assert ftp.parsePWDResponse(reply[0]) == "/"
    big = Collector()
    runUntil(site.reactor, client.retrieveFile("big.bin", big))
    assert big.value() == BIG
    part = Collector()
    runUntil(site.reactor, client.retrieveFile("hello.txt", part, offset=6))
    assert part.value() == b"world\n"
    listing = ftp.FTPFileListProtocol()
    runUntil(site.reactor, client.list("/", listing))
    files = {f["filename"]: f for f in listing.files}
    assert set(files) == {"big.bin", "hello.txt", "sub", "ünï.txt"}
    assert files["big.bin"]["size"] == len(BIG)
    assert files["sub"]["filetype"] == "d"
    names = Collector()
    runUntil(site.reactor, client.cwd("sub"))
    runUntil(site.reactor, client.nlst("", names))
    assert names.value() == b"inner.txt\r\n"
    with pytest.raises(ftp.CommandFailed) as caught:
        runUntil(site.reactor, client.retrieveFile("nothere", Collector()))
    assert caught.value.args[0][0].startswith("550")
    with pytest.raises(ftp.CommandFailed):
        runUntil(site.reactor, client.makeDirectory("forbidden"))
    # Still usable after failures.
    again = Collector()
    runUntil(site.reactor, client.retrieveFile("inner.txt", again))
    assert again.value() == b"inner\n"
    runUntil(site.reactor, client.quit())


def test_torsionClientUser(site: Site) -> None:
    client = connectClient(site, username="alice", password="secret")
    consumerD, done = client.storeFile("stored.bin")
    consumer = runUntil(site.reactor, consumerD)
    for i in range(0, len(BIG), 65536):
        consumer.write(BIG[i : i + 65536])
    consumer.finish()
    runUntil(site.reactor, done)
    assert (site.alice / "stored.bin").read_bytes() == BIG
    runUntil(site.reactor, client.makeDirectory("d"))
    runUntil(site.reactor, client.rename("stored.bin", "d/renamed.bin"))
    assert (site.alice / "d" / "renamed.bin").exists()
    with pytest.raises(ftp.CommandFailed):
        runUntil(site.reactor, client.rename("nothere", "x"))
    runUntil(site.reactor, client.removeFile("d/renamed.bin"))
    runUntil(site.reactor, client.removeDirectory("d"))
    assert os.listdir(site.alice) == []
    runUntil(site.reactor, client.quit())


def test_torsionClientBadLogin(site: Site) -> None:
    client = ftp.FTPClient("alice", "wrong", reactor=site.reactor)
    factory = protocol.ClientFactory()
    factory.buildProtocol = lambda addr: client  # type: ignore[method-assign]
    site.reactor.connectTCP("127.0.0.1", site.port, factory)
    with pytest.raises(ftp.CommandFailed):
        runUntil(site.reactor, client.greeting)
    client.transport.loseConnection()
    runUntil(site.reactor, defer.succeed(None))


def ipv6Available() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6Available(), reason="no IPv6 loopback (::1) here")
@pytest.mark.parametrize("passive", [True, False])
def test_ftplibOverIPv6(reactor: Any, tmp_path: Path, passive: bool) -> None:
    site = Site(reactor, tmp_path)
    site.listening.stopListening()
    listening = reactor.listenTCP(0, site.factory, interface="::1")
    port = listening.getHost().port

    def session() -> tuple[bytes, str]:
        client = ftplib.FTP()
        client.connect("::1", port, timeout=20)
        client.login()
        client.set_pasv(passive)
        buf = io.BytesIO()
        # ftplib uses EPSV and EPRT on IPv6.
        client.retrbinary("RETR hello.txt", buf.write)
        pasv = "n/a"
        if passive:
            try:
                pasv = client.sendcmd("PASV")
            except ftplib.error_perm as e:
                pasv = str(e)
        client.quit()
        return buf.getvalue(), pasv

    try:
        data, pasv = site.inThread(session)
    finally:
        listening.stopListening()
    assert data == b"hello world\n"
    if passive:
        assert pasv.startswith("504")
