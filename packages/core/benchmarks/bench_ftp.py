"""
FTP server throughput over loopback: a 64 MiB download (``RETR``), a
64 MiB upload (``STOR``), and small-file downloads per second (a 1 KiB file
fetched 100 times over one control connection, a passive data connection
each time), all driven by Python's ``ftplib`` as the client.

Anchor, measured in the same run: Twisted's FTP server (when Twisted is
importable, e.g. with ``/work/benchvenv/bin/python``), serving the same
directory.  Each server runs in its own child process, so the client does
not share a CPU thread with it.

Run: ``python bench_ftp.py``.  Each figure is the best of several rounds.
"""

from __future__ import annotations

import ftplib
import io
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

ROUNDS = 2
BIG = 64 * 1024 * 1024
SMALL_COUNT = 100


def serve(kind: str, root: str) -> None:
    """Run a server (in the child process) and print its port."""
    if kind == "torsion":
        from torsion.cred.checkers import AllowAnonymousAccess
        from torsion.cred.checkers import InMemoryUsernamePasswordDatabase as Users
        from torsion.cred.portal import Portal
        from torsion.internet import reactor
        from torsion.protocols.ftp import FTPFactory, FTPRealm
    else:
        from twisted.cred.checkers import AllowAnonymousAccess
        from twisted.cred.checkers import (
            InMemoryUsernamePasswordDatabaseDontUse as Users,
        )
        from twisted.cred.portal import Portal
        from twisted.internet import reactor
        from twisted.protocols.ftp import FTPFactory, FTPRealm
    home: Any = root
    if kind == "twisted":
        from twisted.python.filepath import FilePath

        home = FilePath(root)

    class Realm(FTPRealm):  # type: ignore[misc, valid-type]
        def getHomeDirectory(self, avatarId: object) -> Any:
            return home

    users = Users()
    # Twisted and torsion disagree on str or bytes user names here.
    users.addUser(b"bench", b"bench")
    if kind == "twisted":
        users.addUser("bench", "bench")
    portal = Portal(Realm(root), [AllowAnonymousAccess(), users])
    r: Any = reactor
    port = r.listenTCP(0, FTPFactory(portal), interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    r.run()


def measure(port: int) -> dict[str, float]:
    results: dict[str, float] = {}
    client = ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=60)
    client.login("bench", "bench")
    best = 0.0
    for _ in range(ROUNDS):
        got = 0

        def count(data: bytes) -> None:
            nonlocal got
            got += len(data)

        start = time.perf_counter()
        client.retrbinary("RETR big.bin", count, blocksize=65536)
        elapsed = time.perf_counter() - start
        assert got == BIG
        best = max(best, BIG / elapsed / 1e6)
    results["RETR 64 MiB (MB/s)"] = best
    payload = b"u" * BIG
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        client.storbinary("STOR up.bin", io.BytesIO(payload), blocksize=65536)
        elapsed = time.perf_counter() - start
        best = max(best, BIG / elapsed / 1e6)
    results["STOR 64 MiB (MB/s)"] = best
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(SMALL_COUNT):
            client.retrbinary("RETR small.bin", lambda data: None)
        elapsed = time.perf_counter() - start
        best = max(best, SMALL_COUNT / elapsed)
    results["RETR 1 KiB (files/s)"] = best
    client.quit()
    return results


def run(kind: str, root: str) -> dict[str, float]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, root],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        return measure(port)
    finally:
        child.terminate()
        child.wait()


def main() -> None:
    try:
        import twisted.protocols.ftp  # noqa: F401

        kinds = ["torsion", "twisted"]
    except ImportError:
        kinds = ["torsion"]
    with tempfile.TemporaryDirectory() as root:
        home = root
        with open(os.path.join(home, "big.bin"), "wb") as f:
            f.write(os.urandom(BIG))
        with open(os.path.join(home, "small.bin"), "wb") as f:
            f.write(os.urandom(1024))
        table = {}
        for kind in kinds:
            start = time.perf_counter()
            table[kind] = run(kind, root)
            print(f"{kind}: measured in {time.perf_counter() - start:.1f} s")
    names = list(table["torsion"])
    header = f"{'measure':<24}" + "".join(f"{k:>12}" for k in kinds)
    if "twisted" in table:
        header += f"{'torsion/twisted':>18}"
    print(header)
    for name in names:
        line = f"{name:<24}" + "".join(f"{table[k][name]:>12.1f}" for k in kinds)
        if "twisted" in table:
            line += f"{table['torsion'][name] / table['twisted'][name]:>18.2f}"
        print(line)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        main()
