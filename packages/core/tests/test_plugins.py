"""
Tests for plugin discovery (torsion.plugin, torsion.plugins) and for core's
own plugins' options and services.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.application import internet, service
from torsion.application.service import IServiceMaker
from torsion.internet.testing import MemoryReactorClock
from torsion.plugin import PLUGIN_GROUP, IPlugin, getPlugins, pluginEntryPoints
from torsion.plugins import serviceMakers, torsion_echo, torsion_procmon
from torsion.python import usage
from torsion.runner.procmon import ProcessMonitor

CORE_PLUGINS = {"echo", "portforward", "socks", "procmon", "ftp"}


def test_corePluginsRegistered() -> None:
    makers = serviceMakers()
    assert set(makers) >= CORE_PLUGINS
    for name in CORE_PLUGINS:
        maker = makers[name]
        verifyObject(IServiceMaker, maker)
        verifyObject(IPlugin, maker)
        assert maker.tapname == name
        assert maker.description
        assert issubclass(maker.options, usage.Options)


def writeDistribution(site: Path, name: str, entryPoints: dict[str, str]) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    )
    lines = "".join(f"{k} = {v}\n" for k, v in entryPoints.items())
    (info / "entry_points.txt").write_text(f"[{PLUGIN_GROUP}]\n{lines}")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "site"
    directory.mkdir()
    sys.path.insert(0, str(directory))
    importlib.invalidate_caches()
    yield directory
    sys.path.remove(str(directory))
    for name in list(sys.modules):
        if name.startswith("throwaway_"):
            del sys.modules[name]
    importlib.invalidate_caches()


def test_throwawayDistributionFound(site: Path) -> None:
    (site / "throwaway_good.py").write_text(
        "from torsion.application import service\n"
        "serviceMaker = service.ServiceMaker(\n"
        "    'good', 'throwaway_good', 'Good.', 'good'\n"
        ")\n"
        "notAMaker = object()\n"
    )
    writeDistribution(
        site,
        "throwaway_good",
        {
            "good": "throwaway_good:serviceMaker",
            "other": "throwaway_good:notAMaker",
        },
    )
    names = [ep.name for ep in pluginEntryPoints()]
    assert "good" in names and "other" in names
    found = [p.tapname for p in getPlugins(IServiceMaker)]
    assert "good" in found
    assert "other" not in found
    assert serviceMakers()["good"].description == "Good."


def test_brokenPluginSkipped(site: Path) -> None:
    seen: list[dict[str, Any]] = []
    from torsion.logger import globalLogPublisher

    globalLogPublisher.addObserver(seen.append)
    try:
        writeDistribution(
            site, "throwaway_broken", {"broken": "throwaway_missing_module:x"}
        )
        makers = serviceMakers()
    finally:
        globalLogPublisher.removeObserver(seen.append)
    assert "broken" not in makers
    assert "echo" in makers
    assert any(e.get("name") == "broken" for e in seen)


# -- echo ------------------------------------------------------------------


def test_echoOptions() -> None:
    options = torsion_echo.Options()
    options.parseOptions([])
    assert options["listen"] == [torsion_echo.DEFAULT_LISTEN]
    options = torsion_echo.Options()
    options.parseOptions(["--listen", "tcp:1", "--listen", "unix:/x"])
    assert options["listen"] == ["tcp:1", "unix:/x"]


def test_echoService() -> None:
    reactor = MemoryReactorClock()
    options = torsion_echo.Options()
    options.parseOptions(["--listen", "tcp:7001", "--listen", "tcp:7002"])
    top = torsion_echo.makeService(options, reactor=reactor)
    children = list(top)
    assert len(children) == 2
    assert all(isinstance(c, internet.StreamServerEndpointService) for c in children)
    top.privilegedStartService()
    assert [s[0] for s in reactor.tcpServers] == [7001, 7002]
    protocol = reactor.tcpServers[0][1].buildProtocol(None)
    from torsion.protocols.wire import Echo

    assert isinstance(protocol, Echo)


def test_echoBadEndpoint() -> None:
    options = torsion_echo.Options()
    options.parseOptions(["--listen", "bogus:1"])
    with pytest.raises(ValueError):
        torsion_echo.makeService(options, reactor=MemoryReactorClock())


# -- procmon ----------------------------------------------------------------


def test_procmonOptions() -> None:
    options = torsion_procmon.Options()
    options.parseOptions(
        [
            "--threshold",
            "3",
            "--killtime",
            "2",
            "--command",
            "python3 -c 'print(1)'",
            "--",
            sys.executable,
            "-c",
            "pass",
        ]
    )
    assert options["commands"][0] == [sys.executable, "-c", "pass"]
    assert os.path.isabs(options["commands"][1][0])
    assert options["commands"][1][1:] == ["-c", "print(1)"]
    monitor = torsion_procmon.makeService(options, reactor=MemoryReactorClock())
    assert isinstance(monitor, ProcessMonitor)
    assert monitor.threshold == 3.0 and monitor.killTime == 2.0
    assert len(monitor.processes) == 2


def test_procmonOptionErrors() -> None:
    with pytest.raises(usage.UsageError, match="name a program"):
        torsion_procmon.Options().parseOptions([])
    with pytest.raises(usage.UsageError, match="not found"):
        torsion_procmon.Options().parseOptions(["no-such-program-anywhere"])
    with pytest.raises(usage.UsageError, match="must not exceed"):
        torsion_procmon.Options().parseOptions(
            ["--minrestartdelay", "10", "--maxrestartdelay", "1", "/bin/true"]
        )


def test_procmonSameProgramTwice() -> None:
    options = torsion_procmon.Options()
    options.parseOptions(["--command", "/bin/true", "/bin/true"])
    monitor = torsion_procmon.makeService(options, reactor=MemoryReactorClock())
    assert sorted(monitor.processes) == ["true", "true-2"]


# -- portforward and socks (wired to modules written elsewhere) -------------------


def _exists(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_portforwardPlugin() -> None:
    from torsion.plugins import torsion_portforward

    options = torsion_portforward.Options()
    with pytest.raises(usage.UsageError, match="dest_port"):
        options.parseOptions([])
    options = torsion_portforward.Options()
    options.parseOptions(["--port", "tcp:7003", "--host", "example.com", "-d", "80"])
    assert (options["host"], options["dest_port"]) == ("example.com", 80)
    reactor = MemoryReactorClock()
    if not _exists("torsion.protocols.portforward"):
        with pytest.raises(ValueError, match="portforward"):
            torsion_portforward.makeService(options, reactor=reactor)
        return
    made = torsion_portforward.makeService(options, reactor=reactor)
    made.privilegedStartService()
    assert reactor.tcpServers[0][0] == 7003


def test_socksPlugin() -> None:
    from torsion.plugins import torsion_socks

    options = torsion_socks.Options()
    options.parseOptions(["--listen", "tcp:7004"])
    reactor = MemoryReactorClock()
    if not _exists("torsion.protocols.socks"):
        with pytest.raises(ValueError, match="socks"):
            torsion_socks.makeService(options, reactor=reactor)
        return
    made = torsion_socks.makeService(options, reactor=reactor)
    made.privilegedStartService()
    assert reactor.tcpServers[0][0] == 7004


def test_serviceMakerIsLazy() -> None:
    maker = service.ServiceMaker("x", "torsion.plugins.torsion_procmon", "d", "x")
    assert maker.options is torsion_procmon.Options
    options = maker.options()
    options.parseOptions(["/bin/true"])
    assert isinstance(maker.makeService(options), ProcessMonitor)


# -- ftp ------------------------------------------------------------------------


def test_ftpPluginOptionsAndService(tmp_path: Path) -> None:
    from torsion.plugins import torsion_ftp

    with pytest.raises(usage.UsageError, match="no such directory"):
        torsion_ftp.Options().parseOptions(["--root", str(tmp_path / "nope")])
    with pytest.raises(usage.UsageError, match="needs --password-file"):
        torsion_ftp.Options().parseOptions(["--root", str(tmp_path), "--no-anonymous"])
    passwords = tmp_path / "passwd"
    passwords.write_text("alice:secret\n")
    options = torsion_ftp.Options()
    options.parseOptions(
        [
            "--root",
            str(tmp_path),
            "--listen",
            "tcp:7006",
            "--password-file",
            str(passwords),
            "--no-anonymous",
        ]
    )
    reactor = MemoryReactorClock()
    made = torsion_ftp.makeService(options, reactor=reactor)
    made.privilegedStartService()
    port, factory = reactor.tcpServers[0][:2]
    assert port == 7006
    assert factory.allowAnonymous is False
