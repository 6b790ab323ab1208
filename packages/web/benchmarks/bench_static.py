"""
Static file serving: torsion-web's ``static.File`` beside Twisted's
``twisted.web.static.File`` (if importable), in the same run, measured by
wrk over loopback.

Each server runs in its own process on the default reactor, serving one
directory holding a 1 MiB file and a 4 KiB file; wrk fetches each file for a
few seconds with keep-alive connections.  Requests per second (and MiB/s for
the large file) are printed, with the ratio torsion/Twisted.

Run with the benchmark environment (Twisted installed)::

    /work/benchvenv/bin/python packages/web/benchmarks/bench_static.py

Twisted's column is left out ("-") when it cannot be imported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

DURATION = "4s"
CONNECTIONS = (1, 16)
FILES = {"big.bin": 1 << 20, "small.html": 4096}


def serve(kind: str, directory: str) -> None:
    if kind == "torsion":
        from torsion.internet import reactor
        from torsion.web.server import Site
        from torsion.web.static import File
    else:
        from twisted.internet import reactor  # type: ignore[no-redef]
        from twisted.web.server import Site  # type: ignore[no-redef]
        from twisted.web.static import File  # type: ignore[no-redef]
    site = Site(File(directory))
    if hasattr(site, "log"):
        # Access logging is not what is measured.
        site.log = lambda request: None
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.run()


def _wrk(port: int, path: str, connections: int) -> tuple[float, float]:
    wrk = shutil.which("wrk")
    assert wrk is not None
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{DURATION}",
            f"http://127.0.0.1:{port}/{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw errors:\n{out}")
    return rps, rps * FILES[path] / (1 << 20)


def _available(kind: str) -> bool:
    try:
        __import__("twisted.web.static" if kind == "twisted" else "torsion.web.static")
    except ImportError:
        return False
    return True


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit(
            "wrk is needed: apt-get install -y --no-install-recommends wrk"
        )
    directory = tempfile.mkdtemp()
    for name, size in FILES.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(os.urandom(size))
    kinds = [k for k in ("torsion", "twisted") if _available(k)]
    results: dict[tuple[str, str, int], tuple[float, float]] = {}
    try:
        for kind in kinds:
            server = subprocess.Popen(
                [sys.executable, __file__, "--serve", kind, directory],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert server.stdout is not None
                port = int(server.stdout.readline())
                for path in FILES:
                    for connections in CONNECTIONS:
                        _wrk(port, path, connections)  # warm-up
                        results[kind, path, connections] = _wrk(port, path, connections)
            finally:
                server.terminate()
                server.wait()
    finally:
        shutil.rmtree(directory)
    header = (
        "file",
        "conns",
        "torsion req/s",
        "twisted req/s",
        "ratio",
        "torsion MiB/s",
    )
    widths = (12, 6, 15, 15, 8, 15)
    print("".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for path in FILES:
        for connections in CONNECTIONS:
            ours = results[("torsion", path, connections)]
            theirs = results.get(("twisted", path, connections))
            row = (
                path,
                str(connections),
                f"{ours[0]:.0f}",
                f"{theirs[0]:.0f}" if theirs else "-",
                f"{ours[0] / theirs[0]:.2f}" if theirs else "-",
                f"{ours[1]:.0f}",
            )
            print("".join(f"{c:>{w}}" for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        main()
