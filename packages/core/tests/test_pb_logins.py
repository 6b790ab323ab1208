"""
Failed logins on a PB connection are capped: after ``maxLoginFailures``
wrong passwords the next attempt is refused and the connection dropped, so a
client cannot guess passwords on one connection forever.  Over real TCP.
"""

from __future__ import annotations

from typing import Any

from reactormixins import LogCapture, runUntil
from zope.interface import implementer

from torsion.cred import checkers, credentials, portal
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import defer
from torsion.python.failure import Failure
from torsion.spread import pb


class Guest(pb.Avatar):
    def perspective_hello(self) -> str:
        return "hello"


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        return pb.IPerspective, Guest(), lambda: None


class Server(pb.PBServerFactory):
    """
    A PB server allowing ``limit`` failed logins per connection, which
    tells when each connection ends.
    """

    def __init__(self, limit: int) -> None:
        checker = checkers.InMemoryUsernamePasswordDatabase(alice=b"wonderland")
        super().__init__(portal.Portal(Realm(), [checker]))
        self.maxLoginFailures = limit
        self.lost: list[defer.Deferred[None]] = []

    def clientConnectionMade(self, broker: pb.Broker) -> None:
        super().clientConnectionMade(broker)
        d: defer.Deferred[None] = defer.Deferred()
        broker.notifyOnDisconnect(lambda: d.callback(None))
        self.lost.append(d)


def _connect(reactor: Any, port: Any) -> pb.PBClientFactory:
    client = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", port.getHost().port, client)
    return client


def _outcome(reactor: Any, d: defer.Deferred[Any]) -> Any:
    """
    :return: what ``d`` fired with, a ``Failure`` included.
    """
    # A list, since an errback returning a Failure would go on failing.
    return runUntil(reactor, d.addCallbacks(lambda r: [r], lambda f: [f]))[0]


def _login(reactor: Any, client: pb.PBClientFactory, password: bytes) -> Any:
    with LogCapture():
        return _outcome(
            reactor, client.login(credentials.UsernamePassword(b"alice", password))
        )


def _close(reactor: Any, port: Any, server: Server, *clients: Any) -> None:
    for client in clients:
        client.disconnect()
    for d in server.lost:
        runUntil(reactor, d)
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


def test_defaultLimit() -> None:
    assert pb.MAX_LOGIN_FAILURES == pb.PBServerFactory.maxLoginFailures == 6


def test_connectionDroppedAfterTooManyFailures(reactor: Any) -> None:
    server = Server(limit=3)
    port = reactor.listenTCP(0, server, interface="127.0.0.1")
    client = _connect(reactor, port)
    for _ in range(3):
        result = _login(reactor, client, b"guess")
        assert isinstance(result, Failure)
        assert result.check(UnauthorizedLogin)
    # The fourth attempt is not even checked: the connection goes.
    refused = _login(reactor, client, b"wonderland")
    assert isinstance(refused, Failure)
    assert refused.check(pb.PBConnectionLost)
    runUntil(reactor, server.lost[0])
    # A new connection starts afresh.
    again = _connect(reactor, port)
    avatar = _login(reactor, again, b"wonderland")
    assert runUntil(reactor, avatar.callRemote("hello")) == "hello"
    _close(reactor, port, server, again)


def test_successBelowTheLimit(reactor: Any) -> None:
    server = Server(limit=3)
    port = reactor.listenTCP(0, server, interface="127.0.0.1")
    client = _connect(reactor, port)
    for _ in range(2):
        assert isinstance(_login(reactor, client, b"guess"), Failure)
    avatar = _login(reactor, client, b"wonderland")
    assert runUntil(reactor, avatar.callRemote("hello")) == "hello"
    _close(reactor, port, server, client)


def test_challengesCollectedAheadCountToo(reactor: Any) -> None:
    """
    Asking for many challenges first and answering them afterwards does not
    get round the limit.
    """
    server = Server(limit=2)
    port = reactor.listenTCP(0, server, interface="127.0.0.1")
    client = _connect(reactor, port)
    root = runUntil(reactor, client.getRootObject())
    challenges = [
        runUntil(reactor, root.callRemote("login", b"alice")) for _ in range(4)
    ]
    outcomes = []
    with LogCapture():
        for challenge, challenger in challenges:
            answer = challenger.callRemote("respond", pb.respond(challenge, b"x"), None)
            outcomes.append(_outcome(reactor, answer))
            if outcomes[-1].check(pb.PBConnectionLost):
                break
    checked = [o.check(UnauthorizedLogin, pb.PBConnectionLost) for o in outcomes]
    assert checked == [UnauthorizedLogin, UnauthorizedLogin, pb.PBConnectionLost]
    runUntil(reactor, server.lost[0])
    _close(reactor, port, server, client)
