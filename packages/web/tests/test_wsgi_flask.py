"""
A real Flask application behind ``WSGIResource`` in a ``Site``, over real
sockets, fetched with ``requests``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from flask import Flask, Response, jsonify, redirect, request, url_for
from webhelpers import inThread, listen

from torsion.trial.unittest import TestCase
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.wsgi import WSGIResource

_View = TypeVar("_View", bound=Callable[..., Any])


def route(app: Flask, rule: str, **options: Any) -> Callable[[_View], _View]:
    """
    ``app.route(rule, **options)``, typed: a view keeps its own signature
    (Flask may be seen without its type information).
    """
    decorator: Callable[[_View], _View] = app.route(rule, **options)
    return decorator


def makeApp() -> Flask:
    app = Flask("torsion_wsgi_test")

    @route(app, "/")
    def index() -> str:
        return "hello from flask"

    @route(app, "/items/<int:item>")
    def item(item: int) -> Any:
        return jsonify(
            item=item,
            scriptRoot=request.script_root,
            path=request.path,
            query=request.args.to_dict(),
            thread=threading.current_thread().name,
        )

    @route(app, "/form", methods=["POST"])
    def form() -> Any:
        return jsonify(
            fields=request.form.to_dict(),
            upload=(
                request.files["upload"].read().decode()
                if "upload" in request.files
                else None
            ),
        )

    @route(app, "/json", methods=["PUT"])
    def putJSON() -> Any:
        data = request.get_json()
        return jsonify(received=data, length=request.content_length), 201

    @route(app, "/stream")
    def stream() -> Response:
        def generate() -> Iterator[bytes]:
            for i in range(100):
                yield b"line %d\n" % i

        return Response(generate(), mimetype="text/plain")

    @route(app, "/error")
    def fail() -> str:
        raise ZeroDivisionError("flask view failed")

    @route(app, "/redirect")
    def goHome() -> Any:
        return redirect(url_for("index"))

    return app


class FlaskTests(TestCase):
    """
    Flask mounted at ``/app`` of a ``Site``.
    """

    async def fetch(self, method: str, path: str, **kwargs: Any) -> Any:
        from torsion.internet import reactor

        root = Resource()
        root.putChild(b"app", WSGIResource(reactor, reactor.getThreadPool(), makeApp()))
        port = listen(reactor, Site(root, reactor=reactor))
        try:
            url = f"http://127.0.0.1:{port.getHost().port}{path}"
            return await inThread(requests.request, method, url, timeout=30, **kwargs)
        finally:
            await port.stopListening()

    async def test_get(self) -> None:
        """
        A plain route answers with Flask's response.
        """
        response = await self.fetch("GET", "/app/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.text, "hello from flask")
        self.assertEqual(response.headers["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(response.headers["Content-Length"], "16")

    async def test_routeAndScriptName(self) -> None:
        """
        The resource's position is Flask's script root; the rest is the
        route; the application runs outside the reactor thread.
        """
        response = await self.fetch("GET", "/app/items/42?x=1&y=two")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["item"], 42)
        self.assertEqual(body["scriptRoot"], "/app")
        self.assertEqual(body["path"], "/items/42")
        self.assertEqual(body["query"], {"x": "1", "y": "two"})
        self.assertNotEqual(body["thread"], threading.current_thread().name)

    async def test_formPost(self) -> None:
        """
        URL-encoded and multipart forms reach Flask.
        """
        response = await self.fetch(
            "POST", "/app/form", data={"name": "caf\u00e9 torsion", "n": "1"}
        )
        self.assertEqual(
            response.json()["fields"], {"name": "caf\u00e9 torsion", "n": "1"}
        )
        response = await self.fetch(
            "POST",
            "/app/form",
            data={"a": "b"},
            files={"upload": ("u.txt", b"file body")},
        )
        self.assertEqual(response.json(), {"fields": {"a": "b"}, "upload": "file body"})

    async def test_json(self) -> None:
        """
        A JSON body in and out, with the application's status.
        """
        response = await self.fetch("PUT", "/app/json", json={"k": [1, 2, 3]})
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json(), {"received": {"k": [1, 2, 3]}, "length": 16})

    async def test_streaming(self) -> None:
        """
        A generator response is streamed (chunked, no Content-Length).
        """
        response = await self.fetch("GET", "/app/stream")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.text, "".join(f"line {i}\n" for i in range(100)))
        self.assertEqual(response.headers.get("Transfer-Encoding"), "chunked")

    async def test_error(self) -> None:
        """
        An exception in a view is Flask's own 500 (Flask catches it and
        logs it to ``wsgi.errors``).
        """
        response = await self.fetch("GET", "/app/error")
        self.assertEqual(response.status_code, 500)
        self.assertIn("Internal Server Error", response.text)
        self.flushLoggedErrors()

    async def test_notFound(self) -> None:
        """
        Unknown routes are Flask's 404; redirects are Flask's too.
        """
        response = await self.fetch("GET", "/app/nope")
        self.assertEqual(response.status_code, 404)
        response = await self.fetch("GET", "/app/redirect", allow_redirects=False)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.headers["Location"], "/app/")

    async def test_head(self) -> None:
        """
        ``HEAD`` gets the headers without the body.
        """
        response = await self.fetch("HEAD", "/app/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, b"")
        self.assertEqual(response.headers["Content-Length"], "16")
