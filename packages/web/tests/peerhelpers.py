"""
Helpers for the tests that meet torsion-web over real sockets: a server
listening for the length of a block, a raw HTTP exchange, and the command
line of headless Chromium.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from webhelpers import listen

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


@asynccontextmanager
async def serving(reactor: Any, factory: Any) -> AsyncIterator[int]:
    """
    Listen on ``127.0.0.1`` with ``factory`` (a ``Site`` or any protocol
    factory) for the length of an ``async with`` block, then stop.

    :return: (as the block's target) the port number.
    """
    port = listen(reactor, factory)
    try:
        yield port.getHost().port
    finally:
        await port.stopListening()


def deadPort() -> int:
    """
    :return: a port on ``127.0.0.1`` where nothing listens (bound a moment
        ago, then closed).
    """
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    number: int = closed.getsockname()[1]
    closed.close()
    return number
