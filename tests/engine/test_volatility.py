"""The volatility forecast and its ranges: formulas by hand, fallbacks, GARCH coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.volatility import (
    MODELS,
    RANGE_LEVELS,
    VolSettings,
    empirical_quantiles,
    ewma_variance,
    har_variance,
    horizon_log_returns,
    move_arrays,
    range_variance,
)
from tests.engine import synth

VS = VolSettings(ewma_lambda=0.94, refit_every=21, min_fit=250, quantile_window=1000)


def test_range_variance_by_hand_and_none_without_a_range() -> None:
    o, h, lo, c = (np.array([100.0, 101.0]), np.array([100.0, 103.0]),
                   np.array([100.0, 100.0]), np.array([100.0, 102.0]))  # fmt: skip
    rv = range_variance(o, h, lo, c)
    expected = (
        math.log(101 / 100) ** 2
        + 0.5 * math.log(103 / 100) ** 2
        - (2 * math.log(2) - 1) * math.log(102 / 101) ** 2
    )
    assert math.isnan(rv[0]) and rv[1] == pytest.approx(expected)
    flat = range_variance(c, c, c, c)  # a close-only file: no intraday range
    assert np.isnan(flat).all()


def test_ewma_recursion_from_its_seed() -> None:
    rng = np.random.default_rng(1)
    lr = np.concatenate([[np.nan], rng.normal(0, 0.01, 40)])
    v = ewma_variance(lr, 0.94, seed_rows=20)
    assert np.isnan(v[:20]).all()
    assert v[20] == pytest.approx(np.mean(lr[1:21] ** 2))
    assert v[21] == pytest.approx(0.94 * v[20] + 0.06 * lr[21] ** 2)
    lr[30] = np.nan  # a missing return leaves the variance unchanged
    v2 = ewma_variance(lr, 0.94, seed_rows=20)
    assert v2[30] == v2[29]


def test_har_recovers_a_constant_variance() -> None:
    rv = np.full(600, 1e-4)
    v = har_variance(rv, 5, 21, 250)
    assert np.isnan(v[:250]).all()
    assert v[300:] == pytest.approx(1e-4)


def test_empirical_quantiles_use_only_closed_windows() -> None:
    rng = np.random.default_rng(2)
    z = rng.standard_t(5, 800)
    q, n = empirical_quantiles(z, 5, 21, 500, 250)
    t = 21 * 30  # a refit row
    window = z[t - 5 + 1 - 500 : t - 5 + 1]
    probs = [(1 - lv) / 2 + s * lv for lv in RANGE_LEVELS for s in (0, 1)]
    assert q[t] == pytest.approx(np.quantile(window, probs))
    assert n[t] == 500 and (q[t + 20] == q[t]).all()
    assert n[100] == 0 and q[100][0] == pytest.approx(-0.994458, abs=1e-6)  # normal


def test_model_fallbacks_follow_the_inputs() -> None:
    close_only = synth.garch(0, n=1500)
    bars = synth.garch(0, n=1500, bars=True)

    def models(daily) -> set[str]:  # type: ignore[no-untyped-def]
        m = move_arrays(*(daily[c].to_numpy() for c in ("adj_close", "open", "high", "low",
                          "close", "vix")), 1, VS)  # fmt: skip
        return {MODELS[c] for c in m.model[1200:]}

    assert models(close_only) == {"EWMA"}
    assert models(bars) == {"HAR-X"}
    no_vix = bars.assign(vix=np.nan)
    assert models(no_vix) == {"HAR"}
    gap = bars.copy()
    gap.iloc[1300:1305, gap.columns.get_loc("vix")] = np.nan
    m = move_arrays(*(gap[c].to_numpy() for c in ("adj_close", "open", "high", "low", "close",
                      "vix")), 1, VS)  # fmt: skip
    assert {MODELS[c] for c in m.model[1300:1305]} == {"HAR"}  # no VIX today: HAR that day
    assert m.model[:20].tolist() == [-1] * 20 and m.model[20] == 0  # EWMA from its seed


@pytest.mark.parametrize("bars", [False, True], ids=["close-only EWMA", "OHLC+VIX HAR-X"])
def test_ranges_cover_simulated_garch_within_two_points(bars: bool) -> None:
    """GARCH(1,1) with t(5) shocks: 68% and 90% coverage at 1 and 5 days, averaged over
    seeds, within 2 points of nominal."""
    covered = []
    for seed in range(4):
        daily = synth.garch(seed, bars=bars)
        adj = daily["adj_close"].to_numpy()
        row = []
        for h in (1, 5):
            m = move_arrays(adj, *(daily[c].to_numpy() for c in ("open", "high", "low",
                            "close", "vix")), h, VS)  # fmt: skip
            outcome = horizon_log_returns(adj, h)
            ok = np.isfinite(outcome) & np.isfinite(m.sd) & (np.arange(adj.size) >= 250)
            for level in RANGE_LEVELS:
                lo, hi = m.bounds(level)
                row.append(((outcome >= lo) & (outcome <= hi))[ok].mean())
        covered.append(row)
    mean = np.mean(covered, axis=0) * 100
    assert np.abs(mean - np.array([68, 90, 68, 90])).max() <= 2.0
