"""
Unit tests for torsion.web.static over DummyRequest: files, directories,
listings, ranges, conditional requests, streaming and path safety.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import os
from pathlib import Path
from typing import IO, Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet.interfaces import IPullProducer
from torsion.web import static
from torsion.web.iweb import IResource
from torsion.web.resource import NOT_DONE_YET, getChildForRequest
from torsion.web.static import (
    Data,
    DirectoryLister,
    File,
    MultipleRangeStaticProducer,
    NoRangeStaticProducer,
    Registry,
    SingleRangeStaticProducer,
)
from torsion.web.testing import DummyRequest, render


def _request(path: str, method: bytes = b"GET", **headers: str) -> DummyRequest:
    """
    A DummyRequest for ``path`` (percent-decoded segments, as the server
    gives them), with request headers given as keyword arguments
    (``if_none_match="..."``).
    """
    raw = path.lstrip("/")
    segments = [s.encode("utf-8", "surrogateescape") for s in raw.split("/")]
    request = DummyRequest(segments)
    request.uri = request.path = path.encode("utf-8", "surrogateescape")
    request.method = method
    for name, value in headers.items():
        request.requestHeaders.setRawHeaders(
            name.replace("_", "-").encode(), [value.encode("latin-1")]
        )
    return request


async def _get(
    root: Any, path: str, method: bytes = b"GET", **headers: str
) -> tuple[DummyRequest, bytes]:
    request = _request(path, method, **headers)
    leaf = getChildForRequest(root, request)
    body = await render(leaf, request)
    return request, body


def _h(request: DummyRequest, name: str) -> bytes | None:
    values = request.responseHeaders.getRawHeaders(name.encode())
    return values[-1] if values else None


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "hello.txt").write_bytes(b"hello, world\n")
    (tmp_path / "page.html").write_bytes(b"<p>page</p>")
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "empty.txt").write_bytes(b"")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "index.html").write_bytes(b"<h1>index</h1>")
    (sub / "other.txt").write_bytes(b"other")
    (tmp_path / "nolisting").mkdir()
    (tmp_path / "archive.tar.gz").write_bytes(b"\x1f\x8b fake")
    return tmp_path


def test_interfaces(site: Path) -> None:
    """
    File, DirectoryLister and Data are resources; the producers are pull
    producers.
    """
    assert verifyObject(IResource, File(str(site)))
    assert verifyObject(IResource, DirectoryLister(str(site)))
    assert verifyObject(IResource, Data(b"x", "text/plain"))
    request = _request("/x")
    with open(site / "hello.txt", "rb") as f:
        assert verifyObject(IPullProducer, NoRangeStaticProducer(request, f, 3))
        assert verifyObject(IPullProducer, SingleRangeStaticProducer(request, f, 0, 3))
        assert verifyObject(
            IPullProducer, MultipleRangeStaticProducer(request, f, [(b"", 0, 3)])
        )


async def test_file(site: Path) -> None:
    """
    A file is served with its type, length and validators.
    """
    request, body = await _get(File(str(site)), "/hello.txt")
    assert request.code == 200
    assert body == b"hello, world\n"
    assert _h(request, "content-type") == b"text/plain"
    assert _h(request, "content-length") == b"13"
    assert _h(request, "accept-ranges") == b"bytes"
    etag = _h(request, "etag")
    assert etag is not None and etag.startswith(b'"') and etag.endswith(b'"')
    mtime = int(os.stat(site / "hello.txt").st_mtime)
    assert (
        _h(request, "last-modified")
        == email.utils.formatdate(mtime, usegmt=True).encode()
    )


async def test_fileRoot(site: Path) -> None:
    """
    A File made for a single file serves it where it is put; it has no
    children.
    """
    from torsion.web.resource import Resource

    root = Resource()
    root.putChild(b"page", File(str(site / "page.html")))
    request, body = await _get(root, "/page")
    assert body == b"<p>page</p>"
    assert _h(request, "content-type") == b"text/html"
    request, body = await _get(root, "/page/")
    assert request.code == 404


async def test_pathTypes(site: Path) -> None:
    """
    The path may be given as bytes or a path object.
    """
    _, body = await _get(File(os.fsencode(site)), "/hello.txt")
    assert body == b"hello, world\n"
    _, body = await _get(File(site), "/hello.txt")
    assert body == b"hello, world\n"


async def test_etagChangesWithContent(site: Path) -> None:
    """
    Changing the file changes its ETag.
    """
    request, _ = await _get(File(str(site)), "/hello.txt")
    first = _h(request, "etag")
    (site / "hello.txt").write_bytes(b"changed, and longer")
    request, body = await _get(File(str(site)), "/hello.txt")
    assert body == b"changed, and longer"
    assert _h(request, "etag") != first


async def test_head(site: Path) -> None:
    """
    HEAD gets the headers GET would, and no body.
    """
    request, body = await _get(File(str(site)), "/data.bin", b"HEAD")
    assert request.code == 200
    assert body == b""
    assert _h(request, "content-length") == b"1024"
    assert _h(request, "content-type") == b"application/octet-stream"


async def test_encodingExtension(site: Path) -> None:
    """
    ``.gz`` is a content coding over the inner type.
    """
    request, _ = await _get(File(str(site)), "/archive.tar.gz")
    assert _h(request, "content-type") == b"application/x-tar"
    assert _h(request, "content-encoding") == b"gzip"


async def test_unknownTypeDefault(site: Path) -> None:
    """
    An unknown extension gets ``defaultType``.
    """
    (site / "thing.unknownext").write_bytes(b"?")
    request, _ = await _get(
        File(str(site), defaultType="application/x-foo"), "/thing.unknownext"
    )
    assert _h(request, "content-type") == b"application/x-foo"


async def test_contentTypesOverride(site: Path) -> None:
    """
    An instance's ``contentTypes`` applies to the whole tree below it.
    """
    root = File(str(site))
    root.contentTypes = dict(root.contentTypes, **{".txt": "text/plain; charset=utf-8"})
    request, _ = await _get(root, "/hello.txt")
    assert _h(request, "content-type") == b"text/plain; charset=utf-8"
    request, _ = await _get(File(str(site)), "/hello.txt")
    assert _h(request, "content-type") == b"text/plain"


async def test_index(site: Path) -> None:
    """
    A directory with a trailing slash answers with its index file.
    """
    request, body = await _get(File(str(site)), "/sub/")
    assert request.code == 200
    assert body == b"<h1>index</h1>"
    assert _h(request, "content-type") == b"text/html"


async def test_indexScriptNotServedAsSource(site: Path) -> None:
    """
    ``index.rpy`` is an index only when ``.rpy`` files are processed;
    otherwise the directory is listed rather than the script's source
    served.
    """
    (site / "nolisting" / "index.rpy").write_bytes(b"resource = SECRET_SOURCE")
    _, body = await _get(File(str(site)), "/nolisting/")
    assert b"SECRET_SOURCE" not in body
    assert b"Directory listing" in body


async def test_indexNames(site: Path) -> None:
    """
    ``indexNames`` is tried in order.
    """
    root = File(str(site))
    root.indexNames = ["other.txt", "index.html"]
    _, body = await _get(root, "/sub/")
    assert body == b"other"


async def test_redirectAddsSlash(site: Path) -> None:
    """
    A directory without its trailing slash is redirected (301) to the
    address with one, keeping the query.
    """
    request = _request("/sub")
    request.uri = b"/sub?a=1"
    body = await render(getChildForRequest(File(str(site)), request), request)
    assert request.code == 301
    assert _h(request, "location") == b"/sub/?a=1"
    assert b"/sub/?a=1" in body


def test_addSlashNetworkPath() -> None:
    """
    A target starting with ``//`` cannot turn into a redirect to another
    host.
    """
    request = _request("/x")
    request.uri = b"//evil.example/x"
    assert static.addSlash(request) == b"/evil.example/x/"
    request.uri = b"http://host/dir?q"
    assert static.addSlash(request) == b"/dir/?q"


async def test_listing(site: Path) -> None:
    """
    A directory without an index file is listed: sorted names, directories
    with a slash, sizes and types.
    """
    (site / "nolisting" / "b.txt").write_bytes(b"x" * 2048)
    (site / "nolisting" / "a.html").write_bytes(b"")
    (site / "nolisting" / "zdir").mkdir()
    request, body = await _get(File(str(site)), "/nolisting/")
    assert request.code == 200
    assert _h(request, "content-type") == b"text/html; charset=utf-8"
    text = body.decode()
    assert "Directory listing for /nolisting/" in text
    assert text.index("zdir/") < text.index("a.html") < text.index("b.txt")
    assert "2K" in text and "[text/plain]" in text and "[Directory]" in text


async def test_listingEscapes(site: Path) -> None:
    """
    Names are HTML-escaped in the listing and percent-encoded in links.
    """
    (site / "nolisting" / "<script>alert(1)<!--.txt").write_bytes(b"x")
    (site / "nolisting" / 'q"uote&.txt').write_bytes(b"x")
    _, body = await _get(File(str(site)), "/nolisting/")
    text = body.decode()
    assert "<script>" not in text and "<!--" not in text
    assert "&lt;script&gt;alert(1)&lt;!--.txt" in text
    assert 'href="%3Cscript%3Ealert%281%29%3C%21--.txt"' in text
    assert "q&quot;uote&amp;.txt" in text


async def test_listingTitleEscaped(site: Path) -> None:
    """
    The request path shown in the title is escaped.
    """
    lister = DirectoryLister(str(site / "nolisting"))
    request = _request("/x")
    request.uri = b"/%3Cb%3E/"
    body = await render(lister, request)
    assert b"<b>" not in body and b"&lt;b&gt;" in body


async def test_listingUndecodableName(site: Path) -> None:
    """
    A file name that is not UTF-8 is listed (with a replacement character)
    and linked to its exact bytes.
    """
    name = os.fsdecode(b"caf\xe9.txt")
    (site / "nolisting" / name).write_bytes(b"x")
    _, body = await _get(File(str(site)), "/nolisting/")
    assert "caf\ufffd.txt".encode() in body
    assert b"caf%E9.txt" in body
    request, body = await _get(File(str(site)), "/nolisting/" + name)
    assert request.code == 200 and body == b"x"


async def test_notFound(site: Path) -> None:
    """
    A missing file is a 404, so is a child of a file.
    """
    request, _ = await _get(File(str(site)), "/missing.txt")
    assert request.code == 404
    request, _ = await _get(File(str(site)), "/hello.txt/more")
    assert request.code == 404


async def test_childNotFoundOverride(site: Path) -> None:
    """
    ``childNotFound`` is what a missing child answers with, in the whole
    tree.
    """
    root = File(str(site))
    root.childNotFound = Data(b"nothing here", "text/plain")
    _, body = await _get(root, "/sub/missing")
    assert body == b"nothing here"


async def test_ignoredExts(site: Path) -> None:
    """
    An ignored extension may be left out of the request path.
    """
    root = File(str(site), ignoredExts=(".txt",))
    request, body = await _get(root, "/hello")
    assert body == b"hello, world\n"
    request, _ = await _get(root, "/page")
    assert request.code == 404
    root.ignoreExt(".html")
    _, body = await _get(root, "/page")
    assert body == b"<p>page</p>"


async def test_ignoredAnyExt(site: Path) -> None:
    """
    ``"*"`` (or the older ``allowExt``) lets any extension be left out.
    """
    for root in (File(str(site), ignoredExts=("*",)), File(str(site), allowExt=1)):
        _, body = await _get(root, "/page")
        assert body == b"<p>page</p>"


async def test_processors(site: Path) -> None:
    """
    An entry whose extension has a processor becomes the processor's
    resource, given the path and the tree's registry.
    """
    (site / "thing.xyz").write_bytes(b"source")
    seen: list[tuple[str, Registry]] = []

    def processor(path: str, registry: Registry) -> Data:
        seen.append((path, registry))
        return Data(b"processed " + Path(path).read_bytes(), "text/plain")

    root = File(str(site))
    root.processors = {".xyz": processor}
    _, body = await _get(root, "/thing.xyz")
    assert body == b"processed source"
    assert seen == [(str(site / "thing.xyz"), root.registry)]


def test_registry() -> None:
    """
    The registry caches resources by path.
    """
    registry = Registry()
    assert registry.getCachedPath("/a") is None
    marker = Data(b"", "text/plain")
    registry.cachePath("/a", marker)
    assert registry.getCachedPath("/a") is marker


# Path safety (SECURITY HTTP-17)


@pytest.mark.parametrize(
    "segment",
    [
        b"..",
        b".",
        b"../etc",
        b"..%2f",
        b"a/../../etc",
        b"..\\..\\etc",
        b"a\\b",
        b"/etc",
    ],
)
async def test_HTTP_17_dangerousSegments(site: Path, segment: bytes) -> None:
    """
    A decoded segment that is a dot segment or contains a separator is a
    404, whatever is on disk.
    """
    (site / "a").mkdir()
    root = File(str(site / "sub"))
    request = DummyRequest([segment])
    body = await render(getChildForRequest(root, request), request)
    assert request.code == 404
    assert b"index" not in body


async def test_HTTP_17_parentDirectory(site: Path) -> None:
    """
    ``..`` never reaches the parent, whether alone or after other segments.
    """
    root = File(str(site / "sub"))
    for segments in ([b"..", b"hello.txt"], [b"other.txt", b"..", b"..", b"hello.txt"]):
        request = DummyRequest(segments)
        body = await render(getChildForRequest(root, request), request)
        assert request.code == 404
        assert b"hello, world" not in body


async def test_HTTP_17_nul(site: Path) -> None:
    """
    A NUL byte in a segment is a 400.
    """
    request = DummyRequest([b"hello.txt\x00.png"])
    await render(getChildForRequest(File(str(site)), request), request)
    assert request.code == 400


async def test_HTTP_17_symlinkOutside(site: Path, tmp_path_factory: Any) -> None:
    """
    A link below the root pointing outside it is refused unless
    ``allowSymlinksOutside``; links inside the root are followed.
    """
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_bytes(b"secret")
    root = site / "sub"
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "leakdir").symlink_to(outside)
    (root / "inside.txt").symlink_to(root / "other.txt")
    (root / "up.txt").symlink_to(site / "hello.txt")
    for path in ("/leak.txt", "/leakdir/secret.txt", "/up.txt"):
        request, body = await _get(File(str(root)), path)
        assert request.code == 404, path
        assert b"secret" not in body and b"hello" not in body
    request, body = await _get(File(str(root)), "/inside.txt")
    assert body == b"other"
    permissive = File(str(root), allowSymlinksOutside=True)
    _, body = await _get(permissive, "/leakdir/secret.txt")
    assert body == b"secret"
    _, body = await _get(permissive, "/leak.txt")
    assert body == b"secret"


async def test_HTTP_17_rootIsSymlink(site: Path, tmp_path_factory: Any) -> None:
    """
    A root given as a link is resolved once: files below it are served.
    """
    link = tmp_path_factory.mktemp("links") / "www"
    link.symlink_to(site)
    _, body = await _get(File(str(link)), "/sub/other.txt")
    assert body == b"other"


async def test_HTTP_17_indexSymlinkOutside(site: Path, tmp_path_factory: Any) -> None:
    """
    An index file that links outside the root is not served.
    """
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.html").write_bytes(b"secret")
    (site / "nolisting" / "index.html").symlink_to(outside / "secret.html")
    request, body = await _get(File(str(site)), "/nolisting/")
    assert b"secret" not in body
    assert request.code == 404


async def test_fifoRefused(site: Path) -> None:
    """
    A FIFO is not opened for reading in a way that blocks, and is refused.
    """
    os.mkfifo(site / "pipe")
    request, _ = await _get(File(str(site)), "/pipe")
    assert request.code == 403


async def test_unreadable(site: Path) -> None:
    """
    A file that cannot be opened for permission reasons is a 403.
    """
    root = File(str(site))

    def denied() -> Any:
        raise PermissionError(13, "Permission denied")

    child = root.getChildWithDefault(b"hello.txt", _request("/hello.txt"))
    assert isinstance(child, File)
    child.openForReading = denied  # type: ignore[method-assign]
    request = _request("/hello.txt")
    await render(child, request)
    assert request.code == 403


# Conditional requests


async def test_ifNoneMatch(site: Path) -> None:
    """
    A matching ``If-None-Match`` gets 304 with no body; a list, weak tags
    and ``*`` match too; another tag gets the file.
    """
    root = File(str(site))
    request, _ = await _get(root, "/hello.txt")
    etag = _h(request, "etag")
    assert etag is not None
    for value in (etag, b'"other", ' + etag, b"W/" + etag, b"*"):
        request, body = await _get(root, "/hello.txt", if_none_match=value.decode())
        assert request.code == 304, value
        assert body == b""
        assert _h(request, "etag") == etag
    request, body = await _get(root, "/hello.txt", if_none_match='"nope"')
    assert request.code == 200 and body == b"hello, world\n"


async def test_ifNoneMatchBeatsIfModifiedSince(site: Path) -> None:
    """
    When ``If-None-Match`` is present, ``If-Modified-Since`` is ignored.
    """
    request, _ = await _get(
        File(str(site)),
        "/hello.txt",
        if_none_match='"nope"',
        if_modified_since=email.utils.formatdate(2**31, usegmt=True),
    )
    assert request.code == 200


async def test_ifModifiedSince(site: Path) -> None:
    """
    ``If-Modified-Since`` at or after the modification time gets 304;
    before it, the file; an unparsable date is ignored.
    """
    mtime = int(os.stat(site / "hello.txt").st_mtime)
    root = File(str(site))
    for when, code in ((mtime, 304), (mtime + 10, 304), (mtime - 1, 200)):
        request, _ = await _get(
            root,
            "/hello.txt",
            if_modified_since=email.utils.formatdate(when, usegmt=True),
        )
        assert request.code == code
    request, _ = await _get(root, "/hello.txt", if_modified_since="yesterday")
    assert request.code == 200


async def test_ifMatch(site: Path) -> None:
    """
    ``If-Match`` with another (or weak) tag fails with 412; the current tag
    or ``*`` passes.
    """
    root = File(str(site))
    request, _ = await _get(root, "/hello.txt")
    etag = _h(request, "etag")
    assert etag is not None
    request, _ = await _get(root, "/hello.txt", if_match='"nope"')
    assert request.code == 412
    request, _ = await _get(root, "/hello.txt", if_match="W/" + etag.decode())
    assert request.code == 412
    for value in (etag.decode(), "*"):
        request, body = await _get(root, "/hello.txt", if_match=value)
        assert request.code == 200 and body == b"hello, world\n"


async def test_ifUnmodifiedSince(site: Path) -> None:
    """
    ``If-Unmodified-Since`` before the modification time fails with 412.
    """
    mtime = int(os.stat(site / "hello.txt").st_mtime)
    root = File(str(site))
    request, _ = await _get(
        root,
        "/hello.txt",
        if_unmodified_since=email.utils.formatdate(mtime - 5, usegmt=True),
    )
    assert request.code == 412
    request, _ = await _get(
        root,
        "/hello.txt",
        if_unmodified_since=email.utils.formatdate(mtime, usegmt=True),
    )
    assert request.code == 200


# Ranges


@pytest.mark.parametrize(
    "header, expected, contentRange",
    [
        ("bytes=0-99", (0, 100), b"bytes 0-99/1024"),
        ("bytes=1000-", (1000, 24), b"bytes 1000-1023/1024"),
        ("bytes=-24", (1000, 24), b"bytes 1000-1023/1024"),
        ("bytes=-5000", (0, 1024), b"bytes 0-1023/1024"),
        ("bytes=1000-99999", (1000, 24), b"bytes 1000-1023/1024"),
        ("bytes=5-5", (5, 1), b"bytes 5-5/1024"),
        ("BYTES = 5-5", (5, 1), b"bytes 5-5/1024"),
        ("bytes=2000-3000, 10-19", (10, 10), b"bytes 10-19/1024"),
        ("bytes=0-9,5-14,12-19", (0, 20), b"bytes 0-19/1024"),
    ],
)
async def test_singleRange(
    site: Path, header: str, expected: tuple[int, int], contentRange: bytes
) -> None:
    """
    One satisfiable range (or several that merge into one) gets 206 with
    ``Content-Range`` and exactly those bytes.
    """
    data = (site / "data.bin").read_bytes()
    request, body = await _get(File(str(site)), "/data.bin", range=header)
    assert request.code == 206
    offset, length = expected
    assert body == data[offset : offset + length]
    assert _h(request, "content-range") == contentRange
    assert _h(request, "content-length") == b"%d" % length


def _parts(request: DummyRequest, body: bytes) -> list[tuple[bytes, bytes, bytes]]:
    contentType = _h(request, "content-type")
    assert contentType is not None
    assert contentType.startswith(b"multipart/byteranges; boundary=")
    assert _h(request, "content-length") == b"%d" % len(body)
    message = email.message_from_bytes(
        b"Content-Type: " + contentType + b"\r\n\r\n" + body,
        policy=email.policy.HTTP,
    )
    assert message.is_multipart()
    result = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        result.append(
            (part["content-type"].encode(), part["content-range"].encode(), payload)
        )
    return result


async def test_multipleRanges(site: Path) -> None:
    """
    Several ranges get a ``multipart/byteranges`` body, in the order asked,
    each part with its type and range.
    """
    data = (site / "data.bin").read_bytes()
    request, body = await _get(
        File(str(site)), "/data.bin", range="bytes=500-509,0-4,-3"
    )
    assert request.code == 206
    assert _parts(request, body) == [
        (b"application/octet-stream", b"bytes 500-509/1024", data[500:510]),
        (b"application/octet-stream", b"bytes 0-4/1024", data[0:5]),
        (b"application/octet-stream", b"bytes 1021-1023/1024", data[1021:]),
    ]
    assert body.endswith(b"--\r\n")


async def test_multipleRangesHead(site: Path) -> None:
    """
    HEAD with several ranges gets the GET's headers and no body.
    """
    _, body = await _get(File(str(site)), "/data.bin", range="bytes=0-1,5-6")
    head, nothing = await _get(
        File(str(site)), "/data.bin", b"HEAD", range="bytes=0-1,5-6"
    )
    assert head.code == 206 and nothing == b""
    assert _h(head, "content-length") == b"%d" % len(body)


async def test_overlappingRangesMerged(site: Path) -> None:
    """
    Overlapping ranges are merged, so a request cannot make the response
    larger than the file by repeating ranges.
    """
    header = "bytes=" + ",".join(["0-"] * 50 + ["100-200", "150-300", "900-950"])
    request, body = await _get(File(str(site)), "/data.bin", range=header)
    assert request.code == 206
    assert _h(request, "content-range") == b"bytes 0-1023/1024"
    assert len(body) == 1024
    request, body = await _get(
        File(str(site)), "/data.bin", range="bytes=100-200,150-300,900-950"
    )
    parts = _parts(request, body)
    assert [p[1] for p in parts] == [b"bytes 100-300/1024", b"bytes 900-950/1024"]


async def test_rangeLimitBoundary(site: Path) -> None:
    """
    ``maxRanges`` ranges are served as ranges; one more gets the whole file
    with 200.
    """
    root = File(str(site))
    specs = [f"{i * 10}-{i * 10 + 1}" for i in range(root.maxRanges + 1)]
    request, body = await _get(root, "/data.bin", range="bytes=" + ",".join(specs[:-1]))
    assert request.code == 206
    assert len(_parts(request, body)) == root.maxRanges
    request, body = await _get(root, "/data.bin", range="bytes=" + ",".join(specs))
    assert request.code == 200
    assert len(body) == 1024
    root.maxRanges = 2
    request, _ = await _get(root, "/data.bin", range="bytes=0-1,3-4,6-7")
    assert request.code == 200


@pytest.mark.parametrize(
    "header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0", "bytes=2000-,3000-3001"]
)
async def test_unsatisfiableRange(site: Path, header: str) -> None:
    """
    A range set with no satisfiable range gets 416 with
    ``Content-Range: bytes */size``.
    """
    request, body = await _get(File(str(site)), "/data.bin", range=header)
    assert request.code == 416
    assert _h(request, "content-range") == b"bytes */1024"
    assert body == b""


async def test_rangeOfEmptyFile(site: Path) -> None:
    """
    Any range of an empty file is unsatisfiable.
    """
    request, _ = await _get(File(str(site)), "/empty.txt", range="bytes=-10")
    assert request.code == 416
    assert _h(request, "content-range") == b"bytes */0"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=5-1",
        "bytes=abc",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=0x10-20",
        "items=0-5",
        "bytes",
        "bytes=",
        "bytes=" + "9" * 30 + "-",
        "bytes=1 2-3",
    ],
)
async def test_malformedRangeIgnored(site: Path, header: str) -> None:
    """
    A malformed ``Range`` is ignored: the whole file, 200.
    """
    request, body = await _get(File(str(site)), "/data.bin", range=header)
    assert request.code == 200
    assert len(body) == 1024


async def test_ifRange(site: Path) -> None:
    """
    ``If-Range`` with the current ETag or exact date allows the range;
    anything else sends the whole file.
    """
    root = File(str(site))
    request, _ = await _get(root, "/data.bin")
    etag = _h(request, "etag")
    lastModified = _h(request, "last-modified")
    assert etag is not None and lastModified is not None
    for value, code in (
        (etag.decode(), 206),
        (lastModified.decode(), 206),
        ('"stale"', 200),
        ("W/" + etag.decode(), 200),
        (email.utils.formatdate(1, usegmt=True), 200),
        ("garbage", 200),
    ):
        request, _ = await _get(root, "/data.bin", range="bytes=0-0", if_range=value)
        assert request.code == code, value


def test_parseRange() -> None:
    """
    The parser keeps suffix and open ranges apart and rejects bad syntax.
    """
    assert static._parseRange(b"bytes=0-1, -5 ,7-, ") == [(0, 1), (None, 5), (7, None)]
    assert static._parseRange(b"bytes=1-0") is None
    assert static._parseRange(b"bytes=,") is None


# Streaming


class _RecordingFile:
    """
    A file wrapper that records the size of every read.
    """

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.reads: list[int] = []
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        self.reads.append(n)
        return self._f.read(n)

    def seek(self, offset: int) -> int:
        return self._f.seek(offset)

    def fileno(self) -> int:
        return self._f.fileno()

    def close(self) -> None:
        self.closed = True
        self._f.close()


class _PullRequest(DummyRequest):
    """
    A request that, like a real connection, asks a pull producer for data
    only when the test says the client has read the last chunk.
    """

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        assert not streaming
        self.producer = producer
        self.streamingProducer = streaming


async def test_bigFileStreamedInBoundedChunks(site: Path) -> None:
    """
    A file many times ``bufferSize`` is sent in chunks of at most
    ``bufferSize`` bytes, one per time the client is ready, and the file is
    closed at the end.
    """
    bufferSize = 4096
    size = bufferSize * 50 + 123
    payload = os.urandom(size)
    (site / "big.bin").write_bytes(payload)
    root = File(str(site))
    root.bufferSize = bufferSize
    request = _PullRequest([b"big.bin"])
    child = getChildForRequest(root, request)
    assert isinstance(child, File)
    opened: list[_RecordingFile] = []
    original = child.openForReading

    def openForReading() -> Any:
        opened.append(_RecordingFile(original()))
        return opened[0]

    child.openForReading = openForReading  # type: ignore[method-assign]
    assert child.render(request) is NOT_DONE_YET
    assert request.written == []
    producer = request.producer
    assert producer is not None
    chunks = 0
    while request.producer is not None:
        before = len(request.written)
        producer.resumeProducing()
        chunks += 1
        # One chunk per pull: nothing is read ahead of the client.
        assert len(request.written) - before <= 1
    assert request.finished == 1
    assert b"".join(request.written) == payload
    assert max(len(w) for w in request.written) <= bufferSize
    assert max(opened[0].reads) <= bufferSize
    assert chunks == -(-size // bufferSize)
    assert opened[0].closed
    assert _h(request, "content-length") == b"%d" % size


async def test_rangeStreamedInBoundedChunks(site: Path) -> None:
    """
    Single and multiple ranges are streamed in bounded chunks too.
    """
    payload = os.urandom(100_000)
    (site / "big.bin").write_bytes(payload)
    root = File(str(site))
    root.bufferSize = 1000
    request, body = await _get(root, "/big.bin", range="bytes=10-50009")
    assert body == payload[10:50010]
    assert max(len(w) for w in request.written) <= 1000
    request, body = await _get(root, "/big.bin", range="bytes=0-29999,60000-")
    parts = _parts(request, body)
    assert [p[2] for p in parts] == [payload[:30000], payload[60000:]]
    assert max(len(w) for w in request.written) <= 1000 + 200


def _sendingBigFile(site: Path) -> tuple[_PullRequest, Any]:
    """
    Start sending a 10,000-byte file in 1,000-byte chunks; the first chunk
    is written.

    :return: the request and the file's producer.
    """
    (site / "big.bin").write_bytes(b"x" * 10_000)
    root = File(str(site))
    root.bufferSize = 1000
    request = _PullRequest([b"big.bin"])
    child = getChildForRequest(root, request)
    child.render(request)
    producer = request.producer
    producer.resumeProducing()
    return request, producer


async def test_clientGoneClosesFile(site: Path) -> None:
    """
    When the client goes away mid-file, the producer stops and the file is
    closed.
    """
    request, producer = _sendingBigFile(site)
    fileObject = producer.fileObject
    request.loseConnection()
    assert fileObject.closed
    assert producer.request is None
    producer.resumeProducing()
    assert len(request.written) == 1


async def test_fileShrinksWhileSending(site: Path) -> None:
    """
    If the file gets shorter than the ``Content-Length`` already sent, the
    connection is cut rather than the response finished short.
    """
    request, producer = _sendingBigFile(site)
    os.truncate(site / "big.bin", 1500)
    producer.resumeProducing()
    producer.resumeProducing()
    assert request.finished == 0
    assert request._lost is not None
    assert producer.fileObject.closed


# Data and helpers


async def test_data() -> None:
    """
    Data serves its bytes with its type; HEAD gets the length only.
    """
    resource = Data(b"robots", "text/plain")
    request = _request("/")
    assert await render(resource, request) == b"robots"
    assert _h(request, "content-type") == b"text/plain"
    request = _request("/", b"HEAD")
    assert await render(resource, request) == b""
    assert _h(request, "content-length") == b"6"
    request = _request("/", b"POST")
    await render(resource, request)
    assert request.code == 405
    with pytest.raises(TypeError):
        Data("text", "text/plain")  # type: ignore[arg-type]


def test_getTypeAndEncoding() -> None:
    """
    Types come from the extension, after an encoding extension.
    """
    types = {".tar": "application/x-tar", ".html": "text/html"}
    encodings = {".gz": "gzip"}
    assert static.getTypeAndEncoding("a.tar.gz", types, encodings, "x/y") == (
        "application/x-tar",
        "gzip",
    )
    assert static.getTypeAndEncoding("A.HTML", types, encodings, "x/y") == (
        "text/html",
        None,
    )
    assert static.getTypeAndEncoding("noext", types, encodings, "x/y") == ("x/y", None)


def test_loadMimeTypes(tmp_path: Path) -> None:
    """
    The table has common and modern types, and reads extra files.
    """
    types = static.loadMimeTypes()
    assert types[".html"] == "text/html"
    assert types[".css"] == "text/css"
    assert types[".woff2"] == "font/woff2"
    extra = tmp_path / "mime.types"
    extra.write_text("application/x-torsion-test  tortest\n")
    assert (
        static.loadMimeTypes([str(extra)])[".tortest"] == "application/x-torsion-test"
    )


def test_formatFileSize() -> None:
    """
    Sizes are shown in B, K, M or G.
    """
    assert static.formatFileSize(0) == "0B"
    assert static.formatFileSize(1023) == "1023B"
    assert static.formatFileSize(2048) == "2K"
    assert static.formatFileSize(3 * 1024**2) == "3M"
    assert static.formatFileSize(5 * 1024**3) == "5G"


def test_isDangerous() -> None:
    """
    Dot segments and separators are dangerous; ordinary names are not.
    """
    for segment in (b"..", b".", b"a/b", b"a\\b", b"a\x00"):
        assert static.isDangerous(segment)
    for segment in (b"...", b"..a", b"a..", b".hidden", b"file.txt"):
        assert not static.isDangerous(segment)


# The same traversal attempts through the real HTTP/1.1 channel over a memory
# transport: fed all at once, one byte per read, and split at every position.

_TRAVERSALS = [
    b"/..%2fsecret.txt",
    b"/%2e%2e/secret.txt",
    b"/..%5csecret.txt",
    b"/sub/../../secret.txt",
    b"/a%00.txt",
]


def _channelAnswer(root: Any, pieces: list[bytes]) -> bytes:
    from torsion.internet.address import IPv4Address
    from torsion.internet.testing import MemoryReactorClock, StringTransport
    from torsion.web.server import Site

    site = Site(root, reactor=MemoryReactorClock())
    site.log = lambda request: None  # type: ignore[method-assign]
    transport = StringTransport(hostAddress=IPv4Address("TCP", "127.0.0.1", 80))
    channel = site.buildProtocol(None)
    channel.makeConnection(transport)
    for piece in pieces:
        channel.dataReceived(piece)
    return transport.value()


@pytest.mark.parametrize("target", _TRAVERSALS)
def test_HTTP_17_feedThreeWays(tmp_path: Path, target: bytes) -> None:
    """
    However the request line is split across reads, a traversal attempt is
    refused the same way and never reaches the file beside the root.
    """
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET")
    root = File(str(www))
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    whole = _channelAnswer(root, [request])
    status = whole.split(b"\r\n", 1)[0]
    expected = b"HTTP/1.1 400" if b"%00" in target else b"HTTP/1.1 404"
    assert status.startswith(expected), status
    assert b"TOP SECRET" not in whole
    bytewise = _channelAnswer(root, [request[i : i + 1] for i in range(len(request))])
    assert bytewise.split(b"\r\n", 1)[0] == status
    assert b"TOP SECRET" not in bytewise
    for i in range(1, len(request)):
        answer = _channelAnswer(root, [request[:i], request[i:]])
        assert answer.split(b"\r\n", 1)[0] == status, i
        assert b"TOP SECRET" not in answer
