"""Cold start of the command line: a fresh process for each run, as a user would see it.

Rows of issue 15: ``iwm-analyst forecast --csv IWM.csv --offline`` on the real 26-year
file against ``python -c "import pandas"`` (target < 1.3x), timed alternately in this run;
also ``--help`` and the demo forecast. Wall-clock medians with their min-max, and the CPU
time (user + system) of the same runs, which a loaded machine disturbs less.

The NYSE calendar is cached on disk per day (:mod:`sources.calendar`); the first run of
a day builds it. The runs here use a fresh cache folder, warmed by one untimed run.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._timing import RAW, Timing, row

RUNS = 7
EXE = str(Path(sys.executable).with_name("iwm-analyst"))
PRICES = RAW / "guydekowski_market-lab" / "IWM.csv"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds of one fresh process."""
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    return (time.perf_counter() - started) * 1000.0, (_children_cpu() - cpu) * 1000.0


def _pair(
    ours: list[str], ref: list[str], env: dict[str, str]
) -> tuple[Timing, Timing, Timing, Timing]:
    """(wall, cpu) of ``ours`` and of ``ref``, run alternately after one warm-up each."""
    _once(ours, env)
    _once(ref, env)
    runs = [(_once(ours, env), _once(ref, env)) for _ in range(RUNS)]
    return (
        Timing(tuple(o[0] for o, _ in runs)),
        Timing(tuple(o[1] for o, _ in runs)),
        Timing(tuple(r[0] for _, r in runs)),
        Timing(tuple(r[1] for _, r in runs)),
    )


def _ratio_line(label: str, wall: Timing, cpu: Timing, ref_wall: Timing, ref_cpu: Timing) -> str:
    return (
        f"{label}: {wall.text()}, CPU {cpu.text()}; target < 1.3x import pandas; "
        f"import pandas {ref_wall.text()}, CPU {ref_cpu.text()} -> "
        f"{wall.median / ref_wall.median:.2f}x wall, {cpu.median / ref_cpu.median:.2f}x CPU"
    )


def run() -> list[str]:
    lines = []
    pandas = [sys.executable, "-c", "import pandas"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "IWM_DATA_DIR": tmp, "IWM_CACHE_DIR": str(Path(tmp) / "cache")}
        if PRICES.is_file():
            args = [EXE, "forecast", "--csv", str(PRICES), "--offline"]
            lines.append(
                _ratio_line(
                    "forecast --csv IWM.csv (26 years) --offline", *_pair(args, pandas, env)
                )
            )
        else:
            lines.append(f"real data folder {RAW} absent: the --csv row is skipped")
        demo = _pair([EXE, "forecast", "--demo", "--offline"], pandas, env)
        lines.append(_ratio_line("forecast --demo --offline", *demo))
        help_wall, help_cpu, _, _ = _pair([EXE, "--help"], pandas, env)
        lines.append(row("--help", help_wall, "-") + f", CPU {help_cpu.text()}")
    return lines
