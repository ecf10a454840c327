from __future__ import annotations

import datetime as dt
import sqlite3
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
from sources import ledger as ledger_module
from sources.calendar import trading_days
from sources.ledger import Ledger


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
    days = trading_days(dt.date(2026, 1, 2), dt.date(2026, 3, 31))[:n]
    idx = pd.DatetimeIndex([pd.Timestamp(d) for d in days], name="date")
    px = 100 + np.arange(n, dtype=float) * np.where(np.arange(n) % 3 == 0, -1, 1)
    return pd.DataFrame({"adj_close": px}, index=idx)


def _after_close(day: dt.date, hours: int = 1) -> dt.datetime:
    """``hours`` after 16:00 New York (21:00 UTC in winter) on ``day``."""
    return dt.datetime(day.year, day.month, day.day, 21, tzinfo=dt.UTC) + dt.timedelta(hours=hours)


def _live(led: Ledger, day: dt.date, *args: object, **kw: object) -> int:
    state = _state(day, *args, **kw)  # type: ignore[arg-type]
    return led.record(state, created_at=_after_close(day), source="cli", data_last=day)


def test_only_live_forecasts_are_recorded_once_a_day(tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    frame = _frame()
    d0, d1 = frame.index[2].date(), frame.index[3].date()
    with Ledger(db) as led:
        assert _live(led, d0, 0.6, 0.45) == 2
        # the same day again, from another front-end or on refreshed data: a repeat
        again = _after_close(d0, 2)
        state = _state(d0, 0.6, 0.45)
        assert led.record(state, created_at=again, source="discord", data_last=d0) == 0
        assert _live(led, d0, 0.52, 0.45, h="def") == 0
        # a replay of an earlier day on data that runs later
        replay = _state(d0, 0.6, 0.45, h="ghi")
        assert led.record(replay, created_at=_after_close(d1), source="cli", data_last=d1) == 0
        # stale data: the forecast is made after the next session closed
        stale = _state(d1, 0.6, 0.45)
        assert led.record(stale, created_at=_after_close(d1, 25), source="cli", data_last=d1) == 0
        # before the session closed, its data cannot be complete
        early = _after_close(d1, -2)
        assert led.record(stale, created_at=early, source="cli", data_last=d1) == 0
        assert _live(led, d1, 0.6, 0.45, synthetic=True) == 0
        assert _live(led, d1, 0.6, 0.45) == 2
    with Ledger(db) as led:  # reopening migrates nothing and keeps the rows
        rows = led.entries()
        assert [(r.as_of, r.horizon) for r in rows] == [(d0, 1), (d0, 5), (d1, 1), (d1, 5)]
        assert {r.source for r in rows} == {"cli"}
        assert rows[0].created_at == _after_close(d0)


def test_fill_outcomes_and_scorecard(tmp_path: Path) -> None:
    frame = _frame(30)
    px = frame["adj_close"].to_numpy()
    with Ledger(tmp_path / "l.sqlite3") as led:
        for i in (*range(5, 12), 28):
            assert _live(led, frame.index[i].date(), 0.6, 0.4) == 2
        # data only up to row 14: 5-day outcomes exist for rows <= 9, 1-day for <= 13
        assert led.fill_outcomes(frame.iloc[:15]) == 7 + 5
        assert led.fill_outcomes(frame.iloc[:15]) == 0
        assert led.fill_outcomes(frame) == 2 + 1  # rows 10, 11 at 5 days; 28 at 1 day
        e = next(x for x in led.entries() if x.as_of == frame.index[6].date() and x.horizon == 5)
        assert e.realized_return == pytest.approx(px[11] / px[6] - 1)
        assert e.outcome_date == frame.index[11].date()
        card = led.scorecard()
        assert card.recorded == 16 and card.filled == 15 and card.pending == 1
        assert card.not_live_excluded == 0
        s1 = next(s for s in card.scores if s.horizon == 1)
        ups = np.array([px[i + 1] > px[i] for i in [*range(5, 12), 28]])
        assert s1.n == 8
        assert s1.model.hit_rate == pytest.approx(ups.mean())
        assert s1.model.brier == pytest.approx(np.mean((0.6 - ups) ** 2))


def test_rows_from_before_the_rule_are_classified(tmp_path: Path) -> None:
    """A version-1 ledger polluted by replays and repeats: only the live rows count."""
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(ledger_module.MIGRATIONS[0])
    conn.execute("CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER)")
    conn.execute("INSERT INTO schema_versions VALUES ('ledger', 1)")
    frame = _frame()
    day, later = frame.index[4].date(), frame.index[9].date()
    rows = [
        (day, "h1", _after_close(day)),  # live
        (day, "h2", _after_close(day, 2)),  # a repeat later that evening
        (frame.index[1].date(), "h3", _after_close(later)),  # a replay
        (later, "h4", _after_close(later)),  # live
    ]
    for as_of, h, made in rows:
        for horizon in (1, 5):
            conn.execute(
                "INSERT INTO ledger_forecasts (ticker, as_of, horizon, inputs_hash, "
                "playbook_version, call, prob_up, base_rate, synthetic, source, created_at) "
                "VALUES ('IWM', ?, ?, ?, 'pb', 'Neutral', 0.5, 0.5, 0, 'cli', ?)",
                (as_of.isoformat(), horizon, h, made.isoformat()),
            )
    conn.commit()
    conn.close()
    with Ledger(db) as led:
        live = led.entries()
        assert [(e.as_of, e.inputs_hash) for e in live] == [
            (day, "h1"), (day, "h1"), (later, "h4"), (later, "h4")
        ]  # fmt: skip
        card = led.scorecard()
        assert card.recorded == 4 and card.not_live_excluded == 4
