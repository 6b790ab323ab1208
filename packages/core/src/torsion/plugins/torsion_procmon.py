"""
The ``procmon`` plugin: ``torsion procmon [options] -- PROGRAM [ARGS...]``
runs a program and restarts it whenever it exits (see
``torsion.runner.procmon.ProcessMonitor``).  ``--command`` adds more
programs to keep running.
"""

from __future__ import annotations

import os
import shlex
import shutil
from typing import Any

from torsion.application import service
from torsion.python import usage
from torsion.runner.procmon import ProcessMonitor

__all__ = ["Options", "makeService", "serviceMaker"]


class Options(usage.Options):
    """
    The ``procmon`` plugin's options.
    """

    synopsis = "[options] [PROGRAM [ARGS...]]"
    longdesc = (
        "Run PROGRAM with ARGS, and any --command, restarting each when it "
        "exits. Put '--' before PROGRAM if its arguments start with '-'. "
        "Children inherit this process's environment; their output is logged "
        "line by line with their name."
    )

    optParameters = [
        [
            "threshold",
            "t",
            1.0,
            "Seconds a child must run to count as healthy (resets its delay).",
            float,
        ],
        ["killtime", "k", 5.0, "Seconds between SIGTERM and SIGKILL.", float],
        ["minrestartdelay", None, 1.0, "The first restart delay, in seconds.", float],
        [
            "maxrestartdelay",
            None,
            3600.0,
            "The largest restart delay, in seconds.",
            float,
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["commands"] = []

    def opt_command(self, commandLine: str) -> None:
        """
        Also keep this shell-quoted command line running; may be repeated.
        """
        words = shlex.split(commandLine)
        if not words:
            raise usage.UsageError("--command needs a program")
        self["commands"].append(words)

    def parseArgs(self, *args: str) -> None:
        """
        :param args: the program and its arguments.
        """
        if args:
            self["commands"].insert(0, list(args))

    def postOptions(self) -> None:
        """
        Require at least one program, and find each on ``PATH``.
        """
        if not self["commands"]:
            raise usage.UsageError("name a program to run")
        for words in self["commands"]:
            if os.sep not in words[0]:
                found = shutil.which(words[0])
                if found is None:
                    raise usage.UsageError(f"program not found: {words[0]!r}")
                words[0] = found
        if self["minrestartdelay"] > self["maxrestartdelay"]:
            raise usage.UsageError(
                "--minrestartdelay must not exceed --maxrestartdelay"
            )


def makeService(options: Any, reactor: Any = None) -> ProcessMonitor:
    """
    :param options: parsed ``Options``.
    :param reactor: the reactor; the global one by default.
    :return: the monitor with every program added.
    """
    monitor = ProcessMonitor(reactor=reactor)
    monitor.threshold = options["threshold"]
    monitor.killTime = options["killtime"]
    monitor.minRestartDelay = options["minrestartdelay"]
    monitor.maxRestartDelay = options["maxrestartdelay"]
    names: dict[str, int] = {}
    for words in options["commands"]:
        base = os.path.basename(words[0])
        names[base] = names.get(base, 0) + 1
        name = base if names[base] == 1 else f"{base}-{names[base]}"
        monitor.addProcess(name, words, env=dict(os.environ))
    return monitor


serviceMaker = service.ServiceMaker(
    "torsion procmon",
    __name__,
    "Run programs and restart them when they exit.",
    "procmon",
)
