from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.state import (
    Bar,
    DarkPoolRegime,
    Forecast,
    Indicators,
    MarketState,
    Regime,
    VixRegime,
)
from sources.ledger import Ledger

NOW = dt.datetime(2026, 1, 5, 21, 0, tzinfo=dt.UTC)


def _state(as_of: dt.date, p1: float, p5: float, h: str = "abc", synthetic: bool = False):
    def fc(h_: int, p: float) -> Forecast:
        call = "Bullish" if p > 0.57 else "Bearish" if p < 0.5 else "Neutral"
        return Forecast(horizon=h_, call=call, flavour="x", prob_up=p, base_rate=0.54,
                        base_n=500, confidence="low", method="test")  # fmt: skip

    return MarketState(
        as_of=as_of,
        synthetic=synthetic,
        inputs_hash=h,
        playbook_version="pb1",
        provenance=(),
        latest=Bar(date=as_of, open=1, high=1, low=1, close=1, adj_close=1),
        indicators=Indicators(),
        regime=Regime(vix=VixRegime(high_threshold=20.0), dark_pool=DarkPoolRegime(threshold=1.5)),
        rules=(),
        tomorrow=fc(1, p1),
        next_5_days=fc(5, p5),
    )


def _frame(n: int = 30) -> pd.DataFrame:
    idx = pd.bdate_range("2026-01-01", periods=n, name="date")
    px = 100 + np.arange(n, dtype=float) * np.where(np.arange(n) % 3 == 0, -1, 1)
    return pd.DataFrame({"adj_close": px}, index=idx)


def test_record_is_idempotent_and_persists(tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    frame = _frame()
    d0 = frame.index[2].date()
    with Ledger(db) as led:
        assert led.record(_state(d0, 0.6, 0.45), created_at=NOW, source="cli") == 2
        assert led.record(_state(d0, 0.6, 0.45), created_at=NOW, source="discord") == 0
        # new data (different hash) on the same day is a new forecast
        assert led.record(_state(d0, 0.52, 0.45, h="def"), created_at=NOW, source="cli") == 2
    with Ledger(db) as led:  # reopening migrates nothing and keeps the rows
        rows = led.entries()
        assert len(rows) == 4
        assert {r.source for r in rows} == {"cli"}
        assert rows[0].created_at == NOW


def test_fill_outcomes_and_scorecard(tmp_path: Path) -> None:
    frame = _frame(30)
    px = frame["adj_close"].to_numpy()
    with Ledger(tmp_path / "l.sqlite3") as led:
        for i in range(5, 12):
            led.record(_state(frame.index[i].date(), 0.6, 0.4), created_at=NOW, source="cli")
        led.record(_state(frame.index[28].date(), 0.6, 0.4), created_at=NOW, source="cli")
        led.record(
            _state(frame.index[3].date(), 0.6, 0.4, synthetic=True), created_at=NOW, source="cli"
        )
        # data only up to row 14: 5-day outcomes exist for rows <= 9, 1-day for <= 13
        assert led.fill_outcomes(frame.iloc[:15]) == 7 + 5 + 2
        assert led.fill_outcomes(frame.iloc[:15]) == 0
        assert led.fill_outcomes(frame) == 2 + 1  # rows 10, 11 at 5 days; 28 at 1 day
        e = next(x for x in led.entries() if x.as_of == frame.index[6].date() and x.horizon == 5)
        assert e.realized_return == pytest.approx(px[11] / px[6] - 1)
        assert e.outcome_date == frame.index[11].date()
        card = led.scorecard()
        assert card.synthetic_excluded == 2
        assert card.recorded == 16 and card.filled == 15 and card.pending == 1
        s1 = next(s for s in card.scores if s.horizon == 1)
        ups = np.array([px[i + 1] > px[i] for i in [*range(5, 12), 28]])
        assert s1.n == 8
        assert s1.model.hit_rate == pytest.approx(ups.mean())
        assert s1.model.brier == pytest.approx(np.mean((0.6 - ups) ** 2))
