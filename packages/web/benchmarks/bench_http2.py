"""
HTTP/2 server throughput: torsion-web beside twisted.web's HTTP/2 (26.10,
``twisted[http2]``), in the same run, each server in its own process,
both over TLS with ALPN ``h2`` (Twisted has no cleartext HTTP/2).

Scenarios (``h2load``, one thread, the server pinned to CPU 0 and h2load
to CPU 1 when the machine has two or more):

- ``hello``: a leaf ``Resource`` answering 13 bytes; 4 connections, 10
  concurrent streams each (``-c 4 -m 10``).
- ``streams``: the same resource, 1 connection with 100 concurrent streams.
- ``large``: a 1 MiB body per request, 2 connections, 4 streams each: the
  flow-control path (many WINDOW_UPDATEs, DATA split to the window).

Run with the benchmark environment (Twisted with its http2 extra)::

    /work/benchvenv/bin/python packages/web/benchmarks/bench_http2.py

Anchors that cannot be imported are left out and their ratios shown as "-".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

HELLO = b"Hello, world!"
LARGE = b"x" * (1024 * 1024)
SCENARIOS = {
    "hello": ["-n", "3000", "-c", "4", "-m", "10"],
    "streams": ["-n", "3000", "-c", "1", "-m", "100"],
    "large": ["-n", "60", "-c", "2", "-m", "4"],
}


def _announce(port: int) -> None:
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()


def serveTorsion(directory: str) -> None:
    from torsion.internet import epollreactor

    reactor = epollreactor.EPollReactor()
    from torsion.internet import ssl
    from torsion.web import resource, server

    class Hello(resource.Resource):
        isLeaf = True

        def render_GET(self, request: object) -> bytes:
            return LARGE if request.uri == b"/large" else HELLO  # type: ignore[attr-defined]

    with open(os.path.join(directory, "server.pem"), "rb") as f:
        pem = f.read()
    cert = ssl.PrivateCertificate.loadPEM(pem)
    options = ssl.CertificateOptions(
        privateKey=cert.privateKey,
        certificate=cert,
        acceptableProtocols=[b"h2", b"http/1.1"],
    )
    site = server.Site(Hello(), reactor=reactor)
    port = reactor.listenSSL(0, site, options, interface="127.0.0.1")
    _announce(port.getHost().port)
    reactor.run()


def serveTwisted(directory: str) -> None:
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor, ssl
    from twisted.web import resource, server

    class Hello(resource.Resource):
        isLeaf = True

        def render_GET(self, request: object) -> bytes:
            return LARGE if request.uri == b"/large" else HELLO  # type: ignore[attr-defined]

    with open(os.path.join(directory, "server.pem"), "rb") as f:
        pem = f.read()
    cert = ssl.PrivateCertificate.loadPEM(pem)
    options = ssl.CertificateOptions(
        privateKey=cert.privateKey.original,
        certificate=cert.original,
        acceptableProtocols=[b"h2", b"http/1.1"],
    )
    site = server.Site(Hello())
    site.noisy = False
    port = reactor.listenSSL(0, site, options, interface="127.0.0.1")  # type: ignore[attr-defined]
    _announce(port.getHost().port)
    reactor.run()  # type: ignore[attr-defined]


def _available(name: str) -> bool:
    try:
        if name == "twisted":
            import h2  # noqa: F401
            import twisted.web._http2  # noqa: F401
        else:
            import torsion.web.server  # noqa: F401
    except ImportError:
        return False
    return True


def _pin(cpu: int) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)]
    return []


def _measure(impl: str, directory: str, h2load: str) -> dict[str, float]:
    server = subprocess.Popen(
        [*_pin(0), sys.executable, __file__, "serve", impl, directory],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.match(r"PORT (\d+)", line)
        if not match:
            raise RuntimeError(f"{impl} server did not start: {line!r}")
        port = int(match.group(1))
        results: dict[str, float] = {}
        for scenario, args in SCENARIOS.items():
            path = "/large" if scenario == "large" else "/"
            url = f"https://127.0.0.1:{port}{path}"
            # Warm up, then measure.
            subprocess.run(
                [*_pin(1), h2load, "-n", "200", "-c", "2", "-m", "10", url],
                capture_output=True,
                check=False,
            )
            done = subprocess.run(
                [*_pin(1), h2load, "-t", "1", *args, url],
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            out = done.stdout
            rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
            ok = re.search(r"(\d+) succeeded", out)
            total = int(args[args.index("-n") + 1])
            if not rate or not ok or int(ok.group(1)) != total:
                raise RuntimeError(f"{impl} {scenario}: h2load failed:\n{out}")
            results[scenario] = float(rate.group(1))
        return results
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    h2load = shutil.which("h2load")
    if h2load is None:
        sys.exit("h2load is needed: apt-get install nghttp2-client")
    from torsion.internet import ssl

    with tempfile.TemporaryDirectory() as directory:
        cert = ssl.generateSelfSigned(["127.0.0.1"])
        with open(os.path.join(directory, "server.pem"), "wb") as f:
            f.write(cert.dumpPEM())
        impls = [i for i in ("torsion", "twisted") if _available(i)]
        table = {impl: _measure(impl, directory, h2load) for impl in impls}
    print(f"{'scenario':<10} {'torsion req/s':>14} {'twisted req/s':>14} {'ratio':>7}")
    for scenario in SCENARIOS:
        ours = table["torsion"][scenario]
        theirs = table.get("twisted", {}).get(scenario)
        ratio = f"{ours / theirs:.2f}" if theirs else "-"
        shown = f"{theirs:.0f}" if theirs else "-"
        print(f"{scenario:<10} {ours:>14.0f} {shown:>14} {ratio:>7}")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        {"torsion": serveTorsion, "twisted": serveTwisted}[sys.argv[2]](sys.argv[3])
    else:
        main()
