"""Building the MarketState for 10 years of daily data (warm: data already loaded).

What is measured, each as the median of :data:`RUNS` runs after one warm-up run:

* ``build_state``: the whole computation from a loaded Dataset (``prepare`` +
  ``state_at``), i.e. what a first request for a new dataset costs once it is in memory;
* ``prepare`` alone (indicators, rule fires, forward returns: once per dataset);
* ``state_at`` alone on a prepared dataset, on the last day and on the day with the most
  rules firing (each fired rule gets block-bootstrap intervals, the expensive part). The
  service caches ``prepare`` per input, so this is the cost of every further request.

CSV parsing is not included (the ``cli_start`` benchmark covers a cold run). When the
real files are beside the project, the real IWM history (26 years) is measured too.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from engine.build import build_state, prepare, state_at
from engine.dataset import Dataset
from engine.demo import demo_dataset

RUNS = 25
RAW = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "raw"


def _median_ms(fn: Callable[[], object]) -> float:
    fn()  # warm caches and imports
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _measure(label: str, data: Dataset) -> list[str]:
    prepared = prepare(data)
    busiest = prepared.fires.sum(axis=1).idxmax().date()
    full = _median_ms(lambda: build_state(data))
    prep = _median_ms(lambda: prepare(data))
    last = _median_ms(lambda: state_at(prepared))
    busy = _median_ms(lambda: state_at(prepared, busiest))
    return [
        f"{label}: {len(data.frame)} rows, median of {RUNS} runs",
        f"  build_state (prepare + state_at): {full:.1f} ms (target < 50 ms)",
        f"  prepare (indicators, fires, forward returns): {prep:.1f} ms",
        f"  state_at on a prepared dataset, last day: {last:.1f} ms; busiest day "
        f"{busiest}: {busy:.1f} ms ({busy / last:.1f}x, bootstrap for each fired rule)",
    ]


def run() -> list[str]:
    lines = _measure("10 years, synthetic demo", demo_dataset(years=10))
    prices = RAW / "guydekowski_market-lab" / "IWM.csv"
    if prices.is_file():
        from sources.csv_import import load_dataset

        real = load_dataset(
            prices,
            RAW / "noodles-rice_vix_dashboard" / "VIX_History.csv",
            RAW / "squeezemetrics_dix" / "DIX.csv",
        )
        lines += _measure("real IWM + CBOE VIX + DIX GEX, 2000-2026", real)
    else:
        lines.append(f"real data folder {RAW.resolve()} absent: real-file figures skipped")
    return lines
