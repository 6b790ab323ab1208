"""
Helpers for the tests that run the real ``torsion web`` command
(``test_tap*``, ``test_chromium``): start it as a subprocess, read the URLs
it announces, stop it; and decode a PNG (a Chromium screenshot) without any
imaging library.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from typing import Any

import requests


class WebCommand:
    """
    ``python -m torsion web ARGS`` running in a subprocess.

    :ivar lines: what it printed on standard output before its URLs.
    """

    def __init__(self, *args: str, cwd: str | None = None) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if cwd is not None:
            env["PYTHONPATH"] = cwd + os.pathsep + env.get("PYTHONPATH", "")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "torsion", "web", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
        )
        self.lines: list[str] = []

    def urls(self, count: int = 1) -> list[str]:
        """
        Wait until it announced ``count`` URLs.

        :return: the URLs, in the order printed.
        :raises RuntimeError: if it exits first (with what it printed).
        """
        found: list[str] = []
        stdout = self.process.stdout
        assert stdout is not None
        while len(found) < count:
            raw = stdout.readline()
            if not raw:
                out, err = self.stop()
                raise RuntimeError(
                    f"torsion web exited ({self.process.returncode}) before "
                    f"serving:\n{''.join(self.lines)}{out}\n{err}"
                )
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if line.startswith("Serving "):
                found.append(line.split()[1])
        return found

    def stop(self) -> tuple[str, str]:
        """
        Stop it (SIGTERM) and wait for it.

        :return: the rest of its standard output and its standard error.
        """
        if self.process.poll() is None:
            self.process.terminate()
        out, err = self.process.communicate(timeout=60)
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def __enter__(self) -> WebCommand:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fetch(method: str, url: str, **kwargs: Any) -> requests.Response:
    """
    ``requests.request`` asking the server to close the connection after
    its answer, so that no idle connection delays the command's exit
    (``requests`` keeps the socket open while the response object lives).

    :return: the response.
    """
    headers = dict(kwargs.pop("headers", None) or {})
    headers.setdefault("Connection", "close")
    kwargs.setdefault("timeout", 30)
    return requests.request(method, url, headers=headers, **kwargs)


def runWeb(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """
    Run ``torsion web ARGS`` expecting it to exit by itself (a usage error,
    ``--help``).

    :return: the completed process (text output).
    """
    return subprocess.run(
        [sys.executable, "-m", "torsion", "web", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decodePNG(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """
    Decode an 8-bit RGB or RGBA, non-interlaced PNG.

    :return: ``(width, height, pixels)``, pixels as RGB tuples row by row.
    :raises ValueError: for anything else.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position = 8
    idat = []
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(
                ">IIBBBBB", body
            )
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG (depth {depth}, colour {colour})")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    offset = 0
    for _ in range(height):
        rowFilter = raw[offset]
        line = bytearray(raw[offset + 1 : offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upLeft = previous[i - channels] if i >= channels else 0
            if rowFilter == 1:
                line[i] = (line[i] + left) & 0xFF
            elif rowFilter == 2:
                line[i] = (line[i] + up) & 0xFF
            elif rowFilter == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif rowFilter == 4:
                line[i] = (line[i] + _paeth(left, up, upLeft)) & 0xFF
        for x in range(width):
            start = x * channels
            pixels.append(tuple(line[start : start + 3]))
        previous = line
    return width, height, pixels
