"""
Tests for ``torsion.python.urlpath``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.python.urlpath import URLPath

URL = "http://example.com:8080/foo/bar?yes=no&no=yes#footer"


def test_parts() -> None:
    path = URLPath.fromString(URL)
    assert path.scheme == b"http"
    assert path.netloc == b"example.com:8080"
    assert path.path == b"/foo/bar"
    assert path.query == b"yes=no&no=yes"
    assert path.fragment == b"footer"
    assert str(path) == URL
    assert bytes(path) == URL.encode()
    assert URLPath.fromBytes(URL.encode()) == path
    assert hash(URLPath.fromBytes(URL.encode())) == hash(path)


def test_defaults() -> None:
    path = URLPath()
    assert str(path) == "http://localhost/"
    assert str(URLPath.fromString("https://example.com")) == "https://example.com/"


def test_wrongTypes() -> None:
    with pytest.raises(ValueError):
        URLPath.fromString(b"http://x/")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        URLPath.fromBytes("http://x/")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        URLPath(path=1)  # type: ignore[arg-type]


def test_nonAsciiIsEncoded() -> None:
    path = URLPath.fromString("http://example.com/caf\u00e9 x")
    assert path.path == b"/caf%C3%A9%20x"
    assert path.pathList(unquote=True) == [b"", "caf\u00e9 x".encode()]


def test_pathList() -> None:
    path = URLPath.fromString(URL)
    assert path.pathList() == [b"", b"foo", b"bar"]
    assert URLPath.fromString("http://x/a%20b/").pathList(unquote=True) == [
        b"",
        b"a b",
        b"",
    ]


@pytest.mark.parametrize(
    ("method", "args", "expected"),
    [
        ("child", (b"c",), "http://example.com:8080/foo/bar/c"),
        ("child", (b"c", True), "http://example.com:8080/foo/bar/c?yes=no&no=yes"),
        ("sibling", (b"c",), "http://example.com:8080/foo/c"),
        ("sibling", (b"c", True), "http://example.com:8080/foo/c?yes=no&no=yes"),
        ("parent", (), "http://example.com:8080/"),
        ("here", (), "http://example.com:8080/foo/"),
        ("here", (True,), "http://example.com:8080/foo/?yes=no&no=yes"),
    ],
)
def test_derived(method: str, args: tuple[Any, ...], expected: str) -> None:
    assert str(getattr(URLPath.fromString(URL), method)(*args)) == expected


def test_directoryURLs() -> None:
    directory = URLPath.fromString("http://x/a/b/")
    assert str(directory.child(b"c")) == "http://x/a/b/c"
    assert str(directory.here()) == "http://x/a/b/"
    assert str(directory.parent()) == "http://x/a/"
    assert str(URLPath.fromString("http://x/a/b/c").parent()) == "http://x/a/"
    assert str(URLPath.fromString("http://x/").parent()) == "http://x/"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("baz", "http://example.com:8080/foo/baz"),
        ("../baz", "http://example.com:8080/baz"),
        ("/abs?q=1", "http://example.com:8080/abs?q=1"),
        ("?q=2", "http://example.com:8080/foo/bar?q=2"),
        ("https://other.org/x", "https://other.org/x"),
        (b"./", "http://example.com:8080/foo/"),
    ],
)
def test_click(link: str | bytes, expected: str) -> None:
    assert str(URLPath.fromString(URL).click(link)) == expected


class FakeRequest:
    def __init__(self, secure: bool, port: int) -> None:
        self.secure = secure
        self.port = port
        self.uri = b"/a/b?c=d"

    def isSecure(self) -> bool:
        return self.secure

    def getRequestHostname(self) -> bytes:
        return b"example.com"

    def getHost(self) -> Any:
        return type("Address", (), {"port": self.port})()


def test_fromRequest() -> None:
    assert str(URLPath.fromRequest(FakeRequest(False, 80))) == (
        "http://example.com/a/b?c=d"
    )
    assert str(URLPath.fromRequest(FakeRequest(True, 8443))) == (
        "https://example.com:8443/a/b?c=d"
    )


def test_fromRequestPrePathURL() -> None:
    class Served(FakeRequest):
        def prePathURL(self) -> bytes:
            return b"http://example.com/a"

    assert str(URLPath.fromRequest(Served(False, 80)).child(b"x")) == (
        "http://example.com/a/x"
    )


@given(st.lists(st.text(alphabet="abcXYZ09-._~", min_size=1, max_size=8), max_size=6))
def test_childRoundTrip(segments: list[str]) -> None:
    path = URLPath.fromString("http://example.com/")
    for segment in segments:
        path = path.child(segment.encode())
    assert path.pathList()[1:] == ([s.encode() for s in segments] or [b""])
    assert URLPath.fromString(str(path)) == path
