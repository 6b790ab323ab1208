"""
Tests for ``torsion.web.util``: redirects (including HTTP-15, an
attacker-chosen redirect URL), ``DeferredResource`` and ``formatFailure``.
"""

from __future__ import annotations

import pytest
from zope.interface.verify import verifyObject

from torsion.internet.defer import Deferred
from torsion.python.failure import Failure
from torsion.web.iweb import IRequest, IResource
from torsion.web.resource import Resource, getChildForRequest
from torsion.web.testing import DummyRequest, render
from torsion.web.util import (
    ChildRedirector,
    DeferredResource,
    ParentRedirect,
    Redirect,
    formatFailure,
    redirectTo,
)


class Text(Resource):
    isLeaf = True

    def __init__(self, text: bytes) -> None:
        Resource.__init__(self)
        self.text = text

    def render_GET(self, request: IRequest) -> bytes:
        return self.text + b":" + b"/".join(request.postpath)


def test_verifyObject() -> None:
    for r in (
        Redirect(b"/x"),
        ChildRedirector(b"/x"),
        ParentRedirect(),
        DeferredResource(Deferred()),
    ):
        verifyObject(IResource, r)


def test_redirectTo() -> None:
    request = DummyRequest([])
    body = redirectTo(b"http://example.com/a?b=c", request)
    assert request.code == 302
    assert request.responseHeaders.getRawHeaders(b"location") == [
        b"http://example.com/a?b=c"
    ]
    assert b'href="http://example.com/a?b=c"' in body
    assert request.responseHeaders.getRawHeaders(b"content-type") == [
        b"text/html; charset=utf-8"
    ]


def test_redirectToStrIsUTF8() -> None:
    request = DummyRequest([])
    redirectTo("/caf\u00e9 au lait", request)
    assert request.responseHeaders.getRawHeaders(b"location") == [
        b"/caf%C3%A9%20au%20lait"
    ]


def test_redirectToTypeError() -> None:
    with pytest.raises(TypeError):
        redirectTo(42, DummyRequest([]))  # type: ignore[arg-type]


def test_HTTP_15_redirectEscapes() -> None:
    url = b'http://x/"><script>alert(1)</script>'
    request = DummyRequest([])
    body = redirectTo(url, request)
    assert b"<script>" not in body
    assert b'"><' not in body
    location = request.responseHeaders.getRawHeaders(b"location")
    assert location == [b"http://x/%22%3E%3Cscript%3Ealert(1)%3C/script%3E"]


def test_HTTP_15_redirectNoHeaderInjection() -> None:
    request = DummyRequest([])
    redirectTo(b"/a\r\nSet-Cookie: evil=1", request)
    location = request.responseHeaders.getRawHeaders(b"location")
    assert location == [b"/a%0D%0ASet-Cookie:%20evil=1"]
    assert request.responseHeaders.getRawHeaders(b"set-cookie") is None


async def test_redirectResource() -> None:
    r = Redirect(b"http://example.com/")
    request = DummyRequest([b"any", b"path"])
    child = getChildForRequest(r, request)
    assert child is r
    await render(child, request)
    assert request.code == 302
    assert request.responseHeaders.getRawHeaders(b"location") == [
        b"http://example.com/"
    ]


async def test_childRedirector() -> None:
    root = Resource()
    root.putChild(b"old", ChildRedirector(b"http://new.example/base"))
    request = DummyRequest([b"old", b"a", b"b"])
    await render(getChildForRequest(root, request), request)
    assert request.code == 302
    assert request.responseHeaders.getRawHeaders(b"location") == [
        b"http://new.example/base/a/b"
    ]


def test_childRedirectorNeedsAbsolute() -> None:
    with pytest.raises(ValueError):
        ChildRedirector(b"relative")
    ChildRedirector("/absolute/path")


async def test_parentRedirect() -> None:
    root = Resource()
    a = Resource()
    root.putChild(b"a", a)
    a.putChild(b"b", ParentRedirect())
    request = DummyRequest([b"a", b"b"])
    request.setHost(b"example.com", 80)
    await render(getChildForRequest(root, request), request)
    assert request.responseHeaders.getRawHeaders(b"location") == [
        b"http://example.com/a/"
    ]


async def test_deferredResource() -> None:
    d: Deferred[Resource] = Deferred()
    root = Resource()
    root.putChild(b"later", DeferredResource(d))
    request = DummyRequest([b"later", b"x", b"y"])
    result = render(getChildForRequest(root, request), request)
    assert not request.written
    target = Resource()
    target.putChild(b"x", Text(b"x"))
    d.callback(target)
    assert await result == b"x:y"
    assert request.prepath == [b"later", b"x"]


async def test_deferredResourceShared() -> None:
    d: Deferred[Resource] = Deferred()
    resource = DeferredResource(d)
    first = DummyRequest([])
    firstResult = render(resource, first)
    d.callback(Text(b"t"))
    second = DummyRequest([])
    assert await firstResult == b"t:"
    assert await render(resource, second) == b"t:"


async def test_deferredResourceFailure() -> None:
    d: Deferred[Resource] = Deferred()
    resource = DeferredResource(d)
    request = DummyRequest([])
    result = render(resource, request)
    d.errback(RuntimeError("no resource"))
    await result
    assert request.code == 500
    assert request.failures[0].check(RuntimeError)
    again = DummyRequest([])
    await render(resource, again)
    assert again.code == 500


def test_formatFailureEscapes() -> None:
    try:
        raise ValueError("<img src=x onerror=alert(1)>")
    except ValueError:
        failure = Failure()
    html = formatFailure(failure)
    assert isinstance(html, bytes)
    assert b"<img" not in html
    assert b"&lt;img src=x onerror=alert(1)&gt;" in html
    assert b"ValueError" in html
    assert b"test_formatFailureEscapes" in html


def test_formatFailureType() -> None:
    with pytest.raises(TypeError):
        formatFailure(ValueError())  # type: ignore[arg-type]
