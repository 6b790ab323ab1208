"""
Endpoint description strings: ``serverFromString`` / ``clientFromString``
and the parsers behind each prefix.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

from zope.interface import implementer

from torsion.internet._endpoint_streams import (
    TCP4ClientEndpoint,
    TCP4ServerEndpoint,
    TCP6ClientEndpoint,
    TCP6ServerEndpoint,
    UNIXClientEndpoint,
    UNIXServerEndpoint,
)
from torsion.internet._endpoint_systemd import _SystemdParser
from torsion.internet.interfaces import (
    IStreamClientEndpoint,
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)

__all__ = [
    "ENDPOINT_PLUGIN_GROUP",
    "clientFromString",
    "quoteStringArgument",
    "serverFromString",
]

#: The entry-point group other distributions register endpoint string
#: parsers under. Each entry point names an object (or a class to
#: instantiate) providing ``IStreamServerEndpointStringParser`` and/or
#: ``IStreamClientEndpointStringParserWithReactor``, whose ``prefix`` is the
#: endpoint type it handles.
ENDPOINT_PLUGIN_GROUP = "torsion.plugins.endpoints"

#: Longest description accepted; descriptions come from configuration and
#: command lines, never from the network, but a bound keeps errors sane.
MAX_DESCRIPTION_LENGTH = 4096


def quoteStringArgument(argument: str) -> str:
    """
    Escape ``argument`` so it can be embedded in an endpoint description
    as one argument: backslashes, colons and equals signs get a backslash.

    :param argument: the raw value (a path, an address).
    :return: the escaped text.
    """
    return argument.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def _tokenize(description: str) -> tuple[list[str], dict[str, str]]:
    """
    Split a description into positional and keyword arguments.

    Arguments are separated by ``:``; an argument containing an unescaped
    ``=`` is a keyword argument (split at the first one); ``\\`` makes the
    next character literal.
    """
    if not isinstance(description, str):
        raise TypeError(
            f"endpoint description must be str, not {type(description).__name__}"
        )
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise ValueError(
            f"endpoint description longer than {MAX_DESCRIPTION_LENGTH} characters"
        )
    args: list[str] = []
    kwargs: dict[str, str] = {}
    current: list[str] = []
    key: str | None = None

    def finish() -> None:
        nonlocal key
        value = "".join(current)
        current.clear()
        if key is None:
            args.append(value)
            return
        if not key:
            raise ValueError(
                f"empty keyword name in endpoint description {description!r}"
            )
        if key in kwargs:
            raise ValueError(
                f"keyword {key!r} given twice in endpoint description {description!r}"
            )
        kwargs[key] = value
        key = None

    chars = iter(description)
    for ch in chars:
        if ch == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise ValueError(
                    f"endpoint description ends with a lone backslash: {description!r}"
                )
            current.append(escaped)
        elif ch == ":":
            finish()
        elif ch == "=" and key is None:
            key = "".join(current)
            current.clear()
        else:
            current.append(ch)
    finish()
    return args, kwargs


def _toInt(name: str, value: object, prefix: str) -> int:
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 10)
    except ValueError:
        raise ValueError(f"{prefix}: {name} must be an integer, not {value!r}")


def _toFloat(name: str, value: object, prefix: str) -> float:
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        raise ValueError(f"{prefix}: {name} must be a number, not {value!r}")


def _toBool(name: str, value: object, prefix: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", ""):
        return False
    raise ValueError(f"{prefix}: {name} must be 0 or 1, not {value!r}")


# ---------------------------------------------------------------------------
# Built-in parsers
# ---------------------------------------------------------------------------


class _BuiltinParser:
    """
    Base of the built-in parsers: the interface methods check the
    description's arguments against the typed ``_server`` / ``_client``
    implementation and turn a mismatch into a ``ValueError``.
    """

    prefix = ""
    _server: Callable[..., IStreamServerEndpoint]
    _client: Callable[..., IStreamClientEndpoint]

    def parseStreamServer(
        self, reactor: Any, *args: Any, **kwargs: Any
    ) -> IStreamServerEndpoint:
        endpoint: IStreamServerEndpoint = _callChecked(
            self._server, self.prefix, reactor, args, kwargs
        )
        return endpoint

    def parseStreamClient(
        self, reactor: Any, *args: Any, **kwargs: Any
    ) -> IStreamClientEndpoint:
        endpoint: IStreamClientEndpoint = _callChecked(
            self._client, self.prefix, reactor, args, kwargs
        )
        return endpoint


@implementer(
    IStreamServerEndpointStringParser, IStreamClientEndpointStringParserWithReactor
)
class _TCPParser(_BuiltinParser):
    """
    ``tcp:PORT[:backlog=N][:interface=ADDR]`` (server) and
    ``tcp:HOST:PORT[:timeout=S][:bindAddress=ADDR]`` (client).
    """

    prefix = "tcp"
    _serverType: Callable[..., IStreamServerEndpoint] = TCP4ServerEndpoint
    _clientType: Callable[..., IStreamClientEndpoint] = TCP4ClientEndpoint
    _defaultInterface = ""

    def _server(
        self,
        reactor: Any,
        port: str,
        backlog: str = "50",
        interface: str | None = None,
    ) -> IStreamServerEndpoint:
        return self._serverType(
            reactor,
            _toInt("port", port, self.prefix),
            _toInt("backlog", backlog, self.prefix),
            self._defaultInterface if interface is None else interface,
        )

    def _client(
        self,
        reactor: Any,
        host: str,
        port: str,
        timeout: str = "30",
        bindAddress: str | None = None,
    ) -> IStreamClientEndpoint:
        return self._clientType(
            reactor,
            host,
            _toInt("port", port, self.prefix),
            _toFloat("timeout", timeout, self.prefix),
            None if bindAddress is None else (bindAddress, 0),
        )


class _TCP6Parser(_TCPParser):
    """
    ``tcp6:PORT[:backlog=N][:interface=ADDR]`` (server) and
    ``tcp6:HOST:PORT[:timeout=S][:bindAddress=ADDR]`` (client).
    """

    prefix = "tcp6"
    _serverType = TCP6ServerEndpoint
    _clientType = TCP6ClientEndpoint
    _defaultInterface = "::"


@implementer(
    IStreamServerEndpointStringParser, IStreamClientEndpointStringParserWithReactor
)
class _UNIXParser(_BuiltinParser):
    """
    ``unix:PATH[:mode=666][:lockfile=0][:backlog=50]`` (server) and
    ``unix:PATH[:timeout=S][:checkPID=0]`` (client; ``path=`` also works).
    """

    prefix = "unix"

    def _server(
        self,
        reactor: Any,
        address: str,
        mode: str = "666",
        lockfile: str = "0",
        backlog: str = "50",
    ) -> IStreamServerEndpoint:
        try:
            modeBits = int(mode, 8)
        except ValueError:
            raise ValueError(f"unix: mode must be octal digits, not {mode!r}")
        return UNIXServerEndpoint(
            reactor,
            address,
            _toInt("backlog", backlog, self.prefix),
            modeBits,
            _toBool("lockfile", lockfile, self.prefix),
        )

    def _client(
        self,
        reactor: Any,
        path: str,
        timeout: str = "30",
        checkPID: str = "0",
    ) -> IStreamClientEndpoint:
        return UNIXClientEndpoint(
            reactor,
            path,
            _toFloat("timeout", timeout, self.prefix),
            _toBool("checkPID", checkPID, self.prefix),
        )


#: Where the TLS endpoint parsers live: in the optional TLS support (the
#: ``tls`` extra), imported only when an ``ssl:``/``tls:`` description is used.
_TLS_SERVER_PARSER = "torsion.internet.ssl:_serverEndpointParser"
_TLS_CLIENT_PARSER = "torsion.internet.ssl:_clientEndpointParser"

# The tables are keyed by prefix; a value is a parser object, or a
# "module:attribute" string imported on first use (so a prefix can be served
# by an optional module without importing it up front). Other torsion
# modules extend them by adding entries; other distributions use the
# ENDPOINT_PLUGIN_GROUP entry points instead.
_serverParsers: dict[str, IStreamServerEndpointStringParser | str] = {
    "tcp": _TCPParser(),
    "tcp6": _TCP6Parser(),
    "unix": _UNIXParser(),
    "systemd": _SystemdParser(),
    "ssl": _TLS_SERVER_PARSER,
    "haproxy": "torsion.protocols.haproxy._parser:serverParser",
}
_clientParsers: dict[str, IStreamClientEndpointStringParserWithReactor | str] = {
    "tcp": _TCPParser(),
    "tcp6": _TCP6Parser(),
    "unix": _UNIXParser(),
    "ssl": _TLS_CLIENT_PARSER,
    "tls": _TLS_CLIENT_PARSER,
}


def _loadSpec(prefix: str, spec: str) -> Any:
    moduleName, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(moduleName), attribute)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{prefix!r} endpoints are not available here: {e}")


def _pluginParsers() -> list[Any]:
    found = []
    for entry in entry_points(group=ENDPOINT_PLUGIN_GROUP):
        loaded = entry.load()
        found.append(loaded() if isinstance(loaded, type) else loaded)
    return found


def _findParser(prefix: str, table: dict[str, Any], interface: Any, kind: str) -> Any:
    parser = table.get(prefix)
    if isinstance(parser, str):
        parser = _loadSpec(prefix, parser)
    if parser is not None:
        return parser
    plugins = [p for p in _pluginParsers() if interface.providedBy(p)]
    for plugin in plugins:
        if getattr(plugin, "prefix", None) == prefix:
            return plugin
    known = sorted(set(table) | {p.prefix for p in plugins})
    raise ValueError(
        f"Unknown {kind} endpoint type {prefix!r}; known types: {', '.join(known)}"
    )


def _callChecked(
    method: Callable[..., Any],
    prefix: str,
    reactor: Any,
    args: Sequence[Any],
    kwargs: dict[str, Any],
) -> Any:
    try:
        return method(reactor, *args, **kwargs)
    except TypeError as e:
        traceback = e.__traceback__
        # Raised while binding the arguments (no frame of ``method`` in the
        # traceback) means the description did not fit its signature; a
        # TypeError from inside ``method`` is a bug and propagates as is.
        if traceback is not None and traceback.tb_next is None:
            raise ValueError(f"bad arguments for {prefix!r} endpoint: {e}") from None
        raise


def serverFromString(reactor: Any, description: str) -> IStreamServerEndpoint:
    """
    Build a server endpoint from a description such as ``tcp:8080``,
    ``tcp:8080:interface=127.0.0.1``, ``tcp6:443:interface=\\:\\:1``,
    ``unix:/var/run/app.sock:mode=660:lockfile=1`` or
    ``systemd:domain=INET:index=0``.

    The first ``:``-separated field is the endpoint type; the others are
    passed to its parser, ``key=value`` ones as keyword arguments. ``\\``
    makes the next character literal (to put ``:`` in a path or an IPv6
    address). Types from other distributions are found through the
    ``torsion.plugins.endpoints`` entry-point group.

    :param reactor: the reactor the endpoint will use.
    :param description: the description.
    :return: an ``IStreamServerEndpoint``.
    :raises ValueError: for an unknown type, or arguments the type does not
        accept.
    """
    args, kwargs = _tokenize(description)
    prefix = args.pop(0) if args else ""
    if not prefix:
        raise ValueError(f"endpoint description has no type: {description!r}")
    parser = _findParser(
        prefix, _serverParsers, IStreamServerEndpointStringParser, "server"
    )
    endpoint: IStreamServerEndpoint = parser.parseStreamServer(reactor, *args, **kwargs)
    return endpoint


def clientFromString(reactor: Any, description: str) -> IStreamClientEndpoint:
    """
    Build a client endpoint from a description such as
    ``tcp:example.com:80``, ``tcp:host=example.com:port=80:timeout=5``,
    ``unix:/var/run/app.sock`` or ``unix:path=/p:timeout=5``.

    The grammar is that of ``serverFromString``.

    :param reactor: the reactor the endpoint will use.
    :param description: the description.
    :return: an ``IStreamClientEndpoint``.
    :raises ValueError: for an unknown type, or arguments the type does not
        accept.
    """
    args, kwargs = _tokenize(description)
    prefix = args.pop(0) if args else ""
    if not prefix:
        raise ValueError(f"endpoint description has no type: {description!r}")
    parser = _findParser(
        prefix,
        _clientParsers,
        IStreamClientEndpointStringParserWithReactor,
        "client",
    )
    endpoint: IStreamClientEndpoint = parser.parseStreamClient(reactor, *args, **kwargs)
    return endpoint
