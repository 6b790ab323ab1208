"""
Resource scripts: Python files that build a resource when requested.

A ``.rpy`` file is ordinary Python that assigns the name ``resource``::

    # /srv/www/clock.rpy
    import time
    from torsion.web.resource import Resource

    class Clock(Resource):
        isLeaf = True

        def render_GET(self, request):
            return time.ctime().encode() + b"\\n"

    resource = Clock()

Serve a directory with ``.rpy`` files run as scripts::

    from torsion.web import script, static

    root = static.File("/srv/www")
    root.processors = {".rpy": script.ResourceScript}

The script runs on every request, so edits show at once.  A script that
calls ``cache()`` at its top runs once; later requests reuse the resource it
made (kept in the ``File`` tree's ``Registry``).  Besides ``cache``, a
script sees ``__file__`` (its path), ``registry`` and ``recache``.

A script that raises answers 500; the traceback is shown in the page only
when the site's ``displayTracebacks`` is true, and is always logged.
"""

from __future__ import annotations

import html
import os
from typing import Any

from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web import resource
from torsion.web.resource import ErrorPage, Resource

__all__ = [
    "AlreadyCached",
    "CacheScanner",
    "ResourceScript",
    "ResourceScriptDirectory",
    "ResourceScriptWrapper",
    "noRsrc",
    "rpyNoResource",
]

_log = Logger()

#: The explanation shown when a script does not assign ``resource``.
rpyNoResource = (
    "The script did not assign the name 'resource' to the resource it serves."
)

#: What a script that assigns no ``resource`` answers with.
noRsrc = ErrorPage(500, "Whoops! Internal Error", rpyNoResource)


class AlreadyCached(Exception):
    """
    Raised by ``cache()`` inside a script whose resource is cached already,
    to stop running it; carries the cached resource as ``args[0]``.
    """


class CacheScanner:
    """
    The ``cache`` and ``recache`` functions given to a script.

    :ivar path: the script's path.
    :ivar registry: where resources are cached.
    :ivar doCache: whether the script asked for its resource to be cached.
    """

    def __init__(self, path: str, registry: Any) -> None:
        """
        :param path: the script's path.
        :param registry: a ``torsion.web.static.Registry``.
        """
        self.path = path
        self.registry = registry
        self.doCache = False

    def cache(self) -> None:
        """
        Ask for this script's resource to be cached; if it already is, stop
        running the script (``AlreadyCached``) and use the cached one.

        :raises AlreadyCached: when a cached resource exists.
        """
        cached = self.registry.getCachedPath(self.path)
        if cached is not None:
            raise AlreadyCached(cached)
        self.doCache = True

    def recache(self) -> None:
        """
        Run the script again now and cache what it builds, replacing any
        cached resource.
        """
        self.doCache = True


def _displayTracebacks(request: Any) -> bool:
    site = getattr(request, "site", None)
    return bool(getattr(site, "displayTracebacks", False))


class _ScriptFailed(Resource):
    """
    A 500 page for a script that raised.
    """

    isLeaf = True

    def __init__(self, path: str, failure: Failure) -> None:
        Resource.__init__(self)
        self.path = path
        self.failure = failure

    def render(self, request: Any) -> bytes:
        request.setResponseCode(500)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        detail = "The resource script failed."
        if _displayTracebacks(request):
            detail = (
                f"<p>The resource script {html.escape(self.path)} raised:</p>\n"
                f"<pre>{html.escape(self.failure.getTraceback())}</pre>"
            )
        return (
            "<!DOCTYPE html>\n<html>\n<head><title>500 - Script Error</title>"
            "</head>\n<body>\n<h1>Script Error</h1>\n"
            f"{detail}\n</body>\n</html>\n"
        ).encode()

    def getChild(self, path: bytes, request: Any) -> Any:
        return self


def _registry(registry: Any) -> Any:
    if registry is None:
        from torsion.web.static import Registry

        return Registry()
    return registry


def ResourceScript(path: str, registry: Any) -> Any:
    """
    Run the resource script at ``path`` and return the resource it
    assigned to ``resource`` (or the cached one, if it called ``cache()``
    before).  This is the processor for ``.rpy`` files.

    :param path: the script's path.
    :param registry: the ``torsion.web.static.Registry`` resources are
        cached in.
    :return: the resource; ``noRsrc`` (500) if the script assigned none, or
        a 500 page if it raised.
    """
    registry = _registry(registry)
    path = os.fsdecode(path)
    scanner = CacheScanner(path, registry)
    namespace: dict[str, Any] = {
        "__file__": path,
        "__name__": "__rpy__",
        "__builtins__": __builtins__,
        "resource": noRsrc,
        "registry": registry,
        "cache": scanner.cache,
        "recache": scanner.recache,
    }
    try:
        with open(path, "rb") as f:
            source = f.read()
        code = compile(source, path, "exec")
        exec(code, namespace, namespace)
    except AlreadyCached as cached:
        return cached.args[0]
    except Exception:
        failure = Failure()
        _log.failure("resource script {path} failed", failure, path=path)
        return _ScriptFailed(path, failure)
    rsrc = namespace.get("resource", noRsrc)
    if scanner.doCache and rsrc is not noRsrc:
        registry.cachePath(path, rsrc)
    return rsrc


class ResourceScriptWrapper(Resource):
    """
    A resource standing for a resource script: every request runs the
    script (``ResourceScript``) and is handed to what it builds.  Use it to
    put a script at a fixed place in a tree::

        root.putChild(b"clock", ResourceScriptWrapper("/srv/clock.rpy"))

    :ivar path: the script's path.
    :ivar registry: where its resource may be cached.
    """

    def __init__(self, path: str, registry: Any = None) -> None:
        """
        :param path: the script's path.
        :param registry: a ``torsion.web.static.Registry``; a new one by
            default.
        """
        Resource.__init__(self)
        self.path = path
        self.registry = _registry(registry)

    def render(self, request: Any) -> Any:
        """
        Run the script and render its resource.

        :param request: the request.
        """
        return ResourceScript(self.path, self.registry).render(request)

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        """
        Run the script and ask its resource for the child.

        :param path: the path segment.
        :param request: the request.
        """
        return ResourceScript(self.path, self.registry).getChildWithDefault(
            path, request
        )


class ResourceScriptDirectory(Resource):
    """
    A directory whose every entry is a resource script: ``/name`` runs
    ``directory/name``, and subdirectories are directories of scripts too.
    Requesting the directory itself is a 404.

    :ivar path: the directory.
    :ivar registry: where scripts' resources may be cached.
    """

    def __init__(self, pathname: str, registry: Any = None) -> None:
        """
        :param pathname: the directory.
        :param registry: a ``torsion.web.static.Registry``; a new one by
            default.
        """
        Resource.__init__(self)
        self.path = pathname
        self.registry = _registry(registry)

    def getChild(self, path: bytes, request: Any) -> Any:
        """
        :param path: the entry's name (a path segment).
        :param request: the request.
        :return: the script's resource, a ``ResourceScriptDirectory`` for a
            subdirectory, or a 404.
        """
        from torsion.web.static import isDangerous

        if not path or isDangerous(path):
            return resource.NoResource()
        full = os.path.join(self.path, os.fsdecode(path))
        if os.path.isdir(full):
            return ResourceScriptDirectory(full, self.registry)
        if os.path.isfile(full):
            return ResourceScript(full, self.registry)
        return resource.NoResource()

    def render(self, request: Any) -> bytes:
        """
        :return: a 404 page: a directory of scripts has no page of its own.
        """
        return resource.NoResource().render(request)
