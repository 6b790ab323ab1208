"""
torsion-web: HTTP for torsion.

- ``torsion.web.http``: the HTTP/1.x server protocol (``HTTPChannel``,
  ``Request``, ``HTTPFactory``) and status codes;
  ``torsion.web.http_headers.Headers``.
- ``torsion.web.server`` (``Site``), ``resource``, ``static``, ``twcgi``,
  ``script``, ``util``, ``vhost``, ``proxy``, ``wsgi``, ``guard``: serving.
- ``torsion.web.client``: ``Agent`` and a short ``request``/``get``/``post``
  API.
- ``torsion.web.template``, ``xmlrpc``, ``websocket``.
- ``torsion web --listen tcp:8080 --path .``: a web server from the command
  line.
"""

from torsion.web._version import __version__

__all__ = ["__version__"]
