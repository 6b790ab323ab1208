"""
TLS server benchmark: torsion against Twisted 26.10 and asyncio (stdlib ssl).

Each server runs in its own process on 127.0.0.1; one load generator (this
process, stdlib ``ssl`` over blocking sockets) drives all of them the same
way:

- handshakes: new TLS 1.3 connections (ECDHE, P-256 certificate), each
  completing the handshake and closing; handshakes per second.
- bulk: one connection writing 64 KiB chunks that the server discards;
  megabytes per second received by the server (it reports its count).

Run with ``/work/benchvenv/bin/python bench_tls.py`` (Twisted is measured
only when importable).  Prints a table with ratios torsion/anchor.
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HANDSHAKE_SECONDS = 3.0
BULK_SECONDS = 3.0
BULK_CHUNK = 64 * 1024


# -- servers: each prints its port, then serves until killed ------------------


def serveTorsion(certFile: str, keyFile: str) -> None:
    from torsion.internet import epollreactor

    epollreactor.install()
    from torsion.internet import protocol, reactor
    from torsion.internet import ssl as tssl

    with open(certFile, "rb") as f:
        pem = f.read()
    with open(keyFile, "rb") as f:
        pem += f.read()
    cert = tssl.PrivateCertificate.loadPEM(pem)

    class Sink(protocol.Protocol):
        tail = b""

        def dataReceived(self, data: bytes) -> None:
            self.factory.count += len(data)
            self.tail = (self.tail + data[-6:])[-6:]
            if self.tail == b"COUNT?":
                self.transport.write(b"%d\n" % self.factory.count)

    f = protocol.Factory.forProtocol(Sink)
    f.count = 0  # type: ignore[attr-defined]
    port = reactor.listenSSL(0, f, cert.options(), backlog=1024, interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.run()


def serveTwisted(certFile: str, keyFile: str) -> None:
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import protocol, reactor
    from twisted.internet import ssl as tssl

    with open(certFile, "rb") as f:
        pem = f.read()
    with open(keyFile, "rb") as f:
        pem += f.read()
    cert = tssl.PrivateCertificate.loadPEM(pem)

    class Sink(protocol.Protocol):
        tail = b""

        def dataReceived(self, data: bytes) -> None:
            self.factory.count += len(data)
            self.tail = (self.tail + data[-6:])[-6:]
            if self.tail == b"COUNT?":
                self.transport.write(b"%d\n" % self.factory.count)

    f = protocol.Factory.forProtocol(Sink)
    f.count = 0
    port = reactor.listenSSL(0, f, cert.options(), backlog=1024, interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.run()


def serveAsyncio(certFile: str, keyFile: str) -> None:
    import asyncio

    count = 0
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certFile, keyFile)

    class Sink(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        tail = b""

        def data_received(self, data: bytes) -> None:
            nonlocal count
            count += len(data)
            self.tail = (self.tail + data[-6:])[-6:]
            if self.tail == b"COUNT?":
                self.transport.write(b"%d\n" % count)  # type: ignore[attr-defined]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Sink, "127.0.0.1", 0, ssl=ctx, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


SERVERS = {"torsion": serveTorsion, "twisted": serveTwisted, "asyncio": serveAsyncio}


# -- load generator -----------------------------------------------------------


def clientContext(caFile: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=caFile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def handshakes(port: int, ctx: ssl.SSLContext) -> float:
    done = 0
    start = time.perf_counter()
    deadline = start + HANDSHAKE_SECONDS
    while time.perf_counter() < deadline:
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as s,
        ):
            s.do_handshake()
            done += 1
    return done / (time.perf_counter() - start)


def bulk(port: int, ctx: ssl.SSLContext) -> float:
    chunk = os.urandom(BULK_CHUNK)
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as s,
    ):
        reader = s.makefile("rb")
        s.sendall(b"COUNT?")
        before = int(reader.readline())
        start = time.perf_counter()
        deadline = start + BULK_SECONDS
        while time.perf_counter() < deadline:
            s.sendall(chunk)
        # Ask how much arrived; the question queues behind the data.
        s.sendall(b"COUNT?")
        after = int(reader.readline())
        elapsed = time.perf_counter() - start
    return (after - before) / elapsed / 1e6


def measure(
    name: str, certFile: str, keyFile: str, caFile: str
) -> dict[str, float] | None:
    if name == "twisted":
        try:
            import twisted  # noqa: F401
        except ImportError:
            return None
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", name, certFile, keyFile],
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        ctx = clientContext(caFile)
        handshakes(port, ctx)  # warm up
        return {"handshakes/s": handshakes(port, ctx), "bulk MB/s": bulk(port, ctx)}
    finally:
        proc.kill()
        proc.wait()


def makeCertificates(directory: str) -> tuple[str, str, str]:
    from torsion.internet import ssl as tssl

    ca = tssl.KeyPair.generate("ec").selfSignedCert(1, isCA=True, commonName="bench CA")
    server = ca.issue("localhost", hostnames=["localhost", "127.0.0.1"])
    paths = []
    for name, data in [
        ("server.crt", server.dump(tssl.FILETYPE_PEM)),
        ("server.key", server.privateKey.dumpPEM()),
        ("ca.crt", ca.dump(tssl.FILETYPE_PEM)),
    ]:
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    return paths[0], paths[1], paths[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", nargs=3, metavar=("NAME", "CERT", "KEY"))
    args = parser.parse_args()
    if args.serve:
        name, certFile, keyFile = args.serve
        SERVERS[name](certFile, keyFile)
        return
    with tempfile.TemporaryDirectory() as tmp:
        certFile, keyFile, caFile = makeCertificates(tmp)
        results = {}
        for name in SERVERS:
            r = measure(name, certFile, keyFile, caFile)
            if r is not None:
                results[name] = r
    print("TLS server benchmark (load generator: stdlib ssl, TLS 1.3)")
    print(f"{'server':<10} {'handshakes/s':>14} {'bulk MB/s':>12}")
    for name, r in results.items():
        print(f"{name:<10} {r['handshakes/s']:>14.0f} {r['bulk MB/s']:>12.1f}")
    base = results["torsion"]
    for anchor in ("twisted", "asyncio"):
        if anchor in results:
            a = results[anchor]
            hs = base["handshakes/s"] / a["handshakes/s"]
            mb = base["bulk MB/s"] / a["bulk MB/s"]
            print(f"ratio torsion/{anchor}: handshakes {hs:.2f}x, bulk {mb:.2f}x")


if __name__ == "__main__":
    main()
