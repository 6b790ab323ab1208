"""
File Transfer Protocol: a server over a real directory and a client.

The server (``FTPFactory`` and its ``FTP`` protocol) speaks RFC 959 with
the extensions of RFC 2428 (``EPSV``/``EPRT``), RFC 3659 (``MLSD``,
``MLST``, ``SIZE``, ``MDTM``, ``REST``), RFC 2389 (``FEAT``/``OPTS``) and
UTF-8 path names (RFC 2640).  Users log in through a ``torsion.cred``
portal whose realm hands out ``IFTPShell`` avatars; ``FTPRealm`` gives
anonymous users a read-only view of one directory and other users their
home directory.  Every path is confined to the avatar's root: ``..`` above
the root, and symbolic links leading out of it, are refused.

The client (``FTPClient``) logs in when connected and offers Deferred
methods for the usual commands; transfers use passive mode by default.
``FTPFileListProtocol`` parses the lines of a ``LIST`` reply.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import re
import stat as statmod
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from zope.interface import Interface, implementer

from torsion.cred import credentials
from torsion.cred.error import LoginFailed, UnauthorizedLogin
from torsion.cred.portal import IRealm, Portal
from torsion.internet import defer, error, interfaces, protocol
from torsion.internet.defer import Deferred
from torsion.protocols import basic, policies
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "DEFAULT_TIMEOUT",
    "FTP",
    "MAX_COMMAND_LENGTH",
    "MAX_FAILED_LOGINS",
    "MAX_PENDING_COMMANDS",
    "PASSIVE_TIMEOUT",
    "AnonUserDeniedError",
    "AuthorizationError",
    "BadCmdSequenceError",
    "BadResponse",
    "BaseFTPRealm",
    "CmdArgSyntaxError",
    "CmdNotImplementedError",
    "CmdNotImplementedForArgError",
    "CmdSyntaxError",
    "CommandFailed",
    "ConnectionLost",
    "FTPAnonymousShell",
    "FTPClient",
    "FTPCmdError",
    "FTPFactory",
    "FTPFileListProtocol",
    "FTPRealm",
    "FTPShell",
    "FileExistsError",
    "FileNotFoundError",
    "IFTPShell",
    "IReadFile",
    "IWriteFile",
    "InvalidPath",
    "IsADirectoryError",
    "IsNotADirectoryError",
    "PermissionDeniedError",
    "PortConnectionError",
    "decodeHostPort",
    "encodeHostPort",
    "parseEPRT",
    "parsePWDResponse",
    "toSegments",
]

MAX_COMMAND_LENGTH = 4096
"""The longest command line the server accepts, in bytes."""

DEFAULT_TIMEOUT = 600
"""Seconds a control connection may stay idle before the server closes it."""

PASSIVE_TIMEOUT = 60
"""Seconds the server waits for the client to open a passive data connection."""

MAX_FAILED_LOGINS = 3
"""Failed ``PASS`` attempts after which the server closes the connection."""

MAX_PENDING_COMMANDS = 32
"""Commands the server holds while a previous one is still running."""


# Errors


class InvalidPath(Exception):
    """
    A path that cannot be used: outside the user's root, badly encoded, or
    holding characters no FTP reply can carry.
    """


class FTPCmdError(Exception):
    """
    A command failed; the server answers with ``errorCode`` and the
    exception's message.

    :ivar errorCode: the three-digit reply code.
    """

    errorCode = 550

    def response(self) -> bytes:
        """
        :return: the reply line for this error, without line end.
        """
        text = " ".join(str(a) for a in self.args) or "Requested action not taken"
        return b"%d %s" % (self.errorCode, _replyText(text))


class FileNotFoundError(FTPCmdError):
    """The named file or directory does not exist."""

    errorCode = 550


class PermissionDeniedError(FTPCmdError):
    """The user may not do this."""

    errorCode = 550


class AnonUserDeniedError(FTPCmdError):
    """Anonymous users may not do this."""

    errorCode = 550


class IsNotADirectoryError(FTPCmdError):
    """A directory was needed."""

    errorCode = 550


class IsADirectoryError(FTPCmdError):
    """A file was needed but a directory was named."""

    errorCode = 550


class FileExistsError(FTPCmdError):
    """The name is already taken."""

    errorCode = 550


class CmdSyntaxError(FTPCmdError):
    """The command is not understood."""

    errorCode = 500


class CmdArgSyntaxError(FTPCmdError):
    """The command's argument is malformed."""

    errorCode = 501


class CmdNotImplementedError(FTPCmdError):
    """The command is not implemented."""

    errorCode = 502


class CmdNotImplementedForArgError(FTPCmdError):
    """The command is not implemented for that argument."""

    errorCode = 504


class BadCmdSequenceError(FTPCmdError):
    """The command is not allowed at this point."""

    errorCode = 503


class AuthorizationError(FTPCmdError):
    """The user is not logged in."""

    errorCode = 530


class PortConnectionError(FTPCmdError):
    """The data connection could not be opened."""

    errorCode = 425


class _ProtocolNotSupported(FTPCmdError):
    errorCode = 522


class CommandFailed(Exception):
    """
    The server answered a client command with a 4xx or 5xx reply; the
    exception's first argument is the list of reply lines (``str``).
    """


class BadResponse(Exception):
    """The server's reply could not be understood."""


class ConnectionLost(Exception):
    """The control connection closed before the command was answered."""


def _replyText(text: str) -> bytes:
    # A CR or LF inside a reply would let a file name forge reply lines.
    return text.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace")


# Paths


def toSegments(cwd: Sequence[str], path: str) -> list[str]:
    """
    Resolve ``path`` against the working directory ``cwd``.

    :param cwd: the working directory, as segments below the root.
    :param path: an absolute (``/a/b``) or relative path from a client.
    :return: the segments of the resolved path below the root.
    :raises InvalidPath: if the path climbs above the root or holds a NUL,
        CR or LF character.
    """
    if any(c in path for c in "\x00\r\n"):
        raise InvalidPath(path)
    segments = [] if path.startswith("/") else list(cwd)
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not segments:
                raise InvalidPath(path)
            segments.pop()
        else:
            segments.append(part)
    return segments


def encodeHostPort(host: str, port: int) -> str:
    """
    Format an IPv4 address and port the way ``PORT`` and ``PASV`` carry
    them.

    :param host: dotted IPv4 address.
    :param port: port number.
    :return: ``"h1,h2,h3,h4,p1,p2"``.
    """
    return ",".join([*host.split("."), str(port >> 8), str(port & 0xFF)])


def decodeHostPort(line: str) -> tuple[str, int]:
    """
    Parse the ``h1,h2,h3,h4,p1,p2`` argument of ``PORT`` (or found in a
    ``227`` reply).

    :param line: the six comma-separated numbers.
    :return: ``(host, port)``.
    :raises ValueError: if there are not six numbers from 0 to 255.
    """
    parts = line.strip().split(",")
    if len(parts) != 6:
        raise ValueError(f"bad host/port: {line!r}")
    numbers = []
    for part in parts:
        part = part.strip()
        if not part.isdigit() or len(part) > 3:
            raise ValueError(f"bad host/port: {line!r}")
        value = int(part)
        if value > 255:
            raise ValueError(f"bad host/port: {line!r}")
        numbers.append(value)
    host = ".".join(str(n) for n in numbers[:4])
    return host, numbers[4] << 8 | numbers[5]


def parseEPRT(argument: str) -> tuple[int, str, int]:
    """
    Parse the argument of ``EPRT`` (RFC 2428), such as ``|1|127.0.0.1|6275|``.

    :param argument: the argument.
    :return: ``(protocol, host, port)``, protocol 1 (IPv4) or 2 (IPv6).
    :raises ValueError: if it is malformed.
    """
    import ipaddress

    if len(argument) < 6:
        raise ValueError("EPRT argument too short")
    delimiter = argument[0]
    if not 33 <= ord(delimiter) <= 126 or delimiter.isalnum():
        raise ValueError("bad EPRT delimiter")
    parts = argument.split(delimiter)
    if len(parts) != 5 or parts[0] or parts[4]:
        raise ValueError("bad EPRT argument")
    proto, host, portText = parts[1:4]
    if proto not in ("1", "2"):
        raise ValueError("unsupported EPRT network protocol")
    if not portText.isdigit() or len(portText) > 5:
        raise ValueError("bad EPRT port")
    port = int(portText)
    if not 0 < port < 65536:
        raise ValueError("bad EPRT port")
    address = ipaddress.ip_address(host)
    if (address.version == 4) != (proto == "1"):
        raise ValueError("EPRT address does not match its protocol")
    return int(proto), str(address), port


def _sameHost(a: str, b: str) -> bool:
    import ipaddress

    try:
        x = ipaddress.ip_address(a)
        y = ipaddress.ip_address(b)
    except ValueError:
        return False
    # An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
    if isinstance(x, ipaddress.IPv6Address) and x.ipv4_mapped is not None:
        x = x.ipv4_mapped
    if isinstance(y, ipaddress.IPv6Address) and y.ipv4_mapped is not None:
        y = y.ipv4_mapped
    return x == y


# The shell (the avatar)

_Segments = list[str]
_Values = list[object]
_Entries = list[tuple[str, list[object]]]


class IReadFile(Interface):
    """A file opened for reading by ``IFTPShell.openForReading``."""

    def send(consumer: Any) -> Deferred[object]:
        """
        Write the file's bytes to ``consumer``, as a producer.

        :param consumer: an ``IConsumer`` such as a data connection.
        :return: a Deferred firing when everything is written.
        """


class IWriteFile(Interface):
    """A file opened for writing by ``IFTPShell.openForWriting``."""

    def receive() -> Deferred[Any]:
        """
        :return: a Deferred firing with an ``IConsumer`` the uploaded bytes
            are written to.
        """

    def close() -> Deferred[object]:
        """
        Finish the upload.

        :return: a Deferred firing when the file is safely closed.
        """


class IFTPShell(Interface):
    """
    What a logged-in FTP user can do.  Paths are lists of segments below
    the user's root (``[]`` is the root itself).
    """

    def makeDirectory(path: _Segments) -> Deferred[object]:
        """
        :param path: the directory to create.
        :return: a Deferred firing when it is created.
        """

    def removeDirectory(path: _Segments) -> Deferred[object]:
        """
        :param path: the (empty) directory to remove.
        :return: a Deferred firing when it is removed.
        """

    def removeFile(path: _Segments) -> Deferred[object]:
        """
        :param path: the file to remove.
        :return: a Deferred firing when it is removed.
        """

    def rename(fromPath: _Segments, toPath: _Segments) -> Deferred[object]:
        """
        :param fromPath: the existing name.
        :param toPath: the new name.
        :return: a Deferred firing when renamed.
        """

    def access(path: _Segments) -> Deferred[object]:
        """
        :param path: a directory.
        :return: a Deferred firing if the user may enter and list it,
            failing otherwise.
        """

    def stat(path: _Segments, keys: Sequence[str] = ()) -> Deferred[_Values]:
        """
        :param path: a file or directory.
        :param keys: the facts wanted, among ``size``, ``directory``,
            ``permissions``, ``hardlinks``, ``modified``, ``owner``,
            ``group``.
        :return: a Deferred firing with the facts' values, in order.
        """

    def list(path: _Segments, keys: Sequence[str] = ()) -> Deferred[_Entries]:
        """
        :param path: a directory (or a file, listed alone).
        :param keys: the facts wanted for each entry, as for ``stat``.
        :return: a Deferred firing with ``(name, values)`` pairs.
        """

    def openForReading(path: _Segments, offset: int = 0) -> Deferred[IReadFile]:
        """
        :param path: the file to read.
        :param offset: where to start reading (``REST``).
        :return: a Deferred firing with an ``IReadFile``.
        """

    def openForWriting(
        path: _Segments, offset: int = 0, append: bool = False
    ) -> Deferred[IWriteFile]:
        """
        :param path: the file to write.
        :param offset: where to start writing (``REST``); 0 truncates.
        :param append: add to the end of the file (``APPE``).
        :return: a Deferred firing with an ``IWriteFile``.
        """


def _asPath(root: Any) -> str:
    if isinstance(root, (str, bytes, os.PathLike)):
        path = os.fsdecode(os.fspath(root))
    else:
        # A FilePath-like object.
        path = os.fsdecode(root.path)
    return os.path.realpath(path)


def _osError(e: OSError, path: _Segments) -> FTPCmdError:
    name = "/" + "/".join(path)
    if e.errno == errno.ENOENT:
        return FileNotFoundError(f"{name}: No such file or directory")
    if e.errno in (errno.EACCES, errno.EPERM):
        return PermissionDeniedError(f"{name}: Permission denied")
    if e.errno == errno.ENOTDIR:
        return IsNotADirectoryError(f"{name}: Not a directory")
    if e.errno == errno.EISDIR:
        return IsADirectoryError(f"{name}: Is a directory")
    if e.errno == errno.EEXIST:
        return FileExistsError(f"{name}: File exists")
    if e.errno == errno.ENOTEMPTY:
        return PermissionDeniedError(f"{name}: Directory not empty")
    return FTPCmdError(f"{name}: {e.strerror}")


@implementer(IReadFile)
class _FileReader:
    def __init__(self, file: IO[bytes]) -> None:
        self.file = file

    def send(self, consumer: Any) -> Deferred[object]:
        sender = basic.FileSender()
        d: Deferred[Any] = sender.beginFileTransfer(self.file, consumer)

        def closeFile(result: object) -> object:
            self.file.close()
            return result

        d.addBoth(closeFile)
        return d


@implementer(interfaces.IConsumer)
class _FileConsumer:
    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.producer: Any = None

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def write(self, data: bytes) -> None:
        self.file.write(data)


@implementer(IWriteFile)
class _FileWriter:
    def __init__(self, file: IO[bytes]) -> None:
        self.file = file

    def receive(self) -> Deferred[Any]:
        return defer.succeed(_FileConsumer(self.file))

    def close(self) -> Deferred[object]:
        try:
            self.file.close()
        except OSError as e:
            return defer.fail(FTPCmdError(f"could not close file: {e.strerror}"))
        return defer.succeed(None)


_FACTS = ("size", "directory", "permissions", "hardlinks", "modified", "owner", "group")


@implementer(IFTPShell)
class FTPAnonymousShell:
    """
    A read-only view of a directory, for anonymous users.

    :param filesystemRoot: the directory served (a path or an object with a
        ``path`` attribute).  Nothing outside it can be reached, not even
        through symbolic links.
    """

    def __init__(self, filesystemRoot: Any) -> None:
        self.filesystemRoot = _asPath(filesystemRoot)

    def _path(self, path: _Segments) -> str:
        """
        Map segments to a real path inside the root.

        :raises PermissionDeniedError: if the result leaves the root.
        """
        for segment in path:
            if segment in ("", ".", "..") or "/" in segment or "\x00" in segment:
                raise PermissionDeniedError("invalid path")
        real = os.path.realpath(os.path.join(self.filesystemRoot, *path))
        root = self.filesystemRoot
        if real != root and not real.startswith(root.rstrip("/") + "/"):
            raise PermissionDeniedError("/" + "/".join(path) + ": Permission denied")
        return real

    def _readOnly(self) -> Deferred[Any]:
        return defer.fail(AnonUserDeniedError("Anonymous users may not change files"))

    def makeDirectory(self, path: _Segments) -> Deferred[object]:
        """
        :param path: ignored.
        :return: a failure: anonymous users may not change files.
        """
        return self._readOnly()

    def removeDirectory(self, path: _Segments) -> Deferred[object]:
        """
        :param path: ignored.
        :return: a failure: anonymous users may not change files.
        """
        return self._readOnly()

    def removeFile(self, path: _Segments) -> Deferred[object]:
        """
        :param path: ignored.
        :return: a failure: anonymous users may not change files.
        """
        return self._readOnly()

    def rename(self, fromPath: _Segments, toPath: _Segments) -> Deferred[object]:
        """
        :param fromPath: ignored.
        :param toPath: ignored.
        :return: a failure: anonymous users may not change files.
        """
        return self._readOnly()

    def openForWriting(
        self, path: _Segments, offset: int = 0, append: bool = False
    ) -> Deferred[IWriteFile]:
        """
        :param path: ignored.
        :param offset: ignored.
        :param append: ignored.
        :return: a failure: anonymous users may not change files.
        """
        return self._readOnly()

    def access(self, path: _Segments) -> Deferred[object]:
        """
        :param path: a directory.
        :return: a Deferred firing if it can be entered and listed.
        """
        try:
            real = self._path(path)
            if not os.path.isdir(real):
                if os.path.exists(real):
                    raise IsNotADirectoryError(
                        "/" + "/".join(path) + ": Not a directory"
                    )
                raise FileNotFoundError("/" + "/".join(path) + ": No such directory")
            os.listdir(real)
        except OSError as e:
            return defer.fail(_osError(e, path))
        except FTPCmdError as e:
            return defer.fail(e)
        return defer.succeed(None)

    def _facts(self, real: str, st: os.stat_result, keys: Sequence[str]) -> _Values:
        values: _Values = []
        for key in keys:
            if key == "size":
                values.append(st.st_size)
            elif key == "directory":
                values.append(statmod.S_ISDIR(st.st_mode))
            elif key == "permissions":
                values.append(st.st_mode)
            elif key == "hardlinks":
                values.append(st.st_nlink)
            elif key == "modified":
                values.append(st.st_mtime)
            elif key == "owner":
                try:
                    values.append(pwd.getpwuid(st.st_uid).pw_name)
                except KeyError:
                    values.append(str(st.st_uid))
            elif key == "group":
                try:
                    values.append(grp.getgrgid(st.st_gid).gr_name)
                except KeyError:
                    values.append(str(st.st_gid))
            else:
                raise ValueError(f"unknown fact {key!r}")
        return values

    def stat(self, path: _Segments, keys: Sequence[str] = ()) -> Deferred[_Values]:
        """
        :param path: a file or directory.
        :param keys: facts wanted (see ``IFTPShell.stat``).
        :return: a Deferred firing with their values.
        """
        try:
            real = self._path(path)
            return defer.succeed(self._facts(real, os.stat(real), keys))
        except OSError as e:
            return defer.fail(_osError(e, path))
        except FTPCmdError as e:
            return defer.fail(e)

    def list(self, path: _Segments, keys: Sequence[str] = ()) -> Deferred[_Entries]:
        """
        :param path: a directory, or a file to list alone.
        :param keys: facts wanted for each entry (see ``IFTPShell.stat``).
        :return: a Deferred firing with ``(name, values)`` pairs, sorted by
            name; entries that vanish or lead out of the root are left out.
        """
        try:
            real = self._path(path)
            if not os.path.isdir(real):
                st = os.stat(real)
                return defer.succeed(
                    [(path[-1] if path else "/", self._facts(real, st, keys))]
                )
            result = []
            for name in sorted(os.listdir(real)):
                try:
                    entry = self._path([*path, name])
                    st = os.stat(entry)
                except (OSError, FTPCmdError):
                    continue
                result.append((name, self._facts(entry, st, keys)))
            return defer.succeed(result)
        except OSError as e:
            return defer.fail(_osError(e, path))
        except FTPCmdError as e:
            return defer.fail(e)

    def openForReading(self, path: _Segments, offset: int = 0) -> Deferred[IReadFile]:
        """
        :param path: the file to read.
        :param offset: where to start.
        :return: a Deferred firing with an ``IReadFile``.
        """
        try:
            real = self._path(path)
            if os.path.isdir(real):
                raise IsADirectoryError("/" + "/".join(path) + ": Is a directory")
            f = open(real, "rb")  # noqa: SIM115 - closed by the reader
            if offset:
                f.seek(offset)
        except OSError as e:
            return defer.fail(_osError(e, path))
        except FTPCmdError as e:
            return defer.fail(e)
        return defer.succeed(_FileReader(f))


@implementer(IFTPShell)
class FTPShell(FTPAnonymousShell):
    """
    Full access to a directory (the user's home), for logged-in users.

    :param filesystemRoot: the directory; nothing outside it can be
        reached.
    """

    def _run(self, path: _Segments, action: Callable[[], object]) -> Deferred[object]:
        try:
            action()
        except OSError as e:
            return defer.fail(_osError(e, path))
        except FTPCmdError as e:
            return defer.fail(e)
        return defer.succeed(None)

    def _checkNotRoot(self, path: _Segments) -> None:
        if not path:
            raise PermissionDeniedError("/: Permission denied")

    def makeDirectory(self, path: _Segments) -> Deferred[object]:
        """
        :param path: the directory to create.
        :return: a Deferred firing when created.
        """

        def action() -> None:
            self._checkNotRoot(path)
            os.mkdir(self._path(path))

        return self._run(path, action)

    def removeDirectory(self, path: _Segments) -> Deferred[object]:
        """
        :param path: the empty directory to remove.
        :return: a Deferred firing when removed.
        """

        def action() -> None:
            self._checkNotRoot(path)
            real = self._path(path)
            if not os.path.isdir(real):
                raise IsNotADirectoryError("/" + "/".join(path) + ": Not a directory")
            os.rmdir(real)

        return self._run(path, action)

    def removeFile(self, path: _Segments) -> Deferred[object]:
        """
        :param path: the file to remove.
        :return: a Deferred firing when removed.
        """

        def action() -> None:
            self._checkNotRoot(path)
            # Unlink the name itself (a link inside the root is removed,
            # never what it points to), once its parent is checked.
            self._path(path[:-1])
            real = os.path.join(self._path(path[:-1]), path[-1])
            if os.path.isdir(real) and not os.path.islink(real):
                raise IsADirectoryError("/" + "/".join(path) + ": Is a directory")
            os.remove(real)

        return self._run(path, action)

    def rename(self, fromPath: _Segments, toPath: _Segments) -> Deferred[object]:
        """
        :param fromPath: the existing name.
        :param toPath: the new name.
        :return: a Deferred firing when renamed.
        """

        def action() -> None:
            self._checkNotRoot(fromPath)
            self._checkNotRoot(toPath)
            source = os.path.join(self._path(fromPath[:-1]), fromPath[-1])
            target = os.path.join(self._path(toPath[:-1]), toPath[-1])
            self._path(fromPath)
            if not os.path.lexists(source):
                raise FileNotFoundError("/" + "/".join(fromPath) + ": No such file")
            os.rename(source, target)

        return self._run(fromPath, action)

    def openForWriting(
        self, path: _Segments, offset: int = 0, append: bool = False
    ) -> Deferred[IWriteFile]:
        """
        :param path: the file to write.
        :param offset: where to start writing; 0 replaces the content.
        :param append: add to the end instead.
        :return: a Deferred firing with an ``IWriteFile``.
        """
        try:
            self._checkNotRoot(path)
            real = self._path(path)
            if os.path.isdir(real):
                raise IsADirectoryError("/" + "/".join(path) + ": Is a directory")
            if append:
                f = open(real, "ab")  # noqa: SIM115 - closed by the writer
            elif offset:
                fd = os.open(real, os.O_WRONLY | os.O_CREAT, 0o666)
                f = os.fdopen(fd, "wb")
                f.seek(offset)
                f.truncate()
            else:
                f = open(real, "wb")  # noqa: SIM115 - closed by the writer
        except OSError as e:
            return defer.fail(_osError(e, path))
        except FTPCmdError as e:
            return defer.fail(e)
        return defer.succeed(_FileWriter(f))


@implementer(IRealm)
class BaseFTPRealm:
    """
    A realm giving anonymous users an ``FTPAnonymousShell`` over
    ``anonymousRoot`` and other users an ``FTPShell`` over the directory
    ``getHomeDirectory`` names.  Subclass it and define ``getHomeDirectory``.

    :param anonymousRoot: the directory anonymous users see.
    """

    def __init__(self, anonymousRoot: Any) -> None:
        self.anonymousRoot = anonymousRoot

    def getHomeDirectory(self, avatarId: bytes) -> Any:
        """
        :param avatarId: the user's name.
        :return: the user's home directory.
        :raises NotImplementedError: unless overridden.
        """
        raise NotImplementedError(f"{type(self).__name__} must define getHomeDirectory")

    def requestAvatar(
        self, avatarId: Any, mind: object, *interfaces: Any
    ) -> tuple[Any, Any, Callable[[], None]]:
        """
        :param avatarId: the user's name, or ``ANONYMOUS``.
        :param mind: ignored.
        :param interfaces: must include ``IFTPShell``.
        :return: ``(IFTPShell, shell, logout)``.
        :raises NotImplementedError: if ``IFTPShell`` is not asked for.
        """
        if IFTPShell not in interfaces:
            raise NotImplementedError("only IFTPShell avatars are available")
        shell: IFTPShell
        if avatarId == ():
            shell = FTPAnonymousShell(self.anonymousRoot)
        else:
            shell = FTPShell(self.getHomeDirectory(avatarId))
        return IFTPShell, shell, lambda: None


class FTPRealm(BaseFTPRealm):
    """
    A realm where each user's home is ``userHome/<name>``.

    :param anonymousRoot: the directory anonymous users see.
    :param userHome: the directory holding users' homes.
    """

    def __init__(self, anonymousRoot: Any, userHome: Any = "/home") -> None:
        super().__init__(anonymousRoot)
        self.userHome = userHome

    def getHomeDirectory(self, avatarId: bytes) -> str:
        """
        :param avatarId: the user's name.
        :return: ``userHome/<name>``.
        :raises UnauthorizedLogin: for a name that is not a single path
            segment.
        """
        name = (
            avatarId.decode("utf-8") if isinstance(avatarId, bytes) else str(avatarId)
        )
        if not name or name in (".", "..") or "/" in name or "\x00" in name:
            raise UnauthorizedLogin("unusable user name")
        return os.path.join(_asPath(self.userHome), name)


# Server: data connections


class _DTP(protocol.Protocol):
    """A data connection of the server."""

    def __init__(self, owner: FTP) -> None:
        self.owner = owner
        self.consumer: Any = None
        self.lost: Deferred[None] = Deferred()
        self.isConnected = False

    def connectionMade(self) -> None:
        self.isConnected = True
        # Hold uploaded bytes in the kernel until a file takes them.
        self.transport.pauseProducing()
        self.owner._dtpConnected(self)

    def attachConsumer(self, consumer: Any) -> None:
        self.consumer = consumer
        consumer.registerProducer(self.transport, True)
        self.transport.resumeProducing()

    def dataReceived(self, data: bytes) -> None:
        if self.consumer is not None:
            self.consumer.write(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.isConnected = False
        if self.consumer is not None:
            self.consumer.unregisterProducer()
        self.owner._dtpLost(self)
        d, self.lost = self.lost, Deferred()
        d.callback(None)


class _DTPFactory(protocol.ClientFactory):
    """Builds the one data connection of a transfer and checks its peer."""

    def __init__(self, owner: FTP, peerHost: str) -> None:
        self.owner = owner
        self.peerHost = peerHost
        self.used = False
        self.failed: Deferred[None] = Deferred()

    def buildProtocol(self, addr: Any) -> protocol.Protocol | None:
        if self.used:
            return None
        host = getattr(addr, "host", None)
        if host is None or not _sameHost(host, self.peerHost):
            # Someone else grabbing the passive port.
            return None
        self.used = True
        return _DTP(self.owner)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        d, self.failed = self.failed, Deferred()
        d.errback(reason)


# Server: control connection

_UNAUTH, _INAUTH, _AUTHED, _RENAMING = range(4)

_PRE_LOGIN = {"USER", "PASS", "QUIT", "FEAT", "OPTS", "SYST", "NOOP", "HELP"}
_IMMEDIATE = {"ABOR", "QUIT", "STAT", "NOOP"}


class FTP(basic.LineReceiver, policies.TimeoutMixin):
    """
    The server side of one FTP control connection.  Built by
    ``FTPFactory``; its settings come from the factory.

    :ivar shell: the logged-in user's ``IFTPShell``, or ``None``.
    :ivar workingDirectory: the current directory, as segments.
    :ivar failedLogins: how many ``PASS`` commands failed so far.
    """

    MAX_LENGTH = MAX_COMMAND_LENGTH
    factory: FTPFactory
    shell: Any = None
    portal: Portal | None = None

    def __init__(self) -> None:
        self.state = _UNAUTH
        self.workingDirectory: list[str] = []
        self.failedLogins = 0
        self.user = ""
        self.restartOffset = 0
        self.renameFrom: list[str] | None = None
        self.logout: Callable[[], None] | None = None
        self.binary = True
        self._busy = False
        self._pending: list[bytes] = []
        self._dtpFactory: _DTPFactory | None = None
        self._dtpPort: Any = None
        self._dtpConnector: Any = None
        self._dtp: _DTP | None = None
        self._dtpWaiter: Deferred[_DTP] | None = None
        self._passiveTimer: Any = None
        self._transferring = False
        self._aborted = False
        self._abortWaiters: list[Deferred[None]] = []
        self._closed = False

    # -- connection

    def connectionMade(self) -> None:
        """
        Greet the client and start the idle timer.
        """
        reactor = self.factory.reactor
        self.callLater = reactor.callLater
        self.portal = self.factory.portal
        self.MAX_LENGTH = self.factory.maxCommandLength
        self.setTimeout(self.factory.timeOut)
        setNoDelay = getattr(self.transport, "setTcpNoDelay", None)
        if setNoDelay is not None:
            # Replies are small and come in pairs (150 then 226): without
            # this, Nagle holds the second one until the client's delayed ACK.
            setNoDelay(True)
        self.factory.connections += 1
        if self.factory.connections > self.factory.connectionLimit:
            self.reply(b"421 Too many users right now, try again in a few minutes.")
            self.transport.loseConnection()
            return
        self.reply(b"220 " + _replyText(self.factory.welcomeMessage))

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """
        Drop data connections and log the user out.

        :param reason: why the connection closed.
        """
        self._closed = True
        self.factory.connections -= 1
        self.setTimeout(None)
        self._cleanupDTP()
        if self.logout is not None:
            logout, self.logout = self.logout, None
            logout()
        self.shell = None

    def timeoutConnection(self) -> None:
        """
        Tell the client it was idle too long and close the connection.
        """
        if self._transferring:
            # The control connection is quiet during a long transfer.
            self.setTimeout(self.timeOut)
            return
        self.reply(b"421 Timeout: closing control connection.")
        self.transport.loseConnection()

    def lineLengthExceeded(self, line: bytes) -> object:
        """
        Refuse an over-long command line and close the connection.

        :param line: the (start of the) line.
        :return: nothing.
        """
        self.reply(b"500 Command line too long.")
        return self.transport.loseConnection()

    def reply(self, line: bytes) -> None:
        """
        Send one reply line (a ``str`` is a ``TypeError``).

        :param line: the line, without line end.
        """
        if not self._closed:
            self.sendLine(line)

    # -- command dispatch

    def lineReceived(self, line: bytes) -> None:
        """
        Run one command, or keep it until the running one is done.

        :param line: the command line.
        """
        self.resetTimeout()
        # Telnet IP/Synch bytes some clients put before ABOR.
        line = line.lstrip(b"\xff\xf4\xf2")
        command = line.split(b" ", 1)[0].upper()
        if self._busy and command not in (b"ABOR", b"QUIT", b"STAT", b"NOOP"):
            if len(self._pending) >= self.factory.maxPendingCommands:
                self.reply(b"421 Too many pending commands.")
                self.transport.loseConnection()
                return
            self._pending.append(line)
            return
        self._runLine(line)

    def _runLine(self, line: bytes) -> None:
        parts = line.split(b" ", 1)
        try:
            command = parts[0].decode("ascii").upper()
        except UnicodeDecodeError:
            self.reply(b"500 Syntax error: command unrecognized.")
            return
        if not command.isalpha() or len(command) > 4:
            self.reply(b"500 Syntax error: command unrecognized.")
            return
        raw = parts[1] if len(parts) > 1 else b""
        try:
            arg = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.reply(b"501 Syntax error: argument is not valid UTF-8.")
            return
        method = getattr(self, "ftp_" + command, None)
        if method is None:
            self.reply(b"502 Command '%s' not implemented." % command.encode("ascii"))
            return
        if self.state in (_UNAUTH, _INAUTH) and command not in _PRE_LOGIN:
            self.reply(b"530 Please login with USER and PASS.")
            return
        if self.state == _RENAMING and command != "RNTO":
            self.renameFrom = None
            self.state = _AUTHED
        if command not in ("REST", "RETR", "STOR", "APPE"):
            self.restartOffset = 0
        try:
            result = method(arg)
        except FTPCmdError as e:
            self.reply(e.response())
            return
        except InvalidPath:
            self.reply(b"550 Invalid path.")
            return
        except Exception:
            # A shell bug must not take the control connection down.
            self._replyError(Failure())
            return
        if isinstance(result, Deferred):
            if command in _IMMEDIATE:
                result.addCallbacks(self._replyResult, self._replyError)
                return
            self._busy = True
            result.addCallbacks(self._replyResult, self._replyError)
            result.addBoth(self._commandDone)
        elif result is not None:
            self._replyResult(result)

    def _replyResult(self, result: object) -> None:
        if isinstance(result, bytes) and result:
            self.reply(result)
        elif isinstance(result, list):
            for line in result:
                self.reply(line)

    def _replyError(self, failure: Failure) -> None:
        e = failure.value
        if isinstance(e, FTPCmdError):
            self.reply(e.response())
        elif isinstance(e, InvalidPath):
            self.reply(b"550 Invalid path.")
        else:
            log.err(failure, "FTP command failed unexpectedly")
            self.reply(b"550 Requested action not taken: internal error.")

    def _commandDone(self, ignored: object) -> None:
        self._busy = False
        waiters, self._abortWaiters = self._abortWaiters, []
        for waiter in waiters:
            waiter.callback(None)
        while self._pending and not self._busy and not self._closed:
            self._runLine(self._pending.pop(0))

    def _path(self, arg: str) -> list[str]:
        try:
            return toSegments(self.workingDirectory, arg)
        except InvalidPath:
            raise PermissionDeniedError(f"{arg}: Permission denied") from None

    def _needArg(self, arg: str) -> str:
        if not arg:
            raise CmdArgSyntaxError("Syntax error: command needs an argument.")
        return arg

    # -- login

    def ftp_USER(self, arg: str) -> bytes:
        """Start a login."""
        if not arg:
            raise CmdArgSyntaxError("USER requires an argument.")
        if self.state not in (_UNAUTH, _INAUTH):
            raise BadCmdSequenceError("Already logged in.")
        self.user = arg
        self.state = _INAUTH
        if self.factory.allowAnonymous and arg == self.factory.userAnonymous:
            return b"331 Guest login ok, type your email address as password."
        return b"331 Password required for " + _replyText(arg) + b"."

    def ftp_PASS(self, arg: str) -> Deferred[object] | bytes:
        """Finish a login through the portal."""
        if self.state != _INAUTH:
            raise BadCmdSequenceError("Login with USER first.")
        assert self.portal is not None
        creds: object
        if self.factory.allowAnonymous and self.user == self.factory.userAnonymous:
            creds = credentials.Anonymous()
        else:
            creds = credentials.UsernamePassword(
                self.user.encode("utf-8"), arg.encode("utf-8")
            )
        d = self.portal.login(creds, None, IFTPShell)

        def loggedIn(result: tuple[Any, Any, Callable[[], None]]) -> bytes | None:
            _, shell, logout = result
            if self._closed:
                logout()
                return None
            self.shell = shell
            self.logout = logout
            self.state = _AUTHED
            self.workingDirectory = []
            if creds.__class__ is credentials.Anonymous:
                return b"230 Anonymous login ok, access restrictions apply."
            return b"230 User logged in, proceed."

        def failed(failure: Failure) -> bytes | None:
            self.state = _UNAUTH
            self.failedLogins += 1
            if not failure.check(LoginFailed):
                log.err(failure, "FTP login failed unexpectedly")
            if self.failedLogins >= self.factory.maxFailedLogins:
                self.reply(b"530 Sorry, Authentication failed.")
                self.transport.loseConnection()
                return None
            return b"530 Sorry, Authentication failed."

        return d.addCallbacks(loggedIn, failed)

    def ftp_QUIT(self, arg: str) -> None:
        """Say goodbye and close."""
        self.reply(b"221 Goodbye.")
        self.transport.loseConnection()

    # -- informational

    def ftp_NOOP(self, arg: str) -> bytes:
        """Do nothing."""
        return b"200 NOOP ok."

    def ftp_SYST(self, arg: str) -> bytes:
        """Name the system type."""
        return b"215 UNIX Type: L8"

    def ftp_FEAT(self, arg: str) -> list[bytes]:
        """List the extensions supported (RFC 2389)."""
        return [
            b"211-Features:",
            b" EPRT",
            b" EPSV",
            b" MDTM",
            b" MLST type*;size*;modify*;perm*;",
            b" PASV",
            b" REST STREAM",
            b" SIZE",
            b" UTF8",
            b"211 End",
        ]

    def ftp_OPTS(self, arg: str) -> bytes:
        """Set options: ``UTF8 ON`` and ``MLST`` facts."""
        option = arg.split(" ", 1)
        name = option[0].upper()
        if name == "UTF8":
            value = option[1].strip().upper() if len(option) > 1 else "ON"
            if value in ("ON", ""):
                return b"200 UTF-8 mode on."
            raise CmdNotImplementedForArgError("Only UTF-8 is supported.")
        if name == "MLST":
            return b"200 MLST OPTS type;size;modify;perm;"
        raise CmdNotImplementedForArgError(f"Option {name} not understood.")

    def ftp_HELP(self, arg: str) -> list[bytes]:
        """List the commands."""
        names = sorted(n[4:] for n in dir(self) if n.startswith("ftp_"))
        lines = [b"214-The following commands are recognized:"]
        for i in range(0, len(names), 8):
            lines.append(b" " + " ".join(names[i : i + 8]).encode("ascii"))
        lines.append(b"214 Help OK.")
        return lines

    def ftp_STAT(self, arg: str) -> list[bytes] | Deferred[object]:
        """Report status, or list a path over the control connection."""
        if not arg or self.state != _AUTHED:
            state = "transferring" if self._transferring else "idle"
            return [
                b"211-FTP server status:",
                b" Logged in as " + _replyText(self.user or "nobody"),
                b" Data connection " + state.encode("ascii"),
                b"211 End of status",
            ]
        d = self.shell.list(self._path(arg), _LIST_KEYS)

        def show(entries: list[tuple[str, list[object]]]) -> list[bytes]:
            lines = [b"213-Status of " + _replyText(arg) + b":"]
            lines.extend(b" " + _lsLine(name, values) for name, values in entries)
            lines.append(b"213 End of status")
            return lines

        return d.addCallback(show)  # type: ignore[no-any-return]

    # -- settings

    def ftp_TYPE(self, arg: str) -> bytes:
        """Set the transfer type (ASCII or image; bytes are sent unchanged)."""
        kind = arg.upper().split()
        if kind in (["A"], ["A", "N"]):
            self.binary = False
            return b"200 Type set to A."
        if kind in (["I"], ["L", "8"]):
            self.binary = True
            return b"200 Type set to I."
        raise CmdNotImplementedForArgError(f"Type {arg} not supported.")

    def ftp_MODE(self, arg: str) -> bytes:
        """Only stream mode is supported."""
        if arg.upper() == "S":
            return b"200 Mode set to S."
        raise CmdNotImplementedForArgError("Only stream mode is supported.")

    def ftp_STRU(self, arg: str) -> bytes:
        """Only file structure is supported."""
        if arg.upper() == "F":
            return b"200 Structure set to F."
        raise CmdNotImplementedForArgError("Only file structure is supported.")

    def ftp_REST(self, arg: str) -> bytes:
        """Restart the next transfer at an offset."""
        if not arg.isdigit() or len(arg) > 18:
            raise CmdArgSyntaxError("REST needs a non-negative number.")
        self.restartOffset = int(arg)
        return b"350 Restarting at %d. Send STOR or RETR." % self.restartOffset

    # -- navigation

    def ftp_PWD(self, arg: str) -> bytes:
        """Print the working directory."""
        path = "/" + "/".join(self.workingDirectory)
        return (
            b'257 "'
            + _replyText(path.replace('"', '""'))
            + b'" is the current directory.'
        )

    ftp_XPWD = ftp_PWD

    def ftp_CWD(self, arg: str) -> Deferred[object]:
        """Change the working directory."""
        path = self._path(self._needArg(arg))

        def changed(_: object) -> bytes:
            self.workingDirectory = path
            return b"250 Requested file action okay, completed."

        return self.shell.access(path).addCallback(changed)  # type: ignore[no-any-return]

    def ftp_CDUP(self, arg: str) -> Deferred[object]:
        """Go to the parent directory."""
        return self.ftp_CWD("..") if self.workingDirectory else self.ftp_CWD("/")

    ftp_XCUP = ftp_CDUP

    # -- file management

    def ftp_MKD(self, arg: str) -> Deferred[object]:
        """Make a directory."""
        path = self._path(self._needArg(arg))
        name = ("/" + "/".join(path)).replace('"', '""')
        return self.shell.makeDirectory(path).addCallback(  # type: ignore[no-any-return]
            lambda _: b'257 "' + _replyText(name) + b'" created.'
        )

    ftp_XMKD = ftp_MKD

    def ftp_RMD(self, arg: str) -> Deferred[object]:
        """Remove a directory."""
        path = self._path(self._needArg(arg))
        return self.shell.removeDirectory(path).addCallback(  # type: ignore[no-any-return]
            lambda _: b"250 Requested file action okay, completed."
        )

    ftp_XRMD = ftp_RMD

    def ftp_DELE(self, arg: str) -> Deferred[object]:
        """Delete a file."""
        path = self._path(self._needArg(arg))
        return self.shell.removeFile(path).addCallback(  # type: ignore[no-any-return]
            lambda _: b"250 Requested file action okay, completed."
        )

    def ftp_RNFR(self, arg: str) -> bytes:
        """Name the file to rename."""
        self.renameFrom = self._path(self._needArg(arg))
        self.state = _RENAMING
        return b"350 Requested file action pending further information."

    def ftp_RNTO(self, arg: str) -> Deferred[object]:
        """Rename the file named by ``RNFR``."""
        if self.state != _RENAMING or self.renameFrom is None:
            raise BadCmdSequenceError("RNFR required first.")
        source, self.renameFrom = self.renameFrom, None
        self.state = _AUTHED
        target = self._path(self._needArg(arg))
        return self.shell.rename(source, target).addCallback(  # type: ignore[no-any-return]
            lambda _: b"250 Requested file action okay, completed."
        )

    def ftp_SIZE(self, arg: str) -> Deferred[object]:
        """Give a file's size."""
        path = self._path(self._needArg(arg))

        def size(values: list[Any]) -> bytes:
            if values[1]:
                raise IsADirectoryError(f"{arg}: not a plain file")
            return b"213 %d" % values[0]

        return self.shell.stat(path, ("size", "directory")).addCallback(size)  # type: ignore[no-any-return]

    def ftp_MDTM(self, arg: str) -> Deferred[object]:
        """Give a file's modification time."""
        path = self._path(self._needArg(arg))
        return self.shell.stat(path, ("modified",)).addCallback(  # type: ignore[no-any-return]
            lambda values: b"213 " + _timeval(values[0])
        )

    def ftp_MLST(self, arg: str) -> Deferred[object]:
        """Give the facts of one file over the control connection."""
        path = self._path(arg) if arg else list(self.workingDirectory)
        name = "/" + "/".join(path)

        def show(values: list[object]) -> list[bytes]:
            return [
                b"250-Listing " + _replyText(name),
                b" " + _mlsdLine(name, values),
                b"250 End",
            ]

        return self.shell.stat(path, _MLSD_KEYS).addCallback(show)  # type: ignore[no-any-return]

    # -- data connections

    def _cleanupDTP(self) -> None:
        if self._passiveTimer is not None and self._passiveTimer.active():
            self._passiveTimer.cancel()
        self._passiveTimer = None
        if self._dtpPort is not None:
            port, self._dtpPort = self._dtpPort, None
            port.stopListening()
        if self._dtpConnector is not None:
            connector, self._dtpConnector = self._dtpConnector, None
            connector.disconnect()
        if self._dtp is not None:
            dtp, self._dtp = self._dtp, None
            if dtp.transport is not None and dtp.isConnected:
                dtp.transport.loseConnection()
        self._dtpFactory = None
        waiter, self._dtpWaiter = self._dtpWaiter, None
        if waiter is not None:
            waiter.errback(PortConnectionError("Can't open data connection."))

    def _peerHost(self) -> str:
        return str(self.transport.getPeer().host)

    def _listenPassive(self) -> int:
        self._cleanupDTP()
        factory = _DTPFactory(self, self._peerHost())
        host = str(self.transport.getHost().host)
        reactor = self.factory.reactor
        lastError: Exception | None = None
        for portNumber in self.factory.passivePortRange:
            try:
                self._dtpPort = reactor.listenTCP(portNumber, factory, interface=host)
                break
            except error.CannotListenError as e:
                lastError = e
        else:
            raise PortConnectionError(f"Can't open a passive port: {lastError}")
        self._dtpFactory = factory
        self._passiveTimer = reactor.callLater(
            self.factory.passiveTimeout, self._passiveExpired
        )
        return int(self._dtpPort.getHost().port)

    def _passiveExpired(self) -> None:
        self._passiveTimer = None
        if self._dtp is None:
            self._cleanupDTP()

    def ftp_PASV(self, arg: str) -> bytes:
        """Enter passive mode (IPv4)."""
        host = str(self.transport.getHost().host)
        if host.startswith("::ffff:"):
            host = host[7:]
        if ":" in host:
            raise CmdNotImplementedForArgError("PASV is IPv4 only; use EPSV.")
        port = self._listenPassive()
        return b"227 Entering Passive Mode (%s)." % encodeHostPort(host, port).encode(
            "ascii"
        )

    def ftp_EPSV(self, arg: str) -> bytes:
        """Enter extended passive mode (RFC 2428)."""
        if arg.upper() == "ALL":
            return b"200 EPSV ALL ok."
        if arg and arg not in ("1", "2"):
            raise _ProtocolNotSupported("Network protocol not supported, use (1,2)")
        port = self._listenPassive()
        return b"229 Entering Extended Passive Mode (|||%d|)." % port

    def _activeTarget(self, host: str, port: int) -> bytes:
        if not _sameHost(host, self._peerHost()):
            raise CmdNotImplementedForArgError(
                "Data connections only to the client's own address."
            )
        if port < 1024:
            raise CmdNotImplementedForArgError(
                "Data connections only to ports >= 1024."
            )
        self._cleanupDTP()
        factory = _DTPFactory(self, self._peerHost())
        self._dtpFactory = factory
        self._dtpConnector = self.factory.reactor.connectTCP(
            host, port, factory, timeout=30
        )
        failed = factory.failed

        def connectFailed(f: Failure) -> None:
            if self._dtpFactory is factory:
                waiter, self._dtpWaiter = self._dtpWaiter, None
                self._dtpConnector = None
                self._dtpFactory = None
                if waiter is not None:
                    waiter.errback(PortConnectionError("Can't open data connection."))

        failed.addErrback(connectFailed)
        return b"200 Active data connection set up."

    def ftp_PORT(self, arg: str) -> bytes:
        """Set the active data address (IPv4)."""
        try:
            host, port = decodeHostPort(arg)
        except ValueError:
            raise CmdArgSyntaxError("Bad PORT argument.") from None
        return self._activeTarget(host, port)

    def ftp_EPRT(self, arg: str) -> bytes:
        """Set the active data address (RFC 2428)."""
        try:
            _, host, port = parseEPRT(arg)
        except ValueError:
            raise CmdArgSyntaxError("Bad EPRT argument.") from None
        return self._activeTarget(host, port)

    def _dtpConnected(self, dtp: _DTP) -> None:
        self._dtp = dtp
        if self._dtpPort is not None:
            port, self._dtpPort = self._dtpPort, None
            port.stopListening()
        if self._passiveTimer is not None and self._passiveTimer.active():
            self._passiveTimer.cancel()
        self._passiveTimer = None
        self._dtpConnector = None
        waiter, self._dtpWaiter = self._dtpWaiter, None
        if waiter is not None:
            waiter.callback(dtp)

    def _dtpLost(self, dtp: _DTP) -> None:
        if self._dtp is dtp and not self._transferring:
            self._dtp = None
            self._dtpFactory = None

    def _checkDTP(self) -> None:
        if self._dtpFactory is None and self._dtp is None:
            raise BadCmdSequenceError("Use PORT, EPRT, PASV or EPSV first.")

    def _getDTP(self) -> Deferred[_DTP]:
        self._checkDTP()
        if self._dtp is not None:
            return defer.succeed(self._dtp)
        self._dtpWaiter = Deferred()
        return self._dtpWaiter

    def _transfer(
        self, opened: Deferred[Any], run: Callable[[Any, _DTP], Deferred[object]]
    ) -> Deferred[object]:
        """
        Open the data connection once ``opened`` fired, run the transfer and
        reply once the data connection is closed.
        """
        state: dict[str, Any] = {}
        self._aborted = False

        def gotThing(thing: Any) -> Deferred[_DTP]:
            state["thing"] = thing
            alreadyConnected = self._dtp is not None
            d = self._getDTP()
            state["code"] = b"125" if alreadyConnected else b"150"
            return d

        def gotDTP(dtp: _DTP) -> Deferred[object]:
            self._transferring = True
            self.reply(state["code"] + b" Data connection open; transfer starting.")
            done = run(state["thing"], dtp)

            def finished(result: object) -> Deferred[None]:
                if dtp.isConnected:
                    dtp.transport.loseConnection()
                    return dtp.lost
                return defer.succeed(None)

            def failed(f: Failure) -> Failure:
                if dtp.isConnected:
                    dtp.transport.abortConnection()
                return f

            done.addCallbacks(finished, failed)
            return done

        def complete(_: object) -> bytes:
            self._endTransfer()
            if self._aborted:
                return b"426 Transfer aborted."
            return b"226 Transfer complete."

        def error(f: Failure) -> Failure | bytes:
            self._endTransfer()
            if self._aborted:
                return b"426 Transfer aborted."
            if f.check(FTPCmdError, InvalidPath):
                self._cleanupDTP()
                return f
            return b"426 Connection closed; transfer aborted."

        d = opened.addCallback(gotThing).addCallback(gotDTP)
        d.addCallbacks(complete, error)
        return d

    def _endTransfer(self) -> None:
        self._transferring = False
        self._cleanupDTP()

    def ftp_ABOR(self, arg: str) -> Deferred[bytes] | bytes:
        """Abort the transfer in progress."""
        if self._transferring and self._dtp is not None:
            self._aborted = True
            dtp = self._dtp
            waiter: Deferred[None] = Deferred()
            self._abortWaiters.append(waiter)
            if dtp.transport is not None and dtp.isConnected:
                dtp.transport.abortConnection()
            # Answered after the transfer's own 426 reply.
            return waiter.addCallback(lambda _: b"226 Abort successful.")
        self._cleanupDTP()
        return b"225 No transfer to abort."

    def ftp_RETR(self, arg: str) -> Deferred[object]:
        """Send a file."""
        path = self._path(self._needArg(arg))
        offset, self.restartOffset = self.restartOffset, 0
        self._checkDTP()

        def run(reader: Any, dtp: _DTP) -> Deferred[object]:
            return reader.send(dtp.transport)  # type: ignore[no-any-return]

        return self._transfer(self.shell.openForReading(path, offset), run)

    def _store(self, arg: str, append: bool) -> Deferred[object]:
        path = self._path(self._needArg(arg))
        offset, self.restartOffset = self.restartOffset, 0
        self._checkDTP()

        def run(writer: Any, dtp: _DTP) -> Deferred[object]:
            def gotConsumer(consumer: Any) -> Deferred[None]:
                dtp.attachConsumer(consumer)
                return dtp.lost

            def close(result: object) -> object:
                return writer.close()

            def closeAnyway(f: Failure) -> Failure:
                writer.close()
                return f

            d = writer.receive().addCallback(gotConsumer)
            d.addCallbacks(close, closeAnyway)
            return d  # type: ignore[no-any-return]

        return self._transfer(self.shell.openForWriting(path, offset, append), run)

    def ftp_STOR(self, arg: str) -> Deferred[object]:
        """Receive a file."""
        return self._store(arg, False)

    def ftp_APPE(self, arg: str) -> Deferred[object]:
        """Receive data appended to a file."""
        return self._store(arg, True)

    def _listing(
        self, arg: str, keys: Sequence[str], format: Callable[..., bytes]
    ) -> Deferred[object]:
        # ls-style options (-a, -l) that clients send are ignored.
        while arg.startswith("-"):
            arg = arg.partition(" ")[2].lstrip(" ")
        path = self._path(arg)
        self._checkDTP()

        def run(entries: list[tuple[str, list[object]]], dtp: _DTP) -> Deferred[object]:
            data = b"".join(
                format(name, values) + b"\r\n"
                for name, values in entries
                if "\r" not in name and "\n" not in name
            )
            dtp.transport.write(data)
            return defer.succeed(None)

        return self._transfer(self.shell.list(path, keys), run)

    def ftp_LIST(self, arg: str) -> Deferred[object]:
        """Send an ``ls -l`` style listing."""
        return self._listing(arg, _LIST_KEYS, _lsLine)

    def ftp_NLST(self, arg: str) -> Deferred[object]:
        """Send the bare names in a directory."""
        return self._listing(
            arg, (), lambda name, values: name.encode("utf-8", "surrogateescape")
        )

    def ftp_MLSD(self, arg: str) -> Deferred[object]:
        """Send a machine-readable listing (RFC 3659)."""
        return self._listing(arg, _MLSD_KEYS, _mlsdLine)


_LIST_KEYS = (
    "size",
    "directory",
    "permissions",
    "hardlinks",
    "modified",
    "owner",
    "group",
)
_MLSD_KEYS = ("size", "directory", "modified", "permissions")


def _timeval(mtime: object) -> bytes:
    assert isinstance(mtime, (int, float))
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(mtime)).encode("ascii")


def _lsLine(name: str, values: list[Any]) -> bytes:
    size, directory, mode, links, mtime, owner, group = values
    perms = statmod.filemode(mode)
    if directory:
        perms = "d" + perms[1:]
    now = time.time()
    if abs(now - mtime) > 180 * 86400:
        date = time.strftime("%b %d  %Y", time.gmtime(mtime))
    else:
        date = time.strftime("%b %d %H:%M", time.gmtime(mtime))
    line = f"{perms} {links:>3} {owner:<8} {group:<8} {size:>8} {date} {name}"
    return line.encode("utf-8", "surrogateescape")


def _mlsdLine(name: str, values: list[Any]) -> bytes:
    size, directory, mtime, _mode = values
    if directory:
        facts = f"type=dir;modify={_timeval(mtime).decode()};perm=elc;"
    else:
        facts = f"type=file;size={size};modify={_timeval(mtime).decode()};perm=r;"
    return f"{facts} {name}".encode("utf-8", "surrogateescape")


class FTPFactory(protocol.ServerFactory):
    """
    Makes ``FTP`` server connections.

    :param portal: logs users in; its realm must give ``IFTPShell`` avatars
        (``FTPRealm``).  Register ``AllowAnonymousAccess`` on it to let
        anonymous users in.
    :param userAnonymous: the user name meaning anonymous login.
    :param reactor: the reactor for data connections and timers (default:
        the global one).
    :ivar allowAnonymous: whether ``userAnonymous`` logs in anonymously.
    :ivar timeOut: idle seconds before a control connection is closed.
    :ivar passivePortRange: the ports ``PASV``/``EPSV`` may listen on
        (default ``range(1)``: any free port).
    :ivar passiveTimeout: seconds to wait for a passive data connection.
    :ivar maxFailedLogins: failed logins before the connection is closed.
    :ivar maxCommandLength: the longest command line accepted.
    :ivar maxPendingCommands: commands held while one is running.
    :ivar connectionLimit: simultaneous control connections allowed.
    :ivar welcomeMessage: the text of the ``220`` greeting.
    """

    protocol = FTP
    allowAnonymous = True
    timeOut: float | None = DEFAULT_TIMEOUT
    passiveTimeout: float = PASSIVE_TIMEOUT
    maxFailedLogins = MAX_FAILED_LOGINS
    maxCommandLength = MAX_COMMAND_LENGTH
    maxPendingCommands = MAX_PENDING_COMMANDS
    connectionLimit = 200
    welcomeMessage = "torsion FTP server ready."

    def __init__(
        self, portal: Portal, userAnonymous: str = "anonymous", reactor: Any = None
    ) -> None:
        self.portal = portal
        self.userAnonymous = userAnonymous
        self.passivePortRange: Sequence[int] = range(1)
        self.connections = 0
        if reactor is None:
            from torsion.internet import reactor as _global

            reactor = _global
        self.reactor = reactor

    def buildProtocol(self, addr: Any) -> FTP:
        """
        :param addr: the client's address.
        :return: a new ``FTP`` protocol.
        """
        p = self.protocol()
        p.factory = self
        return p


# Client


class _Command:
    def __init__(self, text: bytes) -> None:
        self.text = text
        self.deferred: Deferred[list[str]] = Deferred()
        self.onPreliminary: Callable[[list[str]], None] | None = None


class _DataProtocol(protocol.Protocol):
    """Forwards a data connection to the user's protocol."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.lost: Deferred[None] = Deferred()
        self.made: Deferred[_DataProtocol] = Deferred()

    def connectionMade(self) -> None:
        if self.target is not None:
            self.target.makeConnection(self.transport)
        self.made.callback(self)

    def fireLost(self) -> None:
        if not self.lost.called:
            self.lost.callback(None)

    def dataReceived(self, data: bytes) -> None:
        if self.target is not None:
            self.target.dataReceived(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        if self.target is not None:
            self.target.connectionLost(reason)
        self.fireLost()


class _DataFactory(protocol.ClientFactory):
    def __init__(self, proto: _DataProtocol) -> None:
        self.proto = proto
        self.used = False

    def buildProtocol(self, addr: Any) -> protocol.Protocol | None:
        if self.used:
            return None
        self.used = True
        return self.proto

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        if not self.proto.made.called:
            self.proto.made.errback(reason)
            self.proto.fireLost()


@implementer(interfaces.IConsumer)
class _UploadConsumer:
    """What ``storeFile`` hands out: write the file's bytes, then ``finish``."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def finish(self) -> None:
        self.transport.loseConnection()


class FTPClient(basic.LineReceiver):
    """
    An FTP client.  It logs in as soon as the server greets it; every
    method returns a Deferred firing with the server's reply lines
    (``list[str]``) or failing with ``CommandFailed``.  Commands are sent
    one at a time, in the order they were asked for.

    :param username: the user name (``anonymous`` by default).
    :param password: the password.
    :param passive: use passive (``PASV``/``EPSV``) data connections; false
        for active mode (``PORT``/``EPRT``).
    :param reactor: the reactor data connections are made with (default:
        the global one).
    :ivar greeting: fires with the server's greeting once logged in.
    :ivar MAX_LENGTH: the longest reply line accepted, in bytes.
    :ivar MAX_REPLY_LINES: the most lines one reply may have; a longer
        reply closes the connection.
    """

    MAX_LENGTH = 65536
    MAX_REPLY_LINES = 10000

    def __init__(
        self,
        username: str = "anonymous",
        password: str = "torsion@example.com",
        passive: bool = True,
        reactor: Any = None,
    ) -> None:
        if reactor is None:
            from torsion.internet import reactor as _global

            reactor = _global
        self.reactor = reactor
        self.passive = passive
        self._queue: list[_Command] = []
        self._current: _Command | None = None
        self._lines: list[str] = []
        self._greeted = False
        self._closed = False
        self.greeting: Deferred[list[str]] = Deferred()
        self._greetingCommand = _Command(b"")
        self._login(username, password)

    def _login(self, username: str, password: str) -> None:
        user = self.queueStringCommand("USER " + username)

        def needPassword(lines: list[str]) -> Deferred[list[str]] | list[str]:
            if lines[-1].startswith("331"):
                return self._queueFirst("PASS " + password)
            return lines

        user.addCallback(needPassword)
        self._loggedIn = user

    # -- wire

    def connectionMade(self) -> None:
        """Wait for the greeting."""
        self._current = self._greetingCommand

        def greeted(lines: list[str]) -> Deferred[list[str]]:
            self._greeted = True
            return self._loggedIn.addCallback(lambda _: lines)

        self._greetingCommand.deferred.addCallback(greeted).chainDeferred(self.greeting)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """
        Fail every command not answered yet.

        :param reason: why the connection closed.
        """
        self._closed = True
        pending = ([self._current] if self._current else []) + self._queue
        self._current = None
        self._queue = []
        for command in pending:
            if not command.deferred.called:
                command.deferred.errback(ConnectionLost(str(reason.value)))
        if not self.greeting.called:
            self.greeting.errback(ConnectionLost(str(reason.value)))

    def lineReceived(self, line: bytes) -> None:
        """
        Gather reply lines; a complete reply answers the current command.

        :param line: one line from the server.
        """
        text = line.decode("utf-8", "replace")
        self._lines.append(text)
        if len(self._lines) > self.MAX_REPLY_LINES:
            self.transport.loseConnection()
            return
        first = self._lines[0]
        if len(text) < 3 or not text[:3].isdigit() or text[:3] != first[:3]:
            return
        if len(text) > 3 and text[3] == "-":
            return
        if len(self._lines) == 1 and len(text) > 3 and text[3] != " ":
            return
        lines, self._lines = self._lines, []
        command = self._current
        if command is None:
            # A reply nobody asked for (421 before closing, for one).
            return
        code = lines[-1][:3]
        if code[0] == "1":
            if command.onPreliminary is not None:
                command.onPreliminary(lines)
            return
        self._current = None
        if code[0] in "23":
            command.deferred.callback(lines)
        else:
            command.deferred.errback(CommandFailed(lines))
        self._sendNext()

    def _sendNext(self) -> None:
        if self._current is not None or not self._queue or self._closed:
            return
        if self.transport is None:
            return
        command = self._queue.pop(0)
        self._current = command
        self.sendLine(command.text)

    def _enqueue(self, command: _Command, first: bool = False) -> None:
        if self._closed:
            command.deferred.errback(ConnectionLost("connection closed"))
            return
        if first:
            self._queue.insert(0, command)
        else:
            self._queue.append(command)
        if self.transport is not None:
            self._sendNext()

    def queueStringCommand(self, command: str) -> Deferred[list[str]]:
        """
        Send a raw command (after those already queued).

        :param command: the command line, without line end.
        :return: a Deferred firing with the reply lines.
        """
        c = _Command(command.encode("utf-8"))
        self._enqueue(c)
        return c.deferred

    def _queueFirst(self, command: str) -> Deferred[list[str]]:
        c = _Command(command.encode("utf-8"))
        self._enqueue(c, first=True)
        return c.deferred

    def makeConnection(self, transport: Any) -> None:
        """
        Attach the transport; queued commands wait for the greeting.

        :param transport: the control connection.
        """
        super().makeConnection(transport)

    # -- simple commands

    def pwd(self) -> Deferred[list[str]]:
        """
        :return: a Deferred firing with the ``257`` reply lines; see
            ``parsePWDResponse``.
        """
        return self.queueStringCommand("PWD")

    def cwd(self, path: str) -> Deferred[list[str]]:
        """
        :param path: the directory to change to.
        :return: a Deferred firing with the reply.
        """
        return self.queueStringCommand("CWD " + path)

    def cdup(self) -> Deferred[list[str]]:
        """
        :return: a Deferred firing with the reply to ``CDUP``.
        """
        return self.queueStringCommand("CDUP")

    def makeDirectory(self, path: str) -> Deferred[list[str]]:
        """
        :param path: the directory to create.
        :return: a Deferred firing with the reply.
        """
        return self.queueStringCommand("MKD " + path)

    def removeDirectory(self, path: str) -> Deferred[list[str]]:
        """
        :param path: the directory to remove.
        :return: a Deferred firing with the reply.
        """
        return self.queueStringCommand("RMD " + path)

    def removeFile(self, path: str) -> Deferred[list[str]]:
        """
        :param path: the file to delete.
        :return: a Deferred firing with the reply.
        """
        return self.queueStringCommand("DELE " + path)

    def rename(self, pathFrom: str, pathTo: str) -> Deferred[list[str]]:
        """
        :param pathFrom: the existing name.
        :param pathTo: the new name.
        :return: a Deferred firing with the reply to ``RNTO``.
        """
        first = self.queueStringCommand("RNFR " + pathFrom)
        second = self.queueStringCommand("RNTO " + pathTo)

        def firstFailed(f: Failure) -> Failure:
            # RNTO is then refused too; report the RNFR failure.
            second.addErrback(lambda _: None)
            return f

        first.addErrback(firstFailed)
        return first.addCallback(lambda _: second)

    def quit(self) -> Deferred[list[str]]:
        """
        :return: a Deferred firing with the goodbye reply.
        """
        return self.queueStringCommand("QUIT")

    # -- transfers

    def _openData(self, target: Any) -> tuple[_DataProtocol, Deferred[Any]]:
        """
        Queue the commands setting up a data connection; return the data
        protocol and a Deferred firing when the connection is ready to be
        followed by the transfer command (sent by the caller).
        """
        proto = _DataProtocol(target)
        factory = _DataFactory(proto)
        peer = self.transport.getPeer().host
        ipv6 = ":" in str(peer) and not str(peer).startswith("::ffff:")
        if self.passive:
            setup = self.queueStringCommand("EPSV" if ipv6 else "PASV")

            def connect(lines: list[str]) -> None:
                text = lines[-1]
                if text.startswith("229"):
                    m = re.search(r"\(([!-~])\1\1(\d+)\1\)", text)
                    if m is None:
                        raise BadResponse(text)
                    port = int(m.group(2))
                else:
                    m = re.search(r"(\d+,\d+,\d+,\d+,\d+,\d+)", text)
                    if m is None:
                        raise BadResponse(text)
                    _, port = decodeHostPort(m.group(1))
                # Connect to the control peer, whatever address the reply
                # names, so a server cannot point us elsewhere.
                self.reactor.connectTCP(str(peer), port, factory)

            setup.addCallback(connect)
        else:
            host = str(self.transport.getHost().host)
            listening = self.reactor.listenTCP(0, factory, interface=host)
            port = listening.getHost().port
            if ":" in host:
                setup = self.queueStringCommand(f"EPRT |2|{host}|{port}|")
            else:
                setup = self.queueStringCommand("PORT " + encodeHostPort(host, port))

            def stop(result: object) -> object:
                listening.stopListening()
                return result

            proto.made.addBoth(stop)
            setup.addErrback(stop)
        return proto, setup

    def _transfer(
        self, commands: list[str], target: Any
    ) -> tuple[_DataProtocol, Deferred[Any]]:
        proto, setup = self._openData(target)
        if target is not None:
            # A failed data connection is reported through the reply.
            proto.made.addErrback(lambda f: None)
        results: list[Deferred[list[str]]] = []

        def sendCommands(_: object) -> Deferred[Any]:
            for text in reversed(commands):
                c = _Command(text.encode("utf-8"))
                self._queue.insert(0, c)
                results.insert(0, c.deferred)
            self._sendNext()
            last = results[-1]
            for d in results[:-1]:
                d.addErrback(lambda f: None)

            def failed(f: Failure) -> Failure:
                if proto.transport is not None:
                    proto.transport.loseConnection()
                else:
                    proto.fireLost()
                return f

            last.addErrback(failed)
            both: list[Deferred[Any]] = [last, proto.lost]
            return defer.gatherResults(both, consumeErrors=True).addCallbacks(
                lambda r: r[0], lambda f: f.value.subFailure
            )

        return proto, setup.addCallback(sendCommands)

    def retrieveFile(self, path: str, protocol: Any, offset: int = 0) -> Deferred[Any]:
        """
        Download a file.

        :param path: the file.
        :param protocol: a protocol receiving the file's bytes through
            ``dataReceived`` (and ``connectionLost`` at the end).
        :param offset: where to start (``REST``).
        :return: a Deferred firing with the final reply once everything is
            received.
        """
        commands = (
            ["TYPE I"] + ([f"REST {offset}"] if offset else []) + ["RETR " + path]
        )
        return self._transfer(commands, protocol)[1]

    retr = retrieveFile

    def list(self, path: str, protocol: Any) -> Deferred[Any]:
        """
        List a directory, ``ls -l`` style (parse it with
        ``FTPFileListProtocol``).

        :param path: the directory.
        :param protocol: receives the listing.
        :return: a Deferred firing when the listing is complete.
        """
        return self._transfer(["LIST " + path if path else "LIST"], protocol)[1]

    def nlst(self, path: str, protocol: Any) -> Deferred[Any]:
        """
        List the names in a directory, one per line.

        :param path: the directory.
        :param protocol: receives the names.
        :return: a Deferred firing when the listing is complete.
        """
        return self._transfer(["NLST " + path if path else "NLST"], protocol)[1]

    def storeFile(
        self, path: str, offset: int = 0
    ) -> tuple[Deferred[Any], Deferred[Any]]:
        """
        Upload a file.

        :param path: where to store it.
        :param offset: where to start writing (``REST``).
        :return: ``(consumer, done)``: a Deferred firing with an
            ``IConsumer`` to write the bytes to (call its ``finish()``
            at the end), and a Deferred firing with the final reply.
        """
        commands = (
            ["TYPE I"] + ([f"REST {offset}"] if offset else []) + ["STOR " + path]
        )
        proto, done = self._transfer(commands, None)
        consumer = proto.made.addCallback(lambda p: _UploadConsumer(p.transport))
        return consumer, done

    def appendFile(self, path: str) -> tuple[Deferred[Any], Deferred[Any]]:
        """
        Append to a file; like ``storeFile``.

        :param path: the file.
        :return: ``(consumer, done)`` as for ``storeFile``.
        """
        proto, done = self._transfer(["TYPE I", "APPE " + path], None)
        consumer = proto.made.addCallback(lambda p: _UploadConsumer(p.transport))
        return consumer, done


def parsePWDResponse(response: str) -> str | None:
    """
    :param response: the text of a ``257`` reply.
    :return: the quoted directory in it, or ``None``.
    """
    m = re.search(r'"((?:[^"]|"")*)"', response)
    return m.group(1).replace('""', '"') if m else None


class FTPFileListProtocol(basic.LineReceiver):
    """
    Parses a Unix-style ``LIST`` listing.  Each understood line becomes a
    dict in ``files`` with the keys ``filetype`` (``"-"``, ``"d"``, ``"l"``
    ...), ``perms``, ``nlinks``, ``owner``, ``group``, ``size``, ``date``,
    ``filename`` and ``linktarget``; other lines go to ``unknownLine``.

    :ivar files: the entries parsed so far.
    :ivar MAX_FILES: entries kept at most; later ones are dropped.
    """

    delimiter = b"\n"
    MAX_LENGTH = 16384
    MAX_FILES = 1_000_000

    _pattern = re.compile(
        r"^(?P<filetype>.)(?P<perms>.{9})[+@.]?\s+(?P<nlinks>\d+)\s+(?P<owner>\S+)\s+"
        r"(?P<group>\S+)\s+(?P<size>\d+)\s+"
        r"(?P<date>\w{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4}))\s(?P<filename>.+?)"
        r"(?: -> (?P<linktarget>.*))?$"
    )

    def __init__(self) -> None:
        self.files: list[dict[str, Any]] = []

    def lineReceived(self, line: bytes) -> None:
        """
        Parse one listing line.

        :param line: the line.
        """
        text = line.rstrip(b"\r").decode("utf-8", "replace")
        m = self._pattern.match(text)
        if m is None:
            self.unknownLine(text)
            return
        entry: dict[str, Any] = m.groupdict()
        entry["nlinks"] = int(entry["nlinks"])
        entry["size"] = int(entry["size"])
        if entry["filetype"] != "l":
            entry["linktarget"] = None
        if len(self.files) < self.MAX_FILES:
            self.addFile(entry)

    def addFile(self, info: dict[str, Any]) -> None:
        """
        Record one entry; override to handle entries as they come.

        :param info: the parsed entry.
        """
        self.files.append(info)

    def unknownLine(self, line: str) -> None:
        """
        Called for a line that is not an entry (``total 12``, say).

        :param line: the line.
        """
