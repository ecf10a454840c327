"""Timing helpers shared by the benchmarks (not a benchmark itself: the name starts with _).

The machine running ``make bench`` is shared and noisy, so every figure is a median with
its min-max over the runs, and every comparison is a ratio against a reference timed in
the same run, interleaved run by run with the measured code so both see the same load.
"""

from __future__ import annotations

import contextlib
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RAW = Path(__file__).resolve().parents[2] / "shared" / "data" / "raw"
GEX_NOTE = "SqueezeMetrics SPX GEX used as a stand-in for IWM GEX"


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated runs, in milliseconds."""

    ms: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    def text(self) -> str:
        """'12.3 ms (11.9-14.0)': the median and the min-max over the runs."""
        return f"{_num(self.median)} ms ({_num(min(self.ms))}-{_num(max(self.ms))})"


def _num(ms: float) -> str:
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def _once(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000.0


def measure(fn: Callable[[], object], repeat: int, warmup: int = 1) -> Timing:
    """``fn`` run ``warmup`` times untimed, then ``repeat`` times timed."""
    for _ in range(warmup):
        fn()
    return Timing(tuple(_once(fn) for _ in range(repeat)))


def measure_pair(
    fn: Callable[[], object],
    reference: Callable[[], object],
    repeat: int,
    reference_repeat: int | None = None,
    warmup: bool = True,
    interleave: bool = True,
) -> tuple[Timing, Timing]:
    """``fn`` and ``reference`` timed alternately (each warmed up once unless told not).

    ``reference_repeat`` (default ``repeat``) lets a slow reference run fewer times;
    its runs are spread evenly among the runs of ``fn``. ``interleave=False`` times all
    runs of ``fn`` first, then the reference's: for a reference that allocates so much
    that it would leave ``fn`` cold caches and page faults.
    """
    if warmup:
        fn()
        reference()
    ref_repeat = repeat if reference_repeat is None else reference_repeat
    if not interleave:
        ours = measure(fn, repeat, warmup=0)
        return ours, measure(reference, ref_repeat, warmup=0)
    ours: list[float] = []
    refs: list[float] = []
    for i in range(repeat):
        ours.append(_once(fn))
        if len(refs) * repeat < (i + 1) * ref_repeat:
            refs.append(_once(reference))
    return Timing(tuple(ours)), Timing(tuple(refs))


def row(
    label: str, ours: Timing, target: str, ref: Timing | None = None, ref_label: str = ""
) -> str:
    """One result line: median (min-max), the target, and the same-run ratio."""
    line = f"{label}: {ours.text()}; target {target}"
    if ref is not None:
        ratio = ref.median / ours.median
        if ratio >= 1.05:
            verdict = f"{ratio:.1f}x faster"
        elif ratio <= 0.95:
            verdict = f"{1 / ratio:.2f}x slower"
        else:
            verdict = "same speed"
        line += f"; {ref_label} {ref.text()} -> {verdict}"
    return line


def peak_mb(fn: Callable[[], Any]) -> float:
    """Peak of memory allocated while ``fn`` runs (tracemalloc sees numpy's buffers), MB."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


@contextlib.contextmanager
def previous_kernels(indicators: bool = True) -> Iterator[None]:
    """The engine with its kernels swapped back to the previous implementation.

    The references live in ``tests/engine/reference_kernels.py``: pandas indicators one
    Series at a time, the index-matrix bootstrap with ``np.median``, ``np.isin`` pairs.
    """
    import engine.prepared
    from engine import stats
    from tests.engine import reference_kernels as ref

    saved = (
        engine.prepared.compute_indicators,
        stats.block_bootstrap_ci,
        stats.effective_sample_size,
    )
    if indicators:
        engine.prepared.compute_indicators = ref.ref_compute_indicators
    stats.block_bootstrap_ci = ref.ref_block_bootstrap_ci
    stats.effective_sample_size = ref.ref_effective_sample_size
    try:
        yield
    finally:
        (
            engine.prepared.compute_indicators,
            stats.block_bootstrap_ci,
            stats.effective_sample_size,
        ) = saved


def with_previous(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` wrapped to run under :func:`previous_kernels`."""

    def run() -> object:
        with previous_kernels():
            return fn()

    return run


def real_ten_years() -> tuple[Any, str]:
    """The last 10 years of the real IWM files (adjusted prices, CBOE VIX, DIX GEX), or
    the 10-year synthetic demo when the files are absent; and a label saying which."""
    prices = RAW / "guydekowski_market-lab" / "IWM.csv"
    if not prices.exists():
        from engine.demo import demo_dataset

        return demo_dataset(years=10), "synthetic demo, 10 years"
    import datetime as dt

    from sources.csv_import import load_dataset

    full = load_dataset(
        prices,
        vix=RAW / "noodles-rice_vix_dashboard" / "VIX_History.csv",
        gex=RAW / "squeezemetrics_dix" / "DIX.csv",
        gex_note=GEX_NOTE,
    )
    end = full.frame.index[-1]
    start = end - dt.timedelta(days=int(365.25 * 10))
    ten = full.__class__(
        frame=full.frame[full.frame.index > start],
        provenance=full.provenance,
        warnings=full.warnings,
    )
    return ten, "real IWM + CBOE VIX + SPX GEX stand-in, last 10 years"
