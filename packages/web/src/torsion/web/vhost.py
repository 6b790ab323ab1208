"""
Virtual hosting: serve different resource trees depending on the ``Host``
the client asked for, and let a site behind a reverse proxy learn the
public host, port and scheme from its URL.

::

    from torsion.web.vhost import NameVirtualHost

    vhost = NameVirtualHost()
    vhost.addHost(b"example.com", exampleRoot)
    vhost.addHost(b"example.org", orgRoot)
    vhost.default = fallbackRoot      # for any other host (else 404)
    site = Site(vhost)
"""

from __future__ import annotations

from typing import Any

from torsion.web.iweb import IRequest, IResource
from torsion.web.resource import NoResource, Resource, getChildForRequest

__all__ = ["NameVirtualHost", "VHostMonsterResource", "hostWithoutPort"]


def hostWithoutPort(host: bytes) -> bytes:
    """
    :param host: a ``Host`` header value, such as ``b"Example.com:8080"``
        or ``b"[::1]:80"``.
    :return: the host name, lower-cased, without the port
        (``b"example.com"``, ``b"[::1]"``).
    """
    host = host.strip().lower()
    if host.startswith(b"["):
        end = host.find(b"]")
        if end != -1:
            return host[: end + 1]
        return host
    name, _, _ = host.partition(b":")
    # A fully qualified name may end with a dot; it names the same host.
    return name.rstrip(b".") if name.endswith(b".") and len(name) > 1 else name


class NameVirtualHost(Resource):
    """
    Chooses a resource tree by the request's ``Host`` header (compared
    case-insensitively, port ignored).

    :ivar hosts: the hosts added with ``addHost``, lower-case bytes to
        resource.
    :ivar default: the resource for hosts not in ``hosts`` (and requests
        without ``Host``); ``None`` gives a 404.
    """

    default: IResource | None = None

    def __init__(self) -> None:
        """
        Make a virtual host with no hosts and no default.
        """
        Resource.__init__(self)
        self.hosts: dict[bytes, IResource] = {}

    def addHost(self, name: bytes, resrc: IResource) -> None:
        """
        Serve ``resrc`` for requests to host ``name``.

        :param name: the host name, bytes (a port, if given, is ignored).
        :param resrc: the root resource of that host.
        :raises TypeError: if ``name`` is not bytes.
        """
        if not isinstance(name, bytes):
            raise TypeError(
                f"addHost needs the host name as bytes, not {type(name).__name__}"
            )
        self.hosts[hostWithoutPort(name)] = resrc

    def removeHost(self, name: bytes) -> None:
        """
        Stop serving host ``name``.

        :raises KeyError: if it was not added.
        """
        del self.hosts[hostWithoutPort(name)]

    def _getResourceForRequest(self, request: IRequest) -> IResource:
        host = request.getHeader(b"host")
        if isinstance(host, bytes):
            resrc = self.hosts.get(hostWithoutPort(host))
            if resrc is not None:
                return resrc
        if self.default is not None:
            return self.default
        return NoResource("There is no such host here.")

    def render(self, request: IRequest) -> Any:
        """
        Render the chosen host's resource.
        """
        return self._getResourceForRequest(request).render(request)

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        """
        :return: the chosen host's child for ``path``; if that host's root
            is a leaf, the root itself (with ``path`` put back into
            ``postpath``).
        """
        resrc = self._getResourceForRequest(request)
        if resrc.isLeaf:
            request.postpath.insert(0, request.prepath.pop())
            return resrc
        return resrc.getChildWithDefault(path, request)


class _ProxiedHost(Resource):
    """
    The ``/<scheme>/`` level below a ``VHostMonsterResource``: the next
    segment is ``host[:port]``.
    """

    def __init__(self, secure: bool) -> None:
        Resource.__init__(self)
        self.secure = secure

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        if path.startswith(b"["):
            end = path.find(b"]")
            if end == -1:
                return NoResource("Invalid proxied host.")
            host, rest = path[: end + 1], path[end + 1 :]
            if rest and not rest.startswith(b":"):
                return NoResource("Invalid proxied host.")
            portText = rest[1:]
        else:
            host, _, portText = path.partition(b":")
        if portText:
            try:
                port = int(portText)
            except ValueError:
                return NoResource("Invalid port in the proxied host.")
            if not 0 < port < 65536:
                return NoResource("Invalid port in the proxied host.")
        else:
            port = 443 if self.secure else 80
        if not host:
            return NoResource("Missing host.")
        request.setHost(host, port, self.secure)  # type: ignore[attr-defined]
        _makePublic(request)
        site = getattr(request, "site", None)
        if site is None:
            return NoResource("VHostMonsterResource needs a request with a site.")
        root: IResource = site.resource
        # Traversal continues from the site's root with the rest of the path.
        return _Traversed(getChildForRequest(root, request))


def _makePublic(request: IRequest) -> None:
    """
    Rewrite ``request`` as the public request it stands for: what the
    backend saw up to and including the ``host[:port]`` segment
    (``/vhost/https/example.com:443``, and whatever the monster is mounted
    under) is not part of the public URL.  ``prepath`` loses those segments
    (traversal starts again at the site's root), and ``uri`` and ``path``
    become the public ones, query string kept, so ``prePathURL``,
    ``URLPath`` and redirects built from ``uri`` (``static.addSlash``) name
    the public location.
    """
    consumed = len(request.prepath)
    del request.prepath[:]
    # ``path`` has one "/"-separated segment per prepath and postpath
    # element, still percent-encoded as the client sent it.
    segments = request.path[1:].split(b"/", consumed)
    rest = segments[consumed] if len(segments) > consumed else b""
    public = b"/" + rest
    _, sep, query = request.uri.partition(b"?")
    request.path = public
    request.uri = public + sep + query


class _Traversed(Resource):
    """
    Hands over an already traversed resource: the traversal loop that
    called ``getChild`` sees an empty ``postpath`` and renders it.
    """

    def __init__(self, target: IResource) -> None:
        Resource.__init__(self)
        self.target = target

    @property
    def isLeaf(self) -> bool:  # type: ignore[override]
        return True

    def render(self, request: IRequest) -> Any:
        return self.target.render(request)


class VHostMonsterResource(Resource):
    """
    Lets a site behind a reverse proxy know its public URL.  Put it in the
    tree (say at ``/vhost``) and have the proxy forward
    ``https://example.com/path`` to
    ``http://backend/vhost/https/example.com:443/path``: the request then
    sees host ``example.com``, port 443, ``isSecure()`` true, and the path
    ``/path``, traversed from the site's root.  Its ``uri`` and ``path``
    are rewritten to the public ones (``/path?query``), so redirects built
    from them (``static.File`` adding a slash to a directory) and
    ``prePathURL()`` name the public URL.  An IPv6 host is written in
    brackets: ``/vhost/https/[2001:db8::1]:8443/path``.
    """

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        """
        :param path: ``b"http"`` or ``b"https"``.
        :return: the resource that reads the ``host[:port]`` segment.
        """
        if path == b"http":
            return _ProxiedHost(False)
        if path == b"https":
            return _ProxiedHost(True)
        return NoResource("Expected http or https after the vhost monster.")
