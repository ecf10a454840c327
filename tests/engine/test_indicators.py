"""Indicators against TA-Lib (test-only reference) on real and seeded data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.indicators import compute_indicators, rsi, trend_labels

talib = pytest.importorskip("talib")


def _random_frame(n: int = 800, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.012, n)))
    high = close * (1 + np.abs(rng.normal(0, 0.006, n)))
    low = close * (1 - np.abs(rng.normal(0, 0.006, n)))
    idx = pd.bdate_range("2020-01-01", periods=n, name="date")
    return pd.DataFrame(
        {
            "open": close,
            "high": high,
            "low": low,
            "close": close,
            "adj_close": close,
            "volume": 1e6,
            "vix": 18.0,
            "gex": 1e9,
            "dark_pool": 1.1,
        },
        index=idx,
    )


@pytest.fixture(scope="module", params=["random", "real"])
def frame(request: pytest.FixtureRequest) -> pd.DataFrame:
    if request.param == "random":
        return _random_frame()
    raw: Path = request.getfixturevalue("raw_data_dir")  # skips when the folder is absent
    path = raw / "kittycapital_etf-seasonality" / "IWM.csv"
    from sources.csv_import import load_dataset

    return load_dataset(path).frame


def _close_enough(ours: pd.Series, ref: np.ndarray, start: int, tol: float) -> None:
    a = ours.to_numpy()[start:]
    b = ref[start:]
    mask = ~np.isnan(b)
    assert mask.sum() > 100
    np.testing.assert_allclose(a[mask], b[mask], rtol=tol, atol=tol)


def test_rsi_matches_talib(frame: pd.DataFrame) -> None:
    ind = compute_indicators(frame)
    ref = talib.RSI(frame["close"].to_numpy(), timeperiod=14)
    _close_enough(ind["rsi14"], ref, 14, 1e-8)
    assert ind["rsi14"].iloc[:14].isna().all()


def test_sma_and_bollinger_population_sigma(frame: pd.DataFrame) -> None:
    ind = compute_indicators(frame)
    c = frame["close"].to_numpy()
    for n in (20, 50, 200):
        _close_enough(ind[f"sma{n}"], talib.SMA(c, timeperiod=n), n, 1e-9)
    upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
    _close_enough(ind["bb_upper"], upper, 20, 1e-7)
    _close_enough(ind["bb_middle"], middle, 20, 1e-9)
    _close_enough(ind["bb_lower"], lower, 20, 1e-7)


def test_atr_wilder(frame: pd.DataFrame) -> None:
    ind = compute_indicators(frame)
    ref = talib.ATR(
        frame["high"].to_numpy(), frame["low"].to_numpy(), frame["close"].to_numpy(), timeperiod=14
    )
    _close_enough(ind["atr14"], ref, 14, 1e-8)


def test_macd_after_warmup(frame: pd.DataFrame) -> None:
    ind = compute_indicators(frame)
    line, signal, hist = talib.MACD(frame["close"].to_numpy(), 12, 26, 9)
    _close_enough(ind["macd"], line, 300, 1e-6)
    _close_enough(ind["macd_signal"], signal, 300, 1e-6)
    _close_enough(ind["macd_hist"], hist, 300, 1e-6)


def test_realized_vol_by_hand() -> None:
    f = _random_frame(60)
    ind = compute_indicators(f)
    logret = np.diff(np.log(f["adj_close"].to_numpy()))[-20:]
    expected = np.std(logret, ddof=1) * np.sqrt(252)
    assert ind["realized_vol_20"].iloc[-1] == pytest.approx(expected, rel=1e-12)


def test_rsi_all_gains_is_100() -> None:
    close = pd.Series(np.arange(1.0, 40.0))
    assert rsi(close).iloc[-1] == pytest.approx(100.0)


def test_trend_labels() -> None:
    n = 120
    up = pd.Series(np.linspace(100, 160, n))
    down = pd.Series(np.linspace(160, 100, n))
    flat = pd.Series(100 + 0.5 * (-1.0) ** np.arange(n))
    for series, label in ((up, "Uptrend"), (down, "Downtrend"), (flat, "Sideways")):
        labels = trend_labels(series, series.rolling(20).mean(), series.rolling(50).mean())
        assert labels.iloc[-1] == label
        assert labels.iloc[0] == "Sideways"  # warm-up


def test_input_not_modified() -> None:
    f = _random_frame(100)
    before = f.copy()
    compute_indicators(f)
    pd.testing.assert_frame_equal(f, before)


def test_sma20_slope_is_the_five_session_change() -> None:
    f = compute_indicators(_random_frame(100))
    expected = f["sma20"] - f["sma20"].shift(5)
    pd.testing.assert_series_equal(f["sma20_slope5"], expected, check_names=False)
    assert f["sma20_slope5"].iloc[:24].isna().all() and f["sma20_slope5"].iloc[24:].notna().all()
