"""
Helpers shared by torsion-web's tests: real peers (curl, wrk, chromium, ...)
installed by the tests themselves when missing, and a site listening on
loopback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest

from torsion.internet import threads
from torsion.internet.defer import Deferred

_attempted: set[str] = set()


def requireCommand(command: str, package: str | None = None) -> str:
    """
    Find ``command``, installing its Debian ``package`` with apt-get when it
    is missing and this process may (root, apt-get present); skip the test
    with the reason otherwise.

    :return: the program's path.
    """
    path = shutil.which(command)
    if path:
        return path
    package = package or command
    if package not in _attempted and os.geteuid() == 0 and shutil.which("apt-get"):
        _attempted.add(package)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", package],
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=900,
            check=False,
        )
        path = shutil.which(command)
        if path:
            return path
    pytest.skip(
        f"{command} is not installed and could not be installed "
        f"(apt-get install {package} needs root and a Debian package source)"
    )


def listen(reactor: Any, site: Any, interface: str = "127.0.0.1") -> Any:
    """
    Listen with ``site`` on a free loopback port.

    :return: the listening port (``port.getHost().port`` is its number);
        stop it with ``await port.stopListening()``.
    """
    return reactor.listenTCP(0, site, interface=interface)


def runPeer(
    argv: list[str], timeout: float = 60, input: bytes | None = None
) -> Deferred[subprocess.CompletedProcess[bytes]]:
    """
    Run a real peer program in a thread while the reactor keeps serving.

    :return: a Deferred firing with its ``CompletedProcess`` (stdout and
        stderr captured as bytes).
    """
    return threads.deferToThread(
        subprocess.run,
        argv,
        capture_output=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def inThread(f: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
    """
    Run a blocking client call (``http.client``, ``requests``, ...) in a
    thread; the Deferred fires in the reactor thread with its result.
    """
    return threads.deferToThread(f, *args, **kwargs)
