"""
Helpers for the tests that meet torsion-web over real sockets: a raw
HTTP exchange, and the command line of headless Chromium.
"""

from __future__ import annotations

import socket
from pathlib import Path

#: Headless Chromium without a sandbox, GPU, first-run page or background
#: traffic, so that a test run sees only the requests it makes.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromiumCommand(program: str, profile: Path | str, *args: str) -> list[str]:
    """
    :param program: the Chromium executable.
    :param profile: a throwaway profile directory.
    :param args: further flags and the URL.
    :return: the command line running it headless with ``profile``.
    """
    return [program, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]


def exchange(port: int, request: bytes, bytewise: bool = False) -> bytes:
    """
    Send ``request`` to ``127.0.0.1:port`` (all at once, or one byte per
    segment) and read until the server closes.  Blocking: run it with
    ``webhelpers.inThread``.

    :return: everything the server sent.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        if bytewise:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(request)):
                s.send(request[i : i + 1])
        else:
            s.sendall(request)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)
