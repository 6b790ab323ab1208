"""
``torsion.web.error``: where a Twisted user finds torsion-web's exceptions.
"""

from __future__ import annotations

import pytest

from torsion.web import client, error, resource, template


def test_errorStatusAndStandardPhrase() -> None:
    e = error.Error(404)
    assert e.status == b"404"
    assert e.message == b"Not Found"
    assert str(e) == "404 Not Found"


def test_errorKeepsGivenMessageAndBody() -> None:
    e = error.Error(b"500", b"Broken", b"<html>body</html>")
    assert (e.status, e.message, e.response) == (
        b"500",
        b"Broken",
        b"<html>body</html>",
    )


def test_pageRedirectNamesLocation() -> None:
    e = error.PageRedirect(302, location=b"/elsewhere")
    assert isinstance(e, error.Error)
    assert str(e) == "302 Found to /elsewhere"


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("UnsupportedMethod", resource),
        ("SchemeNotSupported", client),
        ("RedirectWithNoLocation", client),
        ("InfiniteRedirection", client),
        ("FlattenerError", template),
        ("UnsupportedType", template),
        ("UnfilledSlot", template),
        ("MissingRenderMethod", template),
        ("MissingTemplateLoader", template),
    ],
)
def test_reExportsTheSameClasses(name: str, module: object) -> None:
    assert getattr(error, name) is getattr(module, name)


def test_unknownNameIsAnAttributeError() -> None:
    with pytest.raises(AttributeError, match="NoSuchError"):
        error.NoSuchError  # noqa: B018
