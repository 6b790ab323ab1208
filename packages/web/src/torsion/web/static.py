"""
Serving files and directories from the file system.

``File`` maps a directory (or a single file) onto the URL space::

    from torsion.web.server import Site
    from torsion.web.static import File

    site = Site(File("/srv/www"))

A request for ``/docs/guide.html`` is answered with the file
``/srv/www/docs/guide.html``; a request for a directory answers with its
index file (``index.html`` and friends) or, failing that, a generated
listing.  Responses carry ``Last-Modified``, a strong ``ETag`` and
``Accept-Ranges: bytes``; conditional requests (``If-None-Match``,
``If-Modified-Since``, ``If-Match``, ``If-Unmodified-Since``, ``If-Range``)
and byte ranges (RFC 9110) are honoured.  Files are streamed in chunks of
``File.bufferSize`` bytes as the client reads them, so serving a large file
takes no more memory than a small one.

A request path can never reach outside the directory given to ``File``:
segments such as ``..``, ``.``, segments containing a slash, a backslash or a
NUL byte (whether sent literally or percent-encoded) are refused, and a
symbolic link whose target lies outside the root is refused unless
``allowSymlinksOutside=True``.

``Data`` serves a fixed ``bytes`` value with a given content type.
"""

from __future__ import annotations

import email.utils
import errno
import html
import mimetypes
import os
import re
import stat
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

from zope.interface import implementer

from torsion.internet.interfaces import IPullProducer
from torsion.logger import Logger
from torsion.python.components import Componentized
from torsion.web import resource
from torsion.web.resource import NOT_DONE_YET, ErrorPage, NoResource, Resource

__all__ = [
    "Data",
    "DirectoryLister",
    "File",
    "MultipleRangeStaticProducer",
    "NoRangeStaticProducer",
    "Registry",
    "SingleRangeStaticProducer",
    "StaticProducer",
    "addSlash",
    "formatFileSize",
    "getTypeAndEncoding",
    "isDangerous",
    "loadMimeTypes",
]

_log = Logger()

#: Types the stdlib tables get wrong or lack on some systems; applied last.
_EXTRA_TYPES: dict[str, str] = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".md": "text/markdown",
    ".rst": "text/x-rst",
    ".py": "text/plain",
    ".txt": "text/plain",
    ".xhtml": "application/xhtml+xml",
}


def loadMimeTypes(
    mimetype_locations: Sequence[str] | None = None,
    init: Callable[..., Any] | None = None,
) -> dict[str, str]:
    """
    Build a table of file extensions to MIME types from the standard
    library's ``mimetypes`` (which reads the system's ``mime.types`` files),
    plus a few modern types it may lack.

    :param mimetype_locations: ``mime.types`` files to read; ``None`` reads
        the system's usual ones.
    :param init: unused by default; when given, it is called as
        ``init(mimetype_locations)`` first (to let a caller seed the global
        ``mimetypes`` tables).
    :return: a new dict mapping extensions such as ``".html"`` (lower case,
        with the dot) to types such as ``"text/html"``.
    """
    if init is not None:
        init(mimetype_locations)
    table = mimetypes.MimeTypes(filenames=())
    files = mimetypes.knownfiles if mimetype_locations is None else mimetype_locations
    for name in files:
        if os.path.isfile(name):
            try:
                table.read(name)
            except (OSError, UnicodeDecodeError):
                pass
    contentTypes: dict[str, str] = {}
    contentTypes.update(mimetypes.types_map)
    contentTypes.update(table.types_map[True])
    contentTypes.update(_EXTRA_TYPES)
    return contentTypes


def getTypeAndEncoding(
    filename: str,
    types: dict[str, str],
    encodings: dict[str, str],
    defaultType: str,
) -> tuple[str, str | None]:
    """
    Work out the content type and content encoding of a file from its name:
    ``"a.tar.gz"`` is ``application/x-tar`` encoded with ``gzip``.

    :param filename: the file's name (or path).
    :param types: extension to MIME type (see ``loadMimeTypes``).
    :param encodings: extension to content coding, such as
        ``{".gz": "gzip"}``.
    :param defaultType: the type for an unknown extension.
    :return: ``(type, encoding)``; ``encoding`` is ``None`` when the name
        has no encoding extension.
    """
    base, ext = os.path.splitext(filename)
    ext = ext.lower()
    encoding = encodings.get(ext)
    if encoding is not None:
        base, ext = os.path.splitext(base)
        ext = ext.lower()
    return types.get(ext, defaultType), encoding


def formatFileSize(size: int) -> str:
    """
    Format a byte count for people: ``"512B"``, ``"4K"``, ``"1M"``, ``"2G"``.

    :param size: the size in bytes.
    :return: the short text.
    """
    if size < 1024:
        return f"{size}B"
    if size < 1024**2:
        return f"{size // 1024}K"
    if size < 1024**3:
        return f"{size // 1024**2}M"
    return f"{size // 1024**3}G"


def isDangerous(segment: bytes) -> bool:
    """
    Tell whether a (percent-decoded) path segment could name something other
    than an entry of the directory it is looked up in.

    :param segment: one path segment, bytes.
    :return: true for ``..``, ``.``, and any segment containing ``/``,
        ``\\`` or a NUL byte.
    """
    return (
        segment in (b"..", b".")
        or b"/" in segment
        or b"\\" in segment
        or b"\x00" in segment
    )


def addSlash(request: Any) -> bytes:
    """
    :param request: the request.
    :return: the request's target with a ``/`` added to its path (the query
        string kept), for redirecting ``/dir`` to ``/dir/``.
    """
    uri: bytes = request.uri
    path, sep, query = uri.partition(b"?")
    # An absolute-form target (``GET http://host/dir``) keeps only its path.
    if not path.startswith(b"/"):
        path = urllib.parse.urlsplit(path).path or b"/"
    # ``//evil.example`` would be read as a network path by the client.
    path = b"/" + path.lstrip(b"/")
    return path + b"/" + sep + query


def _httpDate(when: float) -> bytes:
    return email.utils.formatdate(when, usegmt=True).encode("ascii")


def _parseHTTPDate(value: bytes | str) -> int | None:
    """
    :return: the POSIX time of an HTTP-date in any of the three formats RFC
        9110 accepts, or ``None`` if it is not one.
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if len(value) > 64:
        return None
    try:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return int(email.utils.mktime_tz(parsed))
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


_ETAG = re.compile(rb'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


def _parseETags(value: bytes) -> list[tuple[bool, bytes]] | None:
    """
    :return: ``(weak, opaque-tag)`` pairs of an ``If-Match`` /
        ``If-None-Match`` list, or ``None`` for ``*``; a malformed list
        gives the pairs parsed before the error.
    """
    if value.strip() == b"*":
        return None
    tags: list[tuple[bool, bytes]] = []
    pos = 0
    while pos < len(value):
        if value[pos : pos + 1] in (b" ", b"\t", b","):
            pos += 1
            continue
        match = _ETAG.match(value, pos)
        if match is None:
            break
        tags.append((match.group(1) is not None, match.group(2)))
        pos = match.end()
    return tags


def _header(request: Any, name: bytes) -> bytes | None:
    value = request.getHeader(name)
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode("latin-1", "replace")


_MAX_RANGE_DIGITS = 19


def _parseRange(value: bytes) -> list[tuple[int | None, int | None]] | None:
    """
    Parse a ``Range`` header value.

    :return: ``(first, last)`` pairs (``first`` is ``None`` for a suffix
        range ``-n``, ``last`` is ``None`` for an open range ``a-``; for a
        suffix range ``last`` holds ``n``), or ``None`` if the value is not
        a well-formed ``bytes`` range set (then the header is ignored).
    """
    unit, sep, rangeSet = value.partition(b"=")
    if not sep or unit.strip().lower() != b"bytes":
        return None
    specs: list[tuple[int | None, int | None]] = []
    for raw in rangeSet.split(b","):
        spec = raw.strip(b" \t")
        if not spec:
            # RFC 9110's list syntax allows empty elements.
            continue
        first, dash, last = spec.partition(b"-")
        if not dash:
            return None
        first = first.strip(b" \t")
        last = last.strip(b" \t")
        for part in (first, last):
            if part and (not part.isdigit() or len(part) > _MAX_RANGE_DIGITS):
                return None
        if not first:
            if not last:
                return None
            specs.append((None, int(last)))
        else:
            start = int(first)
            end = int(last) if last else None
            if end is not None and end < start:
                return None
            specs.append((start, end))
    if not specs:
        return None
    return specs


def _satisfiableRanges(
    specs: Iterable[tuple[int | None, int | None]], size: int
) -> list[tuple[int, int]]:
    """
    :return: the ``(offset, length)`` of each satisfiable range of a
        representation of ``size`` bytes; overlapping ranges are merged (in
        ascending order), others keep the order they were asked in.
    """
    resolved: list[tuple[int, int]] = []
    for first, last in specs:
        if first is None:
            assert last is not None
            if last == 0 or size == 0:
                continue
            start = max(0, size - last)
            end = size - 1
        else:
            if first >= size:
                continue
            start = first
            end = size - 1 if last is None else min(last, size - 1)
        resolved.append((start, end))
    ordered = sorted(resolved)
    overlapping = any(
        ordered[i + 1][0] <= ordered[i][1] for i in range(len(ordered) - 1)
    )
    if overlapping:
        merged: list[list[int]] = []
        for start, end in ordered:
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        resolved = [(start, end) for start, end in merged]
    return [(start, end - start + 1) for start, end in resolved]


class Registry(Componentized):
    """
    A cache shared by the resources one ``File`` tree makes: processed
    resources (such as ``.rpy`` scripts that call ``cache()``) are kept here
    by path, so they are built once.
    """

    def __init__(self) -> None:
        """
        Make an empty registry.
        """
        Componentized.__init__(self)
        self._pathCache: dict[str, Any] = {}

    def cachePath(self, path: str, rsrc: Any) -> None:
        """
        Remember ``rsrc`` as the resource for the file ``path``.

        :param path: the file's path.
        :param rsrc: the resource.
        """
        self._pathCache[path] = rsrc

    def getCachedPath(self, path: str) -> Any:
        """
        :param path: the file's path.
        :return: the resource cached for ``path``, or ``None``.
        """
        return self._pathCache.get(path)


@implementer(IPullProducer)
class StaticProducer:
    """
    The base of the producers that stream a file into a request.  It is
    registered on the request as a pull producer: the request asks for the
    next chunk (``resumeProducing``) only when it has sent the previous
    one, so no more than ``bufferSize`` bytes of the file are held at once.

    :ivar request: the request written to, or ``None`` once done.
    :ivar fileObject: the open file, closed when production ends.
    """

    #: The most bytes read from the file for one chunk.
    bufferSize: int = 2**18

    # Bytes still to send (of the file, the range, or the current part).
    _remaining: int = 0

    def __init__(self, request: Any, fileObject: IO[bytes]) -> None:
        """
        :param request: the request to write to.
        :param fileObject: the open file to read from (binary).
        """
        self.request: Any = request
        self.fileObject = fileObject

    def start(self) -> None:
        """
        Register on the request and start producing.
        """
        raise NotImplementedError(f"{type(self).__name__} must define start()")

    def resumeProducing(self) -> None:
        """
        Write the next chunk.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define resumeProducing()"
        )

    def stopProducing(self) -> None:
        """
        Stop for good: close the file and forget the request (called when the
        client goes away, and at the end).
        """
        self.fileObject.close()
        self.request = None

    def _read(self, wanted: int) -> bytes | None:
        """
        :return: up to ``min(wanted, bufferSize)`` bytes, or ``None`` (after
            ending the response abnormally) when the file ended early.
        """
        data = self.fileObject.read(min(wanted, self.bufferSize))
        if not data:
            # The file shrank after Content-Length went out: the only honest
            # thing left is to cut the connection.
            request = self.request
            _log.warn(
                "static file ended {missing} bytes early; closing the connection",
                missing=wanted,
            )
            self._done()
            _abortRequest(request)
            return None
        return data

    def _writeRemaining(self) -> None:
        """
        Write the next chunk of the ``_remaining`` bytes, and finish the
        response after the last.
        """
        if self._remaining <= 0:
            self._done(finish=True)
            return
        chunk = self._read(self._remaining)
        if chunk is None:
            return
        self._remaining -= len(chunk)
        self.request.write(chunk)
        if self._remaining <= 0 and self.request is not None:
            self._done(finish=True)

    def _done(self, finish: bool = False) -> None:
        request = self.request
        self.stopProducing()
        if request is not None:
            request.unregisterProducer()
            if finish:
                request.finish()


def _abortRequest(request: Any) -> None:
    loseConnection = getattr(request, "loseConnection", None)
    if loseConnection is not None:
        loseConnection()
        return
    channel = getattr(request, "channel", None)
    transport = getattr(channel, "transport", None)
    if transport is not None:
        abort = getattr(transport, "abortConnection", None) or transport.loseConnection
        abort()
    else:
        request.finish()


class NoRangeStaticProducer(StaticProducer):
    """
    Streams a whole file.
    """

    def __init__(
        self, request: Any, fileObject: IO[bytes], size: int | None = None
    ) -> None:
        """
        :param request: the request to write to.
        :param fileObject: the open file, positioned at its start.
        :param size: how many bytes to send (the file's size when the
            headers were made); ``None`` sends until the end of the file.
        """
        StaticProducer.__init__(self, request, fileObject)
        self._untilEnd = size is None
        self._remaining = size or 0

    def start(self) -> None:
        """
        Register on the request as a pull producer.
        """
        self.request.registerProducer(self, False)

    def resumeProducing(self) -> None:
        """
        Write the next chunk, or finish the response after the last.
        """
        if self.request is None:
            return
        if self._untilEnd:
            data = self.fileObject.read(self.bufferSize)
            if data:
                self.request.write(data)
            else:
                self._done(finish=True)
            return
        self._writeRemaining()


class SingleRangeStaticProducer(StaticProducer):
    """
    Streams one byte range of a file.
    """

    def __init__(
        self, request: Any, fileObject: IO[bytes], offset: int, size: int
    ) -> None:
        """
        :param request: the request to write to.
        :param fileObject: the open file.
        :param offset: where the range starts.
        :param size: its length in bytes.
        """
        StaticProducer.__init__(self, request, fileObject)
        self.offset = offset
        self.size = size
        self._remaining = size

    def start(self) -> None:
        """
        Seek to the range and register on the request as a pull producer.
        """
        self.fileObject.seek(self.offset)
        self.request.registerProducer(self, False)

    def resumeProducing(self) -> None:
        """
        Write the next chunk of the range, or finish the response after the
        last.
        """
        if self.request is None:
            return
        self._writeRemaining()


class MultipleRangeStaticProducer(StaticProducer):
    """
    Streams several byte ranges of a file as the parts of a
    ``multipart/byteranges`` body.
    """

    def __init__(
        self,
        request: Any,
        fileObject: IO[bytes],
        rangeInfo: Sequence[tuple[bytes, int, int]],
        epilogue: bytes = b"",
    ) -> None:
        """
        :param request: the request to write to.
        :param fileObject: the open file.
        :param rangeInfo: ``(partHeader, offset, size)`` for each part:
            ``partHeader`` is written before the ``size`` bytes read from
            ``offset``.
        :param epilogue: written after the last part (the closing
            boundary).
        """
        StaticProducer.__init__(self, request, fileObject)
        self.rangeInfo = list(rangeInfo)
        self.epilogue = epilogue
        self._index = 0
        self._remaining = 0

    def start(self) -> None:
        """
        Register on the request as a pull producer.
        """
        self.request.registerProducer(self, False)

    def resumeProducing(self) -> None:
        """
        Write the next chunk (part headers included), or finish after the
        epilogue.
        """
        if self.request is None:
            return
        pieces: list[bytes] = []
        budget = self.bufferSize
        while budget > 0:
            if self._remaining == 0:
                if self._index >= len(self.rangeInfo):
                    break
                header, offset, size = self.rangeInfo[self._index]
                self._index += 1
                pieces.append(header)
                self.fileObject.seek(offset)
                self._remaining = size
                continue
            chunk = self._read(min(self._remaining, budget))
            if chunk is None:
                return
            pieces.append(chunk)
            self._remaining -= len(chunk)
            budget -= len(chunk)
        finished = self._remaining == 0 and self._index >= len(self.rangeInfo)
        if finished:
            pieces.append(self.epilogue)
        self.request.write(b"".join(pieces))
        if finished and self.request is not None:
            self._done(finish=True)


class File(Resource):
    """
    A file or directory on disk, served over HTTP.

    For a directory, children are its entries (looked up as the request
    path is traversed); an empty segment (a trailing slash) gives the first
    existing file of ``indexNames`` or else a ``DirectoryLister``.  A
    directory requested without its trailing slash is redirected (301) to
    the address with it.

    Entries whose extension is a key of ``processors`` are not served as
    files but turned into resources by the processor, for example::

        from torsion.web import script, twcgi
        root = File("/srv/www")
        root.processors = {
            ".rpy": script.ResourceScript,
            ".cgi": twcgi.CGIScript,
        }

    There are no processors by default: a served directory never runs code
    unless asked to.

    :ivar path: the file's path, ``str``.
    :ivar defaultType: the content type for unknown extensions.
    :ivar ignoredExts: extensions that may be left out of a request path
        (``"*"`` allows any).
    :ivar registry: the ``Registry`` shared with the resources made for
        children.
    :ivar allowSymlinksOutside: when false (the default), a symbolic link
        below the root whose target is outside the root is answered with
        ``childNotFound``.
    :ivar type: the content type of this file.
    :ivar encoding: its content coding (``"gzip"`` for ``.gz``), or
        ``None``.
    """

    #: Extension to MIME type; assign a copy to an instance to change it
    #: for one tree.
    contentTypes: dict[str, str] = loadMimeTypes()
    #: Extension to content coding.
    contentEncodings: dict[str, str] = {".gz": "gzip", ".bz2": "bzip2"}
    #: Extension to ``callable(path, registry) -> resource``.
    processors: dict[str, Callable[[str, Registry], Any]] = {}
    #: Names tried, in order, for a request that ends with a slash.
    indexNames: list[str] = ["index", "index.html", "index.htm", "index.rpy"]
    #: What a missing (or refused) child answers with.
    childNotFound: Any = NoResource("File not found.")
    #: What an unreadable file answers with.
    forbidden: Any = resource.ForbiddenResource()
    #: What a path segment containing a NUL byte answers with.
    badRequest: Any = ErrorPage(400, "Bad Request", "Invalid request path.")
    #: Above this many ranges in one ``Range`` header, the whole file is
    #: sent instead (200): many small ranges cost more than they save and
    #: have been used to exhaust servers (CVE-2011-3192).
    maxRanges: int = 100
    #: Bytes read from the file at a time when streaming it.
    bufferSize: int = 2**18

    isLeaf = False

    def __init__(
        self,
        path: str | bytes | os.PathLike[str],
        defaultType: str = "text/html",
        ignoredExts: Sequence[str] = (),
        registry: Registry | None = None,
        allowExt: int = 0,
        allowSymlinksOutside: bool = False,
    ) -> None:
        """
        :param path: the file or directory to serve.
        :param defaultType: the content type of files whose extension is
            not in ``contentTypes``.
        :param ignoredExts: extensions (with their dot, such as
            ``".html"``) a request may leave out: with ``(".html",)``,
            ``/about`` finds ``about.html``.  ``"*"`` stands for any
            extension.
        :param registry: the cache shared by this tree; a new one by default.
        :param allowExt: the older spelling of ``ignoredExts=("*",)``: when
            true and ``ignoredExts`` is empty, any extension may be left
            out.
        :param allowSymlinksOutside: serve symbolic links whose target lies
            outside this directory (off by default).
        """
        Resource.__init__(self)
        self.path: str = os.fsdecode(os.fspath(path))
        self.defaultType = defaultType
        if ignoredExts:
            self.ignoredExts: list[str] = list(ignoredExts)
        elif allowExt:
            self.ignoredExts = ["*"]
        else:
            self.ignoredExts = []
        self.registry: Registry = registry if registry is not None else Registry()
        self.allowSymlinksOutside = allowSymlinksOutside
        # The real path of the tree's root, resolved when first needed; a
        # child made by getChild gets its parent's.
        self._rootReal: str | None = None
        # Set on children found through a non-link entry: opening them must
        # not follow a link swapped in since the lookup.
        self._noFollow = False
        self.type, self.encoding = getTypeAndEncoding(
            self.path, self.contentTypes, self.contentEncodings, defaultType
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"

    # File-system queries

    def exists(self) -> bool:
        """
        :return: whether the path exists.
        """
        return os.path.exists(self.path)

    def isdir(self) -> bool:
        """
        :return: whether the path is a directory.
        """
        return os.path.isdir(self.path)

    def basename(self) -> str:
        """
        :return: the last component of the path.
        """
        return os.path.basename(self.path)

    def getFileSize(self) -> int:
        """
        :return: the file's size in bytes.
        """
        return os.stat(self.path).st_size

    def getModificationTime(self) -> float:
        """
        :return: the file's modification time (POSIX time).
        """
        return os.stat(self.path).st_mtime

    def listNames(self) -> list[str]:
        """
        :return: the directory's entry names, sorted; empty if this is not a
            directory.
        """
        try:
            return sorted(os.listdir(self.path))
        except OSError:
            return []

    def listEntities(self) -> list[Any]:
        """
        :return: a ``File`` (or processed resource) for each entry.
        """
        return [
            self.createSimilarFile(os.path.join(self.path, n)) for n in self.listNames()
        ]

    def ignoreExt(self, ext: str) -> None:
        """
        Let requests leave out the extension ``ext`` (such as ``".html"``);
        ``"*"`` allows any.

        :param ext: the extension, with its dot.
        """
        self.ignoredExts.append(ext)

    def _root(self) -> str:
        if self._rootReal is None:
            self._rootReal = os.path.realpath(self.path)
        return self._rootReal

    def _insideRoot(self, path: str) -> bool:
        root = self._root()
        real = os.path.realpath(path)
        return real == root or real.startswith(root.rstrip(os.sep) + os.sep)

    # Traversal

    def createSimilarFile(self, path: str) -> File:
        """
        Make a ``File`` for ``path`` with this one's settings (types,
        processors, index names, registry, ...).

        :param path: the path.
        :return: the new ``File``.
        """
        f = self.__class__(
            path,
            self.defaultType,
            self.ignoredExts,
            self.registry,
            allowSymlinksOutside=self.allowSymlinksOutside,
        )
        f.processors = self.processors
        f.indexNames = self.indexNames
        f.childNotFound = self.childNotFound
        f.forbidden = self.forbidden
        f.contentTypes = self.contentTypes
        f.contentEncodings = self.contentEncodings
        f.maxRanges = self.maxRanges
        f.bufferSize = self.bufferSize
        f._rootReal = self._root()
        # The constructor worked these out from the class's tables.
        if (
            self.contentTypes is not type(self).contentTypes
            or self.contentEncodings is not type(self).contentEncodings
        ):
            f.type, f.encoding = getTypeAndEncoding(
                path, self.contentTypes, self.contentEncodings, self.defaultType
            )
        return f

    def directoryListing(self) -> DirectoryLister:
        """
        :return: the listing of this directory.
        """
        return DirectoryLister(
            self.path,
            self.listNames(),
            self.contentTypes,
            self.contentEncodings,
            self.defaultType,
        )

    def _lookup(self, name: str) -> tuple[str, os.stat_result] | None:
        """
        :return: the path and ``lstat`` of the entry ``name``, trying the
            ignored extensions when it does not exist.
        """
        candidate = os.path.join(self.path, name)
        try:
            return candidate, os.lstat(candidate)
        except OSError:
            pass
        for ext in self.ignoredExts:
            if ext == "*":
                try:
                    names = sorted(os.listdir(self.path))
                except OSError:
                    return None
                prefix = name + "."
                for entry in names:
                    if entry.startswith(prefix):
                        found = os.path.join(self.path, entry)
                        try:
                            return found, os.lstat(found)
                        except OSError:
                            continue
            else:
                found = candidate + ext
                try:
                    return found, os.lstat(found)
                except OSError:
                    continue
        return None

    def _childFor(self, path: str, st: os.stat_result) -> Any:
        """
        :return: the resource for an existing entry, checked against the
            root.
        """
        isLink = stat.S_ISLNK(st.st_mode)
        if isLink and not self.allowSymlinksOutside and not self._insideRoot(path):
            return self.childNotFound
        ext = os.path.splitext(path)[1].lower()
        processor = self.processors.get(ext)
        if processor is not None:
            return resource.IResource(processor(path, self.registry))
        child = self.createSimilarFile(path)
        child._noFollow = not isLink
        return child

    def getChild(self, path: bytes, request: Any) -> Any:
        """
        Find the resource for the entry ``path`` of this directory.

        :param path: one percent-decoded path segment; ``b""`` asks for the
            directory itself (index file or listing).
        :param request: the request.
        :return: a ``File``, a processed resource, a ``DirectoryLister``,
            or ``childNotFound`` (``badRequest`` for a segment with a NUL).
        """
        if b"\x00" in path:
            return self.badRequest
        if isDangerous(path):
            return self.childNotFound
        if not self.isdir():
            return self.childNotFound
        if path == b"":
            for index in self.indexNames:
                if index.endswith(".rpy") and ".rpy" not in self.processors:
                    # Without its processor a script would be served as
                    # source.
                    continue
                found = os.path.join(self.path, index)
                try:
                    st = os.lstat(found)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    continue
                return self._childFor(found, st)
            return self.directoryListing()
        name = os.fsdecode(path)
        if os.sep in name or (os.altsep and os.altsep in name):
            return self.childNotFound
        entry = self._lookup(name)
        if entry is None:
            return self.childNotFound
        return self._childFor(*entry)

    # Rendering

    def openForReading(self) -> IO[bytes]:
        """
        Open the file.

        :return: the file, opened for reading in binary without buffering.
        :raises OSError: if it cannot be opened.
        """
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        if self._noFollow:
            flags |= getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags)
        try:
            return open(fd, "rb", buffering=0)
        except BaseException:
            os.close(fd)
            raise

    def redirect(self, request: Any) -> bytes:
        """
        Answer 301 with ``Location`` set to the request's address with a
        slash added (for a directory requested without one).

        :param request: the request.
        :return: a short HTML body.
        """
        location = addSlash(request)
        request.setResponseCode(301)
        request.setHeader(b"location", location)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        quoted = html.escape(location.decode("latin-1"))
        return (
            f'<!DOCTYPE html>\n<html><head><meta http-equiv="refresh" '
            f'content="0;URL={quoted}"></head>\n<body><a href="{quoted}">'
            f"click here</a></body></html>\n"
        ).encode()

    def _renderDirectory(self, request: Any) -> Any:
        path: bytes = request.uri.partition(b"?")[0]
        if not path.endswith(b"/"):
            return self.redirect(request)
        return self.getChild(b"", request).render(request)

    def render_GET(self, request: Any) -> Any:
        """
        Send the file (or the requested ranges of it), or answer a
        conditional request with 304/412; a directory is redirected to its
        address with a trailing slash.

        :param request: the request.
        :return: ``NOT_DONE_YET`` (the response is written as the client
            reads it) or a body.
        """
        try:
            fileObject = self.openForReading()
        except IsADirectoryError:
            return self._renderDirectory(request)
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EPERM):
                return self.forbidden.render(request)
            return self.childNotFound.render(request)
        try:
            st = os.fstat(fileObject.fileno())
            if stat.S_ISDIR(st.st_mode):
                fileObject.close()
                return self._renderDirectory(request)
            if not stat.S_ISREG(st.st_mode):
                fileObject.close()
                return self.forbidden.render(request)
            return self._serve(request, fileObject, st)
        except BaseException:
            fileObject.close()
            raise

    def render_HEAD(self, request: Any) -> Any:
        """
        Answer as ``GET`` would, without the body.

        :param request: the request.
        """
        return self.render_GET(request)

    def _serve(self, request: Any, fileObject: IO[bytes], st: os.stat_result) -> Any:
        size = st.st_size
        mtime = int(st.st_mtime)
        etag = b'"%x-%x-%x"' % (st.st_ino, size, st.st_mtime_ns)
        request.setHeader(b"accept-ranges", b"bytes")
        request.setHeader(b"last-modified", _httpDate(mtime))
        request.setHeader(b"etag", etag)

        code = self._preconditionFailure(request, etag, mtime)
        if code is not None:
            fileObject.close()
            request.setResponseCode(code)
            request.finish()
            return NOT_DONE_YET

        request.setHeader(b"content-type", self.type.encode("ascii", "replace"))
        if self.encoding:
            request.setHeader(
                b"content-encoding", self.encoding.encode("ascii", "replace")
            )

        ranges = self._requestedRanges(request, etag, mtime, size)
        isHead = request.method == b"HEAD"
        if ranges is None:
            request.setHeader(b"content-length", b"%d" % size)
            if isHead:
                fileObject.close()
                request.finish()
                return NOT_DONE_YET
            if size <= self.bufferSize:
                # Small files go out in one write, without a producer.
                try:
                    data = fileObject.read(size)
                finally:
                    fileObject.close()
                if len(data) != size:
                    _abortRequest(request)
                    return NOT_DONE_YET
                request.write(data)
                request.finish()
                return NOT_DONE_YET
            producer: StaticProducer = NoRangeStaticProducer(request, fileObject, size)
        elif not ranges:
            fileObject.close()
            request.setResponseCode(416)
            request.setHeader(b"content-range", b"bytes */%d" % size)
            request.setHeader(b"content-length", b"0")
            request.finish()
            return NOT_DONE_YET
        elif len(ranges) == 1:
            offset, length = ranges[0]
            request.setResponseCode(206)
            request.setHeader(
                b"content-range",
                b"bytes %d-%d/%d" % (offset, offset + length - 1, size),
            )
            request.setHeader(b"content-length", b"%d" % length)
            if isHead:
                fileObject.close()
                request.finish()
                return NOT_DONE_YET
            producer = SingleRangeStaticProducer(request, fileObject, offset, length)
        else:
            boundary = os.urandom(16).hex().encode("ascii")
            partType = b"content-type: " + self.type.encode("ascii", "replace")
            if self.encoding:
                # The parts are ranges of the encoded bytes.
                partType += b"\r\ncontent-encoding: " + self.encoding.encode(
                    "ascii", "replace"
                )
            rangeInfo: list[tuple[bytes, int, int]] = []
            total = 0
            for i, (offset, length) in enumerate(ranges):
                header = b"%s--%s\r\n%s\r\ncontent-range: bytes %d-%d/%d\r\n\r\n" % (
                    b"\r\n" if i else b"",
                    boundary,
                    partType,
                    offset,
                    offset + length - 1,
                    size,
                )
                rangeInfo.append((header, offset, length))
                total += len(header) + length
            epilogue = b"\r\n--%s--\r\n" % (boundary,)
            total += len(epilogue)
            request.setResponseCode(206)
            request.setHeader(
                b"content-type", b"multipart/byteranges; boundary=" + boundary
            )
            if self.encoding:
                request.responseHeaders.removeHeader(b"content-encoding")
            request.setHeader(b"content-length", b"%d" % total)
            if isHead:
                fileObject.close()
                request.finish()
                return NOT_DONE_YET
            producer = MultipleRangeStaticProducer(
                request, fileObject, rangeInfo, epilogue
            )
        producer.bufferSize = self.bufferSize
        producer.start()
        return NOT_DONE_YET

    def makeProducer(self, request: Any, fileForReading: IO[bytes]) -> StaticProducer:
        """
        Set the response's status and length headers for the request's
        ``Range`` (if any) and make the producer that sends the body.  (The
        usual path, ``render_GET``, does this itself; this is for
        subclasses that open the file their own way.)

        :param request: the request.
        :param fileForReading: the open file.
        :return: a producer; call its ``start()``.
        """
        st = os.fstat(fileForReading.fileno())
        size = st.st_size
        etag = b'"%x-%x-%x"' % (st.st_ino, size, st.st_mtime_ns)
        ranges = self._requestedRanges(request, etag, int(st.st_mtime), size)
        if ranges is None or not ranges or len(ranges) > 1:
            request.setHeader(b"content-length", b"%d" % size)
            return NoRangeStaticProducer(request, fileForReading, size)
        offset, length = ranges[0]
        request.setResponseCode(206)
        request.setHeader(
            b"content-range", b"bytes %d-%d/%d" % (offset, offset + length - 1, size)
        )
        request.setHeader(b"content-length", b"%d" % length)
        return SingleRangeStaticProducer(request, fileForReading, offset, length)

    def _preconditionFailure(self, request: Any, etag: bytes, mtime: int) -> int | None:
        """
        Evaluate the conditional headers in RFC 9110's order.

        :return: 412 or 304 when the request's preconditions say so, else
            ``None``.
        """
        ifMatch = _header(request, b"if-match")
        if ifMatch is not None:
            tags = _parseETags(ifMatch)
            if tags is not None and not any(
                not weak and tag == etag for weak, tag in tags
            ):
                return 412
        else:
            ifUnmodified = _header(request, b"if-unmodified-since")
            if ifUnmodified is not None:
                when = _parseHTTPDate(ifUnmodified)
                if when is not None and mtime > when:
                    return 412
        isGetOrHead = request.method in (b"GET", b"HEAD")
        ifNoneMatch = _header(request, b"if-none-match")
        if ifNoneMatch is not None:
            tags = _parseETags(ifNoneMatch)
            if tags is None or any(tag == etag for _, tag in tags):
                return 304 if isGetOrHead else 412
            return None
        if isGetOrHead:
            ifModified = _header(request, b"if-modified-since")
            if ifModified is not None:
                when = _parseHTTPDate(ifModified)
                if when is not None and mtime <= when:
                    return 304
        return None

    def _requestedRanges(
        self, request: Any, etag: bytes, mtime: int, size: int
    ) -> list[tuple[int, int]] | None:
        """
        :return: ``None`` to send the whole file (no usable ``Range``, an
            ``If-Range`` that does not match, or more than ``maxRanges``
            ranges), an empty list when no range is satisfiable (416), or
            the ``(offset, length)`` ranges to send.
        """
        if request.method not in (b"GET", b"HEAD"):
            return None
        rangeHeader = _header(request, b"range")
        if rangeHeader is None:
            return None
        ifRange = _header(request, b"if-range")
        if ifRange is not None:
            ifRange = ifRange.strip()
            if ifRange.startswith((b'"', b"W/")):
                if ifRange != etag:
                    return None
            elif _parseHTTPDate(ifRange) != mtime:
                return None
        specs = _parseRange(rangeHeader)
        if specs is None or len(specs) > self.maxRanges:
            return None
        return _satisfiableRanges(specs, size)


class DirectoryLister(Resource):
    """
    An HTML page listing a directory's entries, sorted by name, with their
    sizes and types; subdirectories end with a slash.  Names are
    HTML-escaped and their links percent-encoded, so any file name is shown
    safely.

    :ivar path: the directory.
    :ivar dirs: the names to list, or ``None`` to read the directory when
        rendering.
    """

    def __init__(
        self,
        pathname: str,
        dirs: Sequence[str] | None = None,
        contentTypes: dict[str, str] | None = None,
        contentEncodings: dict[str, str] | None = None,
        defaultType: str = "text/html",
    ) -> None:
        """
        :param pathname: the directory.
        :param dirs: the entry names to list; ``None`` lists them all.
        :param contentTypes: extension to type, for the type column
            (``File.contentTypes`` by default).
        :param contentEncodings: extension to content coding.
        :param defaultType: the type shown for unknown extensions.
        """
        Resource.__init__(self)
        self.path = pathname
        self.dirs = dirs
        self.contentTypes = (
            contentTypes if contentTypes is not None else File.contentTypes
        )
        self.contentEncodings = (
            contentEncodings if contentEncodings is not None else File.contentEncodings
        )
        self.defaultType = defaultType

    def _getFilesAndDirectories(
        self, directory: Iterable[str]
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """
        :return: rows (dicts of escaped cell text and link) for the
            directories and the files among ``directory``'s names.
        """
        files: list[dict[str, str]] = []
        dirs: list[dict[str, str]] = []
        for name in sorted(directory):
            full = os.path.join(self.path, name)
            shown = html.escape(
                name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            )
            link = urllib.parse.quote(name, errors="surrogateescape")
            try:
                st = os.stat(full)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                dirs.append(
                    {
                        "text": shown + "/",
                        "href": html.escape(link + "/"),
                        "size": "",
                        "type": "[Directory]",
                        "encoding": "",
                    }
                )
            else:
                mimeType, encoding = getTypeAndEncoding(
                    name, self.contentTypes, self.contentEncodings, self.defaultType
                )
                files.append(
                    {
                        "text": shown,
                        "href": html.escape(link),
                        "size": formatFileSize(st.st_size),
                        "type": html.escape(f"[{mimeType}]"),
                        "encoding": html.escape(f"[{encoding}]" if encoding else ""),
                    }
                )
        return dirs, files

    def render(self, request: Any) -> bytes:
        """
        :param request: the request.
        :return: the listing page (``text/html; charset=utf-8``).
        """
        names = self.dirs
        if names is None:
            try:
                names = os.listdir(self.path)
            except OSError:
                names = []
        dirs, files = self._getFilesAndDirectories(names)
        rawPath: bytes = request.uri.partition(b"?")[0]
        title = html.escape(
            urllib.parse.unquote_to_bytes(rawPath).decode("utf-8", "replace")
        )
        rows = []
        for i, row in enumerate(dirs + files):
            rows.append(
                f'<tr class="{"odd" if i % 2 else "even"}">'
                f'<td><a href="{row["href"]}">{row["text"]}</a></td>'
                f"<td>{row['size']}</td><td>{row['type']}</td>"
                f"<td>{row['encoding']}</td></tr>"
            )
        page = (
            "<!DOCTYPE html>\n<html>\n<head>\n"
            '<meta charset="utf-8">\n'
            f"<title>Directory listing for {title}</title>\n"
            "<style>th, td {text-align: left; padding-right: 1em}"
            " tr.odd {background-color: #f2f2f2}</style>\n"
            "</head>\n<body>\n"
            f"<h1>Directory listing for {title}</h1>\n"
            "<table>\n<thead><tr><th>Filename</th><th>Size</th>"
            "<th>Content type</th><th>Content encoding</th></tr></thead>\n"
            "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
            "</body>\n</html>\n"
        )
        body = page.encode("utf-8")
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return body

    def __repr__(self) -> str:
        return f"<DirectoryLister of {self.path!r}>"


class Data(Resource):
    """
    A resource serving a fixed byte string, for example a favicon kept in
    memory::

        root.putChild(b"robots.txt", Data(b"User-agent: *\\n", "text/plain"))

    :ivar data: the body.
    :ivar type: its content type.
    """

    def __init__(self, data: bytes, type: str) -> None:
        """
        :param data: the body, bytes.
        :param type: its content type, such as ``"text/plain"``.
        :raises TypeError: if ``data`` is not bytes.
        """
        if not isinstance(data, bytes):
            raise TypeError(f"Data needs bytes, not {data.__class__.__name__}")
        Resource.__init__(self)
        self.data = data
        self.type = type

    def render_GET(self, request: Any) -> bytes:
        """
        :param request: the request.
        :return: the data, after setting ``Content-Type`` and
            ``Content-Length``.
        """
        request.setHeader(b"content-type", self.type.encode("ascii", "replace"))
        request.setHeader(b"content-length", b"%d" % len(self.data))
        return self.data
