"""
Real peers for integration tests: programs no one here wrote (curl,
openssl, memcached, ...), installed by the tests themselves when missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

_attempted: set[str] = set()


def requireCommand(command: str, package: str | None = None) -> str:
    """
    Find ``command``, installing its Debian ``package`` with apt-get when it
    is missing and this process may do so (root, apt-get present).

    :param command: the program's name.
    :param package: the Debian package providing it (default: ``command``).
    :return: the program's path.
    """
    path = shutil.which(command)
    if path:
        return path
    package = package or command
    if package not in _attempted and os.geteuid() == 0 and shutil.which("apt-get"):
        _attempted.add(package)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", package],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )
        path = shutil.which(command)
        if path:
            return path
    pytest.skip(
        f"{command} is not installed and could not be installed "
        f"(apt-get install {package} needs root and a Debian package source)"
    )


def freePort() -> int:
    """
    :return: a TCP port on 127.0.0.1 that was free a moment ago (for peers
        that cannot be told to pick one themselves).
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
