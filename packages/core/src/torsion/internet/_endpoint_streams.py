"""
Endpoints over a single reactor call: TCP, Unix sockets, adopted sockets,
standard I/O and child processes.
"""

from __future__ import annotations

import enum
import importlib
import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet._endpoint_wrapping import _WrappingFactory
from torsion.internet.address import IPv6Address, _ProcessAddress
from torsion.internet.defer import Deferred, fail, maybeDeferred, succeed
from torsion.internet.interfaces import (
    IAddress,
    IListeningPort,
    IProcessTransport,
    IProtocol,
    IProtocolFactory,
    IPushProducer,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
    ITransport,
    ProcessEnvironment,
)
from torsion.internet.protocol import Factory, ProcessProtocol
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "AdoptedStreamServerEndpoint",
    "ProcessEndpoint",
    "StandardErrorBehavior",
    "StandardIOEndpoint",
    "TCP4ClientEndpoint",
    "TCP4ServerEndpoint",
    "TCP6ClientEndpoint",
    "TCP6ServerEndpoint",
    "UNIXClientEndpoint",
    "UNIXServerEndpoint",
    "connectProtocol",
]

_log = Logger()


def _checkPort(port: int, allowZero: bool) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    low = 0 if allowZero else 1
    if not low <= port <= 65535:
        raise ValueError(f"port must be in {low}..65535, got {port}")
    return port


def _connectWith(
    connect: Callable[[_WrappingFactory], object], factory: IProtocolFactory
) -> Deferred[Any]:
    wrapping = _WrappingFactory(factory)
    try:
        connect(wrapping)
    except BaseException:
        return fail()
    return wrapping._onConnection


# ---------------------------------------------------------------------------
# TCP
# ---------------------------------------------------------------------------


@implementer(IStreamServerEndpoint)
class _TCPServerEndpoint:
    def __init__(
        self, reactor: Any, port: int, backlog: int = 50, interface: str = ""
    ) -> None:
        self._reactor = reactor
        self._port = _checkPort(port, allowZero=True)
        self._backlog = backlog
        self._interface = interface

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        """
        Listen on the configured port.

        :param protocolFactory: builds a protocol per accepted connection.
        :return: a ``Deferred`` firing with the ``IListeningPort``, or failing
            with ``CannotListenError``.
        """
        return maybeDeferred(
            self._reactor.listenTCP,
            self._port,
            protocolFactory,
            backlog=self._backlog,
            interface=self._interface,
        )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} interface={self._interface!r} port={self._port}>"
        )


class TCP4ServerEndpoint(_TCPServerEndpoint):
    """
    Listens for TCP connections over IPv4.

    :param reactor: an ``IReactorTCP`` provider.
    :param port: the port number; ``0`` picks a free port (read it with
        ``getHost()`` on the listening port).
    :param backlog: how many pending connections the kernel may queue.
    :param interface: the local IPv4 address to bind; ``""`` means all.
    :raises ValueError: if ``port`` is out of range.
    """


class TCP6ServerEndpoint(_TCPServerEndpoint):
    """
    Listens for TCP connections over IPv6.

    :param reactor: an ``IReactorTCP`` provider.
    :param port: the port number; ``0`` picks a free port.
    :param backlog: how many pending connections the kernel may queue.
    :param interface: the local IPv6 address to bind; ``"::"`` (the default)
        means all.
    :raises ValueError: if ``port`` is out of range or ``interface`` is not
        an IPv6 address.
    """

    def __init__(
        self, reactor: Any, port: int, backlog: int = 50, interface: str = "::"
    ) -> None:
        try:
            ipaddress.IPv6Address(interface.split("%", 1)[0])
        except ValueError:
            raise ValueError(f"not an IPv6 address: {interface!r}")
        super().__init__(reactor, port, backlog, interface)


@implementer(IStreamClientEndpoint)
class TCP4ClientEndpoint:
    """
    Connects over TCP to a host and port (an IPv4 address, or a host name
    the reactor resolves to one).

    :param reactor: an ``IReactorTCP`` provider.
    :param host: the IPv4 address or host name to connect to.
    :param port: the port number, 1 to 65535.
    :param timeout: seconds to wait for the connection before failing with
        ``TimeoutError``.
    :param bindAddress: a local ``(host, port)`` to bind first, or ``None``.
    :raises ValueError: if ``port`` is out of range.
    """

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> None:
        self._reactor = reactor
        self._host = host
        self._port = _checkPort(port, allowZero=False)
        self._timeout = timeout
        self._bindAddress = bindAddress

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        """
        Connect, and build a protocol for the connection.

        :param protocolFactory: builds the protocol once connected.
        :return: a ``Deferred`` firing with the connected protocol, or
            failing with the connection error; cancelling it abandons the
            attempt (``ConnectingCancelledError``).
        """
        return _connectWith(
            lambda wrapping: self._reactor.connectTCP(
                self._host,
                self._port,
                wrapping,
                timeout=self._timeout,
                bindAddress=self._bindAddress,
            ),
            protocolFactory,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._host}:{self._port}>"


@implementer(IStreamClientEndpoint)
class TCP6ClientEndpoint:
    """
    Connects over TCP to an IPv6 address, or to the first IPv6 address of a
    host name (resolved with the reactor's ``nameResolver``).

    :param reactor: an ``IReactorTCP`` provider (and
        ``IReactorPluggableNameResolver`` to use host names).
    :param host: an IPv6 address or a host name.
    :param port: the port number, 1 to 65535.
    :param timeout: seconds to wait for the connection.
    :param bindAddress: a local ``(host, port)`` to bind first, or ``None``.
    :raises ValueError: if ``port`` is out of range.
    """

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> None:
        self._reactor = reactor
        self._host = host
        self._port = _checkPort(port, allowZero=False)
        self._timeout = timeout
        self._bindAddress = bindAddress

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        """
        Resolve the host if needed, then connect.

        :param protocolFactory: builds the protocol once connected.
        :return: a ``Deferred`` firing with the connected protocol, or
            failing with ``DNSLookupError`` (no IPv6 address) or the
            connection error.
        """
        from torsion.internet._endpoint_hostname import _resolve

        def connectTo(addresses: list[IAddress]) -> Deferred[Any]:
            for address in addresses:
                if isinstance(address, IPv6Address):
                    return TCP4ClientEndpoint(
                        self._reactor,
                        address.host,
                        self._port,
                        self._timeout,
                        self._bindAddress,
                    ).connect(protocolFactory)
            raise error.DNSLookupError(f"no IPv6 address for {self._host!r}")

        resolved = _resolve(self._reactor, self._host, self._port, [IPv6Address])
        connected: Deferred[Any] = resolved.addCallback(connectTo)
        return connected

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self._host}]:{self._port}>"


# ---------------------------------------------------------------------------
# Unix sockets
# ---------------------------------------------------------------------------


@implementer(IStreamServerEndpoint)
class UNIXServerEndpoint:
    """
    Listens on a Unix domain stream socket.

    :param reactor: an ``IReactorUNIX`` provider.
    :param address: the socket's path (a leading NUL byte names an address in
        Linux's abstract namespace).
    :param backlog: how many pending connections the kernel may queue.
    :param mode: permission bits for the socket file.
    :param wantPID: keep a ``<address>.lock`` file with this process's PID, so
        a stale socket left by a dead process is replaced but a live one is
        not.
    """

    def __init__(
        self,
        reactor: Any,
        address: str,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> None:
        self._reactor = reactor
        self._address = address
        self._backlog = backlog
        self._mode = mode
        self._wantPID = wantPID

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        """
        Listen on the socket.

        :param protocolFactory: builds a protocol per accepted connection.
        :return: a ``Deferred`` firing with the ``IListeningPort``, or failing
            with ``CannotListenError``.
        """
        return maybeDeferred(
            self._reactor.listenUNIX,
            self._address,
            protocolFactory,
            backlog=self._backlog,
            mode=self._mode,
            wantPID=self._wantPID,
        )

    def __repr__(self) -> str:
        return f"<UNIXServerEndpoint {self._address!r}>"


@implementer(IStreamClientEndpoint)
class UNIXClientEndpoint:
    """
    Connects to a Unix domain stream socket.

    :param reactor: an ``IReactorUNIX`` provider.
    :param path: the socket's path.
    :param timeout: seconds to wait for the connection.
    :param checkPID: refuse to connect if the server's lock file names a
        process that no longer exists.
    """

    def __init__(
        self, reactor: Any, path: str, timeout: float = 30, checkPID: bool = False
    ) -> None:
        self._reactor = reactor
        self._path = path
        self._timeout = timeout
        self._checkPID = checkPID

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        """
        Connect, and build a protocol for the connection.

        :param protocolFactory: builds the protocol once connected.
        :return: a ``Deferred`` firing with the connected protocol, or failing
            with the connection error.
        """
        return _connectWith(
            lambda wrapping: self._reactor.connectUNIX(
                self._path, wrapping, timeout=self._timeout, checkPID=self._checkPID
            ),
            protocolFactory,
        )

    def __repr__(self) -> str:
        return f"<UNIXClientEndpoint {self._path!r}>"


# ---------------------------------------------------------------------------
# Adopted sockets
# ---------------------------------------------------------------------------


@implementer(IStreamServerEndpoint)
class AdoptedStreamServerEndpoint:
    """
    Accepts connections on a socket that is already bound and listening,
    typically inherited from a parent process or from systemd.

    The reactor takes its own duplicate of the descriptor; this endpoint
    then closes ``fileno``. ``listen`` can therefore be called only once.

    :param reactor: an ``IReactorSocket`` provider.
    :param fileno: the listening socket's descriptor.
    :param addressFamily: ``socket.AF_INET``, ``AF_INET6`` or ``AF_UNIX``.
    """

    _close: Callable[[int], None] = staticmethod(os.close)

    def __init__(self, reactor: Any, fileno: int, addressFamily: int) -> None:
        self.reactor = reactor
        self.fileno = fileno
        self.addressFamily = addressFamily
        self._used = False

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        """
        Start accepting connections on the descriptor.

        :param protocolFactory: builds a protocol per accepted connection.
        :return: a ``Deferred`` firing with the ``IListeningPort``; it fails
            with ``AlreadyListened`` on a second call, or with the reactor's
            error (``UnsupportedAddressFamily``, ``OSError``).
        """
        if self._used:
            return fail(AlreadyListened(f"descriptor {self.fileno} already adopted"))
        self._used = True
        try:
            port = self.reactor.adoptStreamPort(
                self.fileno, self.addressFamily, protocolFactory
            )
            self._close(self.fileno)
        except BaseException:
            return fail()
        return succeed(port)

    def __repr__(self) -> str:
        return f"<AdoptedStreamServerEndpoint fileno={self.fileno}>"


class AlreadyListened(Exception):
    """
    ``AdoptedStreamServerEndpoint.listen`` was called a second time: the
    descriptor was already handed to the reactor and closed.
    """


# ---------------------------------------------------------------------------
# Standard I/O
# ---------------------------------------------------------------------------


@implementer(IStreamServerEndpoint)
class StandardIOEndpoint:
    """
    Treats this process's standard input and output as one connection: the
    protocol receives what arrives on stdin and writes to stdout.

    :param reactor: the reactor to read and write with.
    """

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def _makeStandardIO(self, protocol: IProtocol) -> Any:
        # Imported by name at call time: standard I/O support lives in its
        # own module, which pulls in descriptor handling this module avoids.
        stdio: Any = importlib.import_module("torsion.internet.stdio")
        return stdio.StandardIO(protocol, reactor=self._reactor)

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        """
        Build one protocol and connect it to stdin/stdout.

        :param protocolFactory: builds the protocol (given a
            ``PipeAddress``-like address).
        :return: a ``Deferred`` firing with the ``StandardIO`` transport.
        """
        from torsion.internet.address import _ProcessAddress as _PipeAddress

        def start() -> Any:
            protocol = protocolFactory.buildProtocol(_PipeAddress())
            if protocol is None:
                raise error.NoProtocol()
            return self._makeStandardIO(protocol)

        return maybeDeferred(start)


# ---------------------------------------------------------------------------
# Child processes
# ---------------------------------------------------------------------------


class StandardErrorBehavior(enum.Enum):
    """
    What ``ProcessEndpoint`` does with the child's standard error.
    """

    #: Log each chunk at ``error`` level.
    LOG = "log"
    #: Discard it.
    DROP = "drop"


@implementer(ITransport, IPushProducer)
class _ProcessEndpointTransport:
    """
    Presents a child process as a stream transport: writes go to its
    standard input, ``loseConnection`` closes its pipes.
    """

    def __init__(self, process: IProcessTransport) -> None:
        self._process = process

    def write(self, data: bytes) -> None:
        if isinstance(data, str):
            raise TypeError("ProcessEndpoint transport write takes bytes, not str")
        self._process.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        items = list(data)
        for item in items:
            if isinstance(item, str):
                raise TypeError(
                    "ProcessEndpoint transport writeSequence takes bytes, not str"
                )
        self._process.writeSequence(items)

    def loseConnection(self) -> None:
        self._process.loseConnection()

    def getHost(self) -> IAddress:
        return self._process.getHost()

    def getPeer(self) -> IAddress:
        return self._process.getPeer()

    def pauseProducing(self) -> None:
        self._process.pauseProducing()  # type: ignore[attr-defined]

    def resumeProducing(self) -> None:
        self._process.resumeProducing()  # type: ignore[attr-defined]

    def stopProducing(self) -> None:
        self._process.loseConnection()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self._process.registerProducer(producer, streaming)  # type: ignore[attr-defined]

    def unregisterProducer(self) -> None:
        self._process.unregisterProducer()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        # pid, signalProcess, closeStdin and the rest of IProcessTransport.
        return getattr(self._process, name)


class _WrapIProtocol(ProcessProtocol):
    """
    Adapts a stream protocol to a child process: stdout feeds
    ``dataReceived``, the process ending is ``connectionLost``.
    """

    def __init__(
        self,
        protocol: IProtocol,
        executable: str | bytes,
        errFlag: StandardErrorBehavior,
    ) -> None:
        self.protocol = protocol
        self._executable = executable
        self._errFlag = errFlag

    def makeConnection(self, process: Any) -> None:
        self.transport = process
        self.protocol.makeConnection(_ProcessEndpointTransport(process))

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD == 1:
            self.protocol.dataReceived(data)
        elif childFD == 2 and self._errFlag is StandardErrorBehavior.LOG:
            _log.error(
                "Process {executable} wrote to stderr: {data!r}",
                executable=self._executable,
                data=data,
            )

    def processEnded(self, reason: Failure) -> None:
        if reason.check(error.ProcessDone) is error.ProcessDone:
            self.protocol.connectionLost(Failure(error.ConnectionDone()))
        else:
            self.protocol.connectionLost(reason)


@implementer(IStreamClientEndpoint)
class ProcessEndpoint:
    """
    "Connects" by starting a child process: the protocol writes to the
    child's standard input and receives its standard output.

    :param reactor: an ``IReactorProcess`` provider.
    :param executable: the program to run.
    :param args: the full argument list, ``args[0]`` included.
    :param env: the child's environment (empty by default: pass
        ``os.environ`` to inherit).
    :param path: the child's working directory, or ``None`` for ours.
    :param uid: user ID to run as, or ``None``.
    :param gid: group ID to run as, or ``None``.
    :param usePTY: run the child on a pseudo-terminal.
    :param childFDs: a descriptor mapping, as for ``spawnProcess``.
    :param errFlag: what to do with the child's standard error.
    """

    def __init__(
        self,
        reactor: Any,
        executable: str | bytes,
        args: Sequence[str | bytes] = (),
        env: ProcessEnvironment | None = None,
        path: str | bytes | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, int | str] | None = None,
        errFlag: StandardErrorBehavior = StandardErrorBehavior.LOG,
    ) -> None:
        self._reactor = reactor
        self._executable = executable
        self._args = list(args)
        self._env = dict(env) if env is not None else {}
        self._path = path
        self._uid = uid
        self._gid = gid
        self._usePTY = usePTY
        self._childFDs = childFDs
        self._errFlag = errFlag

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        """
        Start the process and connect a new protocol to it.

        :param protocolFactory: builds the protocol.
        :return: a ``Deferred`` firing with the protocol once the process is
            started, or failing with why it could not be.
        """

        def start() -> IProtocol:
            protocol = protocolFactory.buildProtocol(_ProcessAddress())
            if protocol is None:
                raise error.NoProtocol()
            wrapper = _WrapIProtocol(protocol, self._executable, self._errFlag)
            self._reactor.spawnProcess(
                wrapper,
                self._executable,
                self._args,
                self._env,
                self._path,
                self._uid,
                self._gid,
                self._usePTY,
                self._childFDs,
            )
            return protocol

        return maybeDeferred(start)


# ---------------------------------------------------------------------------
# connectProtocol
# ---------------------------------------------------------------------------


def connectProtocol(
    endpoint: IStreamClientEndpoint, protocol: IProtocol
) -> Deferred[Any]:
    """
    Connect an already built protocol through ``endpoint``.

    :param endpoint: any client endpoint.
    :param protocol: the protocol to connect.
    :return: a ``Deferred`` firing with ``protocol`` once connected.
    """

    class OneShotFactory(Factory):
        def buildProtocol(self, addr: IAddress) -> Any:
            return protocol

    connected: Deferred[Any] = endpoint.connect(OneShotFactory())
    return connected
