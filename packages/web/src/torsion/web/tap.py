"""
The ``web`` plugin: ``torsion web`` serves a directory, a WSGI application
or a resource class over HTTP and HTTPS::

    torsion web --listen tcp:8080 --path /srv/www
    torsion web --wsgi myproject.wsgi.application
    torsion web --class myproject.site.Root --https server.pem
    torsion web --path . --self-signed

Once listening, it prints one ``Serving URL (ENDPOINT)`` line per endpoint on
standard output, with the port actually bound when port 0 was asked for.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import IO, Any

from zope.interface import implementer

from torsion.application import service
from torsion.application.internet import StreamServerEndpointService
from torsion.internet.defer import Deferred
from torsion.python import reflect, usage
from torsion.web.iweb import IResource

__all__ = [
    "DEFAULT_HTTPS_PORT",
    "DEFAULT_LISTEN",
    "Options",
    "WebService",
    "makeService",
    "serviceMaker",
]

#: Where the server listens when no ``--listen`` is given.
DEFAULT_LISTEN = "tcp:8080"

#: The port ``--https`` and ``--self-signed`` listen on unless
#: ``--https-port`` says otherwise.
DEFAULT_HTTPS_PORT = 8443

#: The ALPN protocols TLS listeners offer when HTTP/2 support is available.
_ALPN_WITH_H2 = (b"h2", b"http/1.1")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TLS_MISSING = (
    "{option} needs TLS support, which comes with torsion-web's 'tls' extra: "
    "python3 -m pip install 'torsion-web[tls]'"
)


def _byteCount(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"{value!r} must not be negative")
    return number


_byteCount.coerceDoc = "A number of bytes (0 or more)."  # type: ignore[attr-defined]


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError(f"{value!r} is not a port number (0 to 65535)")
    return number


_port.coerceDoc = "A port number, 0 to 65535 (0 picks a free one)."  # type: ignore[attr-defined]


class Options(usage.Options):
    """
    The ``web`` plugin's options.
    """

    synopsis = "[--listen ENDPOINT]... (--path DIR | --wsgi NAME | --class NAME)"
    longdesc = (
        "Serve a directory (--path), a WSGI application (--wsgi "
        "package.module.app) or a resource class (--class "
        "package.module.Class) over HTTP on every --listen endpoint "
        f"(default {DEFAULT_LISTEN}), and over HTTPS with --https or "
        "--self-signed."
    )

    optFlags = [
        ["allow-cgi", None, "Run .cgi files under --path as CGI scripts."],
        ["display-tracebacks", None, "Show Python tracebacks in error pages."],
        [
            "self-signed",
            None,
            "Listen for HTTPS with a throwaway self-signed certificate for "
            "localhost (printed with its SHA-256 fingerprint).",
        ],
    ]

    optParameters = [
        ["path", None, None, "Serve the files of this directory."],
        ["wsgi", None, None, "Serve this WSGI application (its dotted name)."],
        [
            "class",
            None,
            None,
            "Serve an instance of this resource class (its dotted name), "
            "made with no arguments.",
        ],
        [
            "https",
            None,
            None,
            "Listen for HTTPS too, with the certificate and private key in "
            "this PEM file.",
        ],
        [
            "https-port",
            None,
            DEFAULT_HTTPS_PORT,
            "The port --https and --self-signed listen on.",
            _port,
        ],
        [
            "logfile",
            None,
            None,
            "Write an access log (combined log format) here; '-' for standard output.",
        ],
        [
            "max-request-body",
            None,
            None,
            "Answer 413 to requests whose body is longer than this many bytes.",
            _byteCount,
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["index"] = []
        self["ignore-ext"] = []
        self["headers"] = []

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse the command line; a bare ``--ignore-ext`` (last, or followed
        by another option) means every extension.

        :param options: the arguments.
        :raises usage.UsageError: if the command line is wrong.
        """
        if options is None:
            options = sys.argv[1:]
        rewritten: list[str] = []
        given = list(options)
        for i, argument in enumerate(given):
            following = given[i + 1] if i + 1 < len(given) else None
            if argument == "--ignore-ext" and (
                following is None or following.startswith("-")
            ):
                rewritten.append("--ignore-ext=*")
            else:
                rewritten.append(argument)
        super().parseOptions(rewritten)

    def opt_listen(self, description: str) -> None:
        """
        Listen on ENDPOINT (such as tcp:8080, ssl:8443:privateKey=key.pem,
        unix:/run/web.sock, systemd:domain=INET:index=0); may be repeated.
        """
        self["listen"].append(description)

    def opt_index(self, name: str) -> None:
        """
        Serve this file for a directory under --path (default index.html);
        may be repeated, tried in order.
        """
        self["index"].append(name)

    def opt_ignore_ext(self, extension: str) -> None:
        """
        Find FILE.EXT when FILE is asked for under --path; may be repeated;
        given alone, any extension.
        """
        if extension != "*" and not extension.startswith("."):
            extension = "." + extension
        self["ignore-ext"].append(extension)

    def opt_add_header(self, header: str) -> None:
        """
        Add 'Name: value' to every response; may be repeated.
        """
        name, colon, value = header.partition(":")
        name = name.strip()
        value = value.strip()
        if not colon or not _TOKEN.match(name):
            raise usage.UsageError(f"--add-header wants 'Name: value', not {header!r}")
        if re.search(r"[\r\n\x00]", value):
            raise usage.UsageError(
                f"--add-header value may not contain CR, LF or NUL: {header!r}"
            )
        self["headers"].append((name, value))

    def postOptions(self) -> None:
        """
        Check the options together.

        :raises usage.UsageError: if no resource or more than one is given,
            a file is missing, or TLS is asked for without TLS support.
        """
        chosen = [name for name in ("path", "wsgi", "class") if self[name] is not None]
        if not chosen:
            raise usage.UsageError("Give what to serve: --path, --wsgi or --class.")
        if len(chosen) > 1:
            raise usage.UsageError(
                "Give only one of --path, --wsgi and --class, not "
                + " and ".join("--" + name for name in chosen)
                + "."
            )
        if self["path"] is not None:
            if not os.path.isdir(self["path"]):
                raise usage.UsageError(f"--path: no such directory {self['path']!r}")
            self["path"] = os.path.abspath(self["path"])
        elif self["index"] or self["ignore-ext"] or self["allow-cgi"]:
            raise usage.UsageError(
                "--index, --ignore-ext and --allow-cgi only apply to --path."
            )
        if self["https"] is not None and self["self-signed"]:
            raise usage.UsageError("Give --https or --self-signed, not both.")
        if self["https"] is not None and not os.path.isfile(self["https"]):
            raise usage.UsageError(f"--https: no such file {self['https']!r}")
        if self["https"] is not None or self["self-signed"]:
            option = "--https" if self["https"] is not None else "--self-signed"
            try:
                import torsion.internet.ssl  # noqa: F401
            except ImportError:
                raise usage.UsageError(_TLS_MISSING.format(option=option)) from None
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]


@implementer(IResource)
class _HeaderAdder:
    """
    Wraps the root resource and adds fixed headers to every response that
    passes through it.
    """

    def __init__(self, wrapped: Any, headers: Sequence[tuple[str, str]]) -> None:
        self.wrapped = wrapped
        self.headers = [
            (name.encode("ascii"), value.encode("utf-8")) for name, value in headers
        ]

    @property
    def isLeaf(self) -> bool:
        return bool(getattr(self.wrapped, "isLeaf", False))

    def _addHeaders(self, request: Any) -> None:
        for name, value in self.headers:
            request.responseHeaders.addRawHeader(name, value)

    def getChildWithDefault(self, name: bytes, request: Any) -> Any:
        self._addHeaders(request)
        return self.wrapped.getChildWithDefault(name, request)

    def putChild(self, path: bytes, child: Any) -> None:
        self.wrapped.putChild(path, child)

    def render(self, request: Any) -> Any:
        self._addHeaders(request)
        return self.wrapped.render(request)


def _namedObject(option: str, name: str) -> Any:
    try:
        return reflect.namedAny(name)
    except Exception as e:
        raise usage.UsageError(f"{option} {name}: {e}") from None


def _staticResource(options: Any) -> Any:
    from torsion.web import script, static

    root = static.File(options["path"])
    processors = dict(getattr(root, "processors", None) or {})
    processors[".rpy"] = script.ResourceScript
    if options["allow-cgi"]:
        from torsion.web import twcgi

        processors[".cgi"] = twcgi.CGIScript
    root.processors = processors
    if options["index"]:
        root.indexNames = list(options["index"])
    for extension in options["ignore-ext"]:
        root.ignoreExt(extension)
    return root


def _rootResource(options: Any, reactor: Any) -> Any:
    if options["path"] is not None:
        return _staticResource(options)
    if options["wsgi"] is not None:
        from torsion.web.wsgi import WSGIResource

        application = _namedObject("--wsgi", options["wsgi"])
        if not callable(application):
            raise usage.UsageError(f"--wsgi {options['wsgi']}: not callable")
        return WSGIResource(reactor, reactor.getThreadPool(), application)
    resourceClass = _namedObject("--class", options["class"])
    try:
        resource = resourceClass()
    except Exception as e:
        raise usage.UsageError(f"--class {options['class']}: {e}") from None
    if not IResource.providedBy(resource) and not hasattr(resource, "render"):
        raise usage.UsageError(f"--class {options['class']}: not a resource")
    return resource


def _http2Available() -> bool:
    import importlib.util

    try:
        return (
            importlib.util.find_spec("h2") is not None
            and importlib.util.find_spec("torsion.web._http2") is not None
        )
    except (ImportError, ValueError):
        return False


class _Listener:
    """
    One endpoint's service and how to describe its URL.
    """

    def __init__(self, service: StreamServerEndpointService, scheme: str) -> None:
        self.service = service
        self.scheme = scheme


def _urlFor(scheme: str, address: Any) -> str:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None or port is None:
        return f"{scheme}://localhost/"
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}/"


class WebService(service.MultiService):
    """
    The ``torsion web`` service: its listeners, and a line on standard
    output for each once it listens.

    :ivar listeners: ``(service, scheme)`` of each endpoint.
    :ivar out: where the ``Serving`` lines go.
    """

    def __init__(self, out: IO[str] | None = None) -> None:
        super().__init__()
        self.listeners: list[_Listener] = []
        self.out = out
        self._cleanups: list[Any] = []

    def addListener(self, listener: StreamServerEndpointService, scheme: str) -> None:
        """
        Add an endpoint's service.

        :param listener: the service.
        :param scheme: ``"http"`` or ``"https"``.
        """
        listener.setServiceParent(self)
        self.listeners.append(_Listener(listener, scheme))

    def addCleanup(self, cleanup: Any) -> None:
        """
        Call ``cleanup()`` when the service stops.

        :param cleanup: a callable.
        """
        self._cleanups.append(cleanup)

    def startService(self) -> None:
        """
        Start listening, and announce each URL once its port is open.
        """
        super().startService()
        for listener in self.listeners:
            listener.service.whenListening().addCallbacks(
                self._announce,
                lambda failure: None,
                callbackArgs=(listener,),
            )

    def _announce(self, port: Any, listener: _Listener) -> None:
        from torsion.application.internet import describeAddress

        address = port.getHost()
        out = self.out if self.out is not None else sys.stdout
        out.write(
            f"Serving {_urlFor(listener.scheme, address)} "
            f"({describeAddress(address)})\n"
        )
        out.flush()

    def stopService(self) -> Deferred[None]:
        """
        Stop listening and remove temporary files.

        :return: a ``Deferred`` firing once stopped.
        """
        stopping = super().stopService()

        def cleanUp(result: object) -> object:
            cleanups, self._cleanups = self._cleanups, []
            for cleanup in cleanups:
                cleanup()
            return result

        stopping.addBoth(cleanUp)
        return stopping


def _tlsOptions(privateCertificate: Any, alpn: bool) -> Any:
    from torsion.internet import ssl

    return ssl.CertificateOptions(
        privateKey=privateCertificate.privateKey,
        certificate=privateCertificate,
        acceptableProtocols=list(_ALPN_WITH_H2) if alpn else None,
    )


def _loadPEM(path: str) -> Any:
    from torsion.internet import ssl

    try:
        with open(path, "rb") as f:
            data = f.read()
        return ssl.PrivateCertificate.loadPEM(data)
    except OSError as e:
        raise usage.UsageError(f"--https: cannot read {path}: {e.strerror or e}")
    except Exception as e:
        raise usage.UsageError(
            f"--https: {path} must hold a PEM certificate and its private key ({e})"
        )


def _selfSigned(web: WebService, out: IO[str]) -> Any:
    from torsion.internet import ssl

    certificate = ssl.generateSelfSigned(("localhost", "127.0.0.1", "::1"))
    directory = tempfile.mkdtemp(prefix="torsion-web-")
    path = os.path.join(directory, "localhost.pem")
    with open(path, "wb") as f:
        # The certificate alone: clients trust it; the key stays in memory.
        f.write(certificate.dump(ssl.FILETYPE_PEM))
    web.addCleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
    fingerprint = certificate.digest("sha256").decode("ascii")
    out.write(
        f"Self-signed certificate for localhost: {path}\n"
        f"SHA-256 fingerprint: {fingerprint}\n"
    )
    out.flush()
    return certificate


def _withALPN(endpoint: Any) -> bool:
    # ssl: descriptions cannot name ALPN protocols; add them to the
    # endpoint's options so that HTTP/2 can be negotiated.
    contextFactory = getattr(endpoint, "_sslContextFactory", None)
    if contextFactory is not None and hasattr(contextFactory, "acceptableProtocols"):
        if not contextFactory.acceptableProtocols:
            contextFactory.acceptableProtocols = list(_ALPN_WITH_H2)
        return True
    return False


def _makeSite(resource: Any, options: Any, reactor: Any) -> Any:
    from torsion.web import server

    logPath = options["logfile"]
    if logPath == "-":
        # The access log is appended to like any file; standard output is
        # one too.
        logPath = "/dev/stdout"
    kwargs: dict[str, Any] = {}
    if options["max-request-body"] is not None:
        kwargs["maxRequestBody"] = options["max-request-body"]
    site = server.Site(resource, logPath=logPath, reactor=reactor, **kwargs)
    site.displayTracebacks = bool(options["display-tracebacks"])
    return site


def makeService(
    options: Any, reactor: Any = None, out: IO[str] | None = None
) -> WebService:
    """
    :param options: parsed ``Options``.
    :param reactor: the reactor; the global one by default.
    :param out: where to print the URLs served (and a self-signed
        certificate's fingerprint); standard output by default.
    :return: a service serving on every endpoint.
    :raises usage.UsageError: if the resource cannot be made.
    :raises ValueError: for a malformed endpoint description.
    """
    if reactor is None:
        from torsion.internet import reactor as global_reactor

        reactor = global_reactor
    if out is None:
        out = sys.stdout
    resource = _rootResource(options, reactor)
    if options["headers"]:
        resource = _HeaderAdder(resource, options["headers"])
    site = _makeSite(resource, options, reactor)
    web = WebService(out)
    alpn = _http2Available()
    from torsion.internet.endpoints import serverFromString

    for description in options["listen"]:
        endpoint = serverFromString(reactor, description)
        tls = description.split(":", 1)[0].lower() in ("ssl", "tls")
        if tls and alpn:
            _withALPN(endpoint)
        listener = StreamServerEndpointService(endpoint, site)
        listener.setName(description)
        web.addListener(listener, "https" if tls else "http")
    certificate = None
    if options["https"] is not None:
        certificate = _loadPEM(options["https"])
    elif options["self-signed"]:
        certificate = _selfSigned(web, out)
    if certificate is not None:
        from torsion.internet._sslendpoints import SSL4ServerEndpoint

        httpsEndpoint = SSL4ServerEndpoint(
            reactor, options["https-port"], _tlsOptions(certificate, alpn)
        )
        listener = StreamServerEndpointService(httpsEndpoint, site)
        listener.setName(f"ssl:{options['https-port']}")
        web.addListener(listener, "https")
    return web


serviceMaker = service.ServiceMaker(
    "torsion web",
    __name__,
    "An HTTP/HTTPS server for a directory, a WSGI application or a resource.",
    "web",
)
