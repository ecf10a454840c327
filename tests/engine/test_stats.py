from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from engine import stats


def test_wilson_known_values() -> None:
    lo, hi = stats.wilson_interval(8, 10)  # type: ignore[misc]
    assert lo == pytest.approx(0.490, abs=5e-4)
    assert hi == pytest.approx(0.943, abs=5e-4)
    lo, hi = stats.wilson_interval(0, 20)  # type: ignore[misc]
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=5e-4)
    assert stats.wilson_interval(0, 0) is None


def test_wilson_matches_scipy() -> None:
    for k, n in [(3, 7), (42, 60), (500, 1000), (1, 200)]:
        ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
        lo, hi = stats.wilson_interval(k, n)  # type: ignore[misc]
        assert lo == pytest.approx(ci.low, abs=1e-9)
        assert hi == pytest.approx(ci.high, abs=1e-9)


def test_binomial_p_values() -> None:
    # by hand: P(X >= 9 | n=10, p=.5) = (10 + 1) / 1024
    assert stats.binomial_p_greater(9, 10, 0.5) == pytest.approx(11 / 1024)
    assert stats.binomial_p_greater(0, 10, 0.5) == 1.0
    assert stats.binomial_p_less(1, 10, 0.5) == pytest.approx(11 / 1024)
    for k, n, p0 in [(30, 42, 0.54), (12, 40, 0.55), (100, 150, 0.6)]:
        ref = binomtest(k, n, p0, alternative="greater").pvalue
        assert stats.binomial_p_greater(k, n, p0) == pytest.approx(ref, rel=1e-9)
    assert stats.binomial_p_greater(1, 0, 0.5) is None


def test_bh_hand_example() -> None:
    p = [0.01, 0.04, 0.03, 0.20, None]
    # sorted: .01 .03 .04 .20; p*m/rank = .04 .06 .0533 .20 -> cummin from top
    q = stats.bh_qvalues(p)
    assert q[0] == pytest.approx(0.04)
    assert q[2] == pytest.approx(0.05333333)
    assert q[1] == pytest.approx(0.05333333)
    assert q[3] == pytest.approx(0.20)
    assert q[4] is None
    assert stats.bh_qvalues([None]) == [None]


def test_bootstrap_reproducible_and_sane() -> None:
    rng = np.random.default_rng(42)
    x = rng.normal(0.002, 0.01, size=400)
    a = stats.block_bootstrap_ci(x, block=10, seed=7)
    b = stats.block_bootstrap_ci(x, block=10, seed=7)
    c = stats.block_bootstrap_ci(x, block=10, seed=8)
    assert a == b
    assert a != c
    mean_ci, median_ci = a
    assert mean_ci is not None and median_ci is not None
    assert mean_ci[0] < x.mean() < mean_ci[1]
    assert median_ci[0] < float(np.median(x)) < median_ci[1]
    # width close to the textbook 2 * 1.96 * sd / sqrt(n) for independent data
    width = mean_ci[1] - mean_ci[0]
    assert width == pytest.approx(2 * 1.96 * 0.01 / np.sqrt(400), rel=0.25)
    assert stats.block_bootstrap_ci(np.array([0.1]), block=5) == (None, None)


def test_independent_episodes_greedy() -> None:
    pos = np.array([0, 1, 2, 5, 6, 10, 20], dtype=np.int64)
    assert stats.independent_episodes(pos, 5).tolist() == [0, 5, 10, 20]
    assert stats.independent_episodes(pos, 1).tolist() == pos.tolist()
    assert stats.independent_episodes(np.array([], dtype=np.int64), 5).size == 0


def test_verdict_logic() -> None:
    base = dict(base_win_rate=0.55, claim_mean_return=None)
    assert stats.verdict(n_episodes=10, claim_win_rate=0.8, win_rate_ci=(0.5, 0.9),
                         q_value=0.001, **base) == "too few cases"  # fmt: skip
    assert stats.verdict(n_episodes=50, claim_win_rate=None, win_rate_ci=(0.5, 0.9),
                         q_value=0.001, **base) == "no claim"  # fmt: skip
    assert stats.verdict(n_episodes=50, claim_win_rate=0.86, win_rate_ci=(0.5, 0.7),
                         q_value=0.2, **base) == "contradicted"  # fmt: skip
    assert stats.verdict(n_episodes=50, claim_win_rate=0.5, win_rate_ci=(0.3, 0.5),
                         q_value=0.9, **base) == "contradicted"  # fmt: skip
    assert stats.verdict(n_episodes=50, claim_win_rate=0.66, win_rate_ci=(0.6, 0.7),
                         q_value=0.01, **base) == "supported"  # fmt: skip
    assert stats.verdict(n_episodes=50, claim_win_rate=0.6, win_rate_ci=(0.5, 0.7),
                         q_value=0.3, **base) == "not distinguishable from base rate"  # fmt: skip
    mean_only = dict(n_episodes=50, claim_win_rate=None, claim_mean_return=0.0065,
                     win_rate_ci=(0.5, 0.7), q_value=0.3, base_win_rate=0.55,
                     base_mean_return=0.001)  # fmt: skip
    assert stats.verdict(mean_return_ci=(-0.001, 0.004), **mean_only) == "contradicted"
    assert stats.verdict(mean_return_ci=(0.002, 0.009), **mean_only) == "supported"
    assert (
        stats.verdict(mean_return_ci=(-0.001, 0.009), **mean_only)
        == "not distinguishable from base rate"
    )


def test_random_fire_rule_scores_near_base_rate() -> None:
    """A rule firing on random days is 'supported' at about the nominal rate, not more."""
    rng = np.random.default_rng(42)
    n_days, n_trials = 2500, 400
    up = rng.random(n_days) < 0.54  # one fixed market, many random rules
    base = up.mean()
    supported = 0
    lifts = []
    for seed in range(n_trials):
        fires = np.random.default_rng(seed).random(n_days) < 0.1
        k, n = int(up[fires].sum()), int(fires.sum())
        p = stats.binomial_p_greater(k, n, float(base))
        ci = stats.wilson_interval(k, n)
        lifts.append(k / n - base)
        v = stats.verdict(n_episodes=n, claim_win_rate=float(base), claim_mean_return=None,
                          win_rate_ci=ci, q_value=p, base_win_rate=float(base))  # fmt: skip
        supported += v == "supported"
    assert abs(float(np.mean(lifts))) < 0.01
    # one-sided test at 5%: expect about 5% false positives (binomial: 20 +- 9 of 400)
    assert supported / n_trials < 0.09


def test_effective_sample_size() -> None:
    assert stats.effective_sample_size(np.array([1, 2, 3]), 1) == 3.0
    # far apart: no overlap, every fire counts fully
    assert stats.effective_sample_size(np.array([0, 10, 20]), 5) == 3.0
    # two fires one day apart at h=5: rho = 0.8, sign correlation (2/pi) asin(0.8)
    rho = 2 / np.pi * np.arcsin(0.8)
    assert stats.effective_sample_size(np.array([0, 1]), 5) == pytest.approx(2 / (1 + rho))
    run = stats.effective_sample_size(np.arange(100, dtype=np.int64), 5)
    assert 20 < run < 40  # a long run of daily fires: about one per 3 days
