"""
Helpers for running tests against every reactor.

- ``REACTOR_NAMES``: the names (keys of ``torsion.internet.main.REACTORS``)
  of the reactors usable here; the ``reactor`` fixture of ``conftest.py`` is
  parametrised over them.  A reactor module listed in ``main.REACTORS`` that
  imports and provides ``makeReactor()`` is picked up automatically.
- ``runUntil(reactor, deferred, timeout=10)``: run a reactor until a Deferred
  fires and return its result (or raise its failure).
- ``cleanUpReactor(reactor)``: shut a test's reactor down and close its
  descriptors.
- ``LogCapture``: collects logged events (``with LogCapture() as logged``).
"""

from __future__ import annotations

import gc
import importlib
import os
import select
from typing import Any, TypeVar, cast

from torsion.internet import main
from torsion.internet.defer import Deferred
from torsion.internet.protocol import ClientFactory, Protocol, ServerFactory
from torsion.python import log
from torsion.python.failure import Failure

#: How long ``cleanUpReactor`` lets a reactor's shutdown take.
SHUTDOWN_TIMEOUT = 10.0


def _available(name: str) -> bool:
    if name == "epoll" and not hasattr(select, "epoll"):
        return False
    if name == "poll" and not hasattr(select, "poll"):
        return False
    try:
        module = importlib.import_module(main.REACTORS[name])
    except ImportError:
        return False
    return hasattr(module, "makeReactor")


REACTOR_NAMES: list[str] = [name for name in main.REACTORS if _available(name)]


def makeReactor(name: str) -> Any:
    """
    :param name: a reactor name.
    :return: a fresh reactor, never the global one.
    """
    return main.makeReactor(name)


class RunUntilTimeout(AssertionError):
    """
    ``runUntil`` gave up waiting.
    """


_T = TypeVar("_T")


def runUntil(reactor: Any, deferred: Deferred[_T], timeout: float = 10.0) -> _T:
    """
    Run ``reactor`` until ``deferred`` fires.

    The reactor is left crashed (not stopped), so it can be run again by
    the same test.

    :param reactor: a reactor that is not running.
    :param deferred: what to wait for.
    :param timeout: seconds (on the reactor's clock) before failing.
    :return: the Deferred's result.
    :raises RunUntilTimeout: if it did not fire in time.
    :raises BaseException: the Deferred's failure, re-raised.
    """
    outcome: list[Any] = []

    def done(result: object) -> None:
        outcome.append(result)
        reactor.crash()

    deferred.addBoth(done)
    if not outcome:
        timedOut: list[bool] = []

        def giveUp() -> None:
            timedOut.append(True)
            reactor.crash()

        guard = reactor.callLater(timeout, giveUp)
        reactor.run(installSignalHandlers=False)
        if guard.active():
            guard.cancel()
        if not outcome:
            raise RunUntilTimeout(f"{deferred!r} did not fire within {timeout} seconds")
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return cast(_T, result)


def cleanUpReactor(reactor: Any) -> None:
    """
    Run the reactor's shutdown (closing connections, ports and the thread
    pool) if a test did not, then close the reactor's own descriptors.

    :param reactor: the test's reactor.
    """
    neverStopped = not getattr(reactor, "_startedBefore", True)
    if neverStopped and not getattr(reactor, "_started", False):
        reactor.callWhenRunning(reactor.stop)
        guard = reactor.callLater(SHUTDOWN_TIMEOUT, reactor.crash)
        reactor.run(installSignalHandlers=False)
        if guard.active():
            guard.cancel()
    release = getattr(reactor, "_releaseResources", None)
    if release is not None:
        release()


def openDescriptors() -> set[int]:
    """
    :return: the descriptors this process has open.
    """
    gc.collect()
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def describeDescriptors(fds: set[int]) -> str:
    """
    :param fds: descriptor numbers.
    :return: what each refers to, for an error message.
    """
    parts = []
    for fd in sorted(fds):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = "?"
        parts.append(f"{fd} -> {target}")
    return ", ".join(parts)


class LogCapture:
    """
    Collects every event logged while active; error events are in
    ``errors`` as ``Failure`` objects.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def _observe(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    @property
    def errors(self) -> list[Failure]:
        """
        The failures logged with ``log.err`` (or as errors by a ``Logger``).
        """
        return [
            e["failure"] for e in self.events if e.get("isError") and e.get("failure")
        ]

    def __enter__(self) -> LogCapture:
        log.addObserver(self._observe)
        return self

    def __exit__(self, *exc: object) -> None:
        log.removeObserver(self._observe)


__all__ = [
    "REACTOR_NAMES",
    "FakeResolver",
    "LogCapture",
    "RunUntilTimeout",
    "cleanUpReactor",
    "makeReactor",
    "openDescriptors",
    "runUntil",
]


class FakeResolver:
    """
    An ``IHostnameResolver`` answering from a dictionary of host name to
    addresses, synchronously.
    """

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def resolveHostName(
        self,
        resolutionReceiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        from torsion.internet._resolver import HostResolution
        from torsion.internet.address import IPv4Address, IPv6Address

        self.asked.append(hostName)
        resolutionReceiver.resolutionBegan(HostResolution(hostName))
        for host in self.table.get(hostName, []):
            if ":" in host:
                resolutionReceiver.addressResolved(
                    IPv6Address(transportSemantics, host, portNumber)
                )
            else:
                resolutionReceiver.addressResolved(
                    IPv4Address(transportSemantics, host, portNumber)
                )
        resolutionReceiver.resolutionComplete()
        return resolutionReceiver


class _Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


class _ExchangeClient(Protocol):
    def __init__(self, message: bytes, done: Deferred[bytes]) -> None:
        self.message = message
        self.done = done
        self.received = b""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.message)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= len(self.message):
            assert self.transport is not None
            self.transport.loseConnection()
            self.done.callback(self.received)


def listenEcho(reactor: Any) -> Any:
    """
    :return: a TCP port on 127.0.0.1 echoing what it receives.
    """
    return reactor.listenTCP(0, ServerFactory.forProtocol(_Echo), interface="127.0.0.1")


def connectExchange(reactor: Any, port: Any, message: bytes) -> Deferred[bytes]:
    """
    Connect to the echo ``port``, send ``message`` and close once it came
    back.

    :return: a Deferred firing with what came back.
    """
    done: Deferred[bytes] = Deferred()
    client = ClientFactory()
    client.buildProtocol = lambda addr: _ExchangeClient(message, done)  # type: ignore[method-assign]
    reactor.connectTCP("127.0.0.1", port.getHost().port, client)
    return done


def startExchange(reactor: Any, message: bytes) -> tuple[Any, Deferred[bytes]]:
    """
    :return: an echo port and the Deferred of an exchange of ``message``
        with it, started but not yet run.
    """
    port = listenEcho(reactor)
    return port, connectExchange(reactor, port, message)


def echoExchange(reactor: Any, message: bytes) -> bytes:
    """
    Run ``reactor`` through a TCP echo exchange of ``message``.

    :return: what came back.
    """
    port, done = startExchange(reactor, message)
    try:
        result: bytes = runUntil(reactor, done)
    finally:
        runUntil(reactor, port.stopListening())
    return result
