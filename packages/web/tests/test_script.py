"""
Tests for torsion.web.script: .rpy resource scripts run through
static.File's processors, ResourceScriptWrapper and
ResourceScriptDirectory.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests
from zope.interface.verify import verifyObject

from torsion.trial.unittest import TestCase
from torsion.web import script, static
from torsion.web.iweb import IResource
from torsion.web.resource import getChildForRequest
from torsion.web.testing import DummyRequest, render

_HELLO = """
from torsion.web.resource import Resource

class Hello(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain")
        return b"hello from " + __file__.encode() + b" " + b"/".join(request.postpath)

resource = Hello()
"""

_COUNTED = """
cache()
import os
counter = os.path.join(os.path.dirname(__file__), "runs")
with open(counter, "a") as f:
    f.write("x")
from torsion.web.static import Data
resource = Data(open(counter).read().encode(), "text/plain")
"""


def _write(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source))
    return path


async def _get(
    root: Any, segments: list[bytes], site: Any = None
) -> tuple[DummyRequest, bytes]:
    request = DummyRequest(segments)
    request.site = site
    body = await render(getChildForRequest(root, request), request)
    return request, body


def _fileTree(directory: Path) -> static.File:
    root = static.File(str(directory))
    root.processors = {".rpy": script.ResourceScript}
    return root


async def test_rpyServed(tmp_path: Path) -> None:
    """
    A ``.rpy`` file under a File with the processor is run and its
    ``resource`` renders the request, with the rest of the path.
    """
    path = _write(tmp_path, "hello.rpy", _HELLO)
    request, body = await _get(_fileTree(tmp_path), [b"hello.rpy", b"a", b"b"])
    assert request.code == 200
    assert body == b"hello from " + str(path).encode() + b" a/b"


async def test_rpyWithoutProcessorIsAFile(tmp_path: Path) -> None:
    """
    Without the processor, a ``.rpy`` file is only a file: its source is
    served, never run.
    """
    _write(tmp_path, "hello.rpy", _HELLO)
    _, body = await _get(static.File(str(tmp_path)), [b"hello.rpy"])
    assert b"class Hello(Resource)" in body


async def test_rpyRunsEachTime(tmp_path: Path) -> None:
    """
    A script that does not call ``cache()`` runs on every request, so edits
    show at once.
    """
    path = _write(
        tmp_path,
        "v.rpy",
        "from torsion.web.static import Data\nresource = Data(b'one', 'text/plain')\n",
    )
    root = _fileTree(tmp_path)
    assert (await _get(root, [b"v.rpy"]))[1] == b"one"
    path.write_text(
        "from torsion.web.static import Data\nresource = Data(b'two', 'text/plain')\n"
    )
    assert (await _get(root, [b"v.rpy"]))[1] == b"two"


async def test_rpyCache(tmp_path: Path) -> None:
    """
    ``cache()`` makes the script run once; its resource is reused from the
    registry.
    """
    _write(tmp_path, "counted.rpy", _COUNTED)
    root = _fileTree(tmp_path)
    for _ in range(3):
        _, body = await _get(root, [b"counted.rpy"])
        assert body == b"x"
    assert (tmp_path / "runs").read_text() == "x"
    assert root.registry.getCachedPath(str(tmp_path / "counted.rpy")) is not None


async def test_rpyRecache(tmp_path: Path) -> None:
    """
    ``recache()`` runs the script and caches its new resource.
    """
    path = tmp_path / "r.rpy"
    registry = static.Registry()
    old = static.Data(b"old", "text/plain")
    registry.cachePath(str(path), old)
    path.write_text(
        "recache()\n"
        "from torsion.web.static import Data\n"
        "resource = Data(b'new', 'text/plain')\n"
    )
    rsrc = script.ResourceScript(str(path), registry)
    assert rsrc.data == b"new"
    assert registry.getCachedPath(str(path)) is rsrc


async def test_noResource(tmp_path: Path) -> None:
    """
    A script that assigns no ``resource`` answers with ``noRsrc``, a 500
    explaining so.
    """
    _write(tmp_path, "empty.rpy", "x = 1\n")
    request, body = await _get(_fileTree(tmp_path), [b"empty.rpy"])
    assert request.code == 500
    assert b"resource" in body
    assert script.ResourceScript(str(tmp_path / "empty.rpy"), None) is script.noRsrc


class _Site:
    def __init__(self, displayTracebacks: bool) -> None:
        self.displayTracebacks = displayTracebacks


class ScriptErrorTests(TestCase):
    """
    A script that raises answers 500 and logs the error.
    """

    async def test_errorHidden(self) -> None:
        """
        Without ``displayTracebacks`` the page does not show the traceback.
        """
        directory = Path(self.mktemp())
        directory.mkdir()
        _write(directory, "bad.rpy", "raise ZeroDivisionError('secret detail')\n")
        request, body = await _get(_fileTree(directory), [b"bad.rpy"], _Site(False))
        self.assertEqual(request.code, 500)
        self.assertNotIn(b"secret detail", body)
        self.assertNotIn(b"Traceback", body)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    async def test_errorShown(self) -> None:
        """
        With ``displayTracebacks`` the page shows the escaped traceback.
        """
        directory = Path(self.mktemp())
        directory.mkdir()
        _write(directory, "bad.rpy", "raise ValueError('<b>boom</b>')\n")
        request, body = await _get(
            _fileTree(directory), [b"bad.rpy", b"x"], _Site(True)
        )
        self.assertEqual(request.code, 500)
        self.assertIn(b"Traceback", body)
        self.assertIn(b"&lt;b&gt;boom&lt;/b&gt;", body)
        self.assertNotIn(b"<b>boom", body)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    async def test_syntaxError(self) -> None:
        """
        A script that does not compile is a 500 too.
        """
        directory = Path(self.mktemp())
        directory.mkdir()
        _write(directory, "bad.rpy", "def (:\n")
        request, _ = await _get(_fileTree(directory), [b"bad.rpy"])
        self.assertEqual(request.code, 500)
        self.assertEqual(len(self.flushLoggedErrors(SyntaxError)), 1)
        failed = script.ResourceScript(str(directory / "bad.rpy"), None)
        self.assertTrue(verifyObject(IResource, failed))
        self.assertEqual(len(self.flushLoggedErrors(SyntaxError)), 1)


async def test_wrapper(tmp_path: Path) -> None:
    """
    ResourceScriptWrapper runs the script for each request, for rendering
    and for children.
    """
    path = _write(tmp_path, "hello.rpy", _HELLO)
    wrapper = script.ResourceScriptWrapper(str(path))
    assert verifyObject(IResource, wrapper)
    request = DummyRequest([])
    assert (await render(wrapper, request)).startswith(b"hello from")
    parent = _write(
        tmp_path,
        "parent.rpy",
        """
        from torsion.web.resource import Resource
        from torsion.web.static import Data
        resource = Resource()
        resource.putChild(b"child", Data(b"the child", "text/plain"))
        """,
    )
    request = DummyRequest([b"child"])
    child = getChildForRequest(script.ResourceScriptWrapper(str(parent)), request)
    assert await render(child, request) == b"the child"


async def test_directory(tmp_path: Path) -> None:
    """
    ResourceScriptDirectory runs its entries as scripts; subdirectories
    work too; missing and dangerous names are 404s.
    """
    _write(tmp_path, "hello", _HELLO)
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "inner", _HELLO)
    root = script.ResourceScriptDirectory(str(tmp_path))
    assert verifyObject(IResource, root)
    _, body = await _get(root, [b"hello"])
    assert body.startswith(b"hello from")
    _, body = await _get(root, [b"sub", b"inner"])
    assert body.startswith(b"hello from")
    for segments in ([b"missing"], [b".."], [b"sub", b"..", b"hello"], []):
        request, _ = await _get(root, segments)
        assert request.code == 404, segments


def test_cacheScanner() -> None:
    """
    ``cache()`` raises AlreadyCached with the cached resource when there is
    one.
    """
    registry = static.Registry()
    scanner = script.CacheScanner("/x.rpy", registry)
    scanner.cache()
    assert scanner.doCache
    registry.cachePath("/x.rpy", "cached")
    with pytest.raises(script.AlreadyCached) as info:
        script.CacheScanner("/x.rpy", registry).cache()
    assert info.value.args[0] == "cached"


class ScriptOverSocketTests(TestCase):
    """
    Resource scripts served to a real client.
    """

    async def test_rpyOverSocket(self) -> None:
        """
        A Site serving a directory with ``.rpy`` processing runs scripts
        for real clients; a failing script is a 500 whose traceback shows
        only with ``displayTracebacks``, and is logged each time.
        """
        from webhelpers import inThread, listen

        from torsion.internet import reactor
        from torsion.web.server import Site

        directory = Path(self.mktemp())
        directory.mkdir()
        _write(directory, "hello.rpy", _HELLO)
        _write(directory, "bad.rpy", "raise KeyError('hidden detail')\n")
        site = Site(_fileTree(directory))
        port = listen(reactor, site)
        base = f"http://127.0.0.1:{port.getHost().port}"
        try:
            response = await inThread(requests.get, base + "/hello.rpy/x")
            self.assertEqual(response.status_code, 200)
            self.assertTrue(response.content.endswith(b" x"))
            response = await inThread(requests.get, base + "/bad.rpy")
            self.assertEqual(response.status_code, 500)
            self.assertNotIn(b"hidden detail", response.content)
            site.displayTracebacks = True
            response = await inThread(requests.get, base + "/bad.rpy")
            self.assertEqual(response.status_code, 500)
            self.assertIn(b"hidden detail", response.content)
        finally:
            await port.stopListening()
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 2)
