"""Building the MarketState for 10 years of daily data (warm: data already loaded)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from engine.build import build_state, prepare, state_at
from engine.demo import demo_dataset

RUNS = 25


def _median_ms(fn: Callable[[], object]) -> float:
    fn()  # warm caches and imports
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def run() -> list[str]:
    data = demo_dataset(years=10)
    prepared = prepare(data)
    busiest = prepared.fires.sum(axis=1).idxmax().date()
    full = _median_ms(lambda: build_state(data))
    prep = _median_ms(lambda: prepare(data))
    last = _median_ms(lambda: state_at(prepared))
    busy = _median_ms(lambda: state_at(prepared, busiest))
    return [
        f"{len(data.frame)} rows (10 years, synthetic), median of {RUNS} runs",
        f"build_state (prepare + state_at): {full:.1f} ms (target < 50 ms)",
        f"prepare (indicators, fires, forward returns): {prep:.1f} ms",
        f"state_at, last day: {last:.1f} ms; busiest day {busiest}: {busy:.1f} ms "
        f"({busy / last:.1f}x, bootstrap intervals for each fired rule)",
    ]
