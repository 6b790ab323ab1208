"""
Tests for torsion.web.twcgi with real CGI programs (small Python scripts)
run by the reactor, answering DummyRequests.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IProcessProtocol, IPullProducer, IPushProducer
from torsion.logger import formatEvent, globalLogPublisher
from torsion.web import twcgi
from torsion.web.iweb import IResource
from torsion.web.resource import Resource, getChildForRequest
from torsion.web.static import Data
from torsion.web.testing import DummyRequest

# The programs are shell scripts: starting an interpreter per request would
# make these tests slow for nothing.
_PRELUDE = "#!/bin/sh\n"


def _script(directory: Path, name: str, body: str, executable: bool = True) -> Path:
    """
    Write the shell script ``body`` as ``directory/name``.
    """
    path = directory / name
    path.write_text(_PRELUDE + textwrap.dedent(body))
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _envResult(body: bytes) -> dict[str, Any]:
    """
    Parse what ``_ENV`` answers: its environment and the body it read.
    """
    environment, _, stdin = body.partition(b"\0--stdin--\0")
    env = {}
    for entry in environment.split(b"\0"):
        if entry:
            name, _, value = entry.partition(b"=")
            env[name.decode()] = value.decode("utf-8", "replace")
    return {"env": env, "stdin": stdin.decode("latin-1")}


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """
    The text of every log event emitted during the test.
    """
    events: list[str] = []

    def observer(event: Any) -> None:
        events.append(formatEvent(event))

    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)


class _Ended:
    """
    Records the protocols CGIScript makes and fires when their process ends.
    """

    def __init__(self) -> None:
        self.protocols: list[twcgi.CGIProcessProtocol] = []
        self.ended: list[Deferred[Any]] = []


def _watch(script: twcgi.CGIScript) -> _Ended:
    watcher = _Ended()
    original = script._protocol

    def protocol(request: Any) -> twcgi.CGIProcessProtocol:
        p = original(request)
        d: Deferred[Any] = Deferred()
        ended = p.processEnded

        def processEnded(reason: Any) -> None:
            ended(reason)
            d.callback([reason])

        p.processEnded = processEnded  # type: ignore[method-assign]
        watcher.protocols.append(p)
        watcher.ended.append(d)
        return p

    script._protocol = protocol  # type: ignore[method-assign]
    return watcher


def _request(
    prepath: list[bytes],
    postpath: Sequence[bytes] = (),
    method: bytes = b"GET",
    query: bytes = b"",
    body: bytes | None = None,
    headers: dict[bytes, bytes] | None = None,
) -> DummyRequest:
    request = DummyRequest(list(postpath))
    request.prepath = list(prepath)
    request.method = method
    path = b"/" + b"/".join([*prepath, *postpath])
    request.path = path
    request.uri = path + (b"?" + query if query else b"")
    if body is not None:
        request.content = io.BytesIO(body)
    for name, value in (headers or {}).items():
        request.requestHeaders.setRawHeaders(name, [value])
    request.requestHeaders.setRawHeaders(b"host", [b"example.test:8080"])
    return request


async def _renderUntilOutput(script: Any, request: DummyRequest) -> None:
    """
    Render ``request`` with ``script`` and wait for the program's first
    output to reach it.
    """
    started: Deferred[None] = Deferred()
    write = request.write

    def recordingWrite(data: bytes) -> None:
        write(data)
        if not started.called:
            started.callback(None)

    request.write = recordingWrite  # type: ignore[method-assign]
    script.render(request)
    await started


async def _run(script: Any, request: DummyRequest) -> bytes:
    done = request.notifyFinish()
    script.render(request)
    await done
    return b"".join(request.written)


def _h(request: DummyRequest, name: bytes) -> bytes | None:
    values = request.responseHeaders.getRawHeaders(name)
    return values[-1] if values else None


_ENV = r"""
printf 'Content-Type: application/x-env\r\n\r\n'
env -0
printf '\000--stdin--\000'
cat
"""


async def test_environment(tmp_path: Path) -> None:
    """
    The program gets the RFC 3875 meta-variables, ``HTTP_*`` for headers,
    ``PATH``, and nothing else from the server's environment.
    """
    path = _script(tmp_path, "env.cgi", _ENV)
    os.environ["TORSION_TEST_SECRET"] = "do not pass"
    try:
        request = _request(
            [b"cgi-bin", b"env.cgi"],
            [b"extra", b"path"],
            b"POST",
            b"a=1&b=%20",
            b"field=value",
            {
                b"content-type": b"application/x-www-form-urlencoded",
                b"x-custom-thing": b"yes",
                b"authorization": b"Basic dXNlcjpwdw==",
            },
        )
        body = await _run(twcgi.CGIScript(str(path)), request)
    finally:
        del os.environ["TORSION_TEST_SECRET"]
    assert request.code == 200
    assert _h(request, b"content-type") == b"application/x-env"
    result = _envResult(body)
    env = result["env"]
    assert result["stdin"] == "field=value"
    expected = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": "POST",
        "QUERY_STRING": "a=1&b=%20",
        "SCRIPT_NAME": "/cgi-bin/env.cgi",
        "SCRIPT_FILENAME": str(path),
        "PATH_INFO": "/extra/path",
        "PATH_TRANSLATED": str(tmp_path / "extra" / "path"),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": "11",
        "SERVER_NAME": "example.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_HOST": "127.0.0.1",
        "REMOTE_PORT": "12345",
        "AUTH_TYPE": "Basic",
        "HTTP_X_CUSTOM_THING": "yes",
        "HTTP_HOST": "example.test:8080",
        "HTTP_AUTHORIZATION": "Basic dXNlcjpwdw==",
        "REQUEST_URI": "/cgi-bin/env.cgi/extra/path?a=1&b=%20",
    }
    for key, value in expected.items():
        assert env.get(key) == value, key
    assert env["SERVER_SOFTWARE"].startswith("torsion-web/")
    assert "PATH" in env
    assert "TORSION_TEST_SECRET" not in env
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert "HTTPS" not in env


async def test_environmentNoBody(tmp_path: Path) -> None:
    """
    Without a body there is no ``CONTENT_LENGTH``; without ``PATH_INFO``
    there is no ``PATH_TRANSLATED``; a secure request gets ``HTTPS=on``.
    """
    path = _script(tmp_path, "env.cgi", _ENV)
    request = _request([b"env.cgi"])
    request.setSecure(True)
    env = _envResult(await _run(twcgi.CGIScript(str(path)), request))["env"]
    assert "CONTENT_LENGTH" not in env
    assert env["PATH_INFO"] == ""
    assert "PATH_TRANSLATED" not in env
    assert env["QUERY_STRING"] == ""
    assert env["HTTPS"] == "on"


async def test_HTTP_18_httpoxy(tmp_path: Path) -> None:
    """
    A ``Proxy`` request header never becomes ``HTTP_PROXY``, and a header
    with an underscore cannot pose as another.
    """
    path = _script(tmp_path, "env.cgi", _ENV)
    request = _request(
        [b"env.cgi"],
        headers={b"proxy": b"http://evil.example:8080", b"x_forwarded_for": b"1.2.3.4"},
    )
    env = _envResult(await _run(twcgi.CGIScript(str(path)), request))["env"]
    assert "HTTP_PROXY" not in env
    assert "HTTP_X_FORWARDED_FOR" not in env
    assert all("evil" not in v for v in env.values())


async def test_queryNotArguments(tmp_path: Path) -> None:
    """
    A query without ``=`` is never turned into command-line arguments.
    """
    path = _script(
        tmp_path,
        "argv.cgi",
        r"""printf 'Content-Type: text/plain\n\n%s' "$#" """,
    )
    request = _request([b"argv.cgi"], query=b"-s+-n")
    body = await _run(twcgi.CGIScript(str(path)), request)
    assert body == b"0"


async def test_bigBodyStreamedToStdin(tmp_path: Path) -> None:
    """
    A body larger than a pipe's buffer reaches the program whole.
    """
    path = _script(
        tmp_path,
        "hash.cgi",
        r"""
        printf 'Content-Type: text/plain\n\n'
        sha256sum
        """,
    )
    payload = os.urandom(3 * 1024 * 1024)
    request = _request([b"hash.cgi"], method=b"POST", body=payload)
    body = await _run(twcgi.CGIScript(str(path)), request)
    assert body.split()[0] == hashlib.sha256(payload).hexdigest().encode()


async def test_programIgnoresBody(tmp_path: Path) -> None:
    """
    A program that exits without reading a large body still gets its
    response through.
    """
    path = _script(
        tmp_path, "noread.cgi", r"printf 'Content-Type: text/plain\n\nfine\n'"
    )
    request = _request([b"noread.cgi"], method=b"POST", body=b"x" * 2_000_000)
    body = await _run(twcgi.CGIScript(str(path)), request)
    assert request.code == 200
    assert body == b"fine\n"


async def test_status(tmp_path: Path) -> None:
    """
    ``Status:`` sets the code and phrase; other headers pass through, more
    than once where repeated; hop-by-hop headers are dropped.
    """
    path = _script(
        tmp_path,
        "status.cgi",
        r"""
        printf "Status: 418 I'm a teapot\n"
        printf 'Content-Type: text/plain\n'
        printf 'X-One: 1\nX-One: 2\n'
        printf 'Set-Cookie: a=1\nSet-Cookie: b=2\n'
        printf 'Connection: close\nTransfer-Encoding: chunked\n\n'
        printf 'short and stout'
        """,
    )
    request = _request([b"status.cgi"])
    body = await _run(twcgi.CGIScript(str(path)), request)
    assert request.code == 418
    assert request.code_message == b"I'm a teapot"
    assert body == b"short and stout"
    assert request.responseHeaders.getRawHeaders(b"x-one") == [b"1", b"2"]
    assert request.responseHeaders.getRawHeaders(b"set-cookie") == [b"a=1", b"b=2"]
    assert not request.responseHeaders.hasHeader(b"connection")
    assert not request.responseHeaders.hasHeader(b"transfer-encoding")


async def test_clientRedirect(tmp_path: Path) -> None:
    """
    ``Location:`` with an absolute URL and no ``Status:`` is a 302.
    """
    path = _script(tmp_path, "r.cgi", r"printf 'Location: http://example.com/x\n\n'")
    request = _request([b"r.cgi"])
    await _run(twcgi.CGIScript(str(path)), request)
    assert request.code == 302
    assert _h(request, b"location") == b"http://example.com/x"


async def test_redirectWithStatus(tmp_path: Path) -> None:
    """
    ``Location:`` with a ``Status:`` keeps that status.
    """
    path = _script(
        tmp_path,
        "r.cgi",
        r"printf 'Status: 301 Moved\nLocation: /elsewhere\n';"
        r" printf 'Content-Type: text/html\n\n'",
    )
    request = _request([b"r.cgi"])
    await _run(twcgi.CGIScript(str(path)), request)
    assert request.code == 301
    assert _h(request, b"location") == b"/elsewhere"


class _Site:
    def __init__(self, resource: Any) -> None:
        self.resource = resource


async def test_localRedirect(tmp_path: Path) -> None:
    """
    ``Location:`` with a local path and no ``Status:`` answers with that
    resource of the site, as a GET, without telling the client.
    """
    path = _script(tmp_path, "r.cgi", r"printf 'Location: /target?x=1\n\n'")
    root = Resource()
    root.putChild(b"target", Data(b"the target", "text/plain"))
    request = _request([b"r.cgi"], method=b"POST", body=b"ignored")
    request.site = _Site(root)
    body = await _run(twcgi.CGIScript(str(path)), request)
    assert request.code == 200
    assert body == b"the target"
    assert request.method == b"GET"
    assert request.args == {b"x": [b"1"]}
    assert not request.responseHeaders.hasHeader(b"location")


async def test_localRedirectLoop(
    tmp_path: Path, logged: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A script redirecting locally to itself forever gets a 500 after
    ``maxLocalRedirects``.
    """
    monkeypatch.setattr(twcgi.CGIProcessProtocol, "maxLocalRedirects", 3)
    path = _script(tmp_path, "loop.cgi", r"printf 'Location: /loop.cgi\n\n'")
    root = Resource()
    root.putChild(b"loop.cgi", twcgi.CGIScript(str(path)))
    request = _request([b"loop.cgi"])
    request.site = _Site(root)
    await _run(twcgi.CGIScript(str(path)), request)
    assert request.code == 500
    assert request._cgiLocalRedirects == 3  # type: ignore[attr-defined]
    assert any("too many times" in line for line in logged)


@pytest.mark.parametrize(
    "name, source, why",
    [
        ("exit.cgi", "exit 3", "without sending any output"),
        (
            "partial.cgi",
            r"printf 'Content-Type: text/plain\n'",
            "before finishing",
        ),
        ("crash.cgi", "printf 'Content-Ty'; kill -9 $$", "before finishing"),
        (
            "malformed.cgi",
            r"printf 'This is not a header\n\npayload'",
            "malformed header",
        ),
        ("badstatus.cgi", r"printf 'Status: teapot\n\npayload'", "malformed Status"),
        (
            "badlength.cgi",
            r"printf 'Content-Length: -1\n\npayload'",
            "malformed Content-Length",
        ),
        ("space.cgi", r"printf 'Bad Name: x\n\npayload'", "malformed header"),
        (
            "huge.cgi",
            "printf 'X-Big: '; head -c 100000 /dev/zero | tr '\\0' a;"
            r" printf '\n\npayload'",
            "bytes of headers",
        ),
        (
            "badvalue.cgi",
            r"printf 'X-Bad: a\001b\r\n\r\npayload' | tr '\001' '\000'",
            "invalid header",
        ),
    ],
)
async def test_brokenScripts(
    tmp_path: Path, logged: list[str], name: str, source: str, why: str
) -> None:
    """
    A program that exits, crashes or writes malformed headers before its
    headers are complete gets the client a 500, and the reason is logged.
    """
    path = _script(tmp_path, name, source)
    request = _request([name.encode()])
    body = await _run(twcgi.CGIScript(str(path)), request)
    assert request.code == 500
    assert b"CGI Script Error" in body
    assert b"payload" not in body
    assert any(name in line and why in line for line in logged), logged


async def test_missingProgram(tmp_path: Path, logged: list[str]) -> None:
    """
    A program that cannot be run is a 500.
    """
    path = tmp_path / "noexec.cgi"
    path.write_text("not a program")
    request = _request([b"noexec.cgi"])
    await _run(twcgi.CGIScript(str(path)), request)
    assert request.code == 500
    assert any("noexec.cgi" in line for line in logged)


async def test_stderrLogged(tmp_path: Path, logged: list[str]) -> None:
    """
    Each line the program writes to its standard error is logged.
    """
    path = _script(
        tmp_path,
        "err.cgi",
        r"""
        printf 'first problem\nsecond problem\nunterminated' >&2
        printf 'Content-Type: text/plain\n\nok\n'
        """,
    )
    request = _request([b"err.cgi"])
    assert await _run(twcgi.CGIScript(str(path)), request) == b"ok\n"
    for text in ("first problem", "second problem", "unterminated"):
        assert any("err.cgi" in line and text in line for line in logged), text


async def test_contentLengthEnforced(tmp_path: Path, logged: list[str]) -> None:
    """
    Bytes beyond the script's ``Content-Length`` are dropped; a script that
    writes fewer has the connection cut.
    """
    path = _script(tmp_path, "long.cgi", r"printf 'Content-Length: 3\n\nabcdef'")
    request = _request([b"long.cgi"])
    assert await _run(twcgi.CGIScript(str(path)), request) == b"abc"
    path = _script(tmp_path, "short.cgi", r"printf 'Content-Length: 10\n\nabc'")
    request = _request([b"short.cgi"])
    done = request.notifyFinish()
    watcher = _watch(script := twcgi.CGIScript(str(path)))
    script.render(request)
    await watcher.ended[0]
    assert request.finished == 0
    assert request._lost is not None
    with pytest.raises(Exception):
        await done


async def test_filteredScript(tmp_path: Path) -> None:
    """
    FilteredScript runs its ``filter`` on the script, which then needs no
    executable bit.
    """
    path = _script(
        tmp_path,
        "plain.sh",
        r"""printf 'Content-Type: text/plain\n\nfiltered %s\n' "$REQUEST_METHOD" """,
        executable=False,
    )

    class ShellScript(twcgi.FilteredScript):
        filter = "/bin/sh"

    body = await _run(ShellScript(str(path)), _request([b"plain.sh"]))
    assert body == b"filtered GET\n"


async def test_clientGoneKillsProgram(tmp_path: Path) -> None:
    """
    When the client goes away, the program is terminated, reaped, and its
    pipes closed.
    """
    path = _script(
        tmp_path,
        "slow.cgi",
        r"""
        printf 'Content-Type: text/plain\n\nstarted\n'
        exec sleep 600
        """,
    )
    fdsBefore = len(os.listdir("/proc/self/fd"))
    script = twcgi.CGIScript(str(path))
    watcher = _watch(script)
    request = _request([b"slow.cgi"])
    await _renderUntilOutput(script, request)
    pid = watcher.protocols[0].transport.pid
    request.loseConnection()
    (reason,) = await watcher.ended[0]
    assert reason.value.signal == 15
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert len(os.listdir("/proc/self/fd")) == fdsBefore


async def test_stubbornProgramKilled(tmp_path: Path) -> None:
    """
    A program that ignores SIGTERM gets SIGKILL after ``killTimeout``.
    """
    path = _script(
        tmp_path,
        "stubborn.cgi",
        r"""
        trap '' TERM
        printf 'Content-Type: text/plain\n\nstarted\n'
        exec sleep 600
        """,
    )
    script = twcgi.CGIScript(str(path))
    watcher = _watch(script)
    request = _request([b"stubborn.cgi"])
    await _renderUntilOutput(script, request)
    watcher.protocols[0].killTimeout = 0.05
    request.loseConnection()
    (reason,) = await watcher.ended[0]
    assert reason.value.signal == 9


async def test_producer(tmp_path: Path) -> None:
    """
    The protocol is registered on the request as a push producer once the
    headers are in; pausing it stops reading the program's output.
    """
    path = _script(tmp_path, "p.cgi", r"printf 'Content-Type: text/plain\n\nbody'")
    script = twcgi.CGIScript(str(path))
    watcher = _watch(script)
    request = _request([b"p.cgi"])
    paused: list[str] = []
    registered: list[Any] = []
    register = request.registerProducer

    def registerProducer(producer: Any, streaming: bool) -> None:
        registered.append((producer, streaming))
        register(producer, streaming)

    request.registerProducer = registerProducer  # type: ignore[method-assign]
    done = request.notifyFinish()
    script.render(request)
    protocol = watcher.protocols[0]
    assert verifyObject(IPushProducer, protocol)
    assert verifyObject(IProcessProtocol, protocol)
    assert protocol._stdin is not None
    assert verifyObject(IPullProducer, protocol._stdin)
    transport = protocol.transport
    originalPause, originalResume = transport.pauseProducing, transport.resumeProducing

    def pause() -> None:
        paused.append("pause")
        originalPause()

    def resume() -> None:
        paused.append("resume")
        originalResume()

    transport.pauseProducing = pause
    transport.resumeProducing = resume
    protocol.pauseProducing()
    protocol.resumeProducing()
    assert paused == ["pause", "resume"]
    await done
    assert registered == [(protocol, True)]
    assert request.producer is None


async def test_nphNeedsConnection(tmp_path: Path, logged: list[str]) -> None:
    """
    An nph- script answering a request without an HTTP/1.x connection
    under it (here a DummyRequest) is a 500.
    """
    path = _script(tmp_path, "nph-raw.cgi", r"printf 'HTTP/1.1 200 OK\r\n\r\nraw'")
    request = _request([b"nph-raw.cgi"])
    await _run(twcgi.CGIScript(str(path)), request)
    assert request.code == 500


async def test_directory(tmp_path: Path) -> None:
    """
    CGIDirectory runs the programs in it, with the rest of the path as
    ``PATH_INFO``; missing and unsafe names are 404s, and it has no
    listing.
    """
    (tmp_path / "sub").mkdir()
    _script(tmp_path / "sub", "env.cgi", _ENV)
    root = twcgi.CGIDirectory(str(tmp_path))
    assert verifyObject(IResource, root)
    assert verifyObject(IResource, twcgi.CGIScript(str(tmp_path / "sub" / "env.cgi")))
    request = DummyRequest([b"sub", b"env.cgi", b"info"])
    leaf = getChildForRequest(root, request)
    assert isinstance(leaf, twcgi.CGIScript)
    env = _envResult(await _run(leaf, request))["env"]
    assert env["PATH_INFO"] == "/info"
    assert env["SCRIPT_NAME"] == "/sub/env.cgi"
    for segments in ([b"missing"], [b".."], [b"sub", b"..", b"sub"], [b"a/b"]):
        request = DummyRequest(list(segments))
        leaf = getChildForRequest(root, request)
        leaf.render(request)
        assert request.code == 404, segments
    request = DummyRequest([])
    root.render(request)
    assert request.code == 404
