"""Cold start of the command line: a fresh process for each run, as a user would see it."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 5
EXE = str(Path(sys.executable).with_name("iwm-analyst"))


def _median_seconds(args: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([EXE, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> list[str]:
    help_s = _median_seconds(["--help"])
    demo_s = _median_seconds(["forecast", "--demo", "--offline"])
    return [
        f"iwm-analyst --help: median {help_s * 1000:.0f} ms over {RUNS} cold runs",
        f"iwm-analyst forecast --demo --offline: median {demo_s * 1000:.0f} ms "
        f"over {RUNS} cold runs (target < 2000 ms; {demo_s / 2:.0%} of it)",
    ]
