"""
CGI (RFC 3875): run external programs to answer requests.

``CGIScript`` runs one program for every request below it; ``CGIDirectory``
maps a directory of programs onto the URL space::

    from torsion.web import static, twcgi
    from torsion.web.server import Site

    root = static.File("/srv/www")
    root.putChild(b"cgi-bin", twcgi.CGIDirectory("/srv/cgi-bin"))
    site = Site(root)

The program gets the request's meta-variables in its environment
(``REQUEST_METHOD``, ``QUERY_STRING``, ``PATH_INFO``, ``SCRIPT_NAME``,
``CONTENT_TYPE``, ``HTTP_*`` for the request headers, ...), the request body
on its standard input, and answers on its standard output with CGI headers
(``Status:``, ``Location:``, ``Content-Type:``, ...), a blank line and the
body.  The body is streamed to the client as the program writes it, and the
program is held back (its output is not read) while the client is slow.

Only a few variables of the server's own environment are passed on
(``CGIScript.passEnvironment``: ``PATH``, the locale and the time zone); a
``Proxy`` request header never becomes ``HTTP_PROXY`` (httpoxy), and
request headers whose names contain an underscore are dropped, so that no
header can pose as another.  Unlike some CGI servers, a query string is
never turned into command-line arguments.

A program whose name starts with ``nph-`` writes the whole response itself,
status line included; its output is passed to the client as it is and the
connection is closed after it.

A program that exits, crashes or writes malformed headers before its
headers are complete gets the client a 500 response; the reason is logged,
and so is every line the program writes to its standard error.  If the
client goes away, the program is sent ``SIGTERM``, then ``SIGKILL`` after
``CGIProcessProtocol.killTimeout`` seconds.
"""

from __future__ import annotations

import io
import os
import re
import urllib.parse
from collections.abc import Sequence
from typing import IO, Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.interfaces import IPullProducer, IPushProducer
from torsion.internet.protocol import ProcessProtocol
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web import resource
from torsion.web._version import __version__
from torsion.web.http_headers import Headers
from torsion.web.resource import NOT_DONE_YET, Resource

__all__ = [
    "CGIDirectory",
    "CGIProcessProtocol",
    "CGIScript",
    "FilteredScript",
]

_log = Logger()

#: ``SERVER_SOFTWARE`` given to scripts.
SERVER_SOFTWARE = f"torsion-web/{__version__}".encode("ascii")

# Headers that describe one connection, not the response: the server frames
# the response itself, so a script cannot set them.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
    }
)

# Headers a script sets once, replacing the server's default.
_SINGLE = frozenset(
    {b"content-type", b"content-length", b"date", b"server", b"location"}
)

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _reactorOrDefault(reactor: Any) -> Any:
    if reactor is None:
        from torsion.internet import reactor as default

        return default
    return reactor


class CGIDirectory(Resource):
    """
    A directory of CGI programs: ``/name/rest`` runs ``pathname/name`` with
    ``PATH_INFO`` ``/rest``; subdirectories are ``CGIDirectory`` too.  The
    directory itself has no listing (404).

    :ivar path: the directory.
    """

    def __init__(
        self, pathname: str, registry: Any = None, reactor: Any = None
    ) -> None:
        """
        :param pathname: the directory.
        :param registry: passed to the ``CGIScript`` objects made.
        :param reactor: the reactor the programs are run with; the global
            one by default.
        """
        Resource.__init__(self)
        self.path = os.fsdecode(pathname)
        self.registry = registry
        self._reactor = reactor

    def getChild(self, path: bytes, request: Any) -> Any:
        """
        :param path: an entry name (one path segment).
        :param request: the request.
        :return: a ``CGIScript`` for a file, a ``CGIDirectory`` for a
            subdirectory, or a 404 for anything missing or unsafe.
        """
        from torsion.web.static import isDangerous

        if not path or isDangerous(path):
            return resource.NoResource()
        full = os.path.join(self.path, os.fsdecode(path))
        if os.path.isdir(full):
            return CGIDirectory(full, self.registry, self._reactor)
        if os.path.isfile(full):
            return CGIScript(full, self.registry, self._reactor)
        return resource.NoResource()

    def render(self, request: Any) -> bytes:
        """
        :return: a 404 page: CGI directories are not listed.
        """
        return resource.NoResource(
            "CGI directories do not support directory listing."
        ).render(request)


class CGIScript(Resource):
    """
    A CGI program, run once per request.  Every path below it is handed to
    the program as ``PATH_INFO``.

    :ivar filename: the program's path.
    :ivar passEnvironment: names of the server's environment variables
        passed on to the program (when set).
    """

    isLeaf = True

    #: Variables of the server's environment the program may see.
    passEnvironment: Sequence[str] = (
        "PATH",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TZ",
    )

    #: ``PATH`` for the program when the server has none.
    defaultPath = "/usr/local/bin:/usr/bin:/bin"

    def __init__(
        self, filename: str, registry: Any = None, reactor: Any = None
    ) -> None:
        """
        :param filename: the program's path.
        :param registry: unused; accepted so ``CGIScript`` can be a
            ``static.File`` processor (``{".cgi": CGIScript}``).
        :param reactor: the reactor to run it with (``spawnProcess``); the
            global one by default.
        """
        Resource.__init__(self)
        self.filename = os.path.abspath(os.fsdecode(filename))
        self.registry = registry
        self._reactor = reactor

    def _environment(self, request: Any) -> dict[bytes, bytes]:
        """
        :return: the CGI meta-variables for ``request`` (RFC 3875 section
            4.1), plus ``HTTP_*`` for its headers and the passed-on server
            variables.
        """
        env: dict[bytes, bytes] = {}
        for name in self.passEnvironment:
            value = os.environb.get(name.encode())
            if value is not None:
                env[name.encode()] = value
        env.setdefault(b"PATH", self.defaultPath.encode())

        uri: bytes = request.uri
        query = uri.partition(b"?")[2]
        scriptName = b"/" + b"/".join(request.prepath)
        postpath = list(request.postpath)
        pathInfo = b"/" + b"/".join(postpath) if postpath else b""
        host = request.getHost()
        client = request.getClientAddress()
        clientHost = getattr(client, "host", None)

        env[b"GATEWAY_INTERFACE"] = b"CGI/1.1"
        env[b"SERVER_SOFTWARE"] = SERVER_SOFTWARE
        env[b"SERVER_NAME"] = request.getRequestHostname()
        env[b"SERVER_PORT"] = str(getattr(host, "port", "")).encode()
        env[b"SERVER_PROTOCOL"] = request.clientproto
        env[b"REQUEST_METHOD"] = request.method
        env[b"REQUEST_URI"] = uri
        env[b"SCRIPT_NAME"] = scriptName
        env[b"SCRIPT_FILENAME"] = os.fsencode(self.filename)
        env[b"QUERY_STRING"] = query
        env[b"PATH_INFO"] = pathInfo
        if pathInfo:
            env[b"PATH_TRANSLATED"] = os.fsencode(
                os.path.join(
                    os.path.dirname(self.filename), *map(os.fsdecode, postpath)
                )
            )
        if clientHost is not None:
            env[b"REMOTE_ADDR"] = str(clientHost).encode()
            env[b"REMOTE_HOST"] = env[b"REMOTE_ADDR"]
            port = getattr(client, "port", None)
            if port is not None:
                env[b"REMOTE_PORT"] = str(port).encode()
        if request.isSecure():
            env[b"HTTPS"] = b"on"

        headers = request.requestHeaders
        authorization = headers.getRawHeaders(b"authorization")
        if authorization:
            scheme = authorization[-1].split(b" ", 1)[0]
            if scheme:
                env[b"AUTH_TYPE"] = scheme
        contentType = headers.getRawHeaders(b"content-type")
        if contentType:
            env[b"CONTENT_TYPE"] = contentType[-1]
        length = _bodyLength(request.content)
        if length:
            env[b"CONTENT_LENGTH"] = b"%d" % length

        for name, values in headers.getAllRawHeaders():
            lower = name.lower()
            if lower in (b"content-type", b"content-length", b"proxy"):
                continue
            if b"_" in name:
                # Foo_Bar would become HTTP_FOO_BAR like Foo-Bar does.
                continue
            key = b"HTTP_" + name.upper().replace(b"-", b"_")
            env[key] = b", ".join(values)
        return env

    def render(self, request: Any) -> Any:
        """
        Run the program for ``request``; the response is written as it
        answers.

        :param request: the request.
        :return: ``NOT_DONE_YET``.
        """
        env = self._environment(request)
        self.runProcess(env, request)
        return NOT_DONE_YET

    def _protocol(self, request: Any) -> CGIProcessProtocol:
        return CGIProcessProtocol(
            request,
            script=self.filename,
            nph=os.path.basename(self.filename).startswith("nph-"),
            reactor=self._reactor,
        )

    def runProcess(
        self, env: dict[bytes, bytes], request: Any, qargs: Sequence[bytes] = ()
    ) -> None:
        """
        Start the program.

        :param env: its environment.
        :param request: the request it answers.
        :param qargs: extra command-line arguments (none by default).
        """
        self._spawn(env, request, [self.filename, *qargs])

    def _spawn(
        self, env: dict[bytes, bytes], request: Any, argv: list[str | bytes]
    ) -> None:
        # Runs ``argv`` (its first item is the program) in the script's
        # directory; a failure to start is the request's 500, not an error
        # out of render().
        protocol = self._protocol(request)
        reactor = _reactorOrDefault(self._reactor)
        try:
            reactor.spawnProcess(
                protocol, argv[0], argv, env, os.path.dirname(self.filename)
            )
        except Exception:
            protocol.spawnFailed(Failure())


class FilteredScript(CGIScript):
    """
    A CGI script run through an interpreter: the program started is
    ``filter`` with the script's path as its argument, so the script needs
    neither an executable bit nor a ``#!`` line::

        class PythonScript(FilteredScript):
            filter = "/usr/bin/python3"

    :ivar filter: the interpreter's path.
    """

    filter: str = "/usr/bin/cat"

    def runProcess(
        self, env: dict[bytes, bytes], request: Any, qargs: Sequence[bytes] = ()
    ) -> None:
        """
        Start ``filter`` on the script.

        :param env: the environment.
        :param request: the request it answers.
        :param qargs: extra command-line arguments (none by default).
        """
        self._spawn(env, request, [self.filter, self.filename, *qargs])


def _bodyLength(content: IO[bytes] | None) -> int:
    if content is None:
        return 0
    try:
        position = content.tell()
        end = content.seek(0, io.SEEK_END)
        content.seek(position)
        return end - position
    except (OSError, ValueError, AttributeError):
        return 0


@implementer(IPullProducer)
class _StdinProducer:
    """
    Copies the request body to the program's standard input a chunk at a
    time, as the pipe takes it, then closes it.
    """

    chunkSize = 2**16

    def __init__(self, content: IO[bytes] | None, transport: Any) -> None:
        self.content = content
        self.transport = transport
        self.done = False

    def resumeProducing(self) -> None:
        if self.done:
            return
        data = self.content.read(self.chunkSize) if self.content is not None else b""
        if data:
            self.transport.write(data)
            return
        self.done = True
        self.transport.unregisterProducer()
        self.transport.closeStdin()

    def stopProducing(self) -> None:
        self.done = True


@implementer(IPushProducer)
class CGIProcessProtocol(ProcessProtocol):
    """
    Connects a running CGI program to the request it answers: feeds it the
    request body, parses its headers, streams its body to the client (as a
    push producer registered on the request, so a slow client holds the
    program back), logs its standard error, and ends it if the client goes
    away.

    :ivar request: the request.
    :ivar script: the program's path, for log messages.
    :ivar nph: whether the output is passed through unparsed.
    """

    #: The most bytes of CGI headers accepted; more is a 500.
    maxHeaderBytes: int = 65536
    #: Standard error lines are logged in pieces of at most this many bytes.
    maxErrorLine: int = 16384
    #: Seconds between ``SIGTERM`` and ``SIGKILL`` for a program whose
    #: client went away.
    killTimeout: float = 5.0
    #: How many local redirects (``Location: /path``) one request may follow.
    maxLocalRedirects: int = 10

    def __init__(
        self,
        request: Any,
        script: str = "",
        nph: bool = False,
        reactor: Any = None,
    ) -> None:
        """
        :param request: the request to answer.
        :param script: the program's path, for log messages.
        :param nph: pass the output through unparsed (``nph-`` programs).
        :param reactor: the reactor, for the kill timer.
        """
        self.request = request
        self.script = script
        self.nph = nph
        self._reactor = reactor
        self._headerBuffer = b""
        self._errorBuffer = b""
        self._handlingHeaders = True
        self._rawTransport: Any = None
        self._producing = False
        self._done = False
        self._ended = False
        self._remaining: int | None = None
        self._killTimer: Any = None
        self._stdin: _StdinProducer | None = None

    # Process events

    def connectionMade(self) -> None:
        """
        Start copying the request body to the program, and watch for the
        client going away.
        """
        self._stdin = _StdinProducer(self.request.content, self.transport)
        self.transport.registerProducer(self._stdin, False)
        self.request.notifyFinish().addErrback(self._clientGone)

    def spawnFailed(self, reason: Failure) -> None:
        """
        The program could not be started: answer 500.

        :param reason: why.
        """
        self._ended = True
        self._fail(f"could not be started: {reason.getErrorMessage()}")

    def outReceived(self, data: bytes) -> None:
        """
        Parse the headers, then pass the body on.

        :param data: output from the program.
        """
        if self._done:
            return
        if self.nph:
            self._nphReceived(data)
            return
        if not self._handlingHeaders:
            self._writeBody(data)
            return
        self._headerBuffer += data
        match = _HEAD_END.search(self._headerBuffer)
        if match is None:
            if len(self._headerBuffer) > self.maxHeaderBytes:
                self._fail(f"sent more than {self.maxHeaderBytes} bytes of headers")
                self._kill()
            return
        if match.start() > self.maxHeaderBytes:
            self._fail(f"sent more than {self.maxHeaderBytes} bytes of headers")
            self._kill()
            return
        head = self._headerBuffer[: match.start()]
        body = self._headerBuffer[match.end() :]
        self._headerBuffer = b""
        self._handlingHeaders = False
        if not self._applyHeaders(head):
            self._kill()
            return
        if self._done:
            return
        self._startBody()
        if body:
            self._writeBody(body)

    def errReceived(self, data: bytes) -> None:
        """
        Log the program's standard error, line by line.

        :param data: bytes from the program's standard error.
        """
        buffer = self._errorBuffer + data
        *lines, rest = buffer.split(b"\n")
        for line in lines:
            self._logError(line)
        while len(rest) > self.maxErrorLine:
            self._logError(rest[: self.maxErrorLine])
            rest = rest[self.maxErrorLine :]
        self._errorBuffer = rest

    def processEnded(self, reason: Failure) -> None:
        """
        Finish the response, or answer 500 if the program ended before
        completing its headers.

        :param reason: how the program ended.
        """
        self._ended = True
        if self._killTimer is not None and self._killTimer.active():
            self._killTimer.cancel()
        self._killTimer = None
        if self._errorBuffer:
            self._logError(self._errorBuffer)
            self._errorBuffer = b""
        failed = not reason.check(error.ProcessDone)
        if self._done:
            return
        if self.nph:
            self._done = True
            if self._rawTransport is not None:
                if self._producing:
                    self._producing = False
                    self.request.unregisterProducer()
                # Only closing the connection marks the end of what the
                # script wrote.
                self._rawTransport.loseConnection()
            else:
                self._fail("ended without a response")
            return
        if self._handlingHeaders:
            how = f"ended ({reason.getErrorMessage()})" if failed else "exited"
            if self._headerBuffer:
                self._fail(f"{how} before finishing its headers")
            else:
                self._fail(f"{how} without sending any output")
            return
        if failed:
            _log.warn(
                "CGI script {script} ended badly after its headers: {why}",
                script=self.script,
                why=reason.getErrorMessage(),
            )
        self._done = True
        request = self.request
        if self._producing:
            self._producing = False
            request.unregisterProducer()
        if self._remaining is not None and self._remaining > 0:
            _log.error(
                "CGI script {script} sent {missing} bytes less than its"
                " Content-Length; closing the connection",
                script=self.script,
                missing=self._remaining,
            )
            request.loseConnection()
            return
        request.finish()

    # IPushProducer, registered on the request

    def pauseProducing(self) -> None:
        """
        The client is slow: stop reading the program's output.
        """
        if not self._ended:
            self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """
        The client caught up: read the program's output again.
        """
        if not self._ended:
            self.transport.resumeProducing()

    def stopProducing(self) -> None:
        """
        The connection is gone: end the program.
        """
        self._producing = False
        self._done = True
        self._kill()

    # Helpers

    def _logError(self, line: bytes) -> None:
        _log.warn(
            "CGI script {script} error output: {line}",
            script=self.script,
            line=line.rstrip(b"\r").decode("utf-8", "replace"),
        )

    def _clientGone(self, reason: Failure) -> None:
        self._done = True
        self._kill()

    def _kill(self) -> None:
        """
        Close the pipes and end the program: ``SIGTERM`` now, ``SIGKILL``
        after ``killTimeout`` if it is still running.
        """
        if self._ended:
            return
        transport = self.transport
        try:
            transport.loseConnection()
        except Exception:
            _log.failure("closing the pipes of CGI script {script}", script=self.script)
        try:
            transport.signalProcess("TERM")
        except error.ProcessExitedAlready:
            return
        if self._killTimer is None and not self._ended:
            reactor = _reactorOrDefault(self._reactor)
            self._killTimer = reactor.callLater(self.killTimeout, self._forceKill)

    def _forceKill(self) -> None:
        self._killTimer = None
        if self._ended:
            return
        try:
            self.transport.signalProcess("KILL")
        except error.ProcessExitedAlready:
            pass

    def _fail(self, why: str) -> None:
        """
        Log why the program failed and answer 500, if nothing was sent yet.
        """
        _log.error("CGI script {script} {why}", script=self.script, why=why)
        if self._done:
            return
        self._done = True
        request = self.request
        if self._producing:
            self._producing = False
            request.unregisterProducer()
        if getattr(request, "startedWriting", False) or getattr(
            request, "written", None
        ):
            request.loseConnection()
            return
        body = (
            b"<!DOCTYPE html>\n<html>\n<head><title>500 - CGI Script Error</title>"
            b"</head>\n<body>\n<h1>CGI Script Error</h1>\n"
            b"<p>The script failed to produce a valid response.</p>\n"
            b"</body>\n</html>\n"
        )
        request.setResponseCode(500)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"content-length", b"%d" % len(body))
        request.write(body)
        request.finish()

    def _applyHeaders(self, head: bytes) -> bool:
        """
        Parse the CGI header section and apply it to the response.

        :return: false (after answering 500) if it is malformed.
        """
        fields: list[tuple[bytes, bytes]] = []
        for raw in head.split(b"\n"):
            line = raw.rstrip(b"\r")
            name, sep, value = line.partition(b":")
            if not sep or not _TOKEN.match(name):
                self._fail(f"sent a malformed header line: {line[:200]!r}")
                return False
            fields.append((name, value.strip(b" \t")))

        status: tuple[int, bytes] | None = None
        location: bytes | None = None
        others: list[tuple[bytes, bytes]] = []
        for name, value in fields:
            lower = name.lower()
            if lower == b"status":
                code, _, message = value.partition(b" ")
                if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 599:
                    self._fail(f"sent a malformed Status header: {value[:200]!r}")
                    return False
                status = (int(code), message.strip())
            elif lower == b"location":
                location = value
            else:
                others.append((name, value))

        if (
            location is not None
            and location.startswith(b"/")
            and (status is None or status[0] == 200)
        ):
            self._done = True
            self._localRedirect(location)
            return True

        request = self.request
        apply: list[tuple[bytes, bytes]] = []
        for name, value in others:
            lower = name.lower()
            if lower in _HOP_BY_HOP:
                continue
            if lower == b"content-length":
                if not value.isdigit() or len(value) > 19:
                    self._fail(f"sent a malformed Content-Length: {value[:200]!r}")
                    return False
                self._remaining = int(value)
            apply.append((name, value))
        if location is not None:
            apply.append((b"Location", location))
        try:
            # Checked on a scratch copy first, so a bad value leaves the
            # response untouched for the 500.
            scratch = Headers()
            for name, value in apply:
                scratch.addRawHeader(name, value)
        except ValueError as e:
            self._fail(f"sent an invalid header: {e}")
            return False
        for name, value in apply:
            if name.lower() in _SINGLE:
                request.setHeader(name, value)
            else:
                request.responseHeaders.addRawHeader(name, value)
        if status is not None:
            request.setResponseCode(status[0], status[1] or None)
        elif location is not None:
            request.setResponseCode(302)
        return True

    def _localRedirect(self, location: bytes) -> None:
        """
        Answer with the resource at ``location`` on this site, as a ``GET``
        (RFC 3875 section 6.2.2).
        """
        request = self.request
        count = getattr(request, "_cgiLocalRedirects", 0) + 1
        site = getattr(request, "site", None)
        root = getattr(site, "resource", None)
        if root is None or count > self.maxLocalRedirects:
            why = (
                "redirected locally too many times"
                if root is not None
                else "redirected locally without a site"
            )
            self._done = False
            self._fail(why)
            return
        request._cgiLocalRedirects = count
        path, _, query = location.partition(b"?")
        request.method = b"GET"
        request.uri = location
        request.path = path
        request.args = urllib.parse.parse_qs(query, keep_blank_values=True)
        request.content = io.BytesIO()
        for name in (b"content-length", b"content-type", b"transfer-encoding"):
            request.requestHeaders.removeHeader(name)
        request.prepath = []
        request.postpath = [
            urllib.parse.unquote_to_bytes(s) for s in path[1:].split(b"/")
        ]
        getResourceFor = getattr(site, "getResourceFor", None)
        if getResourceFor is not None:
            target = getResourceFor(request)
        else:
            target = resource.getChildForRequest(root, request)
        renderer = getattr(request, "render", None)
        if renderer is not None:
            renderer(target)
            return
        body = target.render(request)
        if isinstance(body, bytes):
            request.setHeader(b"content-length", b"%d" % len(body))
            request.write(body)
            request.finish()

    def _startBody(self) -> None:
        self._producing = True
        self.request.registerProducer(self, True)

    def _writeBody(self, data: bytes) -> None:
        if self._remaining is not None:
            if len(data) > self._remaining:
                _log.warn(
                    "CGI script {script} wrote more than its Content-Length;"
                    " the rest is dropped",
                    script=self.script,
                )
                data = data[: self._remaining]
            self._remaining -= len(data)
            if not data:
                return
        self.request.write(data)

    def _nphReceived(self, data: bytes) -> None:
        if self._rawTransport is None:
            self._rawTransport = _rawTransportOf(self.request)
            if self._rawTransport is None:
                self._fail("is an nph- script, which needs an HTTP/1.x connection")
                self._kill()
                return
            # The request must not write a head of its own: the script does.
            self.request.startedWriting = True
            self.request.registerProducer(self, True)
            self._producing = True
        self._rawTransport.write(data)


def _rawTransportOf(request: Any) -> Any:
    """
    :return: the TCP (or TLS) transport under an HTTP/1.x request, or
        ``None`` (HTTP/2, test doubles).
    """
    if not bytes(getattr(request, "clientproto", b"")).startswith(b"HTTP/1."):
        return None
    channel = getattr(request, "channel", None)
    transport = getattr(channel, "transport", None)
    if transport is None or not hasattr(transport, "write"):
        return None
    try:
        from torsion.web.http import HTTPChannel
    except ImportError:
        return None
    if not isinstance(channel, HTTPChannel):
        return None
    return transport
