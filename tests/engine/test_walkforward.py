from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.walkforward import score


def test_score_against_hand_values() -> None:
    p = [0.7, 0.4, 0.55, 0.3]
    up = [True, False, False, True]
    s = score(1, p, [0.5] * 4, ["Bullish", "Bearish", "Neutral", "Bearish"], up)
    y = np.array(up, dtype=float)
    assert s.model.hit_rate == pytest.approx(0.5)
    assert s.model.brier == pytest.approx(np.mean((np.array(p) - y) ** 2))
    ll = -np.mean([np.log(0.7), np.log(0.6), np.log(0.45), np.log(0.3)])
    assert s.model.log_loss == pytest.approx(ll)
    assert s.n_calls == 3 and s.call_hit_rate == pytest.approx(2 / 3)
    base, always = s.baselines
    assert base.brier == pytest.approx(0.25) and base.log_loss == pytest.approx(np.log(2))
    assert always.hit_rate == pytest.approx(0.5)
    assert sum(b.n for b in s.calibration) == 4
    top = s.calibration[-1]
    assert top.n == 1 and top.realized == 1.0


def _prepared(n: int = 400, seed: int = 42):
    from types import SimpleNamespace

    import pandas as pd

    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2018-01-02", periods=n, name="date")
    close = 100 * np.exp(np.cumsum(rng.normal(0.0004, 0.012, n)))
    frame = pd.DataFrame({"adj_close": close}, index=idx)
    fwd = pd.DataFrame(
        {f"r{h}": np.r_[close[h:] / close[:-h] - 1, np.full(h, np.nan)] for h in (1, 5)},
        index=idx,
    )
    return SimpleNamespace(dataset=SimpleNamespace(frame=frame), fwd=fwd, dates=idx)


def _base_rate_forecaster(prepared, day):
    """Forecasts the running base rate, from windows closed by ``day`` only."""
    from engine.state import Forecast

    t = int(prepared.dataset.frame.index.get_loc(np.datetime64(day)))
    out = []
    for h in (1, 5):
        r = prepared.fwd[f"r{h}"].to_numpy()[: max(0, t - h + 1)]
        p = float((r > 0).mean())
        out.append(Forecast(horizon=h, call="Neutral", flavour="", prob_up=p, base_rate=p,
                            base_n=r.size, confidence="low", method="base"))  # fmt: skip
    return out


def test_walk_forward_replay_and_scores() -> None:
    from engine.walkforward import walk_forward

    prepared = _prepared()
    wf = walk_forward(prepared, forecaster=_base_rate_forecaster)
    assert wf.first_date == prepared.dataset.frame.index[250].date()
    assert len(wf.days) == 2 * 150
    s1, s5 = wf.scores
    assert s1.n == 149 and s5.n == 145  # the last h days have no outcome yet
    assert s1.model.brier == pytest.approx(s1.baselines[0].brier)
    assert s5.model.log_loss == pytest.approx(s5.baselines[0].log_loss)
    day = wf.days[10]  # two forecasts a day: the 6th day, row 255
    assert day.realized_return == pytest.approx(prepared.fwd[f"r{day.horizon}"].iloc[255])


def test_walk_forward_never_sees_the_future() -> None:
    """Changing every price after day t leaves the forecasts up to t unchanged."""
    from types import SimpleNamespace

    from engine.walkforward import walk_forward

    a = _prepared()
    b_frame = a.dataset.frame.copy()
    b_fwd = a.fwd.copy()
    b_fwd.iloc[320:] = -b_fwd.iloc[320:]  # a different future from day 320 on
    b = SimpleNamespace(dataset=SimpleNamespace(frame=b_frame), fwd=b_fwd, dates=a.dates)
    wa = walk_forward(a, forecaster=_base_rate_forecaster)
    wb = walk_forward(b, forecaster=_base_rate_forecaster)
    cut = a.dataset.frame.index[320].date()
    pa = [(d.date, d.horizon, d.prob_up) for d in wa.days if d.date <= cut]
    pb = [(d.date, d.horizon, d.prob_up) for d in wb.days if d.date <= cut]
    assert pa == pb
    assert wa.days[-1].prob_up != wb.days[-1].prob_up


def test_walk_forward_needs_warmup() -> None:
    from engine.errors import InputDataError
    from engine.walkforward import walk_forward

    with pytest.raises(InputDataError):
        walk_forward(_prepared(200), forecaster=_base_rate_forecaster)
    with pytest.raises(InputDataError):
        walk_forward(_prepared(), warmup=100, forecaster=_base_rate_forecaster)


def _real_dataset(raw: Path):
    from sources.csv_import import load_dataset

    return load_dataset(
        raw / "guydekowski_market-lab" / "IWM.csv",
        vix=raw / "noodles-rice_vix_dashboard" / "VIX_History.csv",
        gex=raw / "squeezemetrics_dix" / "DIX.csv",
        gex_note="SqueezeMetrics SPX GEX as a stand-in for IWM GEX",
    )


def test_fast_walk_forward_equals_state_on_truncated_data(raw_data_dir: Path) -> None:
    """Day t of the walk-forward == state_at(prepare(data up to t)), for sampled t."""
    from dataclasses import replace

    from engine.build import prepare, state_at
    from engine.walkforward import fast_forecaster, walk_forward

    full = _real_dataset(raw_data_dir)
    frame = full.frame[full.frame.index >= "2012-01-01"].iloc[:1200]
    ds = replace(full, frame=frame)
    prepared = prepare(ds)
    wf = walk_forward(prepared, forecaster=fast_forecaster(prepared))
    by_day = {(d.date, d.horizon): d for d in wf.days}
    rng = np.random.default_rng(42)
    days = [frame.index[250], frame.index[-1], *frame.index[rng.integers(251, 1199, 4)]]
    for ts in days:
        truncated = prepare(replace(ds, frame=frame[frame.index <= ts]))
        st = state_at(truncated)
        assert st.as_of == ts.date()
        for f in (st.tomorrow, st.next_5_days):
            d = by_day[(ts.date(), f.horizon)]
            assert (d.prob_up, d.call, d.base_rate) == (f.prob_up, f.call, f.base_rate)
        # and the default (state_at on the full data) agrees with the fast path
        st_full = state_at(prepared, ts.date())
        assert (st_full.tomorrow, st_full.next_5_days) == (st.tomorrow, st.next_5_days)
        assert st_full.rules == st.rules  # every measured figure, bootstrap included
