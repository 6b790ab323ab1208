"""
Tests for ``torsion.spread.pb``: remote calls, references, copies, caches,
views, errors, cred login and disconnection, in memory and over TCP.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reactormixins import LogCapture, runUntil
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.cred import checkers, credentials, portal
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import defer
from torsion.internet.testing import StringTransport, connectedServerAndClient
from torsion.python.failure import Failure
from torsion.spread import banana, flavors, pb
from torsion.spread.jelly import InsecureJelly, setUnjellyableForClass

# -- objects served ------------------------------------------------------------


class Counter(pb.Referenceable):
    def __init__(self) -> None:
        self.value = 0

    def remote_increment(self, by: int = 1) -> int:
        self.value += by
        return self.value


class Thing(pb.Copyable):
    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self.secret = "not sent"

    def getStateToCopy(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size}


class RemoteThing(pb.RemoteCopy):
    name: str
    size: int


setUnjellyableForClass(Thing, RemoteThing)


class Unregistered(pb.Copyable):
    pass


class Plain:
    pass


class Scoreboard(pb.Cacheable):
    def __init__(self) -> None:
        self.scores: dict[str, int] = {}
        self.observers: list[pb.RemoteCacheObserver] = []
        self.stopped: list[pb.RemoteCacheObserver] = []

    def getStateToCacheAndObserveFor(
        self, perspective: Any, observer: pb.RemoteCacheObserver
    ) -> Any:
        self.observers.append(observer)
        return {"scores": dict(self.scores)}

    def stoppedObserving(
        self, perspective: Any, observer: pb.RemoteCacheObserver
    ) -> None:
        self.observers.remove(observer)
        self.stopped.append(observer)

    def score(self, name: str, points: int) -> list[defer.Deferred[Any]]:
        self.scores[name] = points
        return [o.callRemote("score", name, points) for o in self.observers]


class RemoteScoreboard(pb.RemoteCache):
    scores: dict[str, int]

    def observe_score(self, name: str, points: int) -> str:
        self.scores[name] = points
        return "noted"


setUnjellyableForClass(Scoreboard, RemoteScoreboard)


class Expected(pb.Error):
    pass


class Service(pb.Root):
    def __init__(self) -> None:
        self.counter = Counter()
        self.board = Scoreboard()
        self.received: list[Any] = []

    def remote_add(self, a: int, b: int = 0) -> int:
        return a + b

    def remote_echo(self, value: Any) -> Any:
        self.received.append(value)
        return value

    def remote_later(self) -> defer.Deferred[str]:
        self.pending: defer.Deferred[str] = defer.Deferred()
        return self.pending

    def remote_counter(self) -> Counter:
        return self.counter

    def remote_isCounter(self, obj: Any) -> bool:
        return obj is self.counter

    def remote_thing(self) -> Thing:
        return Thing("box", 3)

    def remote_unregistered(self) -> Unregistered:
        return Unregistered()

    def remote_plain(self) -> Plain:
        return Plain()

    def remote_board(self) -> Scoreboard:
        return self.board

    def remote_expected(self) -> None:
        raise Expected("you asked for it")

    def remote_crash(self) -> None:
        raise ZeroDivisionError("unexpected")

    def remote_callBack(self, ref: pb.RemoteReference, value: int) -> Any:
        return ref.callRemote("double", value)


class Doubler(pb.Referenceable):
    def remote_double(self, value: int) -> int:
        return value * 2


class RecordingTransport(StringTransport):
    """
    Keeps every byte written, for checking what crossed the wire.
    """

    def __init__(self) -> None:
        super().__init__()
        self.everything = bytearray()

    def write(self, data: bytes) -> None:
        self.everything += data
        super().write(data)


class Connection:
    """
    A PB client and server connected in memory.
    """

    def __init__(self, root: Any, unsafeTracebacks: bool = False) -> None:
        self.serverFactory = pb.PBServerFactory(root, unsafeTracebacks=unsafeTracebacks)
        self.clientFactory = pb.PBClientFactory()
        self.clientTransport = RecordingTransport()
        self.client, self.server, self.pump = connectedServerAndClient(
            lambda: self.serverFactory.buildProtocol(None),
            lambda: self.clientFactory.buildProtocol(None),
            clientTransportFactory=lambda: self.clientTransport,
        )

    def result(self, d: defer.Deferred[Any]) -> Any:
        """
        Pump until ``d`` fires; return its result or raise its failure.
        """
        outcome: list[Any] = []
        d.addBoth(outcome.append)
        self.pump.flush()
        assert outcome, "the Deferred did not fire"
        if isinstance(outcome[0], Failure):
            outcome[0].raiseException()
        return outcome[0]

    def failure(self, d: defer.Deferred[Any]) -> Failure:
        """
        Pump until ``d`` fails; return the failure.
        """
        outcome: list[Any] = []
        d.addBoth(outcome.append)
        self.pump.flush()
        assert outcome and isinstance(outcome[0], Failure), outcome
        return outcome[0]

    def root(self) -> pb.RemoteReference:
        ref = self.result(self.clientFactory.getRootObject())
        assert isinstance(ref, pb.RemoteReference)
        return ref


# -- calls -------------------------------------------------


def test_callRemote() -> None:
    """
    ``callRemote`` runs ``remote_`` methods with positional and keyword
    arguments and fires with the answer.
    """
    conn = Connection(Service())
    root = conn.root()
    assert conn.result(root.callRemote("add", 1, b=2)) == 3
    assert conn.result(root.remoteMethod("add")(5)) == 5


def test_valuesRoundTrip() -> None:
    """
    Basic values, containers and shared references arrive intact.
    """
    service = Service()
    conn = Connection(service)
    shared = [1, 2]
    value: dict[str, Any] = {
        "text": "h\xe9",
        "raw": b"\x00",
        "n": None,
        "t": (1, 2.5),
        "s": {1},
    }
    value["a"] = shared
    value["b"] = shared
    result = conn.result(conn.root().callRemote("echo", value))
    assert result == value
    assert result["a"] is result["b"]
    assert service.received[0]["a"] is service.received[0]["b"]


def test_deferredAnswer() -> None:
    """
    A remote method may answer with a Deferred; the caller gets its result.
    """
    service = Service()
    conn = Connection(service)
    d = conn.root().callRemote("later")
    conn.pump.flush()
    assert not d.called
    service.pending.callback("done")
    assert conn.result(d) == "done"


def test_noSuchMethod() -> None:
    """
    Calling a method that does not exist fails with ``NoSuchMethod``.
    """
    conn = Connection(Service())
    with LogCapture():
        f = conn.failure(conn.root().callRemote("missing"))
    assert f.check(pb.NoSuchMethod)


def test_expectedErrorNotLogged() -> None:
    """
    A ``pb.Error`` arrives as a ``CopiedFailure`` of that class, and the
    server does not log it; the traceback text is withheld by default.
    """
    conn = Connection(Service())
    with LogCapture() as logged:
        f = conn.failure(conn.root().callRemote("expected"))
    assert logged.errors == []
    assert isinstance(f, pb.CopiedFailure)
    assert f.check(Expected) is Expected
    assert f.check(pb.Error) is pb.Error
    assert f.check(ValueError) is None
    assert f.getErrorMessage() == "you asked for it"
    assert "remote_expected" not in f.getTraceback()
    assert "you asked for it" in f.getTraceback()
    with pytest.raises(pb.RemoteError):
        f.raiseException()


def test_unexpectedErrorLoggedWithTraceback() -> None:
    """
    Any other exception is logged by the server; with ``unsafeTracebacks``
    the caller gets the remote traceback text.
    """
    conn = Connection(Service(), unsafeTracebacks=True)
    with LogCapture() as logged:
        f = conn.failure(conn.root().callRemote("crash"))
    assert [e.type for e in logged.errors] == [ZeroDivisionError]
    assert f.check(ZeroDivisionError)
    assert f.check("builtins.ArithmeticError") == "builtins.ArithmeticError"
    assert "remote_crash" in f.getTraceback()
    assert "ZeroDivisionError: unexpected" in f.getTraceback()
    assert f.trap(ZeroDivisionError) is ZeroDivisionError


# -- references -------------------------------------------------


def test_referenceable() -> None:
    """
    A ``Referenceable`` arrives as a ``RemoteReference``; calls on it reach
    the object, and sent back it arrives as the object itself.
    """
    service = Service()
    conn = Connection(service)
    root = conn.root()
    counter = conn.result(root.callRemote("counter"))
    assert isinstance(counter, pb.RemoteReference)
    assert conn.result(counter.callRemote("increment", 5)) == 5
    assert conn.result(counter.callRemote("increment")) == 6
    assert conn.result(root.callRemote("isCounter", counter)) is True
    again = conn.result(root.callRemote("counter"))
    assert again is counter


def test_asReferenceable() -> None:
    """
    ``AsReferenceable`` publishes a plain object's prefixed methods.
    """

    class Admin:
        def admin_shutdown(self, when: str) -> str:
            return f"shutting down {when}"

    conn = Connection(Service())
    ref = conn.result(
        conn.root().callRemote("echo", pb.AsReferenceable(Admin(), "admin"))
    )
    assert isinstance(ref, pb.AsReferenceable)
    remote = pb.AsReferenceable(Admin(), "admin")
    assert remote.remoteMessageReceived(conn.server, "shutdown", ("now",), {}) == (
        "shutting down now"
    )
    with pytest.raises(pb.NoSuchMethod):
        remote.remoteMessageReceived(conn.server, "missing", (), {})


def test_clientReferenceable() -> None:
    """
    The client can pass its own ``Referenceable``; the server calls it back.
    """
    conn = Connection(Service())
    assert conn.result(conn.root().callRemote("callBack", Doubler(), 21)) == 42


def test_referenceReleased() -> None:
    """
    When the client drops its last reference, the server forgets the
    object.
    """
    conn = Connection(Service())
    root = conn.root()
    before = len(conn.server._localObjects)
    counter = conn.result(root.callRemote("counter"))
    conn.result(root.callRemote("counter"))
    assert len(conn.server._localObjects) == before + 1
    del counter
    gc.collect()
    conn.pump.flush()
    assert len(conn.server._localObjects) == before


def test_tooManyReferences(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    A connection holds at most ``MAX_BROKER_REFS`` objects; beyond that the
    call fails and the connection stays usable.
    """
    monkeypatch.setattr(pb, "MAX_BROKER_REFS", 2)
    conn = Connection(Service())
    root = conn.root()
    two = conn.result(root.callRemote("echo", [Counter(), Counter()]))
    assert all(isinstance(c, Counter) for c in two)
    f = conn.failure(root.callRemote("echo", [Counter(), Counter(), Counter()]))
    assert f.check(pb.Error)
    assert conn.result(root.callRemote("add", 1)) == 1


def test_referenceToOtherBroker() -> None:
    """
    A ``RemoteReference`` cannot be sent over another connection.
    """
    one = Connection(Service())
    two = Connection(Service())
    counter = one.result(one.root().callRemote("counter"))
    f = two.failure(two.root().callRemote("echo", counter))
    assert f.check(pb.Error)


# -- copies -------------------------------------------------


def test_copyable() -> None:
    """
    A ``Copyable`` arrives as the registered ``RemoteCopy`` with the state
    it chose to send.
    """
    conn = Connection(Service())
    thing = conn.result(conn.root().callRemote("thing"))
    assert isinstance(thing, RemoteThing)
    assert (thing.name, thing.size) == ("box", 3)
    assert not hasattr(thing, "secret")


def test_unregisteredCopyable() -> None:
    """
    A copy of a class the receiver never registered fails with
    ``InsecureJelly``; the connection stays open.
    """
    conn = Connection(Service())
    root = conn.root()
    f = conn.failure(root.callRemote("unregistered"))
    assert f.check(InsecureJelly)
    assert not conn.clientTransport.disconnecting
    assert conn.result(root.callRemote("add", 2, 2)) == 4


def test_unregisteredArgument() -> None:
    """
    An argument the server does not allow makes the call fail with
    ``InsecureJelly``, reported back to the caller.
    """
    conn = Connection(Service())
    root = conn.root()
    f = conn.failure(root.callRemote("echo", Unregistered()))
    assert f.check(InsecureJelly)
    assert conn.result(root.callRemote("add", 1)) == 1


def test_plainInstancesRefused() -> None:
    """
    Ordinary objects are not sent at all: the call fails on the caller's
    side, and an answer holding one fails with ``InsecureJelly``.
    """
    conn = Connection(Service())
    root = conn.root()
    f = conn.failure(root.callRemote("echo", Plain()))
    assert f.check(InsecureJelly)
    f = conn.failure(root.callRemote("plain"))
    assert f.check(InsecureJelly)


# -- caches -------------------------------------------------


def test_cacheable() -> None:
    """
    A ``Cacheable`` arrives as its ``RemoteCache``, which the owner updates
    through the observer; when the copy is dropped the owner is told.
    """
    service = Service()
    service.board.scores["ann"] = 1
    conn = Connection(service)
    root = conn.root()
    board = conn.result(root.callRemote("board"))
    assert isinstance(board, RemoteScoreboard)
    assert board.scores == {"ann": 1}
    assert len(service.board.observers) == 1
    answers = service.board.score("bob", 7)
    assert [conn.result(d) for d in answers] == ["noted"]
    assert board.scores == {"ann": 1, "bob": 7}
    assert conn.result(root.callRemote("board")) is board
    del board
    gc.collect()
    conn.pump.flush()
    assert service.board.observers == []
    assert len(service.board.stopped) == 1


def test_cacheStoppedOnDisconnect() -> None:
    """
    Losing the connection ends every observation.
    """
    service = Service()
    conn = Connection(service)
    board = conn.result(conn.root().callRemote("board"))
    conn.clientTransport.loseConnection()
    conn.pump.flush()
    assert service.board.observers == []
    assert board.scores == {}


# -- disconnection -------------------------------------------------


def test_disconnectNotification() -> None:
    """
    ``notifyOnDisconnect`` callbacks get the reference when the connection
    ends; ``dontNotifyOnDisconnect`` removes one; waiting calls fail with
    ``PBConnectionLost`` and later calls with ``DeadReferenceError``.
    """
    service = Service()
    conn = Connection(service)
    root = conn.root()
    notified: list[pb.RemoteReference] = []
    removed: list[pb.RemoteReference] = []
    root.notifyOnDisconnect(notified.append)
    root.notifyOnDisconnect(removed.append)
    root.dontNotifyOnDisconnect(removed.append)
    waiting = root.callRemote("later")
    conn.pump.flush()
    conn.clientTransport.loseConnection()
    f = conn.failure(waiting)
    assert f.check(pb.PBConnectionLost)
    assert notified == [root]
    assert removed == []
    f = conn.failure(root.callRemote("add", 1))
    assert f.check(pb.DeadReferenceError)
    late = conn.failure(conn.clientFactory.getRootObject())
    assert late.check(Exception)


# -- protocol errors ------------------------------------------------------------------


def test_badBananaClosesConnection() -> None:
    """
    Bytes that break banana's limits close the connection and are logged.
    """
    conn = Connection(Service())
    conn.root()
    with LogCapture() as logged:
        conn.server.dataReceived(banana.encode(b"x" * 10)[:1] + b"\xff")
    assert conn.server.transport.disconnecting
    assert any(e.check(banana.BananaError) for e in logged.errors)


@pytest.mark.parametrize(
    "message",
    [
        [b"bogus"],
        [b"message", b"x"],
        [b"answer", 99, 1],
        [b"decref"],
        7,
    ],
)
def test_unknownMessagesCloseConnection(message: Any) -> None:
    """
    Messages that are not PB close the connection.
    """
    conn = Connection(Service())
    conn.root()
    with LogCapture():
        conn.server.dataReceived(banana.encode(message, banana.PB_VOCABULARY))
    assert conn.server.transport.disconnecting


def test_callToUnknownObject() -> None:
    """
    A call naming an object number the server never gave out fails; the
    connection stays open.
    """
    conn = Connection(Service())
    conn.root()
    ghost = pb.RemoteReference(None, conn.client, 12345, False)
    f = conn.failure(ghost.callRemote("anything"))
    assert f.check(pb.Error)
    assert not conn.server.transport.disconnecting


# -- login -------------------------------------------------


class User(pb.Avatar):
    def __init__(self, name: bytes, mind: Any) -> None:
        self.name = name
        self.mind = mind
        self.loggedOut = False
        self.view = Board()

    def perspective_whoami(self) -> bytes:
        return self.name

    def perspective_board(self) -> Board:
        return self.view

    def perspective_callMind(self) -> Any:
        return self.mind.callRemote("double", 4)


class Board(pb.Viewable):
    def view_post(self, perspective: User, text: str) -> str:
        return f"{perspective.name.decode()} posted {text}"


@implementer(portal.IRealm)
class Realm:
    def __init__(self) -> None:
        self.avatars: list[User] = []

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        assert pb.IPerspective in interfaces
        name = avatarId if isinstance(avatarId, bytes) else b"anonymous"
        avatar = User(name, mind)
        self.avatars.append(avatar)

        def logout() -> None:
            avatar.loggedOut = True

        return pb.IPerspective, avatar, logout


def makePortal() -> tuple[portal.Portal, Realm]:
    realm = Realm()
    checker = checkers.InMemoryUsernamePasswordDatabase(alice=b"wonderland")
    p = portal.Portal(realm, [checker, checkers.AllowAnonymousAccess()])
    return p, realm


def test_loginSuccess() -> None:
    """
    Good credentials give a reference to the avatar; ``perspective_``
    methods run; the password never crosses the wire; the realm gets the
    client's mind; logging out happens when the connection ends.
    """
    p, realm = makePortal()
    conn = Connection(p)
    password = b"wonderland"
    avatar = conn.result(
        conn.clientFactory.login(
            credentials.UsernamePassword(b"alice", password), Doubler()
        )
    )
    assert conn.result(avatar.callRemote("whoami")) == b"alice"
    assert conn.result(avatar.callRemote("callMind")) == 8
    assert password not in bytes(conn.clientTransport.everything)
    user = realm.avatars[0]
    assert isinstance(user.mind, pb.RemoteReference)
    assert not user.loggedOut
    conn.clientTransport.loseConnection()
    conn.pump.flush()
    assert user.loggedOut


def test_loginFailure() -> None:
    """
    A wrong password fails with ``UnauthorizedLogin``; no avatar is made.
    """
    p, realm = makePortal()
    conn = Connection(p)
    with LogCapture():
        f = conn.failure(
            conn.clientFactory.login(credentials.UsernamePassword(b"alice", b"guess"))
        )
    assert f.check(UnauthorizedLogin)
    assert realm.avatars == []
    with LogCapture():
        f = conn.failure(
            conn.clientFactory.login(credentials.UsernamePassword(b"bob", b"x"))
        )
    assert f.check(UnauthorizedLogin)


def test_challengeAnswersOnce() -> None:
    """
    A challenge can be answered only once, so a captured response cannot be
    replayed.
    """
    p, realm = makePortal()
    conn = Connection(p)
    root = conn.root()
    challenge, challenger = conn.result(root.callRemote("login", b"alice"))
    assert len(challenge) == pb.CHALLENGE_SIZE
    response = pb.respond(challenge, b"wonderland")
    conn.result(challenger.callRemote("respond", response, None))
    f = conn.failure(challenger.callRemote("respond", response, None))
    assert f.check(pb.Error)
    assert len(realm.avatars) == 1
    other, _ = conn.result(root.callRemote("login", b"alice"))
    assert other != challenge


def test_anonymousLogin() -> None:
    """
    ``Anonymous`` credentials log in through the portal's anonymous checker.
    """
    p, _realm = makePortal()
    conn = Connection(p)
    avatar = conn.result(conn.clientFactory.login(credentials.Anonymous()))
    assert conn.result(avatar.callRemote("whoami")) == b"anonymous"


def test_viewable() -> None:
    """
    A ``Viewable`` sent from an avatar passes that avatar to ``view_``
    methods.
    """
    p, _realm = makePortal()
    conn = Connection(p)
    avatar = conn.result(
        conn.clientFactory.login(credentials.UsernamePassword(b"alice", b"wonderland"))
    )
    board = conn.result(avatar.callRemote("board"))
    assert conn.result(board.callRemote("post", "hi")) == "alice posted hi"


def test_interfaces() -> None:
    """
    The interface implementations are complete.
    """
    assert verifyObject(pb.IPerspective, pb.Avatar())
    assert verifyObject(flavors.IPBRoot, pb.Root())
    assert verifyObject(pb.IPBRoot, pb._PortalRoot(makePortal()[0]))
    assert verifyObject(
        credentials.IUsernameHashedPassword,
        pb._ChallengeResponse(b"u", b"c", b"r"),
    )
    assert verifyObject(portal.IRealm, Realm())


def test_flavorsNames() -> None:
    """
    The object kinds are also found in ``flavors``, as Twisted users expect.
    """
    assert flavors.Referenceable is pb.Referenceable
    assert flavors.Copyable is pb.Copyable
    assert flavors.RemoteCache is pb.RemoteCache


# -- TCP -------------------------------------------------


class TrackingServerFactory(pb.PBServerFactory):
    """
    Remembers each connection's end.
    """

    def __init__(self, root: Any) -> None:
        super().__init__(root)
        self.lost: list[defer.Deferred[None]] = []
        self.brokers: list[pb.Broker] = []

    def clientConnectionMade(self, broker: pb.Broker) -> None:
        super().clientConnectionMade(broker)
        d: defer.Deferred[None] = defer.Deferred()
        broker.notifyOnDisconnect(lambda: d.callback(None))
        self.lost.append(d)
        self.brokers.append(broker)


def serve(
    reactor: Any, root: Any
) -> tuple[Any, TrackingServerFactory, pb.PBClientFactory]:
    factory = TrackingServerFactory(root)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    client = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", port.getHost().port, client)
    return port, factory, client


def closeAll(
    reactor: Any, port: Any, factory: TrackingServerFactory, client: pb.PBClientFactory
) -> None:
    client.disconnect()
    for d in factory.lost:
        runUntil(reactor, d)
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


def test_tcpCallsCopiesAndErrors(reactor: Any) -> None:
    """
    Over TCP: calls, references, copies, caches and remote errors.
    """
    service = Service()
    port, factory, client = serve(reactor, service)
    root = runUntil(reactor, client.getRootObject())
    assert runUntil(reactor, root.callRemote("add", 20, b=22)) == 42
    counter = runUntil(reactor, root.callRemote("counter"))
    assert runUntil(reactor, counter.callRemote("increment", 3)) == 3
    thing = runUntil(reactor, root.callRemote("thing"))
    assert (thing.name, thing.size) == ("box", 3)
    board = runUntil(reactor, root.callRemote("board"))
    runUntil(reactor, service.board.score("carol", 5)[0])
    assert board.scores == {"carol": 5}
    with LogCapture(), pytest.raises(pb.RemoteError):
        runUntil(reactor, root.callRemote("crash"))
    big = b"x" * (100 * 1024)
    assert runUntil(reactor, root.callRemote("echo", big)) == big
    closeAll(reactor, port, factory, client)


def test_tcpLoginAndDisconnect(reactor: Any) -> None:
    """
    Over TCP: login succeeds with the right password, fails with a wrong
    one, and the client is told when the server drops the connection.
    """
    p, realm = makePortal()
    port, factory, client = serve(reactor, p)
    with LogCapture():
        bad = client.login(credentials.UsernamePassword(b"alice", b"nope"))
        failed = runUntil(reactor, bad.addErrback(lambda f: [f]))
    assert failed[0].check(UnauthorizedLogin)
    avatar = runUntil(
        reactor, client.login(credentials.UsernamePassword(b"alice", b"wonderland"))
    )
    assert runUntil(reactor, avatar.callRemote("whoami")) == b"alice"
    gone: defer.Deferred[pb.RemoteReference] = defer.Deferred()
    avatar.notifyOnDisconnect(gone.callback)
    assert realm.avatars[0].mind is None
    for broker in factory.brokers:
        broker.transport.loseConnection()
    assert runUntil(reactor, gone) is avatar
    for d in factory.lost:
        runUntil(reactor, d)
    assert realm.avatars[0].loggedOut
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


# -- robustness ------------------------------------------------------------------

_sexp = st.recursive(
    st.integers(min_value=-3, max_value=3)
    | st.sampled_from([*sorted(banana.PB_VOCABULARY), b"add", b"echo", b"\xff"])
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=7),
    max_leaves=30,
)


@settings(max_examples=50, deadline=None)
@given(st.lists(_sexp, min_size=1, max_size=4))
def test_randomMessagesNeverRaise(messages: list[Any]) -> None:
    """
    Whatever well-encoded expressions a peer sends, the broker answers,
    ignores or closes the connection; it never raises.
    """
    conn = Connection(Service())
    conn.root()
    with LogCapture():
        for message in messages:
            conn.server.dataReceived(banana.encode(message, banana.PB_VOCABULARY))
        conn.pump.flush()
