"""
Perspective Broker: translucent remote method calls over a connection.

A server publishes a root object with ``PBServerFactory(root)`` and
``reactor.listenTCP``; a client connects a ``PBClientFactory`` with
``reactor.connectTCP`` and asks it for ``getRootObject()``, which fires with
a ``RemoteReference``.  ``ref.callRemote("name", *args, **kw)`` runs
``remote_name`` on the other side and returns a Deferred of its result.

What may travel:

- basic values (``None``, ``bool``, ``int``, ``float``, ``bytes``, ``str``,
  lists, tuples, dicts, sets), with shared references kept;
- ``Referenceable`` objects, which arrive as ``RemoteReference`` (passed
  back, they arrive as the original object);
- ``Viewable`` objects, whose ``view_`` methods also get the caller's
  perspective;
- ``Copyable`` objects, copied by value into the ``RemoteCopy`` class the
  receiver registered with ``setUnjellyableForClass``;
- ``Cacheable`` objects, copied into a ``RemoteCache`` that the owner keeps
  up to date by calling ``observer.callRemote`` (running ``observe_``
  methods on the copy).

Anything else makes the call fail with ``InsecureJelly`` and the
connection stays open; bytes that are not valid banana (or exceed its
limits) close the connection.  A remote exception arrives as a
``CopiedFailure``: ``check`` and ``trap`` work with the remote class (by
name), ``getTraceback()`` shows the remote traceback when the server was
built with ``unsafeTracebacks=True`` and only the exception line otherwise.

``PBServerFactory(portal)`` and ``PBClientFactory.login(credentials)`` log
in through ``torsion.cred``: the server sends a fresh random 32-byte
challenge, the client answers ``HMAC-SHA256(key=password,
msg=b"torsion-pb-login\\x00" + challenge)`` and the server checks it with
``IUsernameHashedPassword.checkPassword``.  The password never crosses the
wire, a response cannot be replayed (each challenge answers once), but the
server's checker must know the clear-text password (for example
``InMemoryUsernamePasswordDatabase``).  The avatar must provide
``IPerspective`` (subclass ``Avatar``): the client gets a reference whose
``callRemote("x")`` runs ``perspective_x``.

The wire format is torsion's own: banana encoding as in Twisted, but jelly
and message layouts differ, so torsion PB does not talk to Twisted PB.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import weakref
from collections.abc import Callable
from typing import Any

from zope.interface import Interface, implementer

from torsion.cred.credentials import IAnonymous, IUsernameHashedPassword
from torsion.cred.error import LoginFailed
from torsion.cred.portal import Portal
from torsion.internet import defer, protocol
from torsion.python import log
from torsion.python.failure import Failure
from torsion.spread.banana import Banana, BananaError
from torsion.spread.jelly import (
    InsecureJelly,
    Jellier,
    Jellyable,
    SecurityOptions,
    Unjellier,
    Unjellyable,
    _typeName,
    globalSecurity,
    qual,
    setUnjellyableForClass,
    unjellyableRegistry,
)

__all__ = [
    "CHALLENGE_SIZE",
    "MAX_BROKER_REFS",
    "MAX_LOGIN_FAILURES",
    "ROOT_ID",
    "AsReferenceable",
    "Avatar",
    "Broker",
    "Cacheable",
    "CopiedFailure",
    "Copyable",
    "CopyableFailure",
    "DeadReferenceError",
    "Error",
    "IPBRoot",
    "IPerspective",
    "NoSuchMethod",
    "PBClientFactory",
    "PBConnectionLost",
    "PBServerFactory",
    "Referenceable",
    "RemoteCache",
    "RemoteCacheObserver",
    "RemoteCopy",
    "RemoteError",
    "RemoteReference",
    "Root",
    "Serializable",
    "ViewPoint",
    "Viewable",
    "challenge",
    "failure2Copyable",
    "respond",
]

MAX_BROKER_REFS = 1024
"""Most objects one connection may hold references to on this side."""

MAX_LOGIN_FAILURES = 6
"""
How many failed logins a connection to a ``PBServerFactory`` serving a
portal may make before its next attempt is refused and the connection
dropped (as OpenSSH's ``MaxAuthTries`` does).
"""


ROOT_ID = 0
"""The reference number of the server's root object."""

CHALLENGE_SIZE = 32
"""Bytes of randomness in a login challenge."""

_LOGIN_CONTEXT = b"torsion-pb-login\x00"


class Error(Exception):
    """
    Raise this (or a subclass) from a remote method for an error the caller
    is expected to handle: it is sent to the caller without being logged
    on this side.
    """


class RemoteError(Exception):
    """
    The exception inside a ``CopiedFailure``: the remote exception, known
    only by its class name, message and traceback text.

    :ivar remoteType: the remote class's qualified name.
    :ivar remoteTraceback: the remote traceback text.
    """

    def __init__(self, remoteType: str, value: str, remoteTraceback: str) -> None:
        super().__init__(value)
        self.remoteType = remoteType
        self.remoteTraceback = remoteTraceback


class DeadReferenceError(Exception):
    """
    ``callRemote`` on a reference whose connection is gone.
    """


class PBConnectionLost(Exception):
    """
    The connection was lost while waiting for the answer to a call.
    """


class NoSuchMethod(AttributeError):
    """
    The remote object has no such method (raised on the side that was
    called, so the caller sees it as a failure).
    """


class IPerspective(Interface):
    """
    An avatar PB can publish: a logged-in client's view of the server.
    """

    def perspectiveMessageReceived(
        broker: Broker, message: str, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        """
        Handle a call the client made on its reference to this perspective.

        :param broker: the connection.
        :param message: the method name.
        :param args: positional arguments.
        :param kw: keyword arguments.
        :return: the answer, or a Deferred of it.
        """


class IPBRoot(Interface):
    """
    What ``PBServerFactory`` publishes: gives each connection its root.
    """

    def rootObject(broker: Broker) -> Any:
        """
        :param broker: the new connection.
        :return: the ``Referenceable`` the client's ``getRootObject`` reaches.
        """


class Serializable(Jellyable):
    """
    Base of everything PB sends in a special way.
    """

    def processUniqueID(self) -> int:
        """
        :return: the key identifying this object in a connection's tables.
        """
        return id(self)


class Referenceable(Serializable):
    """
    An object sent by reference: the peer gets a ``RemoteReference`` whose
    ``callRemote("x", ...)`` calls this object's ``remote_x``.
    """

    perspective: Any = None

    def jellyFor(self, jellier: Jellier) -> Any:
        """
        :param jellier: the jellier of a ``Broker``.
        :return: the reference expression.
        :raises Error: if jellied outside PB.
        """
        broker = _brokerOf(jellier)
        return [b"remote", broker.registerReference(self)]

    def remoteMessageReceived(
        self, broker: Broker, message: str, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        """
        Run ``remote_<message>``.

        :param broker: the connection the call came on.
        :param message: the method name.
        :param args: positional arguments.
        :param kw: keyword arguments.
        :return: the method's result.
        :raises NoSuchMethod: if there is no such method.
        """
        return _lookupPrefixed(self, "remote", message)(*args, **kw)


@implementer(IPBRoot)
class Root(Referenceable):
    """
    A ``Referenceable`` that can be given to ``PBServerFactory``: every
    connection's root is this same object.
    """

    def rootObject(self, broker: Broker) -> Any:
        """
        :param broker: the connection.
        :return: ``self``.
        """
        return self


class ViewPoint(Referenceable):
    """
    A ``Viewable`` as seen by one perspective: calls run ``view_x`` with
    the perspective as first argument.

    :param perspective: the perspective (avatar) of the caller.
    :param object: the ``Viewable``.
    """

    def __init__(self, perspective: Any, object: Any) -> None:
        self.perspective = perspective
        self.object = object

    def remoteMessageReceived(
        self, broker: Broker, message: str, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        """
        Run ``view_<message>(perspective, ...)`` on the viewable.

        :param broker: the connection.
        :param message: the method name.
        :param args: positional arguments.
        :param kw: keyword arguments.
        :return: the method's result.
        :raises NoSuchMethod: if there is no such method.
        """
        method = _lookupPrefixed(self.object, "view", message)
        return method(self.perspective, *args, **kw)


class Viewable(Serializable):
    """
    Sent by reference like ``Referenceable``, but its ``view_x`` methods
    get the perspective of the client calling them (set when the viewable
    was sent as part of an avatar's answer), then the arguments.
    """

    def jellyFor(self, jellier: Jellier) -> Any:
        """
        :param jellier: the jellier of a ``Broker``.
        :return: a reference to a ``ViewPoint`` for the current perspective.
        """
        broker = _brokerOf(jellier)
        return ViewPoint(broker.serializingPerspective, self).jellyFor(jellier)


class Copyable(Serializable):
    """
    Sent by value: the receiver rebuilds it as the ``RemoteCopy`` class it
    registered for this class with ``setUnjellyableForClass``.  Override
    ``getStateToCopy`` (or ``getStateToCopyFor``) to choose what is sent.
    """

    def getStateToCopy(self) -> Any:
        """
        :return: the state to send; by default a copy of ``__dict__``.
        """
        return dict(self.__dict__)

    def getStateToCopyFor(self, perspective: Any) -> Any:
        """
        :param perspective: the perspective the copy is for (or ``None``).
        :return: the state to send; by default ``getStateToCopy()``.
        """
        return self.getStateToCopy()

    def getTypeToCopy(self) -> bytes:
        """
        :return: the type name sent: ``copyableTypeName`` or the qualified
            class name.
        """
        return _typeName(type(self))

    def jellyFor(self, jellier: Jellier) -> Any:
        """
        :param jellier: the jellier at work.
        :return: the copy expression.
        """
        perspective = getattr(jellier.invoker, "serializingPerspective", None)
        return [
            self.getTypeToCopy(),
            jellier.jelly(self.getStateToCopyFor(perspective)),
        ]


class RemoteCopy(Unjellyable):
    """
    The receiving side of a ``Copyable``: created without calling
    ``__init__``, then given the state with ``setCopyableState``.
    """

    def setCopyableState(self, state: Any) -> None:
        """
        :param state: the received state; by default a dict merged into
            ``__dict__``.
        :raises InsecureJelly: if it is not a dict.
        """
        if not isinstance(state, dict):
            raise InsecureJelly(f"state of {qual(type(self))} is not a dict")
        for key in state:
            if not isinstance(key, str):
                raise InsecureJelly(f"attribute name {key!r} is not a str")
        self.__dict__.update(state)


class RemoteCacheObserver:
    """
    What a ``Cacheable`` is given for each remote copy: ``callRemote("x")``
    runs ``observe_x`` on that copy.

    :param broker: the connection the copy lives across.
    :param cacheable: the object being observed.
    :param perspective: the perspective the copy was made for.
    """

    def __init__(self, broker: Broker, cacheable: Cacheable, perspective: Any) -> None:
        self.broker = broker
        self.cacheable = cacheable
        self.perspective = perspective

    def callRemote(self, name: str, *args: Any, **kw: Any) -> defer.Deferred[Any]:
        """
        Call ``observe_<name>`` on the remote copy.

        :param name: the method name (without ``observe_``).
        :param args: positional arguments.
        :param kw: keyword arguments.
        :return: a Deferred of the answer.
        """
        cacheID = self.broker._cacheIDs.get(id(self.cacheable))
        if cacheID is None:
            return defer.fail(DeadReferenceError("the copy is no longer cached"))
        return self.broker._sendMessage(
            b"cachemessage", cacheID, name, args, kw, self.perspective
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RemoteCacheObserver)
            and other.broker is self.broker
            and other.cacheable is self.cacheable
            and other.perspective is self.perspective
        )

    def __hash__(self) -> int:
        return hash((id(self.broker), id(self.cacheable), id(self.perspective)))


class Cacheable(Copyable):
    """
    Sent as a copy that stays up to date: each connection that receives it
    is given to ``getStateToCacheAndObserveFor`` as an observer; call
    ``observer.callRemote("x", ...)`` to run ``observe_x`` on the copy.
    ``stoppedObserving`` is called when the copy is dropped or the
    connection closes.
    """

    def getStateToCacheAndObserveFor(
        self, perspective: Any, observer: RemoteCacheObserver
    ) -> Any:
        """
        :param perspective: the perspective the copy is for.
        :param observer: keep it to send updates.
        :return: the state to send; by default ``getStateToCopyFor``.
        """
        return self.getStateToCopyFor(perspective)

    def stoppedObserving(self, perspective: Any, observer: RemoteCacheObserver) -> None:
        """
        The remote copy is gone; forget ``observer``.

        :param perspective: the perspective it was made for.
        :param observer: the observer given before.
        """

    def jellyFor(self, jellier: Jellier) -> Any:
        """
        :param jellier: the jellier of a ``Broker``.
        :return: the cache expression.
        """
        broker = _brokerOf(jellier)
        cacheID, observer, first = broker._registerCache(self)
        if not first:
            return [b"cached", cacheID]
        state = self.getStateToCacheAndObserveFor(observer.perspective, observer)
        return [b"cache", cacheID, self.getTypeToCopy(), jellier.jelly(state)]


class RemoteCache(RemoteCopy):
    """
    The receiving side of a ``Cacheable``: ``observe_x`` methods are called
    by the owner's ``observer.callRemote("x", ...)``.  Register it with
    ``setUnjellyableForClass``.
    """

    def remoteMessageReceived(
        self, broker: Broker, message: str, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        """
        Run ``observe_<message>``.

        :param broker: the connection.
        :param message: the method name.
        :param args: positional arguments.
        :param kw: keyword arguments.
        :return: the method's result.
        :raises NoSuchMethod: if there is no such method.
        """
        return _lookupPrefixed(self, "observe", message)(*args, **kw)


class RemoteReference(Serializable):
    """
    A reference to an object on the other side of a connection.

    :ivar broker: the connection.
    :ivar luid: the object's number on the other side.
    """

    def __init__(
        self, perspective: Any, broker: Broker, luid: int, doRefCount: bool
    ) -> None:
        self.perspective = perspective
        self.broker = broker
        self.luid = luid
        self.doRefCount = doRefCount
        self._callbacks: dict[Callable[..., object], Callable[..., object]] = {}

    def callRemote(self, _name: str, *args: Any, **kw: Any) -> defer.Deferred[Any]:
        """
        Call ``remote_<_name>(*args, **kw)`` on the remote object.

        :param _name: the method name.
        :param args: positional arguments.
        :param kw: keyword arguments.
        :return: a Deferred of the answer; it fails with the remote error
            (a ``CopiedFailure``), ``InsecureJelly``, ``DeadReferenceError``
            or ``PBConnectionLost``.
        """
        return self.broker._sendMessage(b"message", self.luid, _name, args, kw, None)

    def remoteMethod(self, key: str) -> Callable[..., defer.Deferred[Any]]:
        """
        :param key: a method name.
        :return: a callable making that remote call.
        """
        return lambda *args, **kw: self.callRemote(key, *args, **kw)

    def notifyOnDisconnect(self, callback: Callable[[RemoteReference], object]) -> None:
        """
        Call ``callback(self)`` when the connection is lost.

        :param callback: the callable.
        """

        def notify() -> None:
            callback(self)

        self._callbacks[callback] = notify
        self.broker.notifyOnDisconnect(notify)

    def dontNotifyOnDisconnect(
        self, callback: Callable[[RemoteReference], object]
    ) -> None:
        """
        Undo ``notifyOnDisconnect``.

        :param callback: the callable given to it.
        """
        notify = self._callbacks.pop(callback, None)
        if notify is not None:
            self.broker.dontNotifyOnDisconnect(notify)

    def jellyFor(self, jellier: Jellier) -> Any:
        """
        :param jellier: the jellier of the same ``Broker``.
        :return: the expression that arrives as the original object.
        :raises Error: when sent over another connection.
        """
        if jellier.invoker is not self.broker:
            raise Error("a RemoteReference can only be sent back over its connection")
        return [b"local", self.luid]

    def __repr__(self) -> str:
        return f"<RemoteReference {self.luid} on {self.broker!r}>"


class CopyableFailure(Copyable):
    """
    A ``Failure`` made ready for the wire: its class names, message and
    (when the broker allows it) traceback text.

    :param failure: the failure.
    :param unsafeTracebacks: send the full traceback text.
    """

    copyableTypeName = "torsion.spread.pb.CopyableFailure"

    def __init__(self, failure: Failure, unsafeTracebacks: bool = False) -> None:
        self.failure = failure
        self.unsafeTracebacks = unsafeTracebacks

    def getStateToCopy(self) -> Any:
        """
        :return: the failure's type name, message, parents and traceback.
        """
        f = self.failure
        if isinstance(f, CopiedFailure):
            typeName = f.value.remoteType if isinstance(f.value, RemoteError) else ""
        else:
            typeName = qual(f.type)
        message = f.getErrorMessage()
        if self.unsafeTracebacks:
            text = f.getTraceback()
        else:
            text = (
                "Traceback unavailable (remote details withheld)\n"
                f"{typeName}: {message}\n"
            )
        return {
            "type": typeName,
            "value": message,
            "traceback": text,
            "parents": list(f.parents),
        }


class CopiedFailure(RemoteCopy, Failure):
    """
    A failure that happened on the other side.

    ``value`` is a ``RemoteError``; ``check`` and ``trap`` match the remote
    exception's class (given as a class or a qualified name) by name;
    ``getTraceback()`` gives the remote text.
    """

    def setCopyableState(self, state: Any) -> None:
        """
        :param state: what ``CopyableFailure.getStateToCopy`` sent.
        :raises InsecureJelly: if it is malformed.
        """
        if not isinstance(state, dict):
            raise InsecureJelly("malformed failure")
        typeName = state.get("type")
        value = state.get("value")
        text = state.get("traceback")
        parents = state.get("parents")
        if not (
            isinstance(typeName, str)
            and isinstance(value, str)
            and isinstance(text, str)
            and isinstance(parents, list)
            and all(isinstance(p, str) for p in parents)
        ):
            raise InsecureJelly("malformed failure")
        self.value = RemoteError(typeName, value, text)
        self.type = RemoteError
        self.tb = None
        self.captureVars = False
        self._parents = list(parents)
        self._rendered = {"default": text, "brief": text, "verbose": text}
        self._summary = None
        self.remoteType = typeName
        self.remoteTraceback = text

    def check(
        self, *errorTypes: type[BaseException] | str
    ) -> type[BaseException] | str | None:
        """
        :param errorTypes: exception classes or qualified names.
        :return: the first that the remote exception is an instance of.
        """
        parents = self._parents or []
        for errorType in errorTypes:
            name = errorType if isinstance(errorType, str) else qual(errorType)
            if name in parents:
                return errorType
            if not isinstance(errorType, str) and issubclass(RemoteError, errorType):
                return errorType
        return None

    def getErrorMessage(self) -> str:
        """
        :return: the remote exception's message.
        """
        return str(self.value)

    def __repr__(self) -> str:
        return f"<CopiedFailure {self.remoteType}: {self.value}>"

    def __str__(self) -> str:
        return f"[CopiedFailure {self.remoteType}: {self.value}]"


setUnjellyableForClass(CopyableFailure, CopiedFailure)


def failure2Copyable(fail: Failure, unsafeTracebacks: bool = False) -> CopyableFailure:
    """
    :param fail: a failure.
    :param unsafeTracebacks: include the full traceback text.
    :return: a copyable version of it.
    """
    return CopyableFailure(fail, unsafeTracebacks)


@implementer(IPerspective)
class Avatar:
    """
    A convenient ``IPerspective``: a call ``x`` from the client runs
    ``perspective_x``.
    """

    def perspectiveMessageReceived(
        self, broker: Broker, message: str, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        """
        Run ``perspective_<message>``.

        :param broker: the connection.
        :param message: the method name.
        :param args: positional arguments.
        :param kw: keyword arguments.
        :return: the method's result.
        :raises NoSuchMethod: if there is no such method.
        """
        return _lookupPrefixed(self, "perspective", message)(*args, **kw)


class AsReferenceable(Referenceable):
    """
    Publishes any object by reference: a remote call ``x`` runs
    ``<messageType>_x`` on it.

    :param object: the object to publish.
    :param messageType: the method prefix, ``"remote"`` by default.
    """

    def __init__(self, object: Any, messageType: str = "remote") -> None:
        self.object = object
        self.messageType = messageType

    def remoteMessageReceived(
        self, broker: Broker, message: str, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        """
        Run ``<messageType>_<message>`` on the wrapped object.

        :param broker: the connection.
        :param message: the method name.
        :param args: positional arguments.
        :param kw: keyword arguments.
        :return: the method's result.
        :raises NoSuchMethod: if there is no such method.
        """
        return _lookupPrefixed(self.object, self.messageType, message)(*args, **kw)


class _AvatarReferenceable(Referenceable):
    # What the client holds after login: calls go to the avatar.

    def __init__(self, avatar: Any) -> None:
        self.avatar = avatar
        self.perspective = avatar

    def remoteMessageReceived(
        self, broker: Broker, message: str, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        return self.avatar.perspectiveMessageReceived(broker, message, args, kw)


def _lookupPrefixed(target: object, prefix: str, message: str) -> Any:
    """
    :return: the method ``<prefix>_<message>`` of ``target``, which a remote
        call named ``message`` runs.
    :raises NoSuchMethod: if ``target`` has none.
    """
    name = f"{prefix}_{message}"
    method = getattr(target, name, None)
    if method is None:
        raise NoSuchMethod(f"{qual(type(target))} has no {name}")
    return method


def _brokerOf(jellier: Jellier) -> Broker:
    broker = jellier.invoker
    if not isinstance(broker, Broker):
        raise Error("PB objects can only be sent through a PB Broker")
    return broker


class _LocalRef:
    __slots__ = ("obj", "refcount")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.refcount = 0


class _LocalCache:
    __slots__ = ("cacheable", "observer", "sent")

    def __init__(self, cacheable: Cacheable, observer: RemoteCacheObserver) -> None:
        self.cacheable = cacheable
        self.observer = observer
        self.sent = 0


def _sendDecref(brokerRef: weakref.ref[Broker], luid: int) -> None:
    broker = brokerRef()
    if broker is not None:
        broker._remoteGone(luid)


def _sendUncache(brokerRef: weakref.ref[Broker], cacheID: int) -> None:
    broker = brokerRef()
    if broker is not None:
        broker._cacheGone(cacheID)


class Broker(Banana):
    """
    One end of a PB connection: sends and answers calls, and keeps the
    tables of objects referenced across it.

    :param isClient: which end this is.
    :param security: the taster for what may be received.
    :param unsafeTracebacks: send full traceback text with errors.

    :ivar factory: the factory that built it.
    :ivar serializingPerspective: the perspective used while sending an
        answer (what ``Viewable`` and ``Cacheable`` objects are sent for).
    """

    factory: Any = None

    def __init__(
        self,
        isClient: bool = True,
        security: SecurityOptions = globalSecurity,
        unsafeTracebacks: bool = False,
    ) -> None:
        super().__init__(isClient)
        self.security = security
        self.unsafeTracebacks = unsafeTracebacks
        self.disconnected = False
        self.serializingPerspective: Any = None
        self._localObjects: dict[int, _LocalRef] = {}
        self._luids: dict[int, int] = {}
        self._nextLuid = ROOT_ID + 1
        self._remoteRefs: weakref.WeakValueDictionary[int, RemoteReference] = (
            weakref.WeakValueDictionary()
        )
        self._waiting: dict[int, defer.Deferred[Any]] = {}
        self._nextRequest = 1
        self._disconnects: list[Callable[[], object]] = []
        self._caches: dict[int, _LocalCache] = {}
        self._cacheIDs: dict[int, int] = {}
        self._nextCache = 1
        self._remoteCaches: weakref.WeakValueDictionary[int, RemoteCache] = (
            weakref.WeakValueDictionary()
        )
        self._handlers: dict[
            bytes, Callable[[Unjellier, list[Any], int | None], Any]
        ] = {
            b"remote": self._unjellyRemote,
            b"local": self._unjellyLocal,
            b"cache": self._unjellyCache,
            b"cached": self._unjellyCached,
        }

    # -- connection ------------------------------------------------------

    def connectionMade(self) -> None:
        """
        Publish the factory's root (server) or tell the client factory
        the connection is up.
        """
        super().connectionMade()
        connectionMade = getattr(self.factory, "clientConnectionMade", None)
        if connectionMade is not None:
            connectionMade(self)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """
        Fail every call still waiting with ``PBConnectionLost``, run the
        disconnect callbacks and release every reference.

        :param reason: why the connection ended.
        """
        self.disconnected = True
        waiting, self._waiting = self._waiting, {}
        for d in waiting.values():
            d.errback(PBConnectionLost(reason.getErrorMessage()))
        callbacks, self._disconnects = self._disconnects, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.err(None, "error in a PB disconnect callback")
        caches, self._caches = self._caches, {}
        self._cacheIDs.clear()
        for entry in caches.values():
            try:
                entry.cacheable.stoppedObserving(
                    entry.observer.perspective, entry.observer
                )
            except Exception:
                log.err(None, "error in stoppedObserving")
        self._localObjects.clear()
        self._luids.clear()

    def notifyOnDisconnect(self, notifier: Callable[[], object]) -> None:
        """
        :param notifier: called with no arguments when the connection ends.
        """
        self._disconnects.append(notifier)

    def dontNotifyOnDisconnect(self, notifier: Callable[[], object]) -> None:
        """
        :param notifier: a callable given to ``notifyOnDisconnect``.
        """
        if notifier in self._disconnects:
            self._disconnects.remove(notifier)

    # -- reference tables --------------------------------------------------

    def setRootObject(self, root: Any) -> None:
        """
        Publish ``root`` as this connection's root object.

        :param root: a ``Referenceable``.
        """
        entry = _LocalRef(root)
        entry.refcount = 1
        self._localObjects[ROOT_ID] = entry

    def remoteForName(self, luid: int = ROOT_ID) -> RemoteReference:
        """
        :param luid: a reference number on the other side.
        :return: a reference to it (not reference counted).
        """
        return RemoteReference(None, self, luid, False)

    def registerReference(self, obj: Any) -> int:
        """
        Make ``obj`` reachable by the peer (counting one more reference).

        :param obj: the object.
        :return: its reference number.
        :raises Error: when ``MAX_BROKER_REFS`` objects are already held.
        """
        key = id(obj)
        luid = self._luids.get(key)
        if luid is None:
            if len(self._localObjects) >= MAX_BROKER_REFS:
                raise Error(
                    f"too many references on this connection ({MAX_BROKER_REFS})"
                )
            luid = self._nextLuid
            self._nextLuid += 1
            self._luids[key] = luid
            self._localObjects[luid] = _LocalRef(obj)
        self._localObjects[luid].refcount += 1
        return luid

    def _registerCache(
        self, cacheable: Cacheable
    ) -> tuple[int, RemoteCacheObserver, bool]:
        cacheID = self._cacheIDs.get(id(cacheable))
        first = cacheID is None
        if cacheID is None:
            if len(self._caches) >= MAX_BROKER_REFS:
                raise Error(
                    f"too many cached objects on this connection ({MAX_BROKER_REFS})"
                )
            cacheID = self._nextCache
            self._nextCache += 1
            observer = RemoteCacheObserver(self, cacheable, self.serializingPerspective)
            self._caches[cacheID] = _LocalCache(cacheable, observer)
            self._cacheIDs[id(cacheable)] = cacheID
        entry = self._caches[cacheID]
        entry.sent += 1
        return cacheID, entry.observer, first

    def _remoteGone(self, luid: int) -> None:
        if not self.disconnected and self.transport is not None:
            self._sendQuietly([b"decref", luid])

    def _cacheGone(self, cacheID: int) -> None:
        if not self.disconnected and self.transport is not None:
            self._sendQuietly([b"uncache", cacheID])

    def _sendQuietly(self, message: list[Any]) -> None:
        try:
            self.sendEncoded(message)
        except Exception:
            log.err(None, "could not send a PB reference update")

    # -- jelly ---------------------------------------------------------------

    def serialize(self, obj: object, perspective: Any = None) -> Any:
        """
        Jelly ``obj`` for this connection.

        :param obj: the object.
        :param perspective: the perspective to send viewables and
            cacheables for.
        :return: its s-expression.
        :raises InsecureJelly: if it contains something PB cannot send.
        """
        previous = self.serializingPerspective
        self.serializingPerspective = perspective
        try:
            return Jellier(self.security, self).jelly(obj)
        finally:
            self.serializingPerspective = previous

    def unserialize(self, sexp: Any) -> Any:
        """
        Unjelly data received on this connection.

        :param sexp: the s-expression.
        :return: the objects.
        :raises InsecureJelly: if it names something not allowed or is
            malformed.
        """
        try:
            return Unjellier(self.security, self, self._handlers).unjelly(sexp)
        except InsecureJelly:
            raise
        except Exception as e:
            raise InsecureJelly(f"malformed jelly: {e!r}") from e

    def _unjellyRemote(
        self, unjellier: Unjellier, sexp: list[Any], refNo: int | None
    ) -> Any:
        if len(sexp) != 2 or type(sexp[1]) is not int:
            raise InsecureJelly("malformed remote reference")
        luid = sexp[1]
        existing = self._remoteRefs.get(luid)
        if existing is not None:
            # The peer counted one more reference; we keep one object per
            # number, so give the extra count back at once.
            self._remoteGone(luid)
            ref = existing
        else:
            ref = RemoteReference(None, self, luid, True)
            self._remoteRefs[luid] = ref
            weakref.finalize(ref, _sendDecref, weakref.ref(self), luid).atexit = False
        unjellier.register(refNo, ref)
        return ref

    def _unjellyLocal(
        self, unjellier: Unjellier, sexp: list[Any], refNo: int | None
    ) -> Any:
        if len(sexp) != 2 or type(sexp[1]) is not int:
            raise InsecureJelly("malformed local reference")
        entry = self._localObjects.get(sexp[1])
        if entry is None:
            raise InsecureJelly(f"no local object {sexp[1]}")
        unjellier.register(refNo, entry.obj)
        return entry.obj

    def _unjellyCache(
        self, unjellier: Unjellier, sexp: list[Any], refNo: int | None
    ) -> Any:
        if len(sexp) != 4 or type(sexp[1]) is not int or type(sexp[2]) is not bytes:
            raise InsecureJelly("malformed cache")
        cacheID, typeName = sexp[1], sexp[2]
        if not self.security.isTypeAllowed(typeName):
            raise InsecureJelly(f"type not allowed: {typeName!r}")
        cls = unjellyableRegistry.get(typeName) or self.security.allowedClasses.get(
            typeName
        )
        if cls is None or not issubclass(cls, RemoteCache):
            raise InsecureJelly(f"no RemoteCache registered for {typeName!r}")
        inst = cls.__new__(cls)
        unjellier.register(refNo, inst)
        state = unjellier.unjelly(sexp[3])
        inst.setCopyableState(state)
        self._remoteCaches[cacheID] = inst
        weakref.finalize(inst, _sendUncache, weakref.ref(self), cacheID).atexit = False
        return inst

    def _unjellyCached(
        self, unjellier: Unjellier, sexp: list[Any], refNo: int | None
    ) -> Any:
        # Every receipt of a cache number is answered by exactly one
        # uncache, so the owner's count stays right even when this copy was
        # dropped while the owner was sending it again.
        if len(sexp) != 2 or type(sexp[1]) is not int:
            raise InsecureJelly("malformed cached")
        existing = self._remoteCaches.get(sexp[1])
        self._cacheGone(sexp[1])
        if existing is None:
            raise InsecureJelly(f"cached copy {sexp[1]} was already dropped")
        unjellier.register(refNo, existing)
        return existing

    # -- sending -------------------------------------------------------------

    def _sendMessage(
        self,
        kind: bytes,
        target: int,
        name: str,
        args: tuple[Any, ...],
        kw: dict[str, Any],
        perspective: Any,
    ) -> defer.Deferred[Any]:
        if self.disconnected or self.transport is None:
            return defer.fail(DeadReferenceError("calling a stale broker"))
        if not isinstance(name, str):
            return defer.fail(TypeError("a remote method name must be a str"))
        try:
            payload = self.serialize([list(args), kw], perspective)
        except Exception:
            return defer.fail(Failure())
        requestID = self._nextRequest
        self._nextRequest += 1
        d: defer.Deferred[Any] = defer.Deferred()
        self._waiting[requestID] = d
        try:
            self.sendEncoded(
                [kind, requestID, target, name.encode("utf-8"), 1, payload]
            )
        except BananaError:
            del self._waiting[requestID]
            return defer.fail(Failure())
        return d

    # -- receiving -------------------------------------------------------------

    def expressionReceived(self, expression: Any) -> None:
        """
        Handle one PB message from the peer.

        :param expression: the decoded banana expression.
        """
        if not isinstance(expression, list) or not expression:
            self._protocolError(f"not a PB message: {expression!r:.100}")
            return
        kind = expression[0]
        if kind in (b"message", b"cachemessage"):
            self._receiveMessage(expression)
        elif kind == b"answer" or kind == b"error":
            self._receiveAnswer(expression)
        elif kind == b"decref":
            self._receiveDecref(expression)
        elif kind == b"uncache":
            self._receiveUncache(expression)
        else:
            self._protocolError(f"unknown PB message {kind!r:.100}")

    def _protocolError(self, reason: str) -> None:
        log.err(Failure(BananaError(reason)), "closing PB connection")
        self.disconnected = True
        self._bananaClosed = True
        if self.transport is not None:
            self.transport.loseConnection()

    def _receiveMessage(self, message: list[Any]) -> None:
        if (
            len(message) != 6
            or type(message[1]) is not int
            or type(message[2]) is not int
            or type(message[3]) is not bytes
        ):
            self._protocolError("malformed PB call")
            return
        kind, requestID, target, rawName, answerRequired, payload = message
        perspective: Any = None
        try:
            name = rawName.decode("utf-8")
            if kind == b"cachemessage":
                obj: Any = self._remoteCaches.get(target)
            else:
                entry = self._localObjects.get(target)
                obj = None if entry is None else entry.obj
            if obj is None:
                raise Error(f"no object {target} on this connection")
            perspective = getattr(obj, "perspective", None)
            decoded = self.unserialize(payload)
            if (
                not isinstance(decoded, list)
                or len(decoded) != 2
                or not isinstance(decoded[0], list)
                or not isinstance(decoded[1], dict)
                or not all(isinstance(k, str) for k in decoded[1])
            ):
                raise InsecureJelly("malformed call arguments")
            d = defer.maybeDeferred(
                obj.remoteMessageReceived, self, name, tuple(decoded[0]), decoded[1]
            )
        except Exception:
            d = defer.fail(Failure())
        if answerRequired:
            d.addCallbacks(
                self._sendAnswer,
                self._sendError,
                callbackArgs=(requestID, perspective),
                errbackArgs=(requestID,),
            )
        else:
            d.addErrback(self._logError)

    def _logError(self, fail: Failure) -> None:
        log.err(fail, "error in a PB call needing no answer")

    def _sendAnswer(self, result: Any, requestID: int, perspective: Any) -> None:
        if self.disconnected:
            return
        try:
            sexp = self.serialize(result, perspective)
            self.sendEncoded([b"answer", requestID, sexp])
        except Exception:
            self._sendError(Failure(), requestID)

    def _sendError(self, fail: Failure, requestID: int) -> None:
        if not fail.check(Error, InsecureJelly, LoginFailed):
            log.err(fail, "a PB call failed; the caller receives this error")
        if self.disconnected:
            return
        try:
            sexp = self.serialize(CopyableFailure(fail, self.unsafeTracebacks))
            self.sendEncoded([b"error", requestID, sexp])
        except Exception:
            log.err(None, "could not send a PB error")

    def _receiveAnswer(self, message: list[Any]) -> None:
        if len(message) != 3 or type(message[1]) is not int:
            self._protocolError("malformed PB answer")
            return
        d = self._waiting.pop(message[1], None)
        if d is None:
            self._protocolError(f"answer to unknown request {message[1]}")
            return
        try:
            value = self.unserialize(message[2])
        except InsecureJelly:
            d.errback(Failure())
            return
        if message[0] == b"answer":
            d.callback(value)
        elif isinstance(value, CopiedFailure):
            d.errback(value)
        else:
            d.errback(InsecureJelly("an error answer that is not a failure"))

    def _receiveDecref(self, message: list[Any]) -> None:
        if len(message) != 2 or type(message[1]) is not int:
            self._protocolError("malformed decref")
            return
        luid = message[1]
        entry = self._localObjects.get(luid)
        if entry is None or luid == ROOT_ID:
            return
        entry.refcount -= 1
        if entry.refcount <= 0:
            del self._localObjects[luid]
            self._luids.pop(id(entry.obj), None)

    def _receiveUncache(self, message: list[Any]) -> None:
        if len(message) != 2 or type(message[1]) is not int:
            self._protocolError("malformed uncache")
            return
        entry = self._caches.get(message[1])
        if entry is None:
            return
        entry.sent -= 1
        if entry.sent <= 0:
            del self._caches[message[1]]
            self._cacheIDs.pop(id(entry.cacheable), None)
            try:
                entry.cacheable.stoppedObserving(
                    entry.observer.perspective, entry.observer
                )
            except Exception:
                log.err(None, "error in stoppedObserving")


# -- factories ------------------------------------------------------------------


def challenge() -> bytes:
    """
    :return: a fresh random login challenge of ``CHALLENGE_SIZE`` bytes.
    """
    return os.urandom(CHALLENGE_SIZE)


def respond(challenge: bytes, password: bytes) -> bytes:
    """
    Answer a login challenge.

    :param challenge: what the server sent.
    :param password: the password.
    :return: ``HMAC-SHA256(password, b"torsion-pb-login\\x00" + challenge)``.
    """
    return hmac.new(password, _LOGIN_CONTEXT + challenge, hashlib.sha256).digest()


@implementer(IUsernameHashedPassword)
class _ChallengeResponse:
    # Credentials from a challenge/response login: checkable, not readable.

    def __init__(self, username: bytes, challenge: bytes, response: bytes) -> None:
        self.username = username
        self.challenge = challenge
        self.response = response

    def checkPassword(self, password: bytes | str) -> bool:
        if isinstance(password, str):
            password = password.encode("utf-8")
        expected = respond(self.challenge, password)
        return hmac.compare_digest(expected, self.response)


class _PortalAuthChallenger(Referenceable):
    def __init__(
        self, wrapper: _PortalWrapper, username: bytes, challenge: bytes
    ) -> None:
        self.wrapper = wrapper
        self.username = username
        self.challenge: bytes | None = challenge

    def remote_respond(self, response: object, mind: object) -> defer.Deferred[Any]:
        self.wrapper._admit()
        challenge, self.challenge = self.challenge, None
        if challenge is None:
            raise Error("this challenge was already answered")
        if not isinstance(response, bytes):
            raise Error("the response must be bytes")
        creds = _ChallengeResponse(self.username, challenge, response)
        return self.wrapper._login(creds, mind)


class _PortalWrapper(Referenceable):
    # The root a client of a portal-backed server sees.

    def __init__(self, portal: Portal, broker: Broker) -> None:
        self.portal = portal
        self.broker = broker
        self.failures = 0

    def _admit(self) -> None:
        """
        Refuse a login attempt (and drop the connection) once this
        connection has failed ``maxLoginFailures`` times: one connection is
        not a place to guess passwords.
        """
        limit = getattr(self.broker.factory, "maxLoginFailures", MAX_LOGIN_FAILURES)
        if self.failures >= limit:
            transport = self.broker.transport
            if transport is not None:
                transport.loseConnection()
            raise Error(f"too many failed logins on this connection ({limit})")

    def remote_login(self, username: object) -> tuple[bytes, Referenceable]:
        self._admit()
        if isinstance(username, str):
            username = username.encode("utf-8")
        if not isinstance(username, bytes):
            raise Error("the user name must be bytes or str")
        c = challenge()
        return c, _PortalAuthChallenger(self, username, c)

    def remote_loginAnonymous(self, mind: object) -> defer.Deferred[Any]:
        from torsion.cred.credentials import Anonymous

        self._admit()
        return self._login(Anonymous(), mind)

    def _login(self, creds: object, mind: object) -> defer.Deferred[Any]:
        d = self.portal.login(creds, mind, IPerspective)

        def failed(reason: Failure) -> Failure:
            if reason.check(LoginFailed):
                self.failures += 1
            return reason

        def loggedIn(result: tuple[Any, Any, Callable[[], None]]) -> Referenceable:
            _, avatar, logout = result
            if self.broker.disconnected:
                logout()
            else:
                self.broker.notifyOnDisconnect(logout)
            return _AvatarReferenceable(avatar)

        return d.addCallbacks(loggedIn, failed)


@implementer(IPBRoot)
class _PortalRoot:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    def rootObject(self, broker: Broker) -> Any:
        return _PortalWrapper(self.portal, broker)


class PBServerFactory(protocol.ServerFactory):
    """
    Serves PB: each connection's root is ``root.rootObject(broker)``.

    :param root: an ``IPBRoot`` (such as a ``Root``), or a ``Portal`` to
        serve logins.
    :param unsafeTracebacks: send full traceback text with errors (useful
        while developing; it tells clients about the server's code).
    :param security: the taster for what clients may send.
    :ivar maxLoginFailures: how many failed logins (wrong password, unknown
        user) one connection may make; the next attempt is refused and the
        connection dropped.  ``MAX_LOGIN_FAILURES`` by default.
    """

    maxLoginFailures = MAX_LOGIN_FAILURES

    def __init__(
        self,
        root: Any,
        unsafeTracebacks: bool = False,
        security: SecurityOptions = globalSecurity,
    ) -> None:
        if isinstance(root, Portal):
            root = _PortalRoot(root)
        self.root = root
        self.unsafeTracebacks = unsafeTracebacks
        self.security = security

    def buildProtocol(self, addr: object) -> Broker:
        """
        :param addr: the client's address.
        :return: a server ``Broker``.
        """
        broker = Broker(False, self.security, self.unsafeTracebacks)
        broker.factory = self
        return broker

    def clientConnectionMade(self, broker: Broker) -> None:
        """
        Publish the root on a new connection.

        :param broker: the connection.
        """
        broker.setRootObject(self.root.rootObject(broker))


class PBClientFactory(protocol.ClientFactory):
    """
    Connects to a PB server: ``getRootObject()`` and ``login()`` give
    Deferreds of remote references.

    :param unsafeTracebacks: send full traceback text with errors.
    :param security: the taster for what the server may send.
    """

    def __init__(
        self, unsafeTracebacks: bool = False, security: SecurityOptions = globalSecurity
    ) -> None:
        self.unsafeTracebacks = unsafeTracebacks
        self.security = security
        self._broker: Broker | None = None
        self._root: RemoteReference | None = None
        self._rootWaiting: list[defer.Deferred[RemoteReference]] = []
        self._failure: Failure | None = None

    def buildProtocol(self, addr: object) -> Broker:
        """
        :param addr: the server's address.
        :return: a client ``Broker``.
        """
        broker = Broker(True, self.security, self.unsafeTracebacks)
        broker.factory = self
        return broker

    def clientConnectionMade(self, broker: Broker) -> None:
        """
        Called by the broker once connected: fires ``getRootObject``.

        :param broker: the connection.
        """
        self._broker = broker
        self._failure = None
        self._root = broker.remoteForName(ROOT_ID)
        broker.notifyOnDisconnect(self._brokerLost)
        waiting, self._rootWaiting = self._rootWaiting, []
        for d in waiting:
            d.callback(self._root)

    def _brokerLost(self) -> None:
        self._root = None
        self._broker = None
        self._failAll(Failure(PBConnectionLost("the connection was lost")))

    def _failAll(self, reason: Failure) -> None:
        self._failure = reason
        waiting, self._rootWaiting = self._rootWaiting, []
        for d in waiting:
            d.errback(reason)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """
        Fail the waiting ``getRootObject`` calls.

        :param connector: the connector.
        :param reason: why.
        """
        self._failAll(reason)

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        """
        Forget the root; later ``getRootObject`` calls fail.

        :param connector: the connector.
        :param reason: why.
        """
        self._root = None
        self._broker = None
        self._failAll(reason)

    def getRootObject(self) -> defer.Deferred[RemoteReference]:
        """
        :return: a Deferred of the server's root, once connected; it fails
            if the connection failed or was lost.
        """
        if self._root is not None:
            return defer.succeed(self._root)
        if self._failure is not None:
            return defer.fail(self._failure)
        d: defer.Deferred[RemoteReference] = defer.Deferred()
        self._rootWaiting.append(d)
        return d

    def disconnect(self) -> None:
        """
        Close the connection.
        """
        if self._broker is not None and self._broker.transport is not None:
            self._broker.transport.loseConnection()

    def login(self, credentials: Any, client: Any = None) -> defer.Deferred[Any]:
        """
        Log in to a server built with ``PBServerFactory(portal)``.

        :param credentials: ``UsernamePassword`` (the password is only used
            to answer the server's challenge) or ``Anonymous``.
        :param client: a ``Referenceable`` the server's realm gets as the
            mind, or ``None``.
        :return: a Deferred of a reference to the avatar; it fails with a
            ``CopiedFailure`` of ``UnauthorizedLogin`` on bad credentials.
        """
        d = self.getRootObject()
        if IAnonymous.providedBy(credentials):
            return d.addCallback(lambda root: root.callRemote("loginAnonymous", client))
        username = credentials.username
        password = credentials.password
        if isinstance(password, str):
            password = password.encode("utf-8")

        def gotRoot(root: RemoteReference) -> defer.Deferred[Any]:
            return root.callRemote("login", username).addCallback(gotChallenge)

        def gotChallenge(answer: Any) -> defer.Deferred[Any]:
            challengeBytes, challenger = answer
            reply: defer.Deferred[Any] = challenger.callRemote(
                "respond", respond(challengeBytes, password), client
            )
            return reply

        return d.addCallback(gotRoot)
