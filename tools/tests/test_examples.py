"""
The README's first command runs ``docs/examples/echoserv.py``: it must start,
echo what a client sends, and stop on Ctrl-C (SIGINT).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"

# A guard against a hung example, not a synchronisation: every wait below
# returns as soon as the event happens.
GUARD = 30.0


def test_echo_server_echoes_and_stops_on_interrupt() -> None:
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "echoserv.py"), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert banner.startswith("echo server listening on 127.0.0.1:"), (
            banner + server.stderr.read() if server.stderr else banner
        )
        port = int(banner.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=GUARD) as client:
            message = b"hello, torsion\r\n" * 100
            client.sendall(message)
            received = b""
            while len(received) < len(message):
                chunk = client.recv(65536)
                assert chunk, "server closed the connection"
                received += chunk
            assert received == message
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=GUARD) is not None
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
