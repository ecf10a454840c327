"""Forward returns and the point-in-time measured edge a state carries for each rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.build import prepare, state_at
from engine.dataset import Dataset, assemble
from engine.edge import forward_returns


def test_forward_returns_use_adjusted_close_and_end_in_nan() -> None:
    idx = pd.bdate_range("2024-01-01", periods=7)
    frame = pd.DataFrame(
        {
            "close": [10.0, 11, 12, 13, 14, 15, 16],
            # a dividend between rows 2 and 3: the adjusted series rises less there
            "adj_close": [9.0, 10, 11, 11.5, 12, 13, 14],
        },
        index=idx,
    )
    fwd = forward_returns(frame)
    assert list(fwd.columns) == ["r1", "r5"]
    assert fwd["r1"].iloc[0] == pytest.approx(10 / 9 - 1)
    assert fwd["r1"].iloc[2] == pytest.approx(11.5 / 11 - 1)
    assert fwd["r5"].iloc[1] == pytest.approx(14 / 10 - 1)
    assert np.isnan(fwd["r1"].iloc[-1]) and fwd["r5"].iloc[-5:].isna().all()
    assert fwd["r5"].iloc[:2].notna().all()


def _dataset(n: int = 160, seed: int = 7) -> Dataset:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2023-01-02", periods=n, name="date")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    prices = pd.DataFrame({"close": close, "adj_close": close * 0.98}, index=idx)
    # GEX negative in blocks, so GEX_Negative fires in runs and GEX_Turned_Positive
    # on the first day of each positive block.
    gex = np.where((np.arange(n) // 7) % 3 == 0, -1e9, 1e9)
    aux = {"gex": pd.Series(gex, index=idx), "vix": pd.Series(22.0, index=idx)}
    return assemble(prices, aux, {"prices": "p.csv", "gex": "g.csv", "vix": "v.csv"})


def _by_hand(fires: np.ndarray, adj: np.ndarray, t: int, h: int) -> tuple[int, int, float, int]:
    """(fires counted, wins, mean return, base days) for a state on row t: a loop."""
    rets, base = [], 0
    for s in range(t + 1):
        if s + h > t:  # this fire's window had not closed on day t
            continue
        base += 1
        if fires[s]:
            rets.append(adj[s + h] / adj[s] - 1)
    wins = sum(r > 0 for r in rets)
    return len(rets), wins, float(np.mean(rets)) if rets else float("nan"), base


@pytest.mark.parametrize("rule", ["GEX_Negative", "GEX_Turned_Positive", "BB_Breakout_Lower"])
def test_state_counts_only_windows_closed_by_as_of(rule: str) -> None:
    data = _dataset()
    prepared = prepare(data)
    fires = prepared.fires[rule].to_numpy()
    adj = data.frame["adj_close"].to_numpy()
    assert fires.sum() > 0
    for t in (70, 71, 75, 100, 159):
        state = state_at(prepared, data.frame.index[t].date())
        rs = state.rule(rule)
        assert rs is not None
        for stats in rs.stats:
            n, wins, mean, base = _by_hand(fires, adj, t, stats.horizon)
            assert (stats.n_fired, stats.wins, stats.base_n) == (n, wins, base)
            if n:
                assert stats.win_rate == pytest.approx(wins / n)
                assert stats.mean_return == pytest.approx(mean)
                assert stats.win_rate_ci is not None
                assert stats.win_rate_ci.low <= stats.win_rate <= stats.win_rate_ci.high
            else:
                assert stats.win_rate is None and stats.mean_return is None


def test_fire_on_the_as_of_day_is_not_yet_counted() -> None:
    data = _dataset()
    prepared = prepare(data)
    fires = prepared.fires["GEX_Turned_Positive"].to_numpy()
    t = int(np.flatnonzero(fires)[3])
    today = state_at(prepared, data.frame.index[t].date()).rule("GEX_Turned_Positive")
    tomorrow = state_at(prepared, data.frame.index[t + 1].date()).rule("GEX_Turned_Positive")
    assert today is not None and tomorrow is not None and today.fired
    one_day = {s.horizon: s for s in today.stats}[1]
    one_day_next = {s.horizon: s for s in tomorrow.stats}[1]
    assert one_day_next.n_fired == one_day.n_fired + 1
    assert {s.horizon: s for s in tomorrow.stats}[5].n_fired == {s.horizon: s for s in today.stats}[
        5
    ].n_fired


def test_claims_are_copied_next_to_the_measured_figures() -> None:
    state = state_at(prepare(_dataset()))
    neg = state.rule("Negative_GEX_AND_High_VIX")
    assert neg is not None
    five = {s.horizon: s for s in neg.stats}[5]
    assert (five.claim_win_rate, five.claim_mean_return) == (0.86, 0.0267)
    assert five.n_episodes is not None and five.n_episodes <= five.n_fired
    assert five.base_win_rate is not None and 0 < five.base_win_rate < 1
