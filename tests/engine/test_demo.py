"""The synthetic demo data set (the engine's purity rules are in tests/test_layout.py)."""

from __future__ import annotations

import pandas as pd

from engine.build import prepare
from engine.demo import demo_dataset


def test_demo_is_deterministic_long_and_complete() -> None:
    a, b = demo_dataset(), demo_dataset()
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not demo_dataset(seed=7).frame.equals(a.frame)
    span = a.frame.index[-1] - a.frame.index[0]
    assert span.days >= 3 * 365
    assert a.frame.notna().all().all()
    assert all(p.synthetic and p.source == "demo (synthetic)" for p in a.provenance)


def test_every_bundled_rule_fires_in_the_demo() -> None:
    fires = prepare(demo_dataset()).fires
    assert (fires.sum() > 0).all(), fires.sum().to_dict()


def test_demo_has_regime_changes_and_ends_on_the_asked_day() -> None:
    data = demo_dataset(years=4)
    f = data.frame
    assert f.index[-1] == pd.Timestamp("2025-12-31") and (f.index.day_of_week < 5).all()
    assert f["vix"].max() > 30 and f["vix"].min() < 15  # a spike and calm stretches
    assert (f["gex"] < 0).any() and (f["gex"] > 0).any()
    assert (f["dark_pool"] > 1.5).any() and f["dark_pool"].median() < 1.5
    assert (f["adj_close"] < f["close"]).iloc[0] and f["adj_close"].iloc[-1] == f["close"].iloc[-1]
    assert (f["high"] >= f[["open", "close"]].max(axis=1)).all()
    assert (f["low"] <= f[["open", "close"]].min(axis=1)).all()
    drawdown = f["close"] / f["close"].cummax() - 1
    assert drawdown.min() < -0.10  # at least one real sell-off
    assert len(demo_dataset(years=10).frame) > 2500
