"""
Services that listen, connect or repeat.

- ``TCPServer``, ``UDPServer``, ``UNIXServer``, ``SSLServer``: listen while
  running (the reactor's ``listenTCP``/``listenUDP``/... with the same
  arguments; the port is opened in ``privilegedStartService`` so it can be a
  low one).
- ``TCPClient``, ``UNIXClient``, ``SSLClient``: one connection while running.
- ``StreamServerEndpointService``: listens on any ``IStreamServerEndpoint``.
- ``TimerService``: calls a function every N seconds.
- ``ClientService``: keeps a client connected through an endpoint,
  reconnecting with a back-off (``backoffPolicy``) whenever the connection
  is lost or cannot be made.

Every service takes ``reactor=`` (or ``clock=``) so tests can give it a
fresh reactor or a ``Clock``; by default the global reactor is used when the
service starts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.application.service import Service
from torsion.internet import defer
from torsion.internet.defer import CancelledError, Deferred
from torsion.internet.interfaces import (
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from torsion.internet.task import LoopingCall
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "ClientService",
    "SSLClient",
    "SSLServer",
    "StreamServerEndpointService",
    "TCPClient",
    "TCPServer",
    "TimerService",
    "UDPServer",
    "UNIXClient",
    "UNIXServer",
    "backoffPolicy",
    "describeAddress",
]

_log = Logger()


def _globalReactor() -> Any:
    from torsion.internet import reactor

    return reactor


def describeAddress(address: Any) -> str:
    """
    Describe a listening address the way endpoint strings spell it.

    :param address: an ``IAddress`` such as ``IPv4Address`` or
        ``UNIXAddress``.
    :return: ``"tcp:127.0.0.1:8080"``, ``"tcp6:[::1]:8080"``,
        ``"unix:/run/app.sock"``, or the address's ``repr`` otherwise.
    """
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    kind = str(getattr(address, "type", "")).lower()
    if host is not None and port is not None:
        if ":" in host:
            return f"{kind}6:[{host}]:{port}"
        return f"{kind}:{host}:{port}"
    name = getattr(address, "name", None)
    if name is not None:
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        return f"unix:{name}"
    return repr(address)


class _AbstractServer(Service):
    """
    Listens with ``reactor.listen<method>(*args, **kwargs)`` while running.

    :ivar reactor: the reactor given, or ``None`` for the global one.
    """

    method = ""
    _port: Any = None

    def __init__(self, *args: Any, reactor: Any = None, **kwargs: Any) -> None:
        """
        :param args: the reactor method's positional arguments.
        :param reactor: the reactor; the global one by default.
        :param kwargs: the reactor method's keyword arguments.
        """
        self.args = args
        self.kwargs = kwargs
        self.reactor = reactor

    def _getPort(self) -> Any:
        reactor = self.reactor if self.reactor is not None else _globalReactor()
        return getattr(reactor, "listen" + self.method)(*self.args, **self.kwargs)

    def privilegedStartService(self) -> None:
        """
        Open the port (before privileges are dropped).

        :raises torsion.internet.error.CannotListenError: if it cannot be
            opened.
        """
        Service.privilegedStartService(self)
        self._port = self._getPort()

    def startService(self) -> None:
        """
        Open the port, unless ``privilegedStartService`` did.
        """
        Service.startService(self)
        if self._port is None:
            self._port = self._getPort()

    def stopService(self) -> Deferred[Any]:
        """
        Close the port.

        :return: a ``Deferred`` firing once it is closed.
        """
        Service.stopService(self)
        port, self._port = self._port, None
        if port is None:
            return defer.succeed(None)
        return defer.maybeDeferred(port.stopListening)

    def getPort(self) -> Any:
        """
        :return: the listening port while running (``getHost()`` gives the
            address actually bound), else ``None``.
        """
        return self._port


class _AbstractClient(Service):
    """
    Connects with ``reactor.connect<method>(*args, **kwargs)`` when started
    and disconnects when stopped.
    """

    method = ""
    _connection: Any = None

    def __init__(self, *args: Any, reactor: Any = None, **kwargs: Any) -> None:
        """
        :param args: the reactor method's positional arguments.
        :param reactor: the reactor; the global one by default.
        :param kwargs: the reactor method's keyword arguments.
        """
        self.args = args
        self.kwargs = kwargs
        self.reactor = reactor

    def startService(self) -> None:
        """
        Start connecting.
        """
        Service.startService(self)
        reactor = self.reactor if self.reactor is not None else _globalReactor()
        self._connection = getattr(reactor, "connect" + self.method)(
            *self.args, **self.kwargs
        )

    def stopService(self) -> None:
        """
        Drop the connection (or the attempt).
        """
        Service.stopService(self)
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.disconnect()


class TCPServer(_AbstractServer):
    """
    ``TCPServer(port, factory, backlog=50, interface="", reactor=None)``:
    listens on a TCP port while running.
    """

    method = "TCP"


class UDPServer(_AbstractServer):
    """
    ``UDPServer(port, protocol, interface="", maxPacketSize=8192,
    reactor=None)``: receives datagrams on a port while running.
    """

    method = "UDP"


class UNIXServer(_AbstractServer):
    """
    ``UNIXServer(path, factory, backlog=50, mode=0o666, wantPID=False,
    reactor=None)``: listens on a Unix socket while running.
    """

    method = "UNIX"


class SSLServer(_AbstractServer):
    """
    ``SSLServer(port, factory, contextFactory, backlog=50, interface="",
    reactor=None)``: listens for TLS over TCP while running.
    """

    method = "SSL"


class TCPClient(_AbstractClient):
    """
    ``TCPClient(host, port, factory, timeout=30, bindAddress=None,
    reactor=None)``: connects when started (once; use ``ClientService`` to
    stay connected).
    """

    method = "TCP"


class UNIXClient(_AbstractClient):
    """
    ``UNIXClient(path, factory, timeout=30, reactor=None)``: connects to a
    Unix socket when started.
    """

    method = "UNIX"


class SSLClient(_AbstractClient):
    """
    ``SSLClient(host, port, factory, contextFactory, reactor=None)``:
    connects with TLS when started.
    """

    method = "SSL"


class TimerService(Service):
    """
    Calls ``callable(*args, **kwargs)`` every ``step`` seconds while running,
    the first time as soon as it starts.  If the callable returns a
    ``Deferred``, the next call waits for it, and ``stopService`` waits for
    a call in progress.  A call that raises is logged and ends the timer.

    :ivar clock: the ``IReactorTime`` used (set it before starting; the
        global reactor by default).
    """

    clock: Any = None
    _loop: LoopingCall | None = None
    _finished: Deferred[Any] | None = None

    def __init__(
        self, step: float, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """
        :param step: the seconds between calls.
        :param callable: what to call.
        :param args: its positional arguments.
        :param kwargs: its keyword arguments.
        """
        self.step = step
        self.call = (callable, args, kwargs)

    def startService(self) -> None:
        """
        Start the calls (the first one at once).
        """
        Service.startService(self)
        function, args, kwargs = self.call
        loop = LoopingCall(function, *args, **kwargs)
        loop.clock = self.clock if self.clock is not None else _globalReactor()
        self._loop = loop
        self._finished = loop.start(self.step, now=True)
        self._finished.addErrback(self._failed)

    def _failed(self, failure: Failure) -> None:
        _log.failure("TimerService {name!r}: call failed", failure, name=self.name)

    def stopService(self) -> Deferred[Any]:
        """
        Stop calling.

        :return: a ``Deferred`` firing once any call in progress is done.
        """
        Service.stopService(self)
        loop, finished = self._loop, self._finished
        self._loop = self._finished = None
        if loop is None or finished is None:
            return defer.succeed(None)
        if loop.running:
            loop.stop()
        return finished.addCallback(lambda _: None)


class StreamServerEndpointService(Service):
    """
    Listens on an ``IStreamServerEndpoint`` while running.

    Listening starts in ``privilegedStartService``.  If it fails, the error
    is logged, or, when ``_raiseSynchronously`` is true and the endpoint
    failed at once, raised from ``privilegedStartService``/``startService``
    (the ``torsion`` command does this to report the problem and exit).

    :ivar endpoint: the endpoint.
    :ivar factory: the protocol factory.
    """

    _raiseSynchronously = False
    _waitingForPort: Deferred[IListeningPort] | None = None
    _port: IListeningPort | None = None
    _outcome: IListeningPort | Failure | None = None

    def __init__(
        self, endpoint: IStreamServerEndpoint, factory: IProtocolFactory
    ) -> None:
        """
        :param endpoint: where to listen.
        :param factory: builds a protocol per connection.
        """
        self.endpoint = endpoint
        self.factory = factory
        self._listenWaiters: list[Deferred[IListeningPort]] = []

    def whenListening(self) -> Deferred[IListeningPort]:
        """
        :return: a ``Deferred`` firing with the listening port once
            listening has started, or failing with the reason it could not.
        :raises RuntimeError: if the service has not been started.
        """
        if self._waitingForPort is None and self._outcome is None:
            raise RuntimeError("the service has not been started")
        if self._outcome is not None:
            if isinstance(self._outcome, Failure):
                return defer.fail(self._outcome)
            return defer.succeed(self._outcome)
        result: Deferred[IListeningPort] = Deferred()
        self._listenWaiters.append(result)
        return result

    def _settle(self, outcome: IListeningPort | Failure) -> None:
        self._outcome = outcome
        waiters, self._listenWaiters = self._listenWaiters, []
        for waiter in waiters:
            if isinstance(outcome, Failure):
                waiter.errback(outcome)
            else:
                waiter.callback(outcome)

    def privilegedStartService(self) -> None:
        """
        Start listening.

        :raises Exception: the endpoint's error, if it failed at once and
            ``_raiseSynchronously`` is true.
        """
        Service.privilegedStartService(self)
        self._outcome = None
        self._listenWaiters = []
        inCall = True
        immediate: list[Failure] = []

        def listened(port: IListeningPort) -> None:
            self._waitingForPort = None
            self._port = port
            protocol = getattr(self.factory, "protocol", None)
            _log.info(
                "{what} listening on {address}",
                what=getattr(protocol, "__name__", None) or type(self.factory).__name__,
                address=describeAddress(port.getHost()),
            )
            self._settle(port)

        def failed(failure: Failure) -> None:
            self._waitingForPort = None
            if failure.check(CancelledError) and not self.running:
                self._settle(failure)
                return
            if self._raiseSynchronously and inCall:
                immediate.append(failure)
            else:
                _log.failure(
                    "Could not listen on {endpoint!r}", failure, endpoint=self.endpoint
                )
            self._settle(failure)

        waiting = self.endpoint.listen(self.factory)
        self._waitingForPort = waiting
        waiting.addCallbacks(listened, failed)
        inCall = False
        if immediate:
            immediate[0].raiseException()

    def startService(self) -> None:
        """
        Start listening, unless ``privilegedStartService`` did.
        """
        Service.startService(self)
        if self._waitingForPort is None and self._outcome is None:
            self.privilegedStartService()

    def stopService(self) -> Deferred[None]:
        """
        Stop listening (or cancel the attempt).

        :return: a ``Deferred`` firing once the port is closed.
        """
        Service.stopService(self)
        waiting, self._waitingForPort = self._waitingForPort, None
        port, self._port = self._port, None
        self._outcome = None
        if port is not None:
            return defer.maybeDeferred(port.stopListening).addCallback(lambda _: None)
        if waiting is not None and not waiting.called:
            waiting.cancel()
        return defer.succeed(None)


def backoffPolicy(
    initialDelay: float = 1.0,
    maxDelay: float = 60.0,
    factor: float = 1.5,
    jitter: Callable[[], float] = random.random,
) -> Callable[[int], float]:
    """
    Build a retry policy for ``ClientService``: the delay grows
    geometrically with the number of consecutive failed attempts, up to a
    ceiling, plus a random jitter so that many clients do not reconnect in
    step.

    :param initialDelay: the delay for attempt 0 (after a connection that
        worked was lost).
    :param maxDelay: the ceiling, before jitter.
    :param factor: the growth per failed attempt.
    :param jitter: returns the seconds added to each delay.
    :return: ``policy(failedAttempts) -> seconds``.
    """

    def policy(failedAttempts: int) -> float:
        # Bounding the exponent keeps the float finite for absurd counts.
        exponent = min(max(failedAttempts, 0), 100)
        try:
            delay = initialDelay * factor**exponent
        except OverflowError:
            delay = maxDelay
        return min(delay, maxDelay) + jitter()

    return policy


_defaultPolicy = backoffPolicy()


@implementer(IProtocol)
class _ObservedProtocol:
    """
    Stands in for the user's protocol so ``ClientService`` learns when the
    connection ends; everything else goes to the wrapped protocol.
    """

    def __init__(self, protocol: Any, onLost: Callable[[Failure], None]) -> None:
        self._protocol = protocol
        self._onLost = onLost
        self.transport: Any = None

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        self._protocol.makeConnection(transport)

    def connectionMade(self) -> None:
        self._protocol.connectionMade()

    def dataReceived(self, data: bytes) -> None:
        self._protocol.dataReceived(data)

    def connectionLost(self, reason: Failure) -> None:
        try:
            self._protocol.connectionLost(reason)
        finally:
            self._onLost(reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol, name)


@implementer(IProtocolFactory)
class _ObservingFactory:
    """
    Wraps the user's factory so each protocol is an ``_ObservedProtocol``.
    """

    def __init__(
        self, factory: IProtocolFactory, onLost: Callable[[Failure], None]
    ) -> None:
        self._factory = factory
        self._onLost = onLost

    def doStart(self) -> None:
        self._factory.doStart()

    def doStop(self) -> None:
        self._factory.doStop()

    def buildProtocol(self, addr: Any) -> _ObservedProtocol | None:
        protocol = self._factory.buildProtocol(addr)
        if protocol is None:
            return None
        return _ObservedProtocol(protocol, self._onLost)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory, name)


class _Waiter:
    def __init__(self, deferred: Deferred[Any], remaining: int | None) -> None:
        self.deferred = deferred
        self.remaining = remaining


class ClientService(Service):
    """
    Keeps one client connection open through an endpoint while running.

    When an attempt fails or the connection is lost, it waits
    ``retryPolicy(failedAttempts)`` seconds and tries again
    (``failedAttempts`` counts consecutive failed attempts; it is 0 after a
    connection that worked was lost).  ``stopService`` stops retrying and
    closes the connection.

    States: ``"stopped"``, ``"connecting"``, ``"preparing"`` (connected,
    ``prepareConnection`` running), ``"connected"``, ``"waiting"`` (for the
    next attempt), ``"disconnecting"`` (stopping while connected).  The
    current one is in ``state``.
    """

    state = "stopped"

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        factory: IProtocolFactory,
        retryPolicy: Callable[[int], float] | None = None,
        clock: Any = None,
        prepareConnection: Callable[[Any], Any] | None = None,
    ) -> None:
        """
        :param endpoint: where to connect.
        :param factory: builds the protocol of each connection.
        :param retryPolicy: seconds to wait before the next attempt, given
            the number of consecutive failed attempts; ``backoffPolicy()``
            by default.
        :param clock: an ``IReactorTime``; the global reactor by default.
        :param prepareConnection: called with each new protocol before it
            counts as connected; if it returns a ``Deferred`` the service
            waits for it; if it fails the connection is dropped and counts
            as a failed attempt.
        """
        self.endpoint = endpoint
        self.factory = factory
        self.retryPolicy = retryPolicy if retryPolicy is not None else _defaultPolicy
        self.clock = clock
        self.prepareConnection = prepareConnection
        self.failedAttempts = 0
        self._attempt: Deferred[Any] | None = None
        self._delayed: Any = None
        self._current: _ObservedProtocol | None = None
        self._stopped: Deferred[None] | None = None
        self._alsoStopped: list[Deferred[None]] = []
        self._waiters: list[_Waiter] = []
        self._everStarted = False

    def _clock(self) -> Any:
        return self.clock if self.clock is not None else _globalReactor()

    # -- public interface ---------------------------------------------------

    def startService(self) -> None:
        """
        Start connecting.

        :raises RuntimeError: if it is still disconnecting from a previous
            run.
        """
        if self.state != "stopped":
            raise RuntimeError(f"cannot start a ClientService in state {self.state}")
        Service.startService(self)
        self._everStarted = True
        self.failedAttempts = 0
        self._connect()

    def stopService(self) -> Deferred[None]:
        """
        Stop retrying and close the connection; pending ``whenConnected``
        ``Deferred``s fail with ``CancelledError``.

        :return: a ``Deferred`` firing once the connection is closed.
        """
        Service.stopService(self)
        self._failWaiters(Failure(CancelledError("the ClientService was stopped")))
        state = self.state
        if state == "connecting":
            self.state = "stopped"
            attempt, self._attempt = self._attempt, None
            if attempt is not None:
                attempt.cancel()
            return defer.succeed(None)
        if state == "waiting":
            self.state = "stopped"
            delayed, self._delayed = self._delayed, None
            if delayed is not None and delayed.active():
                delayed.cancel()
            return defer.succeed(None)
        if state in ("connected", "preparing"):
            self.state = "disconnecting"
            self._stopped = Deferred()
            stopped = self._stopped
            assert self._current is not None
            self._current.transport.loseConnection()
            return stopped
        if state == "disconnecting":
            result: Deferred[None] = Deferred()
            self._alsoStopped.append(result)
            return result
        return defer.succeed(None)

    def whenConnected(self, failAfterFailures: int | None = None) -> Deferred[Any]:
        """
        Get the connected protocol.

        :param failAfterFailures: fail after this many further failed
            attempts (with the last attempt's failure) instead of waiting
            for ever; ``None`` to wait for ever.
        :return: a ``Deferred`` firing with the user's protocol as soon as
            a connection is up (at once if one is), or failing with
            ``CancelledError`` if the service is (or gets) stopped.
        :raises ValueError: if ``failAfterFailures`` is less than 1.
        """
        if failAfterFailures is not None and failAfterFailures < 1:
            raise ValueError("failAfterFailures must be at least 1")
        if self.state == "connected":
            assert self._current is not None
            return defer.succeed(self._current._protocol)
        if self.state == "disconnecting" or (
            self.state == "stopped" and self._everStarted
        ):
            return defer.fail(CancelledError("the ClientService is stopped"))
        deferred: Deferred[Any] = Deferred()
        self._waiters.append(_Waiter(deferred, failAfterFailures))
        return deferred

    # -- transitions --------------------------------------------------------

    def _connect(self) -> None:
        self.state = "connecting"
        self._delayed = None
        attempt = self.endpoint.connect(_ObservingFactory(self.factory, self._lost))
        if self.state == "connecting" and not attempt.called:
            self._attempt = attempt
        attempt.addCallbacks(self._made, self._attemptFailed)

    def _made(self, observed: _ObservedProtocol) -> None:
        self._attempt = None
        if self.state != "connecting":
            # Stopped while the attempt was finishing.
            observed.transport.loseConnection()
            return
        self._current = observed
        if self.prepareConnection is None:
            self._ready(None)
            return
        self.state = "preparing"
        preparing = defer.maybeDeferred(self.prepareConnection, observed._protocol)
        preparing.addCallbacks(self._ready, self._prepareFailed)

    def _ready(self, ignored: object) -> None:
        if self.state not in ("connecting", "preparing"):
            return
        self.state = "connected"
        self.failedAttempts = 0
        assert self._current is not None
        protocol = self._current._protocol
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.deferred.callback(protocol)

    def _prepareFailed(self, failure: Failure) -> None:
        if self.state != "preparing":
            return
        _log.failure("ClientService: preparing the connection failed", failure)
        self.state = "dropping"
        self._countFailure(failure)
        assert self._current is not None
        self._current.transport.loseConnection()

    def _attemptFailed(self, failure: Failure) -> None:
        self._attempt = None
        if self.state != "connecting":
            return
        _log.info(
            "ClientService: connecting to {endpoint!r} failed: {reason}",
            endpoint=self.endpoint,
            reason=failure.getErrorMessage(),
        )
        self._countFailure(failure)
        self._wait()

    def _lost(self, reason: Failure) -> None:
        state = self.state
        self._current = None
        if state == "disconnecting":
            self.state = "stopped"
            stopped, self._stopped = self._stopped, None
            also, self._alsoStopped = self._alsoStopped, []
            for deferred in [stopped, *also]:
                if deferred is not None:
                    deferred.callback(None)
            return
        if state == "preparing":
            self._countFailure(reason)
        if state in ("connected", "preparing", "dropping"):
            self._wait()

    def _wait(self) -> None:
        self.state = "waiting"
        delay = self.retryPolicy(self.failedAttempts)
        self._delayed = self._clock().callLater(delay, self._connect)

    def _countFailure(self, failure: Failure) -> None:
        self.failedAttempts += 1
        keep: list[_Waiter] = []
        expired: list[_Waiter] = []
        for waiter in self._waiters:
            if waiter.remaining is not None:
                waiter.remaining -= 1
                if waiter.remaining <= 0:
                    expired.append(waiter)
                    continue
            keep.append(waiter)
        self._waiters = keep
        for waiter in expired:
            waiter.deferred.errback(failure)

    def _failWaiters(self, failure: Failure) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.deferred.errback(failure)
