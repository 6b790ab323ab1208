"""
End to end with a real browser: ``torsion web --path`` serves a small site
(``tests/site``: HTML, CSS, JavaScript and a PNG) and headless Chromium
loads it, takes a screenshot and dumps the DOM.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from peerhelpers import chromiumCommand
from taphelpers import WebCommand, decodePNG
from webhelpers import requireCommand

SITE = Path(__file__).parent / "site"
DOCS = Path(__file__).resolve().parents[3] / "docs"
FONTS = Path("/usr/share/fonts/truetype/liberation")

#: The page's CSS background (#3366cc), the box its script adds (#ffcc00)
#: and the image's left half (#ff0000).
BACKGROUND = (0x33, 0x66, 0xCC)
SCRIPT_BOX = (0xFF, 0xCC, 0x00)
IMAGE_RED = (0xFF, 0x00, 0x00)


def ensureFonts() -> None:
    """
    Install the Liberation fonts (the page's font) when missing, as root
    with apt-get; pages still render without them, in a fallback font.
    """
    if FONTS.is_dir() or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "fonts-liberation"],
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        capture_output=True,
        timeout=900,
        check=False,
    )


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """
    Run headless Chromium with a throwaway profile; wait for it to exit.
    """
    program = requireCommand("chromium", "chromium")
    ensureFonts()
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        chromiumCommand(program, profile, *args),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def near(colour: tuple[int, ...], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 3 for a, b in zip(colour, wanted, strict=True))


def test_siteInChromium(tmp_path: Path) -> None:
    """
    The page renders with its stylesheet, script and image: the
    screenshot shows the CSS background, the box the script added and the
    image; the DOM shows the script's text; the access log shows each
    resource was fetched.
    """
    log = tmp_path / "access.log"
    shot = tmp_path / "shot.png"
    with WebCommand(
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--path",
        str(SITE),
        "--logfile",
        str(log),
    ) as web:
        (url,) = web.urls()
        screenshot = chromium(
            tmp_path, f"--screenshot={shot}", "--window-size=800,600", url
        )
        dom = chromium(tmp_path, "--dump-dom", url)
    assert shot.exists(), screenshot.stderr
    width, height, pixels = decodePNG(shot.read_bytes())
    assert (width, height) == (800, 600)
    colours = set(pixels)
    assert len(colours) > 1
    for wanted in (BACKGROUND, SCRIPT_BOX, IMAGE_RED):
        assert any(near(colour, wanted) for colour in colours), wanted
    # Most of the page is the stylesheet's background.
    background = sum(1 for pixel in pixels if near(pixel, BACKGROUND))
    assert background > len(pixels) // 2
    assert '<p id="status">script ran</p>' in dom.stdout, dom.stderr
    assert '<div id="done"></div>' in dom.stdout
    requested = log.read_text()
    for path in ("/ ", "/style.css", "/app.js", "/image.png"):
        assert f'"GET {path}' in requested, (path, requested)


def test_docsListing(tmp_path: Path) -> None:
    """
    Serving this repository's ``docs`` directory (Sphinx sources, no
    index.html): Chromium sees the directory listing, with links that
    lead into the subdirectories.
    """
    with WebCommand(
        "--listen", "tcp:0:interface=127.0.0.1", "--path", str(DOCS)
    ) as web:
        (url,) = web.urls()
        top = chromium(tmp_path, "--dump-dom", url)
        listing = chromium(tmp_path, "--dump-dom", url + "web/")
    assert top.returncode == 0, top.stderr
    for name in ("conf.py", "index.rst", "web/"):
        assert name in top.stdout, (name, top.stdout[:2000])
    assert 'href="web/"' in top.stdout
    assert "index.rst" in listing.stdout
    assert "howto/" in listing.stdout
