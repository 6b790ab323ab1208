"""
The exceptions of torsion-web in one place, where a Twisted user looks for
them (``twisted.web.error`` is ``torsion.web.error``).

``Error`` and ``PageRedirect`` are defined here; the others live with the
code that raises them and are re-exported here on first use, so importing
this module stays cheap and creates no import cycle:

- from ``torsion.web.resource``: ``UnsupportedMethod``;
- from ``torsion.web.client``: ``SchemeNotSupported``,
  ``RedirectWithNoLocation``, ``InfiniteRedirection``;
- from ``torsion.web.template``: ``FlattenerError``, ``UnsupportedType``,
  ``UnfilledSlot``, ``MissingRenderMethod``, ``MissingTemplateLoader``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Error", "PageRedirect"]

_ELSEWHERE = {
    "UnsupportedMethod": "torsion.web.resource",
    "SchemeNotSupported": "torsion.web.client",
    "RedirectWithNoLocation": "torsion.web.client",
    "InfiniteRedirection": "torsion.web.client",
    "FlattenerError": "torsion.web.template",
    "UnsupportedType": "torsion.web.template",
    "UnfilledSlot": "torsion.web.template",
    "MissingRenderMethod": "torsion.web.template",
    "MissingTemplateLoader": "torsion.web.template",
}


class Error(Exception):
    """
    An HTTP error: a status code, with an optional message and response
    body.

    :param code: the status code, as ``bytes`` (``b"404"``) or ``int``.
    :param message: the reason phrase; the standard one for ``code`` when
        not given.
    :param response: the response body, if any.
    """

    def __init__(
        self,
        code: bytes | int,
        message: bytes | None = None,
        response: bytes | None = None,
    ) -> None:
        self.status: bytes = (
            str(code).encode("ascii") if isinstance(code, int) else code
        )
        if message is None:
            from torsion.web.http import RESPONSES

            try:
                message = RESPONSES.get(int(self.status))
            except ValueError:
                message = None
        self.message = message
        self.response = response
        super().__init__(self.status, message, response)

    def __str__(self) -> str:
        status = self.status.decode("ascii", "replace")
        if self.message:
            return f"{status} {self.message.decode('ascii', 'replace')}"
        return status


class PageRedirect(Error):
    """
    A redirect answer (3xx) met where a page was expected.

    :param location: where the redirect points, if known.
    """

    def __init__(
        self,
        code: bytes | int,
        message: bytes | None = None,
        response: bytes | None = None,
        location: bytes | None = None,
    ) -> None:
        super().__init__(code, message, response)
        self.location = location

    def __str__(self) -> str:
        text = super().__str__()
        if self.location:
            return f"{text} to {self.location.decode('ascii', 'replace')}"
        return text


def __getattr__(name: str) -> Any:
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
