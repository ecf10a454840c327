"""Speed of the playbook audit and the walk-forward on 10 years of daily data.

Targets (issue 3): the full audit (7 rules x 2 horizons, 2,000 bootstrap resamples, plus
the regime splits) under 500 ms; the walk-forward over 10 years under 5 s. Uses the real
files in ``../shared/data/raw`` when present (IWM adjusted prices, CBOE VIX,
SqueezeMetrics' SPX GEX as a stand-in for IWM GEX), else the synthetic demo data.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RAW = Path(__file__).resolve().parents[2] / "shared" / "data" / "raw"
GEX_NOTE = "SqueezeMetrics SPX GEX used as a stand-in for IWM GEX"


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000.0


def _dataset() -> tuple[object, str]:
    prices = RAW / "guydekowski_market-lab" / "IWM.csv"
    if prices.exists():
        from sources.csv_import import load_dataset

        ds = load_dataset(
            prices,
            vix=RAW / "noodles-rice_vix_dashboard" / "VIX_History.csv",
            gex=RAW / "squeezemetrics_dix" / "DIX.csv",
            gex_note=GEX_NOTE,
        )
        return ds, "real IWM + VIX + SPX GEX stand-in"
    from engine.demo import demo_dataset

    return demo_dataset(years=10), "synthetic demo"


def run() -> list[str]:
    from engine.audit import audit
    from engine.build import prepare, state_at
    from engine.walkforward import walk_forward

    full, label = _dataset()
    frame = full.frame  # type: ignore[attr-defined]
    end = frame.index[-1]
    start = end - dt.timedelta(days=int(365.25 * 10))
    ten = full.__class__(  # same Dataset type, last 10 years only
        frame=frame[frame.index > start],
        provenance=full.provenance,  # type: ignore[attr-defined]
        warnings=full.warnings,  # type: ignore[attr-defined]
    )
    days = len(ten.frame)
    prepared = prepare(ten)
    audit_ms = _median_ms(lambda: audit(prepared, seed=0, n_boot=2000), repeat=7)
    prep_ms = _median_ms(lambda: prepare(ten), repeat=3)
    wf_ms = _median_ms(lambda: walk_forward(prepared), repeat=3)
    # the day with the most rules firing: state_at bootstraps the fired rules' returns
    counts = prepared.fires.sum(axis=1)
    busiest = counts[counts == counts.max()].index[-1].date()
    n_fired = int(counts.max())
    state_ms = _median_ms(lambda: state_at(prepared, busiest), repeat=7)
    return [
        f"data: {label}, {days} trading days ({ten.frame.index[0].date()} .. {end.date()})",
        f"audit (7 rules x 2 horizons + 4 regimes, 2000 resamples): median {audit_ms:.0f} ms "
        f"(target 500 ms, ratio {audit_ms / 500:.2f})",
        f"walk-forward over {days - 250} days: median {wf_ms:.0f} ms "
        f"(target 5000 ms, ratio {wf_ms / 5000:.2f})",
        f"state_at on {busiest} ({n_fired} rules firing, their stats bootstrapped): "
        f"median {state_ms:.0f} ms",
        f"prepare (indicators + rules, not timed above): median {prep_ms:.0f} ms",
    ]
