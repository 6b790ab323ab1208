"""
Benchmark torsion-trial against Twisted's trial (when importable), each run
as a subprocess over generated suites:

- 2,000 trivial tests;
- 2,000 tests each returning a Deferred fired by ``callLater(0)``;
- a CPU-bound suite under ``--jobs 1`` and ``--jobs 2`` (torsion only).

Run with ``/work/benchvenv/bin/python bench_trial.py`` (Twisted is installed
there); prints wall-clock times and speed ratios (anchor time / torsion
time: above 1.0 means torsion-trial is faster).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
TRIAL_SRC = HERE.parent / "src"

N_TESTS = 2000
PER_CLASS = 50
CPU_TESTS = 48
CPU_LOOPS = 1_000_000


def _suite(framework: str, kind: str) -> str:
    lines = [
        f"from {framework}.trial import unittest",
        f"from {framework}.internet import defer",
        "",
    ]
    if kind == "cpu":
        lines += [
            "def burn():",
            "    total = 0",
            f"    for i in range({CPU_LOOPS}):",
            "        total += i * i % 7",
            "    return total",
            "",
            "class Cpu(unittest.TestCase):",
        ]
        for m in range(CPU_TESTS):
            lines.append(f"    def test_{m:03d}(self):\n        burn()")
        return "\n".join(lines) + "\n"
    for c in range(N_TESTS // PER_CLASS):
        lines.append(f"class T{c:03d}(unittest.TestCase):")
        for m in range(PER_CLASS):
            if kind == "trivial":
                lines.append(f"    def test_{m:03d}(self):\n        pass")
            else:
                lines.append(
                    f"    def test_{m:03d}(self):\n"
                    f"        from {framework}.internet import reactor\n"
                    "        d = defer.Deferred()\n"
                    "        reactor.callLater(0, d.callback, None)\n"
                    "        return d"
                )
    return "\n".join(lines) + "\n"


_cpu: list[float] = []


def _childrenCpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(
    command: list[str], cwd: pathlib.Path, env: dict[str, str], expected: int
) -> float:
    cpuBefore = _childrenCpu()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    # CPU time of the run and its workers (they are reaped before it exits).
    _cpu.append(_childrenCpu() - cpuBefore)
    if done.returncode != 0 or f"Ran {expected} tests" not in done.stdout:
        raise SystemExit(
            f"{' '.join(command)} failed ({done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return elapsed


def main() -> None:
    haveTwisted = importlib.util.find_spec("twisted") is not None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TRIAL_SRC), *filter(None, [env.get("PYTHONPATH")])]
    )
    torsion = [sys.executable, "-m", "torsion.trial", "--reporter", "summary"]
    twisted = [sys.executable, "-m", "twisted.trial", "--reporter", "summary"]
    rows: list[tuple[str, float, float | None]] = []
    cpuRows: list[tuple[float, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="bench-trial-") as tmp:
        root = pathlib.Path(tmp)
        for kind, label in (
            ("trivial", f"{N_TESTS} trivial tests"),
            ("later", f"{N_TESTS} callLater(0) Deferred tests"),
        ):
            timings: dict[str, float] = {}
            cpus: dict[str, float] = {}
            for framework, command in (("torsion", torsion), ("twisted", twisted)):
                if framework == "twisted" and not haveTwisted:
                    continue
                directory = root / f"{framework}_{kind}"
                directory.mkdir()
                name = f"test_{framework}_{kind}.py"
                (directory / name).write_text(_suite(framework, kind))
                # Compile once so neither run pays for writing bytecode.
                subprocess.run(
                    [sys.executable, "-m", "py_compile", name],
                    cwd=directory,
                    check=True,
                )
                path = str(directory / name)
                timings[framework] = _run([*command, path], directory, env, N_TESTS)
                cpus[framework] = _cpu[-1]
            rows.append((label, timings["torsion"], timings.get("twisted")))
            cpuRows.append((cpus["torsion"], cpus.get("twisted")))

        directory = root / "cpu"
        directory.mkdir()
        (directory / "test_cpu.py").write_text(_suite("torsion", "cpu"))
        subprocess.run(
            [sys.executable, "-m", "py_compile", "test_cpu.py"],
            cwd=directory,
            check=True,
        )
        cpu = [str(directory / "test_cpu.py")]
        jobs1 = _run([*torsion, "--jobs", "1", *cpu], directory, env, CPU_TESTS)
        cpu1 = _cpu[-1]
        jobs2 = _run([*torsion, "--jobs", "2", *cpu], directory, env, CPU_TESTS)
        cpu2 = _cpu[-1]

    print(f"{'benchmark':<36} {'torsion s':>10} {'twisted s':>10} {'speed ratio':>12}")
    for (label, t, anchor), (cpuT, cpuA) in zip(rows, cpuRows, strict=True):
        if anchor is None or cpuA is None:
            print(f"{label:<36} {t:>10.3f} {'n/a':>10} {'n/a':>12}")
            continue
        print(f"{label:<36} {t:>10.3f} {anchor:>10.3f} {anchor / t:>12.2f}")
        print(f"{'  CPU time':<36} {cpuT:>10.3f} {cpuA:>10.3f} {cpuA / cpuT:>12.2f}")
    print(
        f"{f'CPU-bound suite ({CPU_TESTS} tests)':<36} "
        f"{'--jobs 1':>10} {'--jobs 2':>10} {'speed ratio':>12}"
    )
    print(f"{'  wall clock':<36} {jobs1:>10.3f} {jobs2:>10.3f} {jobs1 / jobs2:>12.2f}")
    print(f"{'  CPU time, all processes':<36} {cpu1:>10.3f} {cpu2:>10.3f}")
    # On an idle machine the --jobs 2 wall time approaches half its CPU time;
    # when the machine is busy the wall-clock ratio says little.
    print(
        f"{'  estimate on 2 idle CPUs (CPU / n)':<36} {cpu1:>10.3f} {cpu2 / 2:>10.3f} "
        f"{cpu1 / (cpu2 / 2):>12.2f}"
    )
    print(
        "speed ratio = anchor time / torsion time (twisted rows), "
        "--jobs 1 time / --jobs 2 time (CPU rows); cpus:",
        os.cpu_count(),
        "load average:",
        " ".join(f"{x:.1f}" for x in os.getloadavg()),
    )


if __name__ == "__main__":
    main()
