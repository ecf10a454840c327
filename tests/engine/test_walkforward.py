"""The walk-forward: scoring by hand, the replay, no look-ahead, and the real-file targets."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.build import prepare, state_at
from engine.dataset import Dataset
from engine.demo import demo_dataset
from engine.errors import InputDataError
from engine.volatility import MoveArrays
from engine.walkforward import brier_verdict, coverage, score, walk_forward


def test_score_against_hand_values() -> None:
    p = [0.7, 0.4, 0.55, 0.3]
    up = [True, False, False, True]
    s = score(1, p, [0.5] * 4, ["Bullish", "Bearish", "Neutral", "Bearish"], up,
              confidence=["medium", "low", "low", "low"])  # fmt: skip
    y = np.array(up, dtype=float)
    assert s.model.hit_rate == pytest.approx(0.5)
    assert s.model.brier == pytest.approx(np.mean((np.array(p) - y) ** 2))
    ll = -np.mean([np.log(0.7), np.log(0.6), np.log(0.45), np.log(0.3)])
    assert s.model.log_loss == pytest.approx(ll)
    assert s.n_calls == 3 and s.call_hit_rate == pytest.approx(2 / 3)
    base, always = s.baselines
    assert base.brier == pytest.approx(0.25) and base.log_loss == pytest.approx(np.log(2))
    assert always.hit_rate == pytest.approx(0.5)
    assert always.brier is None and always.log_loss is None  # no strawman probability
    low, medium = (r for r in s.by_confidence if r.group in ("low", "medium"))
    assert medium.n == 1 and medium.hit_rate == 1.0 and medium.hit_base == 0.5
    # low: Bearish (down: right), Neutral at 0.55 leans up (down: wrong), Bearish (up: wrong)
    assert low.n == 3 and low.n_calls == 2 and low.hit_rate == pytest.approx(1 / 3)
    assert sum(r.n for r in s.deciles) == 4


def test_brier_verdict_beats_ties_and_loses() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.5).astype(float)
    b = np.full(2000, 0.5)
    assert brier_verdict(b.copy(), b, y).outcome == "ties"
    sharp = np.clip(np.where(y > 0, 0.6, 0.4) + rng.normal(0, 0.1, 2000), 0.01, 0.99)
    v = brier_verdict(sharp, b, y)
    assert v.outcome == "beats"
    assert v.diff == pytest.approx(np.mean((sharp - y) ** 2) - 0.25)
    assert v.diff_ci is not None and v.diff_ci.low <= v.diff <= v.diff_ci.high
    assert brier_verdict(1 - sharp, b, y).outcome == "worse"


def test_coverage_by_hand() -> None:
    n = 4
    move = MoveArrays(
        horizon=1,
        sd=np.full(n, 0.01),
        q=np.tile([-1.0, 1.0, -2.0, 2.0], (n, 1)),
        model=np.zeros(n, dtype=np.int8),
        quantile_n=np.zeros(n, dtype=np.int64),
    )
    wide = replace(move, sd=np.full(n, 0.02))
    outcome = np.array([0.005, -0.015, 0.03, np.nan])
    rows = coverage(outcome, move, wide, np.ones(n, dtype=bool))
    r68, r90 = rows
    assert r68.n == 3 and r68.coverage == pytest.approx(1 / 3)
    assert r90.coverage == pytest.approx(2 / 3) and r90.mean_width == pytest.approx(0.04)
    assert r68.ref_coverage == pytest.approx(2 / 3) and r68.width_ratio == pytest.approx(0.5)


def test_walk_forward_on_the_demo() -> None:
    prepared = prepare(demo_dataset())
    wf = walk_forward(prepared)
    n = len(prepared.dates)
    assert wf.first_date == prepared.dates[250].date() and len(wf.days) == 2 * (n - 250)
    s1, s5 = wf.scores
    assert s1.n == n - 250 - 1 and s5.n == n - 250 - 5  # the last h days have no outcome
    assert s1.verdict is not None and s1.verdict.n == s1.n
    assert [c.level for c in s1.coverage] == [0.68, 0.90]
    assert sum(c.n for c in s1.reasons) == next(r.n for r in s1.by_confidence if r.group == "low")
    assert any("synthetic" in note for note in wf.notes)
    day = wf.days[10]  # two forecasts a day: row 255
    assert day.realized_return == pytest.approx(prepared.fwd[f"r{day.horizon}"].iloc[255])


def test_walk_forward_needs_warmup() -> None:
    prepared = prepare(demo_dataset())
    with pytest.raises(InputDataError):
        walk_forward(prepared, warmup=100)
    short = replace(prepared.dataset, frame=prepared.dataset.frame.iloc[:240])
    with pytest.raises(InputDataError):
        walk_forward(prepare(short))


def _no_look_ahead(data: Dataset, days: list[pd.Timestamp]) -> None:
    """Every forecast figure, range and level of day D equals that of the data cut at D,
    and the walk-forward's day D equals the state's."""
    full = prepare(data)
    wf = walk_forward(full)
    by_day = {(d.date, d.horizon): d for d in wf.days}
    for ts in days:
        cut = state_at(prepare(replace(data, frame=data.frame[data.frame.index <= ts])))
        whole = state_at(full, ts.date())
        assert cut.as_of == ts.date()
        assert (whole.tomorrow, whole.next_5_days) == (cut.tomorrow, cut.next_5_days)
        assert whole.key_levels == cut.key_levels and whole.key_levels
        for f in (cut.tomorrow, cut.next_5_days):
            d = by_day[(ts.date(), f.horizon)]
            assert (d.prob_up, d.base_rate, d.call, d.confidence) == (
                f.prob_up, f.base_rate, f.call, f.confidence
            )  # fmt: skip
            assert f.move is not None and d.sigma == pytest.approx(f.move.sigma, abs=5e-6)


def test_no_look_ahead_on_the_demo() -> None:
    data = demo_dataset()
    idx = data.frame.index
    _no_look_ahead(data, [idx[250], idx[600], idx[-1]])


@pytest.fixture(scope="module")
def real_data(raw_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The real files: as-traded OHLC (kittycapital) with the adjusted close (guydekowski)
    joined as adj_close in a temporary CSV, CBOE VIX and the SPX GEX stand-in."""
    from sources.csv_import import load_dataset

    raw = pd.read_csv(raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv")
    adj = pd.read_csv(raw_data_dir / "guydekowski_market-lab" / "IWM.csv")
    assert (raw["Date"].to_numpy() == adj["date"].to_numpy()).all()
    path = tmp_path_factory.mktemp("real") / "iwm.csv"
    combined = raw.rename(columns=str.lower).assign(adj_close=adj["close"].to_numpy())
    combined.to_csv(path, index=False)
    return load_dataset(
        path,
        raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv",
        raw_data_dir / "squeezemetrics_dix" / "DIX.csv",
    )


def test_no_look_ahead_on_the_real_files(real_data: Dataset) -> None:
    idx = real_data.frame.index
    rng = np.random.default_rng(42)
    days = [idx[260], idx[-1], *idx[np.sort(rng.integers(300, len(idx) - 1, 4))]]
    days += [pd.Timestamp("2020-03-16"), pd.Timestamp("2023-03-13")]
    _no_look_ahead(real_data, days)


def test_the_issue_targets_hold_on_the_real_files(real_data: Dataset) -> None:
    """Brier no worse than the base rate, every confidence level shown at or above its
    base, range coverage within 2 points, 90% ranges narrower than the constant band."""
    wf = walk_forward(prepare(real_data))
    assert wf.first_date == dt.date(2001, 5, 24)
    for s in wf.scores:
        assert s.verdict is not None and s.verdict.outcome != "worse"
        for r in s.by_confidence:
            assert r.hit_rate is not None and r.hit_base is not None
            assert r.hit_rate >= r.hit_base
        for c in s.coverage:
            assert c.coverage is not None and abs(c.coverage - c.level) <= 0.02
        r90 = next(c for c in s.coverage if c.level == 0.90)
        assert r90.width_ratio is not None and r90.width_ratio < 1.0
