"""GEX with the +-20% flip sweep (401 spots) on synthetic chains, time and peak memory.

Rows of issue 15, each a median (min-max) with a same-run ratio:

* 10,000 contracts: target < 10 ms and < 50 MB peak; against a per-contract Python
  loop that hoists each contract's constants out of the spot loop (target >= 50x; the
  loop computes only the sweep, the engine the whole result), and against the previous
  kernels (a spots x contracts array and groupby; ``tests/engine/reference_kernels.py``);
* 100,000 contracts: target linear time and < 150 MB peak, and the first call in a
  fresh process (page faults on big temporaries made it up to 3 s);
* scaling over 1k, 10k and 100k contracts (microseconds per contract, peak memory), and
  the real IWM chain when the data folder is there.

Peak memory is what tracemalloc sees allocated during the call (numpy reports its
buffers to it), not the process's resident size.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from bench._timing import RAW, measure, measure_pair, peak_mb, row
from engine.gex import DEFAULT_DIVIDEND_YIELD, DEFAULT_RISK_FREE_RATE, compute_gex, years_to_expiry

AS_OF = dt.datetime(2026, 7, 10, 12, 0)
SPOT = 250.0
ROOT = Path(__file__).resolve().parents[1]


def synthetic_chain(n: int = 10_000, seed: int = 42) -> pd.DataFrame:
    """60 weekly expiries, strikes +-40% of spot, IV 12-60%, gamma missing on 20%."""
    rng = np.random.default_rng(seed)
    expiries = pd.bdate_range("2026-07-10", periods=60, freq="W-FRI")
    return pd.DataFrame(
        {
            "expiration": rng.choice(expiries, n),
            "side": rng.choice(["call", "put"], n),
            "strike": np.round(SPOT * rng.uniform(0.6, 1.4, n)),
            "open_interest": rng.integers(0, 20_000, n).astype(float),
            "iv": rng.uniform(0.12, 0.6, n),
            "gamma": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 0.05, n)),
        }
    )


def hoisted_loop_profile(chain: pd.DataFrame, spots: np.ndarray) -> list[float]:
    """The sweep as plain Python: per contract, constants once, then a loop over spots."""
    t = years_to_expiry(chain["expiration"], AS_OF)
    r, q = DEFAULT_RISK_FREE_RATE, DEFAULT_DIVIDEND_YIELD
    log_spots = [math.log(s) for s in spots]
    totals = [0.0] * len(log_spots)
    rows = zip(chain["side"], chain["strike"], chain["open_interest"], chain["iv"], t, strict=True)
    for side, strike, oi, iv, tt in rows:
        vol = iv * math.sqrt(tt)
        sign = 1.0 if side == "call" else -1.0
        coef = sign * oi * 100.0 * math.exp(-q * tt) / (math.sqrt(2.0 * math.pi) * vol)
        shift = (r - q + 0.5 * iv * iv) * tt - math.log(strike)
        for i, log_s in enumerate(log_spots):
            d1 = (log_s + shift) / vol
            totals[i] += coef * math.exp(-0.5 * d1 * d1)
    return [g * s * 0.01 for g, s in zip(totals, spots, strict=True)]


def _first_call_ms(n: int, previous: bool) -> float:
    """Median over 3 fresh processes of the first compute_gex call (imports not timed)."""
    fn = "tests.engine.reference_kernels:ref_compute_gex" if previous else "engine.gex:compute_gex"
    module, name = fn.split(":")
    script = (
        "import time, importlib\n"
        "from bench.gex import synthetic_chain, SPOT, AS_OF\n"
        f"f = getattr(importlib.import_module('{module}'), '{name}')\n"
        f"chain = synthetic_chain({n})\n"
        "t = time.perf_counter(); f(chain, SPOT, AS_OF)\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(3)
    ]
    return statistics.median(runs)


def _ten_k_rows() -> list[str]:
    from tests.engine.reference_kernels import ref_compute_gex

    chain = synthetic_chain(10_000)
    spots = np.linspace(SPOT * 0.8, SPOT * 1.2, 401)
    ours, loop = measure_pair(
        partial(compute_gex, chain, SPOT, AS_OF),
        partial(hoisted_loop_profile, chain, spots),
        repeat=15,
        reference_repeat=2,
        warmup=False,
    )
    profile = compute_gex(chain, SPOT, AS_OF).profile_gex
    gap = np.max(np.abs(np.asarray(hoisted_loop_profile(chain, spots)) - profile))
    _, prev = measure_pair(
        partial(compute_gex, chain, SPOT, AS_OF),
        partial(ref_compute_gex, chain, SPOT, AS_OF),
        repeat=7,
        interleave=False,
    )
    peak, prev_peak = (
        peak_mb(partial(compute_gex, chain, SPOT, AS_OF)),
        peak_mb(partial(ref_compute_gex, chain, SPOT, AS_OF)),
    )
    return [
        row("compute_gex, 10,000 contracts", ours, ">= 50x the loop", loop, "hoisted Python loop"),
        f"  (loop and engine profiles agree to {gap / np.max(np.abs(profile)):.1e} of the largest)",
        row("compute_gex, 10,000 contracts", ours, "< 10 ms", prev, "previous kernels"),
        f"  peak memory {peak:.1f} MB (target < 50 MB); previous kernels {prev_peak:.0f} MB",
    ]


def _scaling_rows() -> list[str]:
    from tests.engine.reference_kernels import ref_compute_gex

    lines = ["scaling (median; microseconds per contract; peak memory):"]
    for n in (1_000, 10_000, 100_000):
        chain = synthetic_chain(n)
        big = n >= 100_000
        ours, prev = measure_pair(
            partial(compute_gex, chain, SPOT, AS_OF),
            partial(ref_compute_gex, chain, SPOT, AS_OF),
            repeat=5 if big else 11,
            reference_repeat=2 if big else None,
            interleave=False,
        )
        peak = peak_mb(partial(compute_gex, chain, SPOT, AS_OF))
        prev_peak = peak_mb(partial(ref_compute_gex, chain, SPOT, AS_OF))
        target = "linear time, < 150 MB" if big else "-"
        lines.append(
            row(
                f"  {n:>7,} contracts ({ours.median * 1000 / n:.2f} us each)",
                ours,
                target,
                prev,
                "previous",
            )
            + f"; peak {peak:.1f} MB vs {prev_peak:.0f} MB"
        )
    lines.append(
        f"  first call in a fresh process, 100,000 contracts: {_first_call_ms(100_000, False):.0f}"
        f" ms; previous kernels {_first_call_ms(100_000, True):.0f} ms"
    )
    return lines


def _real_chain_row() -> list[str]:
    path = RAW / "daggerok_options-desk" / "IWM_chain_2026-07-12.json"
    if not path.is_file():
        return [f"real chain {path} absent: skipped"]
    from sources.providers.chain import read_chain_file
    from tests.engine.reference_kernels import ref_compute_gex

    snap = read_chain_file(path)
    args = (snap.contracts, snap.spot, snap.as_of)
    ours, prev = measure_pair(
        partial(compute_gex, *args), partial(ref_compute_gex, *args), 15, interleave=False
    )
    label = f"real IWM chain ({len(snap.contracts):,} contracts)"
    return [row(label, ours, "-", prev, "previous kernels")]


def run() -> list[str]:
    return _ten_k_rows() + _scaling_rows() + _real_chain_row()


if __name__ == "__main__":  # python -m bench.gex
    print("\n".join(run()))
    print(measure(partial(compute_gex, synthetic_chain(), SPOT, AS_OF), 5).text())
