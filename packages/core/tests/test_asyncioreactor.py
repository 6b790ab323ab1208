"""
Tests for ``torsion.internet.asyncioreactor``: torsion on an asyncio loop,
side by side with asyncio code.

The reactor also runs the whole shared reactor suite (it is one of
``REACTOR_NAMES``); these tests cover what is particular to it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from reactormixins import REACTOR_NAMES, cleanUpReactor, runUntil
from zope.interface.verify import verifyObject

from torsion.internet import asyncioreactor, interfaces, main
from torsion.internet.address import IPv4Address
from torsion.internet.defer import Deferred
from torsion.internet.protocol import Factory, Protocol


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    eventLoop = asyncio.new_event_loop()
    yield eventLoop
    eventLoop.close()


@pytest.fixture
def asyncioReactor(
    loop: asyncio.AbstractEventLoop,
) -> Iterator[asyncioreactor.AsyncioSelectorReactor]:
    r = asyncioreactor.AsyncioSelectorReactor(loop)
    yield r
    cleanUpReactor(r)


class Upper(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data.upper())


def test_registeredByName() -> None:
    assert main.REACTORS["asyncio"] == "torsion.internet.asyncioreactor"
    assert "asyncio" in REACTOR_NAMES
    r = main.makeReactor("asyncio")
    try:
        assert isinstance(r, asyncioreactor.AsyncioSelectorReactor)
    finally:
        cleanUpReactor(r)


def test_interfaces(asyncioReactor: Any) -> None:
    for iface in (
        interfaces.IReactorCore,
        interfaces.IReactorTime,
        interfaces.IReactorFDSet,
        interfaces.IReactorTCP,
        interfaces.IReactorUDP,
        interfaces.IReactorProcess,
        interfaces.IReactorFromThreads,
        interfaces.IReactorThreads,
    ):
        assert verifyObject(iface, asyncioReactor)


def test_usesGivenLoop(asyncioReactor: Any, loop: asyncio.AbstractEventLoop) -> None:
    ranOn: list[asyncio.AbstractEventLoop] = []
    d: Deferred[None] = Deferred()

    def check() -> None:
        ranOn.append(asyncio.get_running_loop())
        d.callback(None)

    asyncioReactor.callLater(0, check)
    runUntil(asyncioReactor, d)
    assert ranOn == [loop]


def test_ownLoopIsClosedWithTheReactor() -> None:
    r = asyncioreactor.AsyncioSelectorReactor()
    eventLoop = r._asyncioEventloop
    assert not eventLoop.is_closed()
    cleanUpReactor(r)
    assert eventLoop.is_closed()


def test_givenLoopIsLeftOpen(asyncioReactor: Any, loop: Any) -> None:
    cleanUpReactor(asyncioReactor)
    assert not loop.is_closed()


def test_asyncioClientTorsionServer(
    asyncioReactor: Any, loop: asyncio.AbstractEventLoop
) -> None:
    """
    An asyncio client coroutine talks to a torsion server on the same loop.
    """
    port = asyncioReactor.listenTCP(
        0, Factory.forProtocol(Upper), interface="127.0.0.1"
    )
    number = port.getHost().port

    async def client() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", number)
        writer.write(b"shared loop")
        await writer.drain()
        answer = await reader.readexactly(len(b"shared loop"))
        writer.close()
        await writer.wait_closed()
        return answer

    task = loop.create_task(client())
    assert runUntil(asyncioReactor, Deferred.fromFuture(task)) == b"SHARED LOOP"
    runUntil(asyncioReactor, port.stopListening())


def test_torsionClientAsyncioServer(
    asyncioReactor: Any, loop: asyncio.AbstractEventLoop
) -> None:
    """
    A torsion client protocol talks to an asyncio server on the same loop.
    """

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        data = await reader.read(100)
        writer.write(data[::-1])
        await writer.drain()
        writer.close()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    number = server.sockets[0].getsockname()[1]
    received: Deferred[bytes] = Deferred()

    class Client(Protocol):
        buffer = b""

        def connectionMade(self) -> None:
            self.transport.write(b"torsion")

        def dataReceived(self, data: bytes) -> None:
            self.buffer += data

        def connectionLost(self, reason: Any = None) -> None:
            received.callback(self.buffer)

    from torsion.internet.protocol import ClientFactory

    factory = ClientFactory()
    factory.protocol = Client
    asyncioReactor.connectTCP("127.0.0.1", number, factory)
    try:
        assert runUntil(asyncioReactor, received) == b"noisrot"
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())


def test_coroutineAwaitsDeferred(
    asyncioReactor: Any, loop: asyncio.AbstractEventLoop
) -> None:
    """
    asyncio code awaits a Deferred through ``asFuture``; torsion code awaits
    an asyncio task through ``fromFuture``.
    """
    fired: Deferred[str] = Deferred()
    asyncioReactor.callLater(0.01, fired.callback, "from torsion")

    async def useBoth() -> str:
        first = await fired.asFuture(loop)
        await asyncio.sleep(0)
        return f"{first} and asyncio"

    task = loop.create_task(useBoth())
    result = runUntil(asyncioReactor, Deferred.fromFuture(task))
    assert result == "from torsion and asyncio"


def test_callFromThreadWakesLoop(asyncioReactor: Any) -> None:
    d: Deferred[threading.Thread] = Deferred()
    reactorThread = threading.current_thread()

    def fromOtherThread() -> None:
        asyncioReactor.callFromThread(lambda: d.callback(threading.current_thread()))

    def startThread() -> None:
        threading.Thread(target=fromOtherThread).start()

    asyncioReactor.callLater(0, startThread)
    assert runUntil(asyncioReactor, d) is reactorThread


def test_startRunningInsideRunningLoop(
    asyncioReactor: Any, loop: asyncio.AbstractEventLoop
) -> None:
    """
    An asyncio program that runs the loop itself starts the reactor with
    ``startRunning`` and stops it with ``stop``.
    """
    events: list[str] = []
    asyncioReactor.addSystemEventTrigger(
        "before", "shutdown", lambda: events.append("shutdown")
    )

    async def program() -> str:
        asyncioReactor.startRunning(installSignalHandlers=False)
        assert asyncioReactor.running
        d: Deferred[str] = Deferred()
        asyncioReactor.callLater(0.01, d.callback, "timer fired")
        result = await d.asFuture(loop)
        with pytest.raises(RuntimeError):
            asyncioReactor.run()
        asyncioReactor.stop()
        # Let the reactor's shutdown run on the loop.
        while asyncioReactor.running or "shutdown" not in events:
            await asyncio.sleep(0)
        return result

    assert loop.run_until_complete(program()) == "timer fired"
    assert events == ["shutdown"]


def test_iterate(asyncioReactor: Any) -> None:
    called: list[int] = []
    asyncioReactor.callLater(0, called.append, 1)
    asyncioReactor.iterate(0)
    asyncioReactor.iterate(0)
    assert called == [1]


def test_callLaterSoonerThanScheduled(asyncioReactor: Any) -> None:
    order: list[str] = []
    d: Deferred[None] = Deferred()
    late = asyncioReactor.callLater(60, order.append, "late")
    asyncioReactor.callLater(0.01, order.append, "soon")
    late.reset(0.02)
    asyncioReactor.callLater(0.03, d.callback, None)
    runUntil(asyncioReactor, d)
    assert order == ["soon", "late"]


def test_install() -> None:
    code = (
        "import asyncio\n"
        "from torsion.internet import asyncioreactor\n"
        "r = asyncioreactor.install()\n"
        "from torsion.internet import reactor\n"
        "assert reactor is r\n"
        "assert asyncio.get_event_loop() is r._asyncioEventloop\n"
        "from torsion.internet.defer import Deferred\n"
        "async def main():\n"
        "    await asyncio.sleep(0)\n"
        "    return 'ran'\n"
        "def start():\n"
        "    d = Deferred.fromFuture(asyncio.ensure_future(main()))\n"
        "    d.addCallback(print)\n"
        "    d.addBoth(lambda _: reactor.stop())\n"
        "reactor.callWhenRunning(start)\n"
        "reactor.run()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ran"


def test_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")
    uvLoop = uvloop.new_event_loop()
    r = asyncioreactor.AsyncioSelectorReactor(uvLoop)
    try:
        port = r.listenTCP(0, Factory.forProtocol(Upper), interface="127.0.0.1")
        host = port.getHost()
        assert isinstance(host, IPv4Address)
        number = host.port

        async def client() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", number)
            writer.write(b"uv")
            answer = await reader.readexactly(2)
            writer.close()
            return answer

        task = uvLoop.create_task(client())
        assert runUntil(r, Deferred.fromFuture(task)) == b"UV"
        runUntil(r, port.stopListening())
    finally:
        cleanUpReactor(r)
        uvLoop.close()
