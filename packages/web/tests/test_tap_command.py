"""
The real ``torsion web`` command, run as a subprocess (``python -m torsion
web ...``): the URL it prints is fetched with ``requests`` or curl.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import subprocess
import textwrap
from pathlib import Path

from taphelpers import WebCommand, fetch, runWeb
from webhelpers import requireCommand

SITE = Path(__file__).parent / "site"


def test_path(tmp_path: Path) -> None:
    """
    ``--path`` serves a directory: files with their types, the index, a
    listing for a directory without one, 404 for what is missing; the URL
    printed has the port actually bound.
    """
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("file a")
    (tmp_path / "index.html").write_text("<p>home</p>")
    with WebCommand(
        "--listen", "tcp:0:interface=127.0.0.1", "--path", str(tmp_path)
    ) as web:
        (url,) = web.urls()
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*/", url)
        home = fetch("GET", url)
        text = fetch("GET", url + "sub/a.txt")
        listing = fetch("GET", url + "sub/")
        missing = fetch("GET", url + "nope")
    assert home.text == "<p>home</p>"
    assert home.headers["Content-Type"].startswith("text/html")
    assert text.text == "file a"
    assert text.headers["Content-Type"].startswith("text/plain")
    assert "a.txt" in listing.text
    assert missing.status_code == 404


def test_indexAndIgnoreExt(tmp_path: Path) -> None:
    """
    ``--index`` names the index files; ``--ignore-ext`` lets a request
    leave out an extension.
    """
    (tmp_path / "start.txt").write_text("custom index")
    (tmp_path / "about.html").write_text("about page")
    with WebCommand(
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--path",
        str(tmp_path),
        "--index",
        "start.txt",
        "--ignore-ext",
        ".html",
    ) as web:
        (url,) = web.urls()
        index = fetch("GET", url)
        about = fetch("GET", url + "about")
    assert index.text == "custom index"
    assert about.text == "about page"


FLASK_APP = """
from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "flask says hi"


@app.route("/echo", methods=["POST"])
def echo():
    return jsonify(form=request.form.to_dict(), scheme=request.scheme)


@app.route("/stream")
def stream():
    return Response((b"%d," % i for i in range(50)), mimetype="text/plain")


@app.route("/boom")
def boom():
    raise RuntimeError("boom")
"""


def test_wsgi(tmp_path: Path) -> None:
    """
    ``--wsgi`` runs a Flask application found by its dotted name.
    """
    (tmp_path / "flaskapp.py").write_text(FLASK_APP)
    with WebCommand(
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--wsgi",
        "flaskapp.app",
        cwd=str(tmp_path),
    ) as web:
        (url,) = web.urls()
        index = fetch("GET", url)
        echo = fetch("POST", url + "echo", data={"a": "1"})
        stream = fetch("GET", url + "stream")
        boom = fetch("GET", url + "boom")
    assert index.text == "flask says hi"
    assert echo.json() == {"form": {"a": "1"}, "scheme": "http"}
    assert stream.text == "".join(f"{i}," for i in range(50))
    assert boom.status_code == 500


RESOURCE_MODULE = """
from torsion.web.resource import Resource


class Hello(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain")
        return b"hello " + request.path

    def render_POST(self, request):
        return b"received %d bytes" % len(request.content.read())


class Broken(Resource):
    isLeaf = True

    def render_GET(self, request):
        raise ValueError("resource blew up")
"""


def writeResources(tmp_path: Path) -> None:
    (tmp_path / "myresources.py").write_text(RESOURCE_MODULE)


def test_classAndHeaders(tmp_path: Path) -> None:
    """
    ``--class`` serves an instance of a resource class; ``--add-header``
    headers are on every response, errors included.
    """
    writeResources(tmp_path)
    with WebCommand(
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--class",
        "myresources.Hello",
        "--add-header",
        "X-Frame-Options: DENY",
        "--add-header",
        "Strict-Transport-Security: max-age=31536000",
        cwd=str(tmp_path),
    ) as web:
        (url,) = web.urls()
        hello = fetch("GET", url + "some/where")
        notAllowed = fetch("DELETE", url)
    assert hello.text == "hello /some/where"
    for response in (hello, notAllowed):
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert notAllowed.status_code == 405


def test_maxRequestBodyAndLog(tmp_path: Path) -> None:
    """
    ``--max-request-body N`` accepts N bytes and answers 413 to N+1;
    ``--logfile`` writes one combined-format line per request served (the
    refused one never reached the site).
    """
    writeResources(tmp_path)
    log = tmp_path / "access.log"
    with WebCommand(
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--class",
        "myresources.Hello",
        "--max-request-body",
        "100",
        "--logfile",
        str(log),
        cwd=str(tmp_path),
    ) as web:
        (url,) = web.urls()
        accepted = fetch("POST", url, data=b"x" * 100)
        refused = fetch("POST", url, data=b"x" * 101)
        fetch("GET", url + "logged?q=1", headers={"User-Agent": "e2e/1.0"})
    assert accepted.text == "received 100 bytes"
    assert refused.status_code == 413
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    assert '"POST / HTTP/1.1" 200 18 ' in lines[0]
    assert re.fullmatch(
        r"127\.0\.0\.1 - - \[[^]]+\] "
        r'"GET /logged\?q=1 HTTP/1\.1" 200 \d+ "-" "e2e/1\.0"',
        lines[1],
    ), lines[1]


def test_logfileStdout(tmp_path: Path) -> None:
    """
    ``--logfile -`` writes the access log on standard output.
    """
    with WebCommand(
        "--listen", "tcp:0:interface=127.0.0.1", "--path", str(SITE), "--logfile", "-"
    ) as web:
        (url,) = web.urls()
        fetch("GET", url + "style.css")
        out, _ = web.stop()
    assert '"GET /style.css HTTP/1.1" 200 ' in out


def test_displayTracebacks(tmp_path: Path) -> None:
    """
    Error pages show the traceback only with ``--display-tracebacks``.
    """
    writeResources(tmp_path)
    pages = []
    for extra in ((), ("--display-tracebacks",)):
        with WebCommand(
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--class",
            "myresources.Broken",
            *extra,
            cwd=str(tmp_path),
        ) as web:
            (url,) = web.urls()
            pages.append(fetch("GET", url))
    hidden, shown = pages
    assert hidden.status_code == shown.status_code == 500
    assert "resource blew up" not in hidden.text
    assert "resource blew up" in shown.text


def test_unixSocket(tmp_path: Path) -> None:
    """
    A Unix socket endpoint works (curl ``--unix-socket``).
    """
    curl = requireCommand("curl")
    socketPath = tmp_path / "web.sock"
    with WebCommand("--listen", f"unix:{socketPath}", "--path", str(SITE)) as web:
        (url,) = web.urls()
        fetched = subprocess.run(
            [curl, "-s", "--unix-socket", str(socketPath), "http://localhost/app.js"],
            capture_output=True,
            timeout=60,
        )
    assert url == "http://localhost/"
    assert b"script ran" in fetched.stdout


def writeCertificate(tmp_path: Path) -> tuple[Path, Path]:
    """
    :return: a PEM file with a certificate for localhost and its key, and
        one with the certificate alone (for the client to trust).
    """
    from torsion.internet import ssl as tssl

    certificate = tssl.generateSelfSigned(("localhost", "127.0.0.1"))
    both = tmp_path / "server.pem"
    both.write_bytes(certificate.dumpPEM())
    public = tmp_path / "ca.pem"
    public.write_bytes(certificate.dump(tssl.FILETYPE_PEM))
    return both, public


def test_https(tmp_path: Path) -> None:
    """
    ``--https PEM`` listens for TLS on ``--https-port`` beside the plain
    endpoint; curl verifies the certificate with ``--cacert``.
    """
    curl = requireCommand("curl")
    both, public = writeCertificate(tmp_path)
    with WebCommand(
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--path",
        str(SITE),
        "--https",
        str(both),
        "--https-port",
        "0",
    ) as web:
        plain, secure = web.urls(2)
        assert plain.startswith("http://127.0.0.1:")
        assert secure.startswith("https://127.0.0.1:")
        port = secure.rsplit(":", 1)[1].strip("/")
        fetched = subprocess.run(
            [
                curl,
                "-s",
                "--http1.1",
                "--cacert",
                str(public),
                "--resolve",
                f"localhost:{port}:127.0.0.1",
                f"https://localhost:{port}/style.css",
            ],
            capture_output=True,
            timeout=60,
        )
    assert fetched.returncode == 0, fetched.stderr
    assert b"#3366cc" in fetched.stdout


def test_selfSigned(tmp_path: Path) -> None:
    """
    ``--self-signed`` serves HTTPS with a new certificate whose path and
    SHA-256 fingerprint it prints (curl ``-k`` fetches, over HTTP/1.1 and
    HTTP/2; the fingerprint is the served certificate's); the file is
    removed on exit.
    """
    curl = requireCommand("curl")
    with WebCommand(
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--path",
        str(SITE),
        "--self-signed",
        "--https-port",
        "0",
    ) as web:
        _, secure = web.urls(2)
        printed = "".join(web.lines)
        path = re.search(r"Self-signed certificate for localhost: (\S+)", printed)
        fingerprint = re.search(r"SHA-256 fingerprint: ([0-9A-F:]{95})", printed)
        assert path is not None and fingerprint is not None
        fetched = subprocess.run(
            [curl, "-s", "-k", "--http1.1", secure + "app.js"],
            capture_output=True,
            timeout=60,
        )
        h2 = subprocess.run(
            [
                *(curl, "-s", "-k", "--http2", "-o", "/dev/null"),
                *("-w", "%{http_version}", secure + "style.css"),
            ],
            capture_output=True,
            timeout=60,
        )
        port = int(secure.rsplit(":", 1)[1].strip("/"))
        served = ssl.get_server_certificate(("127.0.0.1", port))
        certificateFile = Path(path.group(1))
        assert certificateFile.read_text().strip() == served.strip()
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(served)).hexdigest().upper()
    assert fingerprint.group(1).replace(":", "") == digest
    assert fetched.returncode == 0
    assert b"script ran" in fetched.stdout
    # With HTTP/2 support installed, TLS listeners offer h2 through ALPN.
    assert h2.stdout == b"2"
    assert not certificateFile.exists()


def test_usageErrors(tmp_path: Path) -> None:
    """
    Bad options end the command with the usage exit status (64), the
    plugin's help and the problem.
    """
    for args, message in (
        ((), "Give what to serve"),
        (("--path", str(tmp_path), "--bogus"), "bogus"),
        (("--wsgi", "no_such_module_here.app"), "no_such_module_here"),
    ):
        result = runWeb(*args)
        assert result.returncode == 64, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "--listen" in result.stderr


def test_help() -> None:
    """
    ``--help`` lists the options.
    """
    result = runWeb("--help")
    assert result.returncode == 0
    for option in ("--listen", "--path", "--wsgi", "--class", "--self-signed"):
        assert option in result.stdout


def test_listenFailure(tmp_path: Path) -> None:
    """
    A port that cannot be bound ends the command with a clear error.
    """
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        result = runWeb(
            "--listen", f"tcp:{port}:interface=127.0.0.1", "--path", str(SITE)
        )
    finally:
        taken.close()
    assert result.returncode != 0
    assert str(port) in result.stderr


def test_cgiOnlyWhenAllowed(tmp_path: Path) -> None:
    """
    ``.cgi`` files run only with ``--allow-cgi``; ``.rpy`` scripts always
    run.
    """
    script = tmp_path / "hello.cgi"
    script.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            printf 'Content-Type: text/plain\\r\\n\\r\\nfrom cgi'
            """
        )
    )
    script.chmod(0o755)
    (tmp_path / "page.rpy").write_text(
        "from torsion.web.static import Data\n"
        'resource = Data(b"from rpy", "text/plain")\n'
    )
    bodies = []
    for extra in ((), ("--allow-cgi",)):
        with WebCommand(
            "--listen", "tcp:0:interface=127.0.0.1", "--path", str(tmp_path), *extra
        ) as web:
            (url,) = web.urls()
            bodies.append(
                (
                    fetch("GET", url + "hello.cgi").content,
                    fetch("GET", url + "page.rpy").content,
                )
            )
    (cgiOff, rpyOff), (cgiOn, rpyOn) = bodies
    assert cgiOff != b"from cgi"
    assert cgiOn == b"from cgi"
    assert rpyOff == rpyOn == b"from rpy"
