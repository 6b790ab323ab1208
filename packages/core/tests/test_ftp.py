"""
Tests for ``torsion.protocols.ftp`` over in-memory transports: command
parsing, login, limits and every kind of bad input the server must refuse.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface.verify import verifyObject

from torsion.cred.checkers import AllowAnonymousAccess, InMemoryUsernamePasswordDatabase
from torsion.cred.portal import IRealm, Portal
from torsion.internet import error
from torsion.internet.address import IPv4Address
from torsion.internet.interfaces import IConsumer
from torsion.internet.testing import (
    EventLoggingObserver,
    MemoryReactorClock,
    StringTransport,
)
from torsion.logger import globalLogPublisher
from torsion.protocols import basic, ftp
from torsion.python.failure import Failure

PEER = "192.168.1.1"


class Server:
    """An ``FTP`` server protocol over a ``StringTransport``."""

    def __init__(self, root: Path, login: str | None = None) -> None:
        anon = root / "anon"
        home = root / "home"
        (home / "alice").mkdir(parents=True, exist_ok=True)
        anon.mkdir(exist_ok=True)
        (anon / "file.txt").write_bytes(b"hello world\n")
        (home / "alice" / "mine.txt").write_bytes(b"alice's\n")
        self.anon = anon
        self.alicehome = home / "alice"
        self.reactor = MemoryReactorClock()
        checker = InMemoryUsernamePasswordDatabase(alice="secret")
        portal = Portal(
            ftp.FTPRealm(str(anon), str(home)), [AllowAnonymousAccess(), checker]
        )
        self.factory = ftp.FTPFactory(portal, reactor=self.reactor)
        self.proto = self.factory.buildProtocol(None)
        self.transport = StringTransport(
            IPv4Address("TCP", "10.0.0.1", 21), IPv4Address("TCP", PEER, 40000)
        )
        self.proto.makeConnection(self.transport)
        if login == "anonymous":
            self.send("USER anonymous", "PASS a@b")
            assert self.replies()[-1].startswith("230")
        elif login == "alice":
            self.send("USER alice", "PASS secret")
            assert self.replies()[-1].startswith("230")
        self.transport.clear()

    def send(self, *lines: str | bytes) -> None:
        for line in lines:
            data = line.encode("utf-8") if isinstance(line, str) else line
            self.proto.dataReceived(data + b"\r\n")

    def replies(self) -> list[str]:
        value = self.transport.value().decode("utf-8")
        self.transport.clear()
        return value.split("\r\n")[:-1]

    def ask(self, line: str | bytes) -> str:
        self.send(line)
        replies = self.replies()
        assert replies, f"no reply to {line!r}"
        return replies[-1]


@pytest.fixture
def server(tmp_path: Path) -> Server:
    return Server(tmp_path)


@pytest.fixture
def anon(tmp_path: Path) -> Server:
    return Server(tmp_path, "anonymous")


@pytest.fixture
def alice(tmp_path: Path) -> Server:
    return Server(tmp_path, "alice")


# Greeting and login


def test_greeting(tmp_path: Path) -> None:
    s = Server(tmp_path)
    s.transport.clear()
    s.proto.connectionLost()
    s2 = Server.__new__(Server)
    s2.reactor = MemoryReactorClock()
    portal = Portal(ftp.FTPRealm(str(tmp_path)), [AllowAnonymousAccess()])
    s2.factory = ftp.FTPFactory(portal, reactor=s2.reactor)
    s2.proto = s2.factory.buildProtocol(None)
    s2.transport = StringTransport()
    s2.proto.makeConnection(s2.transport)
    assert s2.replies() == ["220 torsion FTP server ready."]


@pytest.mark.parametrize(
    "command",
    [
        "PWD",
        "CWD /",
        "LIST",
        "NLST",
        "MLSD",
        "RETR file.txt",
        "STOR x",
        "MKD d",
        "DELE file.txt",
        "PASV",
        "EPSV",
        "PORT 192,168,1,1,4,1",
        "SIZE file.txt",
        "RNFR file.txt",
        "TYPE I",
    ],
)
def test_commandsBeforeLogin(server: Server, command: str) -> None:
    assert server.ask(command) == "530 Please login with USER and PASS."
    assert server.reactor.tcpServers == []
    assert server.reactor.tcpClients == []


@pytest.mark.parametrize(
    "command, code",
    [("FEAT", "211"), ("SYST", "215"), ("NOOP", "200"), ("HELP", "214")],
)
def test_allowedBeforeLogin(server: Server, command: str, code: str) -> None:
    assert server.ask(command).startswith(code)


def test_feat(server: Server) -> None:
    server.send("FEAT")
    lines = server.replies()
    assert lines[0] == "211-Features:"
    assert lines[-1] == "211 End"
    features = {line.strip().split(" ")[0] for line in lines[1:-1]}
    assert {"EPRT", "EPSV", "MDTM", "MLST", "PASV", "REST", "SIZE", "UTF8"} <= features


def test_optsUTF8(server: Server) -> None:
    assert server.ask("OPTS UTF8 ON").startswith("200")
    assert server.ask("OPTS UTF8 OFF").startswith("504")
    assert server.ask("OPTS BOGUS").startswith("504")


def test_anonymousLogin(server: Server) -> None:
    assert server.ask("USER anonymous").startswith("331")
    assert server.ask("PASS me@example.com").startswith("230")
    assert server.ask("PWD") == '257 "/" is the current directory.'


def test_userLogin(server: Server) -> None:
    assert server.ask("USER alice").startswith("331")
    assert server.ask("PASS secret").startswith("230")
    server.send("NLST")
    assert server.replies()[-1].startswith("503")


def test_wrongPassword(server: Server) -> None:
    server.send("USER alice")
    assert server.ask("PASS wrong") == "530 Sorry, Authentication failed."
    assert not server.transport.disconnecting
    assert server.ask("PWD").startswith("530")


def test_passWithoutUser(server: Server) -> None:
    assert server.ask("PASS secret").startswith("503")


def test_userWithoutName(server: Server) -> None:
    assert server.ask("USER").startswith("501")


def test_failedLoginCap(server: Server) -> None:
    limit = server.factory.maxFailedLogins
    assert limit == ftp.MAX_FAILED_LOGINS
    for _ in range(limit - 1):
        server.send("USER alice")
        assert server.ask("PASS wrong").startswith("530")
        assert not server.transport.disconnecting
    server.send("USER alice")
    assert server.ask("PASS wrong").startswith("530")
    assert server.transport.disconnecting


def test_failedLoginCapOverridable(server: Server) -> None:
    server.factory.maxFailedLogins = 1
    server.send("USER alice")
    server.ask("PASS wrong")
    assert server.transport.disconnecting


def test_anonymousRefusedWithoutChecker(tmp_path: Path) -> None:
    portal = Portal(ftp.FTPRealm(str(tmp_path)), [InMemoryUsernamePasswordDatabase()])
    factory = ftp.FTPFactory(portal, reactor=MemoryReactorClock())
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"USER anonymous\r\nPASS x\r\n")
    assert transport.value().split(b"\r\n")[-2].startswith(b"530")


def test_realmRefusesUnusableName(tmp_path: Path) -> None:
    realm = ftp.FTPRealm(str(tmp_path), str(tmp_path))
    with pytest.raises(Exception, match="unusable"):
        realm.getHomeDirectory(b"..")
    assert realm.getHomeDirectory(b"bob") == os.path.join(
        os.path.realpath(tmp_path), "bob"
    )
    with pytest.raises(NotImplementedError):
        ftp.BaseFTPRealm(str(tmp_path)).getHomeDirectory(b"bob")


def test_quit(anon: Server) -> None:
    assert anon.ask("QUIT") == "221 Goodbye."
    assert anon.transport.disconnecting


# Command line parsing and limits


def test_unknownCommand(anon: Server) -> None:
    assert anon.ask("XYZZ") == "502 Command 'XYZZ' not implemented."


@pytest.mark.parametrize("line", [b"\xc3\xa9T", b"R3TR x", b"TOOLONG x", b"1234"])
def test_badCommandName(anon: Server, line: bytes) -> None:
    assert anon.ask(line).startswith("500")
    assert not anon.transport.disconnecting


def test_argumentNotUTF8(anon: Server) -> None:
    assert anon.ask(b"CWD \xff\xfe").startswith("501")


def test_lowercaseCommands(anon: Server) -> None:
    assert anon.ask("pwd").startswith("257")


def test_lineAtLimit(anon: Server) -> None:
    limit = ftp.MAX_COMMAND_LENGTH
    line = b"NOOP " + b"x" * (limit - 5)
    assert len(line) == limit
    assert anon.ask(line).startswith("200")
    assert not anon.transport.disconnecting


def test_lineOverLimit(anon: Server) -> None:
    line = b"NOOP " + b"x" * (ftp.MAX_COMMAND_LENGTH - 4)
    anon.send(line)
    assert anon.replies() == ["500 Command line too long."]
    assert anon.transport.disconnecting


def test_unterminatedOverlongLine(anon: Server) -> None:
    anon.proto.dataReceived(b"A" * (ftp.MAX_COMMAND_LENGTH + 100))
    assert anon.replies() == ["500 Command line too long."]
    assert anon.transport.disconnecting


def test_idleTimeout(anon: Server) -> None:
    timeout = anon.factory.timeOut
    assert timeout == ftp.DEFAULT_TIMEOUT
    anon.reactor.advance(timeout - 1)
    assert not anon.transport.disconnecting
    anon.send("NOOP")
    anon.replies()
    anon.reactor.advance(timeout - 1)
    assert not anon.transport.disconnecting
    anon.reactor.advance(1)
    assert anon.replies() == ["421 Timeout: closing control connection."]
    assert anon.transport.disconnecting


def test_timeoutBeforeLogin(server: Server) -> None:
    server.reactor.advance(ftp.DEFAULT_TIMEOUT)
    assert server.transport.disconnecting


@given(data=st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_randomLinesNeverCrash(tmp_path_factory: Any, data: bytes) -> None:
    s = Server(tmp_path_factory.mktemp("r"), "anonymous")
    s.proto.dataReceived(data + b"\r\n")
    lines = s.transport.value().split(b"\r\n")[:-1]
    assert lines, "every line gets a reply"
    for line in lines:
        assert line[:3].isdigit() or line.startswith(b" "), line
    assert lines[-1][:3].isdigit() and lines[-1][3:4] == b" "


# Paths


@pytest.mark.parametrize(
    "cwd, path, expected",
    [
        ([], "a/b", ["a", "b"]),
        (["x"], "a", ["x", "a"]),
        (["x"], "/a", ["a"]),
        (["x", "y"], "..", ["x"]),
        (["x"], "./a/./b/", ["x", "a", "b"]),
        (["x"], "", ["x"]),
        ([], "a//b", ["a", "b"]),
        ([], "%2e%2e", ["%2e%2e"]),
    ],
)
def test_toSegments(cwd: list[str], path: str, expected: list[str]) -> None:
    assert ftp.toSegments(cwd, path) == expected


@pytest.mark.parametrize(
    "cwd, path", [([], ".."), (["x"], "../.."), ([], "/../etc"), ([], "a\x00b")]
)
def test_toSegmentsRefuses(cwd: list[str], path: str) -> None:
    with pytest.raises(ftp.InvalidPath):
        ftp.toSegments(cwd, path)


@pytest.mark.parametrize(
    "command",
    [
        "CWD ..",
        "CWD ../..",
        "CWD /..",
        "CWD a/../../..",
        "RETR ../../../etc/passwd",
        "SIZE ../anon/file.txt",
        "MDTM /../etc/passwd",
        "DELE ../x",
        "MKD ../evil",
        "RNFR ../x",
        "MLST ..",
        "STAT ..",
    ],
)
def test_traversalRefused(anon: Server, command: str) -> None:
    anon.send("PASV")
    anon.replies()
    assert anon.ask(command).startswith("550")


def test_absolutePathStaysInRoot(anon: Server) -> None:
    assert anon.ask("SIZE /file.txt") == "213 12"
    assert anon.ask("SIZE /etc/passwd").startswith("550")
    assert anon.ask("SIZE /../../etc/passwd").startswith("550")


def test_encodedDotsAreLiteral(anon: Server) -> None:
    assert anon.ask("SIZE %2e%2e/%2e%2e/etc/passwd").startswith("550")
    assert anon.ask("CWD %2e%2e").startswith("550")


def test_nulInPath(anon: Server) -> None:
    assert anon.ask(b"SIZE file.txt\x00.jpg").startswith("550")


def test_symlinkOutOfRoot(anon: Server, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    os.symlink(outside, anon.anon / "escape")
    os.symlink(outside / "secret", anon.anon / "secretlink")
    assert anon.ask("CWD escape").startswith("550")
    assert anon.ask("SIZE escape/secret").startswith("550")
    assert anon.ask("SIZE secretlink").startswith("550")
    assert anon.ask("MDTM secretlink").startswith("550")
    anon.send("PASV")
    anon.replies()
    assert anon.ask("RETR secretlink").startswith("550")
    assert anon.ask("PWD") == '257 "/" is the current directory.'


def test_symlinkInsideRoot(anon: Server) -> None:
    os.symlink(anon.anon / "file.txt", anon.anon / "alias")
    assert anon.ask("SIZE alias") == "213 12"


def test_symlinkOutOfHomeForWriting(alice: Server, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, alice.alicehome / "escape")
    os.symlink(outside / "new", alice.alicehome / "dangling")
    alice.send("PASV")
    alice.replies()
    assert alice.ask("STOR escape/x").startswith("550")
    alice.send("PASV")
    alice.replies()
    assert alice.ask("STOR dangling").startswith("550")
    assert alice.ask("MKD escape/d").startswith("550")
    assert alice.ask("RNFR mine.txt").startswith("350")
    assert alice.ask("RNTO escape/stolen").startswith("550")
    assert list(outside.iterdir()) == []
    assert (alice.alicehome / "mine.txt").exists()


def test_deleteSymlinkRemovesLinkOnly(alice: Server, tmp_path: Path) -> None:
    outside = tmp_path / "keep"
    outside.write_bytes(b"keep")
    os.symlink(outside, alice.alicehome / "link")
    # The name inside the home goes; what it points to stays.
    assert alice.ask("DELE link").startswith("250")
    assert not os.path.lexists(alice.alicehome / "link")
    assert outside.read_bytes() == b"keep"


# Navigation and file management


def test_cwdAndPwd(alice: Server) -> None:
    (alice.alicehome / 'we"ird').mkdir()
    assert alice.ask('CWD we"ird').startswith("250")
    assert alice.ask("PWD") == '257 "/we""ird" is the current directory.'
    assert alice.ask("CDUP").startswith("250")
    assert alice.ask("PWD") == '257 "/" is the current directory.'
    assert alice.ask("CDUP").startswith("250")
    assert alice.ask("CWD nothere").startswith("550")
    assert alice.ask("CWD mine.txt").startswith("550")
    assert alice.ask("CWD").startswith("501")


def test_manageFiles(alice: Server) -> None:
    assert alice.ask("MKD sub") == '257 "/sub" created.'
    assert (alice.alicehome / "sub").is_dir()
    assert alice.ask("MKD sub").startswith("550")
    assert alice.ask("RNFR mine.txt").startswith("350")
    assert alice.ask("RNTO sub/moved.txt").startswith("250")
    assert (alice.alicehome / "sub" / "moved.txt").read_bytes() == b"alice's\n"
    assert alice.ask("RMD sub").startswith("550")
    assert alice.ask("DELE sub").startswith("550")
    assert alice.ask("DELE sub/moved.txt").startswith("250")
    assert alice.ask("RMD sub").startswith("250")
    assert list(alice.alicehome.iterdir()) == []
    assert alice.ask("RMD /").startswith("550")
    assert alice.ask("DELE nothere").startswith("550")


def test_rntoWithoutRnfr(alice: Server) -> None:
    assert alice.ask("RNTO x").startswith("503")


def test_rnfrThenOtherCommandCancels(alice: Server) -> None:
    alice.ask("RNFR mine.txt")
    alice.ask("NOOP")
    assert alice.ask("RNTO x").startswith("503")


def test_anonymousIsReadOnly(anon: Server) -> None:
    assert anon.ask("MKD d").startswith("550")
    assert anon.ask("DELE file.txt").startswith("550")
    assert anon.ask("RNFR file.txt").startswith("350")
    assert anon.ask("RNTO other").startswith("550")
    anon.send("PASV")
    anon.replies()
    assert anon.ask("STOR new").startswith("550")
    assert sorted(os.listdir(anon.anon)) == ["file.txt"]


def test_sizeAndMdtm(anon: Server) -> None:
    os.utime(anon.anon / "file.txt", (0, 1_700_000_000))
    assert anon.ask("SIZE file.txt") == "213 12"
    assert anon.ask("MDTM file.txt") == "213 20231114221320"
    assert anon.ask("SIZE /").startswith("550")
    assert anon.ask("SIZE").startswith("501")


def test_mlst(anon: Server) -> None:
    anon.send("MLST file.txt")
    lines = anon.replies()
    assert lines[0].startswith("250-")
    assert lines[1].startswith(" type=file;size=12;modify=")
    assert lines[1].endswith(" /file.txt")
    assert lines[2] == "250 End"


def test_stat(anon: Server) -> None:
    anon.send("STAT")
    assert anon.replies()[-1] == "211 End of status"
    anon.send("STAT /")
    lines = anon.replies()
    assert lines[0].startswith("213-")
    assert lines[1].endswith(" file.txt")


@pytest.mark.parametrize(
    "command, code",
    [
        ("TYPE I", "200"),
        ("TYPE A", "200"),
        ("TYPE L 8", "200"),
        ("TYPE E", "504"),
        ("MODE S", "200"),
        ("MODE B", "504"),
        ("STRU F", "200"),
        ("STRU R", "504"),
        ("REST 100", "350"),
        ("REST -1", "501"),
        ("REST abc", "501"),
        ("REST", "501"),
        ("REST 1234567890123456789", "501"),
    ],
)
def test_settings(anon: Server, command: str, code: str) -> None:
    assert anon.ask(command).startswith(code)


# Data connections


def test_pasv(anon: Server) -> None:
    reply = anon.ask("PASV")
    assert reply.startswith("227 Entering Passive Mode (10,0,0,1,")
    port, _factory, _, interface = anon.reactor.tcpServers[-1]
    assert port == 0
    assert interface == "10.0.0.1"


def test_pasvPortRange(anon: Server) -> None:
    anon.factory.passivePortRange = range(50000, 50010)
    anon.ask("PASV")
    assert anon.reactor.tcpServers[-1][0] == 50000


def test_epsv(anon: Server) -> None:
    assert anon.ask("EPSV").startswith("229 Entering Extended Passive Mode (|||")
    assert anon.ask("EPSV 3").startswith("522")
    assert anon.ask("EPSV ALL").startswith("200")


def test_passiveRefusesOtherHosts(anon: Server) -> None:
    anon.ask("PASV")
    factory = anon.reactor.tcpServers[-1][1]
    assert factory.buildProtocol(IPv4Address("TCP", "6.6.6.6", 4000)) is None
    assert factory.buildProtocol(IPv4Address("TCP", PEER, 4000)) is not None
    # Only one data connection per PASV.
    assert factory.buildProtocol(IPv4Address("TCP", PEER, 4001)) is None


def test_passiveTimeout(anon: Server) -> None:
    anon.ask("PASV")
    anon.reactor.advance(ftp.PASSIVE_TIMEOUT)
    assert anon.ask("RETR file.txt").startswith("503")


def test_transferWithoutDataConnection(anon: Server) -> None:
    assert anon.ask("RETR file.txt").startswith("503")
    assert anon.ask("LIST").startswith("503")


def test_port(anon: Server) -> None:
    assert anon.ask("PORT 192,168,1,1,4,1").startswith("200")
    host, port = anon.reactor.tcpClients[-1][:2]
    assert (host, port) == (PEER, 1025)


def test_eprt(anon: Server) -> None:
    assert anon.ask(f"EPRT |1|{PEER}|6275|").startswith("200")
    host, port = anon.reactor.tcpClients[-1][:2]
    assert (host, port) == (PEER, 6275)


@pytest.mark.parametrize(
    "argument",
    [
        "10,0,0,1,4,1",
        "127,0,0,1,4,1",
        "6,6,6,6,0,80",
    ],
)
def test_portToForeignHost(anon: Server, argument: str) -> None:
    assert anon.ask("PORT " + argument).startswith("504")
    assert anon.reactor.tcpClients == []


def test_portToPrivilegedPort(anon: Server) -> None:
    assert anon.ask("PORT 192,168,1,1,0,25").startswith("504")
    assert anon.ask("PORT 192,168,1,1,3,255").startswith("504")
    assert anon.reactor.tcpClients == []
    assert anon.ask("PORT 192,168,1,1,4,0").startswith("200")


@pytest.mark.parametrize(
    "argument",
    [
        "",
        "1,2,3",
        "192,168,1,1,4",
        "192,168,1,1,4,1,7",
        "256,168,1,1,4,1",
        "192,168,1,1,4,256",
        "a,b,c,d,e,f",
        "192,168,1,1,-4,1",
        "192,168,1,1,0004,1",
        "192.168.1.1,4,1",
    ],
)
def test_malformedPort(anon: Server, argument: str) -> None:
    assert anon.ask("PORT " + argument).startswith("501")
    assert anon.reactor.tcpClients == []


@pytest.mark.parametrize(
    "argument",
    [
        "|1|6.6.6.6|6275|",
        "|2|::1|6275|",
    ],
)
def test_eprtToForeignHost(anon: Server, argument: str) -> None:
    assert anon.ask("EPRT " + argument).startswith("504")
    assert anon.reactor.tcpClients == []


@pytest.mark.parametrize(
    "argument",
    [
        "",
        "|1|192.168.1.1|6275",
        "|3|192.168.1.1|6275|",
        "|2|192.168.1.1|6275|",
        "|1|::1|6275|",
        "|1|192.168.1.1|0|",
        "|1|192.168.1.1|70000|",
        "|1|192.168.1.1|port|",
        "|1|host.example|6275|",
        "a1a192.168.1.1a6275a",
        "|1|192.168.1.1|6275|extra|",
    ],
)
def test_malformedEprt(anon: Server, argument: str) -> None:
    assert anon.ask("EPRT " + argument).startswith("501")
    assert anon.reactor.tcpClients == []


def test_parseEPRT() -> None:
    assert ftp.parseEPRT("|1|132.235.1.2|6275|") == (1, "132.235.1.2", 6275)
    assert ftp.parseEPRT("!2!::1!5282!") == (2, "::1", 5282)


@given(
    host=st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    port=st.integers(0, 65535),
)
def test_hostPortRoundTrip(host: str, port: int) -> None:
    assert ftp.decodeHostPort(ftp.encodeHostPort(host, port)) == (host, port)


@given(st.text(max_size=40))
def test_decodeHostPortOnlyValueError(text: str) -> None:
    try:
        ftp.decodeHostPort(text)
    except ValueError:
        pass


@given(st.text(max_size=60))
def test_parseEPRTOnlyValueError(text: str) -> None:
    try:
        ftp.parseEPRT(text)
    except ValueError:
        pass


def test_pendingCommandsCap(anon: Server) -> None:
    anon.ask("PORT 192,168,1,1,4,1")
    # RETR waits for the active connection, so later commands queue up.
    anon.send("RETR file.txt")
    limit = ftp.MAX_PENDING_COMMANDS
    anon.send(*["PWD"] * limit)
    assert not anon.transport.disconnecting
    anon.send("PWD")
    assert anon.replies()[-1] == "421 Too many pending commands."
    assert anon.transport.disconnecting


def _drain(transport: StringTransport) -> None:
    while transport.producer is not None:
        producer: Any = transport.producer
        producer.resumeProducing()


def _connectData(server: Server, factory: Any) -> tuple[Any, StringTransport]:
    proto = factory.buildProtocol(IPv4Address("TCP", PEER, 50000))
    transport = StringTransport(peerAddress=IPv4Address("TCP", PEER, 50000))
    proto.makeConnection(transport)
    return proto, transport


def test_retrOverMemoryTransports(anon: Server) -> None:
    anon.ask("PASV")
    factory = anon.reactor.tcpServers[-1][1]
    anon.send("RETR file.txt")
    assert anon.replies() == []
    dtp, transport = _connectData(anon, factory)
    assert anon.replies() == ["150 Data connection open; transfer starting."]
    # The file is sent by a pull producer, a chunk per request.
    assert transport.producer is not None
    assert transport.streaming is False
    _drain(transport)
    assert transport.value() == b"hello world\n"
    assert transport.disconnecting
    dtp.connectionLost(None)
    assert anon.replies() == ["226 Transfer complete."]


def test_restRetr(anon: Server) -> None:
    anon.ask("PASV")
    factory = anon.reactor.tcpServers[-1][1]
    dtp, transport = _connectData(anon, factory)
    anon.ask("REST 6")
    anon.send("RETR file.txt")
    assert anon.replies() == ["125 Data connection open; transfer starting."]
    _drain(transport)
    assert transport.value() == b"world\n"
    dtp.connectionLost(None)
    assert anon.replies() == ["226 Transfer complete."]


def test_storOverMemoryTransports(alice: Server) -> None:
    alice.ask("PASV")
    factory = alice.reactor.tcpServers[-1][1]
    alice.send("STOR up.bin")
    dtp, transport = _connectData(alice, factory)
    assert alice.replies() == ["150 Data connection open; transfer starting."]
    assert transport.producerState == "producing"
    dtp.dataReceived(b"part one, ")
    dtp.dataReceived(b"part two")
    dtp.connectionLost(None)
    assert alice.replies() == ["226 Transfer complete."]
    assert (alice.alicehome / "up.bin").read_bytes() == b"part one, part two"


def test_dataConnectionLostMidTransfer(anon: Server) -> None:
    big = anon.anon / "big"
    big.write_bytes(b"x" * 100_000)
    anon.ask("PASV")
    factory = anon.reactor.tcpServers[-1][1]
    anon.send("RETR big")
    dtp, transport = _connectData(anon, factory)
    anon.replies()
    transport.producer.resumeProducing()  # type: ignore[union-attr]
    # Streamed: one chunk per request from the transport, not the whole file.
    assert len(transport.value()) == basic.FileSender.CHUNK_SIZE
    producer = transport.producer
    assert producer is not None
    producer.stopProducing()
    dtp.connectionLost(None)
    assert anon.replies() == ["426 Connection closed; transfer aborted."]
    assert anon.ask("NOOP").startswith("200")


def test_abor(anon: Server) -> None:
    (anon.anon / "big").write_bytes(b"x" * 100_000)
    anon.ask("PASV")
    factory = anon.reactor.tcpServers[-1][1]
    anon.send("RETR big")
    dtp, transport = _connectData(anon, factory)
    anon.replies()
    anon.send(b"\xff\xf4\xff\xf2ABOR")
    assert transport.disconnecting
    producer = transport.producer
    assert producer is not None
    producer.stopProducing()
    dtp.connectionLost(None)
    assert anon.replies() == ["426 Transfer aborted.", "226 Abort successful."]


def test_aborWithoutTransfer(anon: Server) -> None:
    assert anon.ask("ABOR").startswith("225")


def test_listFormats(anon: Server) -> None:
    (anon.anon / "sub").mkdir()
    (anon.anon / "été.txt").write_bytes(b"")
    results = {}
    for command in ["LIST", "NLST", "MLSD", "LIST -la"]:
        anon.ask("PASV")
        factory = anon.reactor.tcpServers[-1][1]
        anon.send(command)
        dtp, transport = _connectData(anon, factory)
        results[command] = transport.value().decode("utf-8").split("\r\n")[:-1]
        dtp.connectionLost(None)
        assert anon.replies()[-1] == "226 Transfer complete."
    assert results["NLST"] == ["file.txt", "sub", "été.txt"]
    assert results["LIST"] == results["LIST -la"]
    lister = ftp.FTPFileListProtocol()
    lister.makeConnection(StringTransport())
    lister.dataReceived("\r\n".join(results["LIST"]).encode("utf-8") + b"\r\n")
    names = {f["filename"]: f for f in lister.files}
    assert set(names) == {"file.txt", "sub", "été.txt"}
    assert names["file.txt"]["size"] == 12
    assert names["sub"]["filetype"] == "d"
    mlsd = dict(line.split(" ", 1)[::-1] for line in results["MLSD"])
    assert mlsd["file.txt"].startswith("type=file;size=12;")
    assert mlsd["sub"].startswith("type=dir;")


def test_fileListProtocol() -> None:
    lister = ftp.FTPFileListProtocol()
    unknown: list[str] = []
    lister.unknownLine = unknown.append  # type: ignore[assignment]
    lister.makeConnection(StringTransport())
    lister.dataReceived(
        b"total 3\r\n"
        b"-rw-r--r--   1 root     other        531 Jan 29 03:26 README\r\n"
        b"drwxr-xr-x   2 user     group       4096 Feb  3  2020 a dir\r\n"
        b"lrwxrwxrwx   1 user     group          7 Mar 10 11:00 link -> target\r\n"
    )
    assert unknown == ["total 3"]
    readme, adir, link = lister.files
    assert readme["filename"] == "README"
    assert readme["size"] == 531
    assert readme["owner"] == "root"
    assert readme["perms"] == "rw-r--r--"
    assert readme["nlinks"] == 1
    assert readme["date"] == "Jan 29 03:26"
    assert readme["linktarget"] is None
    assert adir["filename"] == "a dir"
    assert adir["filetype"] == "d"
    assert link["filename"] == "link"
    assert link["linktarget"] == "target"


def test_connectionLostCleansUp(anon: Server) -> None:
    anon.ask("PASV")
    port = anon.proto._dtpPort
    assert port is not None
    anon.proto.connectionLost(None)  # type: ignore[arg-type]
    assert anon.proto._dtpPort is None
    assert anon.factory.connections == 0


# Interfaces


def test_interfaces(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    realm = ftp.FTPRealm(str(tmp_path))
    assert verifyObject(IRealm, realm)
    iface, shell, _logout = realm.requestAvatar((), None, ftp.IFTPShell)
    assert iface is ftp.IFTPShell
    assert isinstance(shell, ftp.FTPAnonymousShell)
    assert verifyObject(ftp.IFTPShell, shell)
    full = ftp.FTPShell(str(tmp_path))
    assert verifyObject(ftp.IFTPShell, full)
    readers: list[Any] = []
    full.openForReading(["f"]).addCallback(readers.append)
    assert verifyObject(ftp.IReadFile, readers[0])
    readers[0].file.close()
    writers: list[Any] = []
    full.openForWriting(["g"]).addCallback(writers.append)
    assert verifyObject(ftp.IWriteFile, writers[0])
    consumers: list[Any] = []
    writers[0].receive().addCallback(consumers.append)
    assert verifyObject(IConsumer, consumers[0])
    writers[0].close()
    upload = ftp._UploadConsumer(StringTransport())
    assert verifyObject(IConsumer, upload)
    with pytest.raises(NotImplementedError):
        realm.requestAvatar((), None)


# Client over memory


def test_clientLoginAndCommands() -> None:
    client = ftp.FTPClient("bob", "pw", reactor=MemoryReactorClock())
    transport = StringTransport()
    client.makeConnection(transport)
    assert transport.value() == b""
    client.dataReceived(b"220-multi\r\n220 line greeting\r\n")
    assert transport.value() == b"USER bob\r\n"
    transport.clear()
    greeted: list[Any] = []
    client.greeting.addCallback(greeted.append)
    pwd = client.pwd()
    client.dataReceived(b"331 Password required\r\n")
    assert transport.value() == b"PASS pw\r\n"
    transport.clear()
    client.dataReceived(b"230 ok\r\n")
    assert greeted == [["220-multi", "220 line greeting"]]
    assert transport.value() == b"PWD\r\n"
    transport.clear()
    results: list[Any] = []
    pwd.addCallback(results.append)
    client.dataReceived(b'257 "/a ""b""" is current\r\n')
    assert ftp.parsePWDResponse(results[0][0]) == '/a "b"'
    failures: list[Any] = []
    client.cwd("nope").addErrback(failures.append)
    client.dataReceived(b"550 No such directory\r\n")
    assert failures[0].check(ftp.CommandFailed)
    assert failures[0].value.args[0] == ["550 No such directory"]
    lost: list[Any] = []
    client.quit().addErrback(lost.append)
    client.connectionLost()
    assert lost[0].check(ftp.ConnectionLost)


def test_clientLoginFailure() -> None:
    client = ftp.FTPClient("bob", "bad", reactor=MemoryReactorClock())
    transport = StringTransport()
    client.makeConnection(transport)
    failures: list[Any] = []
    client.greeting.addErrback(failures.append)
    client.dataReceived(b"220 hi\r\n331 pass\r\n530 no\r\n")
    assert failures[0].check(ftp.CommandFailed)


def test_clientPassiveConnectsToControlPeer() -> None:
    reactor = MemoryReactorClock()
    client = ftp.FTPClient(reactor=reactor)
    transport = StringTransport(peerAddress=IPv4Address("TCP", "10.1.1.1", 21))
    client.makeConnection(transport)
    client.dataReceived(b"220 hi\r\n331 pass\r\n230 ok\r\n")
    transport.clear()
    client.retrieveFile("f", ftp.FTPFileListProtocol())
    assert transport.value() == b"PASV\r\n"
    # The reply names another host: the client still connects to its peer.
    client.dataReceived(b"227 Entering Passive Mode (6,6,6,6,4,1).\r\n")
    host, port = reactor.tcpClients[-1][:2]
    assert (host, port) == ("10.1.1.1", 1025)


def test_passiveTimeoutWhileWaiting(anon: Server) -> None:
    anon.ask("PASV")
    anon.send("RETR file.txt")
    assert anon.replies() == []
    anon.reactor.advance(ftp.PASSIVE_TIMEOUT)
    assert anon.replies() == ["425 Can't open data connection."]
    assert anon.ask("NOOP").startswith("200")


def test_activeConnectionFails(anon: Server) -> None:
    anon.ask("PORT 192,168,1,1,4,1")
    factory = anon.reactor.tcpClients[-1][2]
    anon.send("RETR file.txt")
    factory.clientConnectionFailed(None, Failure(error.ConnectionRefusedError()))
    assert anon.replies() == ["425 Can't open data connection."]


def test_noIdleTimeoutDuringTransfer(anon: Server) -> None:
    anon.ask("PASV")
    factory = anon.reactor.tcpServers[-1][1]
    anon.send("RETR file.txt")
    dtp, transport = _connectData(anon, factory)
    anon.replies()
    anon.reactor.advance(ftp.DEFAULT_TIMEOUT * 2)
    assert not anon.transport.disconnecting
    _drain(transport)
    dtp.connectionLost(None)
    assert anon.replies() == ["226 Transfer complete."]
    anon.reactor.advance(ftp.DEFAULT_TIMEOUT)
    assert anon.transport.disconnecting


def test_connectionLimit(tmp_path: Path) -> None:
    first = Server(tmp_path)
    first.factory.connectionLimit = 2
    second = first.factory.buildProtocol(None)
    t2 = StringTransport()
    second.makeConnection(t2)
    assert t2.value().startswith(b"220")
    third = first.factory.buildProtocol(None)
    t3 = StringTransport()
    third.makeConnection(t3)
    assert t3.value().startswith(b"421")
    assert t3.disconnecting


def test_controlConnectionNoDelay(anon: Server) -> None:
    # 150 and 226 replies go out back to back; Nagle must not hold the second.
    assert anon.transport.tcpNoDelay


@given(st.binary(max_size=500))
def test_fileListNeverRaises(data: bytes) -> None:
    lister = ftp.FTPFileListProtocol()
    lister.makeConnection(StringTransport())
    lister.dataReceived(data + b"\r\n")
    assert all(isinstance(f["size"], int) for f in lister.files)


@given(st.binary(max_size=500))
def test_clientRepliesNeverRaise(data: bytes) -> None:
    client = ftp.FTPClient(reactor=MemoryReactorClock())
    client.makeConnection(StringTransport())
    client.greeting.addErrback(lambda f: None)
    client.dataReceived(b"220 hi\r\n" + data + b"\r\n")


@pytest.fixture
def logged() -> Iterator[EventLoggingObserver]:
    observer = EventLoggingObserver()
    globalLogPublisher.addObserver(observer)
    yield observer
    globalLogPublisher.removeObserver(observer)


def test_brokenRealmIsLoggedAndRefused(
    tmp_path: Path, logged: EventLoggingObserver
) -> None:
    class Broken(ftp.BaseFTPRealm):
        def getHomeDirectory(self, avatarId: bytes) -> Any:
            raise RuntimeError("realm bug")

    portal = Portal(Broken(str(tmp_path)), [InMemoryUsernamePasswordDatabase(a="b")])
    proto = ftp.FTPFactory(portal, reactor=MemoryReactorClock()).buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"USER a\r\nPASS b\r\n")
    assert transport.value().endswith(b"530 Sorry, Authentication failed.\r\n")
    assert any(
        e.get("log_failure") is not None and e["log_failure"].check(RuntimeError)
        for e in logged
    )


def test_brokenShellIsLogged(tmp_path: Path, logged: EventLoggingObserver) -> None:
    s = Server(tmp_path, "anonymous")

    def broken(path: list[str]) -> Any:
        raise RuntimeError("shell bug")

    s.proto.shell.access = broken
    s.send("CWD /")
    assert s.replies() == ["550 Requested action not taken: internal error."]
    assert any(
        e.get("log_failure") is not None and e["log_failure"].check(RuntimeError)
        for e in logged
    )


def test_uploadWaitsForFile(alice: Server) -> None:
    alice.ask("EPSV")
    factory = alice.reactor.tcpServers[-1][1]
    dtp, transport = _connectData(alice, factory)
    # Nothing is read from the data connection before a file takes it.
    assert transport.producerState == "paused"
    alice.send("STOR early.bin")
    assert alice.replies() == ["125 Data connection open; transfer starting."]
    assert str(transport.producerState) == "producing"
    dtp.dataReceived(b"data")
    dtp.connectionLost(None)
    assert alice.replies() == ["226 Transfer complete."]
    assert (alice.alicehome / "early.bin").read_bytes() == b"data"
