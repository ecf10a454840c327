"""Cells, their point-in-time records, the shrink calibration and the decisions, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.calibration import (
    REASONS,
    DecisionRules,
    calibrate,
    cell_probability,
    cell_record,
    cells_of,
    decide,
    edge_se,
)
from engine.causal import known_cumsum, overlap_inflation, running_rate, wilson_bounds
from engine.stats import effective_sample_size, wilson_interval
from tests.engine import synth


def test_cells_are_exact_sets_of_fired_rules() -> None:
    fires = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1, 1]], dtype=bool)
    cells = cells_of(fires)
    assert cells.index[2] == cells.index[4] != cells.index[1]
    assert cells.empty == cells.index[0]
    names = ("A", "B")
    assert [cells.rules_of(int(c), names) for c in cells.index] == [
        (),
        ("A",),
        ("A", "B"),
        ("B",),
        ("A", "B"),
    ]


def test_known_cumsum_sees_only_closed_windows() -> None:
    x = np.arange(1.0, 8.0)
    assert known_cumsum(x, 0).tolist() == np.cumsum(x).tolist()
    assert known_cumsum(x, 2).tolist() == [0, 0, 1, 3, 6, 10, 15]


def test_cell_record_matches_the_audits_effective_sample_size() -> None:
    """At every row the cumulative n_eff equals effective_sample_size over the known fires."""
    rng = np.random.default_rng(3)
    n, h = 600, 5
    fires = synth.markov_fires(rng, n, 0.3, 0.8)[:, None]
    y = (rng.random(n) < 0.55).astype(float)
    y[-h:] = np.nan
    cells = cells_of(fires)
    record = cell_record(cells, y, h)
    for t in (50, 200, 417, n - 1):
        known = np.flatnonzero(fires[:, 0] & (np.arange(n) <= t - h) & ~np.isnan(y))
        if fires[t, 0]:
            assert record.n[t] == known.size
            assert record.wins[t] == y[known].sum()
            assert record.n_eff[t] == pytest.approx(effective_sample_size(known, h))


def test_cell_probability_shrinks_toward_the_base_rate() -> None:
    base = np.array([0.5, 0.5, 0.5])
    rec = cell_record(cells_of(np.array([[1], [1], [1]], dtype=bool)), np.array([1.0, 1, 1]), 1)
    p = cell_probability(rec, base, np.array([True, True, True]), k=50.0)
    # row 2 knows rows 0 and 1: 2 ups in 2, shrunk with 50 pseudo-cases at 0.5
    assert p[2] == pytest.approx((2 * 1.0 + 50 * 0.5) / 52)
    assert p[0] == 0.5  # nothing known yet


def test_calibration_slope_by_hand() -> None:
    p_raw = np.array([0.6, 0.4, 0.6, 0.5])
    base = np.full(4, 0.5)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    p, kappa = calibrate(p_raw, base, y, 1, prior_sd=0.5)
    tau = overlap_inflation(1) * 0.25 / 0.25
    sxe = 0.1 * 0.5 + (-0.1) * (-0.5) + 0.1 * (-0.5)
    sxx = 0.01 * 3
    assert kappa[3] == pytest.approx(max(0.0, min(1.0, sxe / (sxx + tau))))
    assert kappa[0] == 0.0 and p[0] == 0.5  # no evidence: the base rate
    assert p[3] == pytest.approx(0.5 + kappa[3] * 0.0)


def test_edge_se_is_zero_without_a_cell() -> None:
    se = edge_se(np.array([0.5, 0.5]), np.array([0.0, 50.0]), np.array([1.0, 0.5]), 50.0)
    assert se[0] == 0.0 and se[1] == pytest.approx(0.5 * math.sqrt(0.25 / 100))


def test_vectorised_wilson_matches_the_audit() -> None:
    lo, hi = wilson_bounds(np.array([0.8, 0.3]), np.array([10.0, 50.0]))
    for i, (k, n) in enumerate(((8, 10), (15, 50))):
        ref = wilson_interval(k, n)
        assert ref is not None
        assert (lo[i], hi[i]) == pytest.approx(ref)
    lo0, hi0 = wilson_bounds(0.5, 0.0)
    assert (float(lo0), float(hi0)) == (0.0, 1.0)


def test_running_rate_falls_back_before_anything_is_known() -> None:
    rate, n = running_rate(np.array([1.0, 0.0, 1.0, np.nan]), 1)
    assert rate.tolist() == [0.5, 1.0, 0.5, 2 / 3] and n.tolist() == [0, 1, 2, 3]


RULES = DecisionRules(
    z_call=1.96, min_history=10, min_record=5, min_record_high=8,
    medium_level=0.95, high_level=0.99,
)  # fmt: skip


def test_decisions_follow_the_record_of_forecasts_like_todays() -> None:
    """One cell with a constant strong edge: its candidates win, so once enough of them
    are known the call stands and confidence rises to medium, then high."""
    n = 60
    fires = np.ones((n, 1), dtype=bool)
    cells = cells_of(fires)
    base = np.full(n, 0.5)
    p = np.full(n, 0.7)
    se = np.full(n, 0.05)
    y = np.ones(n)
    d = decide(p, base, se, y, 1, cells, np.arange(n, dtype=float), fires[:, 0],
               np.ones(n), RULES)  # fmt: skip
    assert d.call[5] == 0 and REASONS[d.reason[5]] == "short_history"
    assert d.call[12] == 1 and d.record_n[12] == 12
    assert d.confidence[12] >= 1 and d.confidence[-1] == 2
    # the same day with the outcomes going the other way: the record is below its base
    d2 = decide(p, base, se, np.zeros(n), 1, cells, np.arange(n, dtype=float), fires[:, 0],
                np.ones(n), RULES)  # fmt: skip
    assert (d2.call[10:] == 0).all()
    assert REASONS[d2.reason[-1]] == "record_below_base"
    # an edge inside its uncertainty is never a candidate
    d3 = decide(p, base, np.full(n, 0.2), y, 1, cells, np.arange(n, dtype=float),
                fires[:, 0], np.ones(n), RULES)  # fmt: skip
    assert REASONS[d3.reason[-1]] == "edge_within_uncertainty" and d3.record_n[-1] == 0
