"""
``torsion-trial --jobs N``: running tests in N worker processes.

Each worker (``python -m torsion.trial._worker``) loads the same tests from
the same arguments, so tests are named by their index in that list. The
main process hands out one index at a time over the worker's standard
input; the worker answers with one JSON line per test holding everything the
reporter was told, which the main process replays into its own reporter. A
worker that dies while running a test has that test reported as an error,
and is replaced.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

from torsion.trial import reporter as _reporter

__all__ = ["WorkerCrashed", "runDistributed"]

#: The longest line (bytes) a worker may send; longer output is a protocol
#: error and the worker is treated as crashed.
MAX_MESSAGE_LENGTH = 64 * 1024 * 1024

#: How many tests are sent ahead to each worker (the one running and the
#: ones queued behind it); 1 would make a worker idle while this process
#: reads each result.
PIPELINE_DEPTH = 2


class WorkerCrashed(Exception):
    """
    A worker process exited while running a test.
    """


class _Worker:
    def __init__(
        self, number: int, directory: str, command: list[str], env: dict[str, str]
    ) -> None:
        self.number = number
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.stderrFile = open(os.path.join(directory, "stderr.log"), "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderrFile,
            cwd=directory,
            env=env,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.stdout: IO[bytes] = self.process.stdout
        self.stdin: IO[bytes] = self.process.stdin
        self.buffer = b""
        # Tests sent and not answered yet, oldest (the one running) first.
        self.queue: collections.deque[int] = collections.deque()
        self.ready = False
        self.total: int | None = None
        self.finished = False

    @property
    def current(self) -> int | None:
        """
        The test the worker is running, if any.
        """
        return self.queue[0] if self.queue else None

    def send(self, line: str) -> None:
        try:
            self.stdin.write(line.encode() + b"\n")
            self.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def close(self) -> None:
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderrFile.close()

    def stderrTail(self, limit: int = 4000) -> str:
        try:
            with open(os.path.join(self.directory, "stderr.log"), "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")


def _workerCommand(
    options: argparse.Namespace, names: Sequence[str], originalCwd: str
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "torsion.trial._worker",
        "--cwd",
        originalCwd,
        "--logfile",
        options.logfile,
    ]
    if options.reactor:
        command += ["--reactor", options.reactor]
    if options.coverage:
        command += ["--coverage"]
    command.append("--")
    command.extend(names)
    return command


def _replay(reporter: _reporter.Reporter, message: dict[str, Any]) -> None:
    test = _reporter.RemoteTest(message["id"])
    reporter.startTest(test)
    for event in message["events"]:
        kind = event["kind"]
        if kind == "success":
            reporter.addSuccess(test)
        elif kind in ("failure", "error"):
            err = _reporter.RemoteError(event["type"], event["message"], event["text"])
            (reporter.addFailure if kind == "failure" else reporter.addError)(test, err)
        elif kind == "skip":
            reporter.addSkip(test, event["reason"])
        elif kind == "xfail":
            err = _reporter.RemoteError(event["type"], event["message"], event["text"])
            reporter.addExpectedFailure(test, err, event["todo"])
        elif kind == "uxsuccess":
            reporter.addUnexpectedSuccess(test, event["todo"])
    reporter.stopTest(test)


def _mergeLogs(tempDir: str, logfile: str, numbers: Sequence[int]) -> None:
    with open(os.path.join(tempDir, logfile), "ab") as merged:
        for n in numbers:
            path = os.path.join(tempDir, str(n), logfile)
            if not os.path.exists(path):
                continue
            merged.write(f"--- worker {n} ---\n".encode())
            with open(path, "rb") as f:
                shutil.copyfileobj(f, merged)


def runDistributed(
    options: argparse.Namespace,
    names: Sequence[str],
    tempDir: str,
    reporter: _reporter.Reporter,
    originalCwd: str,
) -> bool:
    """
    Run the tests in ``options.jobs`` worker processes and report them.

    :param options: the parsed command line.
    :param names: the test names (paths made absolute).
    :param tempDir: the run's locked temporary directory; worker ``n``
        works in ``<tempDir>/<n>``.
    :param reporter: the reporter.
    :param originalCwd: the directory the command was started in.
    :return: whether every test passed.
    """
    # The workers load the tests; the first one ready says which there are,
    # so this process never imports test code (a faster start).
    ids: list[str] = []
    pending: list[int] = []
    known = False

    def learn(testIds: list[str]) -> None:
        nonlocal known
        ids.extend(testIds)
        order = list(range(len(ids)))
        if options.random is not None:
            seed = options.random
            if seed < 0:
                seed = int(time.time() * 1000) % (2**31)
            reporter.stream.write(f"Running tests shuffled with seed {seed}\n\n")
            random.Random(seed).shuffle(order)
        pending.extend(reversed(order))
        known = True

    command = _workerCommand(options, names, originalCwd)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p])
    selector = selectors.DefaultSelector()
    workers: dict[int, _Worker] = {}
    used: list[int] = []
    nextNumber = 0
    jobs = options.jobs
    stopping = False

    def spawn() -> None:
        nonlocal nextNumber
        number = nextNumber
        nextNumber += 1
        used.append(number)
        worker = _Worker(number, os.path.join(tempDir, str(number)), command, env)
        workers[number] = worker
        selector.register(worker.stdout, selectors.EVENT_READ, worker)

    def feed(worker: _Worker) -> None:
        # Keep the next test queued in the worker's pipe so that it never
        # waits for this process between tests.
        while len(worker.queue) < PIPELINE_DEPTH and pending and not stopping:
            index = pending.pop()
            worker.queue.append(index)
            worker.send(str(index))
        if not worker.queue and not worker.finished:
            worker.send("quit")
            worker.finished = True

    def crashed(worker: _Worker) -> None:
        selector.unregister(worker.stdout)
        del workers[worker.number]
        worker.close()
        code = worker.process.returncode
        if worker.current is not None:
            testId = ids[worker.current]
            message = (
                f"worker {worker.number} exited with status {code} "
                f"while running {testId}"
            )
            tail = worker.stderrTail()
            text = f"WorkerCrashed: {message}\n\nworker stderr (tail):\n{tail}"
            test = _reporter.RemoteTest(testId)
            reporter.startTest(test)
            reporter.addError(
                test,
                _reporter.RemoteError(
                    "torsion.trial._dist.WorkerCrashed", message, text
                ),
            )
            reporter.stopTest(test)
            # What was queued behind the crashed test goes to other workers.
            worker.queue.popleft()
            pending.extend(reversed(worker.queue))
            worker.queue.clear()
        elif not worker.ready:
            raise WorkerCrashed(
                f"worker {worker.number} exited with status {code} "
                f"before it was ready:\n"
                f"{worker.stderrTail()}"
            )
        if (pending and not stopping) and len(workers) < jobs:
            spawn()

    reporter.startTestRun()
    os.chdir(tempDir)
    for _ in range(jobs):
        spawn()
    try:
        while workers:
            for key, _ in selector.select():
                worker = key.data
                chunk = os.read(worker.stdout.fileno(), 65536)
                if not chunk:
                    if worker.finished and worker.current is None:
                        selector.unregister(worker.stdout)
                        del workers[worker.number]
                        worker.close()
                    else:
                        crashed(worker)
                    continue
                worker.buffer += chunk
                if len(worker.buffer) > MAX_MESSAGE_LENGTH:
                    worker.process.kill()
                    continue
                while b"\n" in worker.buffer:
                    line, worker.buffer = worker.buffer.split(b"\n", 1)
                    message = json.loads(line)
                    if "ready" in message:
                        worker.ready = True
                        if not known:
                            learn(message["ids"])
                        elif message["ids"] != ids:
                            raise WorkerCrashed(
                                f"worker {worker.number} loaded other tests "
                                f"({len(message['ids'])}) than the first "
                                f"({len(ids)})"
                            )
                    elif message.get("extra"):
                        _replay(reporter, message)
                        continue
                    else:
                        if worker.queue and worker.queue[0] == message["i"]:
                            worker.queue.popleft()
                        _replay(reporter, message)
                        if options.exitfirst and not reporter.wasSuccessful():
                            stopping = True
                        if reporter.shouldStop:
                            stopping = True
                    feed(worker)
    finally:
        for worker in list(workers.values()):
            worker.process.kill()
            worker.close()
        selector.close()
    reporter.stopTestRun()
    _mergeLogs(tempDir, options.logfile, used)
    reporter.done()
    return reporter.wasSuccessful()
