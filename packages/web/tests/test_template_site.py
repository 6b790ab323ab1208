"""
renderElement over a real Site and loopback socket, read by a real HTTP
client (``http.client``) running in a thread.
"""

from __future__ import annotations

import http.client
from typing import Any

from webhelpers import inThread, listen

from torsion.internet.defer import Deferred
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.template import (
    TEMPLATE_NAMESPACE,
    Element,
    Tag,
    XMLString,
    renderElement,
    renderer,
)


class Listing(Element):
    loader = XMLString(
        f'<html xmlns:t="{TEMPLATE_NAMESPACE}"><body><ul>'
        '<li t:render="items"><a><t:attr name="href">/item/<t:slot name="id" />'
        '</t:attr><t:slot name="name" /></a></li></ul></body></html>'
    )

    def __init__(self, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor

    @renderer
    async def items(self, request: object, tag: Tag) -> list[Tag]:
        # A renderer that waits on the reactor, as one querying a database
        # would.
        d: Deferred[None] = Deferred()
        self.reactor.callLater(0, d.callback, None)
        await d
        return [
            tag.clone().fillSlots(id=str(i), name=f"<item {i}>") for i in range(500)
        ]


class Page(Resource):
    isLeaf = True

    def __init__(self, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor

    def render_GET(self, request: Any) -> Any:
        return renderElement(request, Listing(self.reactor))


def fetch(port: int) -> tuple[int, str | None, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


async def test_renderElementOverASite(reactor: Any) -> None:
    port = listen(reactor, Site(Page(reactor)))
    try:
        status, contentType, body = await inThread(fetch, port.getHost().port)
    finally:
        await port.stopListening()
    assert status == 200
    assert contentType == "text/html; charset=utf-8"
    expected = b"".join(
        b'<li><a href="/item/%d">&lt;item %d&gt;</a></li>' % (i, i) for i in range(500)
    )
    assert body == (
        b"<!DOCTYPE html>\n<html><body><ul>" + expected + b"</ul></body></html>"
    )
