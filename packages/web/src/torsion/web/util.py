"""
Small resources and helpers: redirects, a resource that is only known
later (``DeferredResource``) and an HTML rendering of a ``Failure``.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote_from_bytes

from torsion.internet.defer import Deferred
from torsion.python.failure import Failure
from torsion.web.iweb import IRequest, IResource
from torsion.web.resource import NOT_DONE_YET, Resource, getChildForRequest

__all__ = [
    "ChildRedirector",
    "DeferredResource",
    "ParentRedirect",
    "Redirect",
    "formatFailure",
    "redirectTo",
]

# Characters a URL may carry as they are (RFC 3986 unreserved, reserved and
# the percent sign of escapes already made); anything else (spaces, quotes,
# angle brackets, control characters, non-ASCII) is percent-encoded.
_URL_SAFE = "/:?#[]@!$&'()*+,;=-._~%"


def _encodeURL(url: bytes | str) -> bytes:
    if isinstance(url, str):
        url = url.encode("utf-8")
    elif not isinstance(url, bytes):
        raise TypeError(f"a URL must be bytes or str, not {type(url).__name__}")
    return quote_from_bytes(url, safe=_URL_SAFE).encode("ascii")


def redirectTo(URL: bytes | str, request: IRequest) -> bytes:
    """
    Answer ``request`` with a 302 redirect to ``URL`` and return a small
    HTML page (with a link) for clients that do not follow redirects.

    Characters that may not appear in a URL (spaces, quotes, CR/LF,
    non-ASCII, ...) are percent-encoded in the ``Location`` header, and the
    page escapes the URL, so an attacker-influenced URL can neither inject
    headers nor markup.

    :param URL: where to send the client, bytes (or str, encoded as UTF-8).
    :param request: the request being answered.
    :return: the HTML body; return it from ``render``.
    :raises TypeError: if ``URL`` is neither bytes nor str.
    """
    location = _encodeURL(URL)
    request.setResponseCode(302)
    request.setHeader(b"location", location)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    escaped = html.escape(location.decode("ascii"), quote=True)
    page = (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta http-equiv="refresh" content="0;URL={escaped}">\n'
        "</head>\n<body>\n"
        f'<a href="{escaped}">click here</a>\n'
        "</body>\n</html>\n"
    )
    return page.encode("ascii")


class Redirect(Resource):
    """
    A resource that redirects (302) every request, at any path below it,
    to one URL.

    :ivar url: the target, bytes.
    """

    isLeaf = True

    def __init__(self, url: bytes | str) -> None:
        """
        :param url: where to redirect to (absolute, or relative to the
            request's URL).
        """
        Resource.__init__(self)
        self.url = url.encode("utf-8") if isinstance(url, str) else url

    def render(self, request: IRequest) -> bytes:
        """
        :return: the redirect page (status 302, ``Location`` set).
        """
        return redirectTo(self.url, request)

    def getChild(self, name: bytes, request: IRequest) -> IResource:
        """
        :return: this resource, for any path below it.
        """
        return self


class ChildRedirector(Redirect):
    """
    Redirects a whole tree: ``/x/a/b`` (with this resource at ``/x``)
    redirects to ``url + "/a/b"``.
    """

    isLeaf = False

    def __init__(self, url: bytes | str) -> None:
        """
        :param url: the base URL: absolute (``http://...``) or starting
            with ``/``.
        :raises ValueError: for a relative URL.
        """
        raw = url.encode("utf-8") if isinstance(url, str) else url
        if b"://" not in raw and not raw.startswith(b"/"):
            raise ValueError(
                "ChildRedirector needs an absolute URL or one starting with"
                f" '/', not {raw!r}"
            )
        Redirect.__init__(self, raw)

    def getChild(self, name: bytes, request: IRequest) -> IResource:
        """
        :return: a ``ChildRedirector`` for the URL with ``/name`` appended.
        """
        base = self.url[:-1] if self.url.endswith(b"/") else self.url
        return ChildRedirector(base + b"/" + name)


class ParentRedirect(Resource):
    """
    Redirects to the directory containing the requested URL: a request for
    ``/a/b`` is sent to ``/a/``.
    """

    isLeaf = True

    def render(self, request: IRequest) -> bytes:
        """
        :return: the redirect page.
        """
        url = request.prePathURL()
        return redirectTo(url[: url.rfind(b"/") + 1], request)

    def getChild(self, name: bytes, request: IRequest) -> IResource:
        """
        :return: this resource.
        """
        return self


class DeferredResource(Resource):
    """
    A resource that stands for one a ``Deferred`` will give: rendering
    waits for it, then traverses the rest of the path from it and renders
    what it finds.  If the Deferred fails, the request fails (500).
    """

    isLeaf = True

    def __init__(self, d: Deferred[Any]) -> None:
        """
        :param d: a Deferred that fires with an ``IResource``.
        """
        Resource.__init__(self)
        self.d = d
        self._failure: Failure | None = None

    def getChild(self, name: bytes, request: IRequest) -> IResource:
        """
        :return: this resource (the real traversal happens once the
            Deferred has fired).
        """
        return self

    def render(self, request: IRequest) -> int:
        """
        :return: ``NOT_DONE_YET``; the request is rendered when the
            Deferred fires.
        """

        def found(resource: IResource) -> None:
            child = getChildForRequest(resource, request)
            request.render(child)  # type: ignore[attr-defined]

        def failed(reason: Failure) -> None:
            request.processingFailed(reason)  # type: ignore[attr-defined]

        # The Deferred may be shared by several requests: each gets its own
        # view of the result, and a failure is remembered for later requests
        # rather than left unhandled at the end of the shared chain.
        view: Deferred[Any] = Deferred()
        view.addCallbacks(found, failed)
        view.addErrback(failed)
        if self._failure is not None:
            view.errback(self._failure)
            return NOT_DONE_YET

        def relay(result: object) -> object:
            if isinstance(result, Failure):
                self._failure = result
                view.errback(result)
                return None
            view.callback(result)
            return result

        self.d.addBoth(relay)
        return NOT_DONE_YET


def formatFailure(myFailure: Failure) -> bytes:
    """
    :param myFailure: the failure to show.
    :return: an HTML fragment (UTF-8 bytes) showing its traceback, every
        piece HTML-escaped.
    """
    if not isinstance(myFailure, Failure):
        raise TypeError(f"formatFailure needs a Failure, not {myFailure!r}")
    text = myFailure.getTraceback()
    return (
        '<div class="torsion-failure">\n<p class="error">'
        + html.escape(f"{_qualname(myFailure)}: {myFailure.getErrorMessage()}")
        + "</p>\n<pre>"
        + html.escape(text)
        + "</pre>\n</div>\n"
    ).encode("utf-8")


def _qualname(failure: Failure) -> str:
    cls = failure.type
    if cls is None:
        return "Error"
    return f"{cls.__module__}.{cls.__qualname__}"
