"""
A client for memcached's text protocol.

::

    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", 11211)
    cache = await connectProtocol(endpoint, MemCacheProtocol())
    await cache.set(b"answer", b"42")
    flags, value = await cache.get(b"answer")

Every command returns a ``Deferred``; commands may be sent without waiting
for the previous answer, and are answered in order.  Keys and values are
``bytes``.  A key longer than ``MAX_KEY_LENGTH`` bytes or containing
spaces or control characters, or a value longer than ``maxValueLength``,
fails at once with ``ClientError`` without being sent.  Error answers from
the server fail that command's ``Deferred`` with ``NoSuchCommand``,
``ClientError`` or ``ServerError``.  If the server does not answer within
``persistentTimeOut`` seconds, every pending command fails with
``TimeoutError`` and the connection is closed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from torsion.internet.defer import Deferred, fail
from torsion.internet.protocol import connectionDone
from torsion.logger import Logger
from torsion.protocols.basic import LineReceiver
from torsion.protocols.policies import TimeoutMixin
from torsion.python.failure import Failure

__all__ = [
    "DEFAULT_PORT",
    "MAX_KEY_LENGTH",
    "MAX_VALUE_LENGTH",
    "ClientError",
    "MemCacheProtocol",
    "NoSuchCommand",
    "ServerError",
]

_log = Logger(namespace="torsion.protocols.memcache")

#: memcached's usual port.
DEFAULT_PORT = 11211
#: The longest key memcached accepts, in bytes.
MAX_KEY_LENGTH = 250
#: The largest value sent or accepted by default (memcached's default item
#: size limit is 1 MiB).
MAX_VALUE_LENGTH = 1024 * 1024


class NoSuchCommand(Exception):
    """
    The server answered ``ERROR``: it does not know the command.
    """


class ClientError(Exception):
    """
    The request was invalid: refused locally (bad key or value) or by the
    server (``CLIENT_ERROR``).
    """


class ServerError(Exception):
    """
    The server could not carry out the command (``SERVER_ERROR``).
    """


@dataclass
class _Command:
    name: bytes
    deferred: Deferred[Any]
    keys: tuple[bytes, ...] = ()
    multiple: bool = False
    withIdentifier: bool = False
    values: dict[bytes, tuple[int, bytes, bytes]] = field(default_factory=dict)
    stats: dict[bytes, bytes] = field(default_factory=dict)


class MemCacheProtocol(LineReceiver, TimeoutMixin):
    """
    One connection to a memcached server.

    :ivar persistentTimeOut: seconds the server may take to answer while
        commands are pending; idle connections are never timed out.
    :ivar maxValueLength: the largest value sent or accepted, in bytes.
    :ivar MAX_KEY_LENGTH: the longest key accepted, in bytes.
    """

    MAX_KEY_LENGTH = MAX_KEY_LENGTH
    maxValueLength = MAX_VALUE_LENGTH
    #: Longest response line (memcached's are short: a key and a few
    #: numbers, or a statistic).
    MAX_LENGTH = 2048

    def __init__(self, timeOut: float = 60, reactor: Any = None) -> None:
        """
        :param timeOut: seconds to wait for each answer.
        :param reactor: schedules the timeout (``IReactorTime``); the global
            reactor if None.
        """
        self.persistentTimeOut = timeOut
        self.timeOut = timeOut
        if reactor is not None:
            self.callLater = reactor.callLater
        self._current: deque[_Command] = deque()
        self._disconnected = False
        self._reading: tuple[_Command, bytes, int, bytes, int] | None = None
        self._raw = b""

    # -- connection ------------------------------------------------------------

    def connectionMade(self) -> None:
        """
        Nothing is pending yet, so no timer runs.
        """
        self.setTimeout(None)

    def timeoutConnection(self) -> None:
        """
        The server did not answer in time: fail every pending command with
        ``TimeoutError`` and close the connection.
        """
        self._failAll(Failure(TimeoutError("memcached did not answer in time")))
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Fail every pending command with ``reason``.

        :param reason: why the connection was lost.
        """
        self._disconnected = True
        self.setTimeout(None)
        self._failAll(reason)

    def _failAll(self, reason: Failure) -> None:
        pending, self._current = self._current, deque()
        self._reading = None
        for command in pending:
            command.deferred.errback(reason)

    # -- sending ---------------------------------------------------------------

    def _send(
        self, line: bytes, command: _Command, payload: bytes | None = None
    ) -> Any:
        if self._disconnected:
            return fail(RuntimeError("not connected to memcached"))
        if not self._current:
            self.setTimeout(self.persistentTimeOut)
        self._current.append(command)
        if payload is None:
            self.sendLine(line)
        else:
            self.transport.writeSequence([line, b"\r\n", payload, b"\r\n"])
        return command.deferred

    def _checkKey(self, key: Any) -> None:
        if not isinstance(key, bytes):
            raise ClientError(f"key must be bytes, not {type(key).__name__}")
        if not key:
            raise ClientError("key must not be empty")
        if len(key) > self.MAX_KEY_LENGTH:
            raise ClientError(f"key longer than {self.MAX_KEY_LENGTH} bytes")
        if any(b <= 32 or b == 127 for b in key):
            raise ClientError(f"key contains spaces or control characters: {key!r}")

    def _checkValue(self, value: Any) -> None:
        if not isinstance(value, bytes):
            raise ClientError(f"value must be bytes, not {type(value).__name__}")
        if len(value) > self.maxValueLength:
            raise ClientError(f"value longer than {self.maxValueLength} bytes")

    def _store(
        self,
        name: bytes,
        key: bytes,
        value: bytes,
        flags: int,
        expireTime: int,
        cas: bytes = b"",
    ) -> Deferred[bool]:
        try:
            self._checkKey(key)
            self._checkValue(value)
            if not isinstance(flags, int) or not 0 <= flags < 2**32:
                raise ClientError(f"flags must be an int in [0, 2**32): {flags!r}")
            if not isinstance(expireTime, int) or expireTime < 0:
                raise ClientError(f"expireTime must be an int >= 0: {expireTime!r}")
        except ClientError as e:
            return fail(e)
        line = b"%s %s %d %d %d" % (name, key, flags, expireTime, len(value))
        if cas:
            line += b" " + cas
        result: Deferred[bool] = self._send(line, _Command(name, Deferred()), value)
        return result

    def set(
        self, key: bytes, val: bytes, flags: int = 0, expireTime: int = 0
    ) -> Deferred[bool]:
        """
        Store ``val`` under ``key``.

        :param key: the key.
        :param val: the value.
        :param flags: an opaque 32-bit number stored with the value.
        :param expireTime: seconds until it expires (or a Unix time), 0 for
            never.
        :return: a ``Deferred`` firing with True once stored.
        """
        return self._store(b"set", key, val, flags, expireTime)

    def add(
        self, key: bytes, val: bytes, flags: int = 0, expireTime: int = 0
    ) -> Deferred[bool]:
        """
        Store ``val`` only if ``key`` holds nothing.

        :param key: the key.
        :param val: the value.
        :param flags: an opaque 32-bit number stored with the value.
        :param expireTime: seconds until it expires, 0 for never.
        :return: a ``Deferred`` firing with True if stored, False if the
            key already had a value.
        """
        return self._store(b"add", key, val, flags, expireTime)

    def replace(
        self, key: bytes, val: bytes, flags: int = 0, expireTime: int = 0
    ) -> Deferred[bool]:
        """
        Store ``val`` only if ``key`` already holds a value.

        :param key: the key.
        :param val: the value.
        :param flags: an opaque 32-bit number stored with the value.
        :param expireTime: seconds until it expires, 0 for never.
        :return: a ``Deferred`` firing with True if stored, False if not.
        """
        return self._store(b"replace", key, val, flags, expireTime)

    def append(self, key: bytes, val: bytes) -> Deferred[bool]:
        """
        Add ``val`` after the value ``key`` holds.

        :param key: the key.
        :param val: the bytes to add.
        :return: a ``Deferred`` firing with True, or False if the key holds
            nothing.
        """
        return self._store(b"append", key, val, 0, 0)

    def prepend(self, key: bytes, val: bytes) -> Deferred[bool]:
        """
        Add ``val`` before the value ``key`` holds.

        :param key: the key.
        :param val: the bytes to add.
        :return: a ``Deferred`` firing with True, or False if the key holds
            nothing.
        """
        return self._store(b"prepend", key, val, 0, 0)

    def checkAndSet(
        self, key: bytes, val: bytes, cas: bytes, flags: int = 0, expireTime: int = 0
    ) -> Deferred[bool]:
        """
        Store ``val`` only if ``key`` was not changed since ``cas`` was read
        (with ``get(key, withIdentifier=True)`` or ``gets``).

        :param key: the key.
        :param val: the value.
        :param cas: the identifier read with the value.
        :param flags: an opaque 32-bit number stored with the value.
        :param expireTime: seconds until it expires, 0 for never.
        :return: a ``Deferred`` firing with True if stored, False if the
            value changed meanwhile or is gone.
        """
        if not isinstance(cas, bytes) or not cas.isdigit():
            return fail(ClientError(f"cas must be the digits read back: {cas!r}"))
        return self._store(b"cas", key, val, flags, expireTime, cas)

    cas = checkAndSet

    def get(self, key: bytes, withIdentifier: bool = False) -> Deferred[Any]:
        """
        Read the value of ``key``.

        :param key: the key.
        :param withIdentifier: also return the value's cas identifier.
        :return: a ``Deferred`` firing with ``(flags, value)``, or
            ``(flags, cas, value)`` with ``withIdentifier``; ``value`` is
            None (and ``cas`` empty) when the key holds nothing.
        """
        return self._get((key,), withIdentifier, False)

    def gets(self, key: bytes) -> Deferred[Any]:
        """
        Read the value of ``key`` with its cas identifier.

        :param key: the key.
        :return: a ``Deferred`` firing with ``(flags, cas, value)``.
        """
        return self._get((key,), True, False)

    def getMultiple(
        self, keys: Iterable[bytes], withIdentifier: bool = False
    ) -> Deferred[Any]:
        """
        Read several keys with one command.

        :param keys: the keys.
        :param withIdentifier: also return each value's cas identifier.
        :return: a ``Deferred`` firing with a dict from each key to
            ``(flags, value)`` (or ``(flags, cas, value)``); keys holding
            nothing map to ``(0, None)`` (or ``(0, b"", None)``).
        """
        return self._get(tuple(keys), withIdentifier, True)

    def _get(
        self, keys: tuple[bytes, ...], withIdentifier: bool, multiple: bool
    ) -> Deferred[Any]:
        try:
            if not keys:
                raise ClientError("no key given")
            for key in keys:
                self._checkKey(key)
        except ClientError as e:
            return fail(e)
        name = b"gets" if withIdentifier else b"get"
        command = _Command(name, Deferred(), keys, multiple, withIdentifier)
        result: Deferred[Any] = self._send(name + b" " + b" ".join(keys), command)
        return result

    def _arith(self, name: bytes, key: bytes, val: int) -> Deferred[Any]:
        try:
            self._checkKey(key)
            if not isinstance(val, int) or not 0 <= val < 2**64:
                raise ClientError(f"{name.decode()} needs an int in [0, 2**64)")
        except ClientError as e:
            return fail(e)
        result: Deferred[Any] = self._send(
            b"%s %s %d" % (name, key, val), _Command(name, Deferred())
        )
        return result

    def increment(self, key: bytes, val: int = 1) -> Deferred[Any]:
        """
        Add ``val`` to the decimal number ``key`` holds.

        :param key: the key.
        :param val: how much to add.
        :return: a ``Deferred`` firing with the new value (an int), or False
            if the key holds nothing.
        """
        return self._arith(b"incr", key, val)

    def decrement(self, key: bytes, val: int = 1) -> Deferred[Any]:
        """
        Subtract ``val`` from the decimal number ``key`` holds (memcached
        stops at 0).

        :param key: the key.
        :param val: how much to subtract.
        :return: a ``Deferred`` firing with the new value (an int), or False
            if the key holds nothing.
        """
        return self._arith(b"decr", key, val)

    def delete(self, key: bytes) -> Deferred[bool]:
        """
        Remove ``key``.

        :param key: the key.
        :return: a ``Deferred`` firing with True, or False if it held
            nothing.
        """
        try:
            self._checkKey(key)
        except ClientError as e:
            return fail(e)
        result: Deferred[bool] = self._send(
            b"delete " + key, _Command(b"delete", Deferred())
        )
        return result

    def flushAll(self) -> Deferred[bool]:
        """
        Invalidate every item on the server.

        :return: a ``Deferred`` firing with True.
        """
        result: Deferred[bool] = self._send(
            b"flush_all", _Command(b"flush_all", Deferred())
        )
        return result

    def stats(self, arg: bytes | None = None) -> Deferred[dict[bytes, bytes]]:
        """
        Read the server's statistics.

        :param arg: a statistics group (such as ``b"items"``), or None for
            the general ones.
        :return: a ``Deferred`` firing with a dict of name to value.
        """
        line = b"stats"
        if arg is not None:
            try:
                self._checkKey(arg)
            except ClientError as e:
                return fail(e)
            line += b" " + arg
        result: Deferred[dict[bytes, bytes]] = self._send(
            line, _Command(b"stats", Deferred())
        )
        return result

    def version(self) -> Deferred[bytes]:
        """
        :return: a ``Deferred`` firing with the server's version, such as
            ``b"1.6.18"``.
        """
        result: Deferred[bytes] = self._send(
            b"version", _Command(b"version", Deferred())
        )
        return result

    # -- receiving -------------------------------------------------------------

    def _protocolError(self, message: str) -> None:
        _log.warn("memcached protocol error: {message}", message=message)
        self._failAll(Failure(ServerError(f"protocol error: {message}")))
        self.transport.loseConnection()

    def _finish(self, result: Any = None, failure: Exception | None = None) -> None:
        command = self._current.popleft()
        if self._current:
            self.resetTimeout()
        else:
            self.setTimeout(None)
        if failure is not None:
            command.deferred.errback(failure)
        else:
            command.deferred.callback(result)

    def rawDataReceived(self, data: bytes) -> None:
        """
        Collect a value's bytes, then go back to reading lines.

        :param data: the bytes received.
        """
        assert self._reading is not None
        command, key, flags, cas, length = self._reading
        self._raw += data
        if len(self._raw) < length + 2:
            return
        value, rest = self._raw[:length], self._raw[length + 2 :]
        if self._raw[length : length + 2] != b"\r\n":
            self._raw = b""
            self._protocolError("value not followed by CRLF")
            return
        self._raw = b""
        self._reading = None
        command.values[key] = (flags, cas, value)
        self.setLineMode(rest)

    def lineLengthExceeded(self, line: bytes) -> None:
        """
        A response line was longer than ``MAX_LENGTH``: close.

        :param line: the start of the line.
        """
        self._protocolError("response line too long")

    def lineReceived(self, line: bytes) -> None:
        """
        Handle one response line.

        :param line: the line, without CRLF.
        """
        if self._disconnected:
            return
        self.resetTimeout()
        if not self._current:
            self._protocolError(f"unexpected response {line[:80]!r}")
            return
        command = self._current[0]
        word, _, rest = line.partition(b" ")
        if word == b"ERROR" and not rest:
            self._finish(failure=NoSuchCommand())
        elif word == b"CLIENT_ERROR":
            self._finish(failure=ClientError(rest.decode("utf-8", "replace")))
        elif word == b"SERVER_ERROR":
            self._finish(failure=ServerError(rest.decode("utf-8", "replace")))
        elif command.name in (b"get", b"gets"):
            self._getLine(command, word, rest)
        elif command.name == b"stats":
            if word == b"STAT":
                name, _, value = rest.partition(b" ")
                command.stats[name] = value
            elif word == b"END":
                self._finish(command.stats)
            else:
                self._protocolError(f"unexpected response {line[:80]!r} to stats")
        elif command.name == b"version" and word == b"VERSION":
            self._finish(rest)
        elif command.name in (b"incr", b"decr") and line.isdigit():
            self._finish(int(line))
        elif line in (b"STORED", b"DELETED", b"OK"):
            self._finish(True)
        elif line in (b"NOT_STORED", b"NOT_FOUND", b"EXISTS"):
            self._finish(False)
        else:
            self._protocolError(f"unexpected response {line[:80]!r}")

    def _getLine(self, command: _Command, word: bytes, rest: bytes) -> None:
        if word == b"END":
            self._finish(self._getResult(command))
            return
        if word != b"VALUE":
            self._protocolError(f"unexpected {word[:80]!r} in get response")
            return
        fields = rest.split(b" ")
        if len(fields) not in (3, 4) or not all(f.isdigit() for f in fields[1:]):
            self._protocolError(f"malformed VALUE line {rest[:80]!r}")
            return
        key, flags, length = fields[0], int(fields[1]), int(fields[2])
        cas = fields[3] if len(fields) == 4 else b""
        if key not in command.keys:
            self._protocolError(f"value for a key not asked for: {key[:80]!r}")
            return
        if length > self.maxValueLength:
            self._protocolError(f"value of {length} bytes is too large")
            return
        self._reading = (command, key, flags, cas, length)
        self._raw = b""
        self.setRawMode()

    def _getResult(self, command: _Command) -> Any:
        def one(key: bytes) -> tuple[Any, ...]:
            flags, cas, value = command.values.get(key, (0, b"", None))
            if command.withIdentifier:
                return (flags, cas, value)
            return (flags, value)

        if command.multiple:
            return {key: one(key) for key in command.keys}
        return one(command.keys[0])
