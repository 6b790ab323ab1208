"""
Exceptions raised by the reactor and its transports, and the reasons passed
(wrapped in a ``Failure``) to ``connectionLost``, ``clientConnectionFailed``
and ``processEnded``.
"""

from __future__ import annotations

import errno
import socket
from typing import Any


class BindError(Exception):
    """
    A socket could not be bound to the requested address.
    """

    def __str__(self) -> str:
        text = self.__doc__ or ""
        text = text.strip()
        if self.args:
            text = "{}: {}".format(text, " ".join(str(a) for a in self.args))
        return text + "."


class CannotListenError(BindError):
    """
    A port could not be opened for listening.

    :ivar interface: the interface that was asked for.
    :ivar port: the port that was asked for.
    :ivar socketError: the underlying ``OSError``.
    """

    def __init__(
        self, interface: str | None, port: int | str, socketError: Any
    ) -> None:
        """
        :param interface: the interface that was asked for.
        :param port: the port (or Unix path) that was asked for.
        :param socketError: the ``OSError`` that was raised.
        """
        BindError.__init__(self, interface, port, socketError)
        self.interface = interface
        self.port = port
        self.socketError = socketError

    def __str__(self) -> str:
        iface = self.interface or "any"
        return f"Couldn't listen on {iface}:{self.port}: {self.socketError}."


class MulticastJoinError(Exception):
    """
    Joining a multicast group failed.
    """


class MessageLengthError(Exception):
    """
    A datagram was too long to send or receive.
    """


class DNSLookupError(OSError):
    """
    A host name could not be resolved.
    """

    def __str__(self) -> str:
        text = "DNS lookup failed"
        if self.args:
            text += ": " + " ".join(str(a) for a in self.args)
        return text + "."


class ConnectInProgressError(Exception):
    """
    A connection attempt is already in progress.
    """


class ConnectError(Exception):
    """
    A connection attempt failed.

    :ivar osError: the ``errno`` value or underlying error, if any.
    """

    def __init__(self, osError: Any = None, string: str = "") -> None:
        """
        :param osError: the errno or error that caused the failure.
        :param string: a description of the failure.
        """
        self.osError = osError
        Exception.__init__(self, string)

    def __str__(self) -> str:
        text = (self.__doc__ or self.__class__.__name__).strip().splitlines()[0]
        text = text.rstrip(".")
        if self.osError:
            text = f"{text}: {self.osError}"
        if self.args and self.args[0]:
            text = f"{text}: {self.args[0]}"
        return text + "." if not text.endswith(".") else text


class ConnectBindError(ConnectError):
    """
    Couldn't bind the local address before connecting.
    """


class UnknownHostError(ConnectError):
    """
    The host name is unknown.
    """


class NoRouteError(ConnectError):
    """
    There is no route to the host.
    """


class ConnectionRefusedError(ConnectError):
    """
    Connection was refused by the other side.
    """


class TCPTimedOutError(ConnectError):
    """
    TCP connection timed out.
    """


class BadFileError(ConnectError):
    """
    File used for the Unix socket is no good.
    """


class ServiceNameUnknownError(ConnectError):
    """
    The service name is unknown.
    """


class UserError(ConnectError):
    """
    User aborted the connection.
    """


class TimeoutError(UserError):
    """
    User timeout caused the connection to fail.
    """


class SSLError(ConnectError):
    """
    An SSL error occurred.
    """


class VerifyError(Exception):
    """
    Could not verify something that was supposed to be signed.
    """


class PeerVerifyError(VerifyError):
    """
    The peer rejected our verify error.
    """


class CertificateError(Exception):
    """
    We did not find a certificate where we expected to find one.
    """


_errnoMapping: dict[int, type[ConnectError]] = {
    errno.ENETUNREACH: NoRouteError,
    errno.ECONNREFUSED: ConnectionRefusedError,
    errno.ETIMEDOUT: TCPTimedOutError,
    errno.EHOSTUNREACH: NoRouteError,
}


def getConnectError(e: BaseException | tuple[int, str]) -> ConnectError:
    """
    Turn an ``OSError`` (or an ``(errno, message)`` pair) raised while
    connecting into the matching ``ConnectError`` subclass.

    :param e: the error.
    :return: a ``ConnectError`` instance.
    """
    if isinstance(e, tuple):
        number: int | None = e[0]
        string = e[1]
    elif isinstance(e, socket.gaierror):
        return UnknownHostError(string=str(e))
    elif isinstance(e, OSError):
        number = e.errno
        string = e.strerror or str(e)
    else:
        return ConnectError(string=str(e))
    klass = _errnoMapping.get(number or -1, ConnectError)
    return klass(number, string)


class ConnectionClosed(Exception):
    """
    Connection was closed, whether cleanly or not.
    """


class ConnectionLost(ConnectionClosed):
    """
    Connection to the other side was lost in a non-clean fashion.
    """

    def __str__(self) -> str:
        text = (self.__doc__ or "").strip().splitlines()[0]
        if self.args:
            text = "{}: {}".format(text, " ".join(str(a) for a in self.args))
        return text


class ConnectionAborted(ConnectionLost):
    """
    Connection was aborted locally, using ``abortConnection``.
    """


class ConnectionDone(ConnectionClosed):
    """
    Connection was closed cleanly.
    """

    def __str__(self) -> str:
        text = (self.__doc__ or "").strip().splitlines()[0]
        if self.args:
            text = "{}: {}".format(text, " ".join(str(a) for a in self.args))
        return text


class FileDescriptorOverrun(ConnectionLost):
    """
    More descriptors arrived than could be delivered, and the connection was
    closed because data would otherwise be misattributed.
    """


class ConnectionFdescWentAway(ConnectionLost):
    """
    The file descriptor behind the connection was closed underneath us.
    """


class AlreadyCalled(ValueError):
    """
    The delayed call has already run.
    """


class AlreadyCancelled(ValueError):
    """
    The delayed call has already been cancelled.
    """


class PotentialZombieWarning(Warning):
    """
    A child process may be left unreaped.
    """


class ProcessDone(ConnectionDone):
    """
    A process exited with status 0.

    :ivar exitCode: always ``0``.
    :ivar signal: always ``None``.
    :ivar status: the raw wait status.
    """

    def __init__(self, status: int) -> None:
        """
        :param status: the raw wait status.
        """
        Exception.__init__(self, "process finished with exit code 0")
        self.exitCode = 0
        self.signal: int | None = None
        self.status = status


class ProcessTerminated(ConnectionLost):
    """
    A process exited with a non-zero code or was killed by a signal.

    :ivar exitCode: the exit code, or ``None`` if killed by a signal.
    :ivar signal: the signal number, or ``None``.
    :ivar status: the raw wait status.
    """

    def __init__(
        self,
        exitCode: int | None = None,
        signal: int | None = None,
        status: int | None = None,
    ) -> None:
        """
        :param exitCode: the exit code.
        :param signal: the signal that killed the process.
        :param status: the raw wait status.
        """
        self.exitCode = exitCode
        self.signal = signal
        self.status = status
        text = "process ended"
        if exitCode is not None:
            text += f" with exit code {exitCode}"
        if signal is not None:
            text += f" by signal {signal}"
        Exception.__init__(self, text)


class ProcessExitedAlready(Exception):
    """
    The process has already exited; the operation is impossible.
    """


class NotConnectingError(RuntimeError):
    """
    The connector is not connecting, so it cannot stop connecting.
    """


class NotListeningError(RuntimeError):
    """
    The port is not listening, so it cannot stop listening.
    """


class ReactorNotRunning(RuntimeError):
    """
    ``stop`` was called on a reactor that is not running.
    """


class ReactorNotRestartable(RuntimeError):
    """
    A reactor that has run and stopped cannot run again.
    """


class ReactorAlreadyRunning(RuntimeError):
    """
    ``run`` was called on a reactor that is already running.
    """


class ReactorAlreadyInstalledError(AssertionError):
    """
    A reactor was installed when one already is.
    """


class UnsupportedAddressFamily(Exception):
    """
    The address family is not supported by the operation.
    """


class UnsupportedSocketType(Exception):
    """
    The socket type is not supported by the operation.
    """


class ConnectingCancelledError(Exception):
    """
    A connection attempt was cancelled.

    :ivar address: the ``IAddress`` that was being connected to.
    """

    def __init__(self, address: Any) -> None:
        """
        :param address: the address that was being connected to.
        """
        Exception.__init__(self, address)
        self.address = address


class NoProtocol(Exception):
    """
    The factory returned ``None`` from ``buildProtocol``.
    """


class UnsupportedReactor(Exception):
    """
    The named reactor is unknown or cannot run on this platform.
    """


__all__ = [
    "AlreadyCalled",
    "AlreadyCancelled",
    "BadFileError",
    "BindError",
    "CannotListenError",
    "CertificateError",
    "ConnectBindError",
    "ConnectError",
    "ConnectInProgressError",
    "ConnectingCancelledError",
    "ConnectionAborted",
    "ConnectionClosed",
    "ConnectionDone",
    "ConnectionFdescWentAway",
    "ConnectionLost",
    "ConnectionRefusedError",
    "DNSLookupError",
    "FileDescriptorOverrun",
    "MessageLengthError",
    "MulticastJoinError",
    "NoProtocol",
    "NoRouteError",
    "NotConnectingError",
    "NotListeningError",
    "PeerVerifyError",
    "PotentialZombieWarning",
    "ProcessDone",
    "ProcessExitedAlready",
    "ProcessTerminated",
    "ReactorAlreadyInstalledError",
    "ReactorAlreadyRunning",
    "ReactorNotRestartable",
    "ReactorNotRunning",
    "SSLError",
    "ServiceNameUnknownError",
    "TCPTimedOutError",
    "TimeoutError",
    "UnknownHostError",
    "UnsupportedAddressFamily",
    "UnsupportedReactor",
    "UnsupportedSocketType",
    "UserError",
    "VerifyError",
    "getConnectError",
]
