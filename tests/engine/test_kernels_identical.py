"""The numpy indicator kernels and the fast bootstrap change no output, bit for bit.

References are the previous implementations (:mod:`tests.engine.reference_kernels`).
Frames are compared exactly (values, NaN positions, dtypes, columns, index); the
MarketState and audit JSON are compared as bytes, once built by the engine and once with
the reference indicators and bootstrap patched in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine.prepared
from engine import indicators, stats
from engine.audit import audit
from engine.build import prepare, state_at
from engine.dataset import Dataset
from engine.demo import demo_dataset
from tests.engine import reference_kernels as ref


def assert_frames_identical(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal values with the same bits (NaN payloads aside), dtypes, columns and index."""
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_freq=True)
    assert list(got.columns) == list(want.columns)
    assert got.columns.dtype == want.columns.dtype
    for col in got.columns:
        if got[col].dtype.kind != "f":
            continue
        a, b = got[col].to_numpy(), want[col].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        keep = ~np.isnan(a)
        assert np.array_equal(a[keep].view(np.int64), b[keep].view(np.int64)), col


def _random_frame(rng: np.random.Generator, n: int, kind: str) -> pd.DataFrame:
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    if kind == "flat":  # runs of equal closes: zero gains and losses, equal rolling values
        close = np.round(close / 5) * 5
    high = close * (1 + np.abs(rng.normal(0, 0.006, n)))
    low = close * (1 - np.abs(rng.normal(0, 0.006, n)))
    frame = pd.DataFrame(
        {
            "open": close,
            "high": high,
            "low": low,
            "close": close,
            "adj_close": close * 0.98,
            "volume": 1e6,
            "vix": rng.uniform(10, 40, n),
            "gex": rng.normal(0, 1e9, n),
            "dark_pool": rng.uniform(0.8, 1.8, n),
        },
        index=pd.bdate_range("2001-01-01", periods=n, name="date"),
    )
    if kind == "holes":  # gaps in the optional series and in high/low
        for col in ("vix", "gex", "dark_pool", "high", "low"):
            frame.loc[rng.random(n) < 0.05, col] = np.nan
    if kind == "inf" and n:
        frame.iloc[int(rng.integers(0, n)), frame.columns.get_loc("high")] = np.inf
    return frame


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf/NaN rows warn in both versions
@pytest.mark.parametrize("kind", ["plain", "flat", "holes", "inf"])
def test_indicator_frame_identical_to_reference(kind: str) -> None:
    rng = np.random.default_rng(["plain", "flat", "holes", "inf"].index(kind))
    for n in (0, 1, 13, 14, 15, 34, 60, 250, 1200):
        frame = _random_frame(rng, n, kind)
        before = frame.copy()
        assert_frames_identical(
            indicators.compute_indicators(frame), ref.ref_compute_indicators(frame)
        )
        pd.testing.assert_frame_equal(frame, before)  # the input is left alone


def test_indicator_frame_identical_on_demo_and_odd_frames() -> None:
    frame = demo_dataset(years=10).frame
    assert_frames_identical(indicators.compute_indicators(frame), ref.ref_compute_indicators(frame))
    part = frame.iloc[:300]
    again = indicators.compute_indicators(indicators.compute_indicators(part))
    assert_frames_identical(again, ref.ref_compute_indicators(ref.ref_compute_indicators(part)))
    mixed = part.assign(note="x", n=np.arange(len(part)))  # not all float64
    assert_frames_identical(indicators.compute_indicators(mixed), ref.ref_compute_indicators(mixed))
    objcols = part.copy()
    objcols.columns = pd.Index(list(part.columns), dtype=object)
    assert_frames_identical(
        indicators.compute_indicators(objcols), ref.ref_compute_indicators(objcols)
    )


def test_indicator_frame_identical_on_real_files(raw_data_dir: Path) -> None:
    from sources.csv_import import load_dataset

    kitty = raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv"
    xj = raw_data_dir / "xjcarter_data" / "IWM.csv"  # has its own Adj Close
    vix = raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv"
    gex = raw_data_dir / "squeezemetrics_dix" / "DIX.csv"
    for data in (load_dataset(kitty, vix, gex), load_dataset(xj, vix)):
        frame = data.frame
        assert_frames_identical(
            indicators.compute_indicators(frame), ref.ref_compute_indicators(frame)
        )


def _series_identical(got: pd.Series, want: pd.Series) -> None:
    pd.testing.assert_series_equal(got, want, check_exact=True, check_names=False)
    a, b = got.to_numpy(np.float64), want.to_numpy(np.float64)
    keep = ~np.isnan(a)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.array_equal(a[keep].view(np.int64), b[keep].view(np.int64))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_public_indicator_functions_identical_to_reference() -> None:
    rng = np.random.default_rng(7)
    for trial in range(60):
        n = int(rng.integers(0, 150))
        close = pd.Series(100 + np.cumsum(rng.normal(0, 1, n)))
        if trial % 4 == 1:
            close[rng.random(n) < 0.1] = np.nan  # NaN inside the recursion
        elif trial % 4 == 2:
            close = pd.Series(np.full(n, 50.0))
        elif trial % 4 == 3:
            close = pd.Series(np.arange(n, dtype=np.float64))  # only gains
        high, low = close + rng.random(n), close - rng.random(n)
        _series_identical(indicators.rsi(close), ref.ref_rsi(close))
        _series_identical(indicators.atr(high, low, close), ref.ref_atr(high, low, close))
        tr = indicators.true_range(high, low, close)
        _series_identical(tr, ref.ref_true_range(high, low, close))
        for period in (1, 3, 14):
            want = ref.ref_wilder_smooth(close, period)
            _series_identical(indicators.wilder_smooth(close, period), want)
        for got, want in zip(indicators.macd(close), ref.ref_macd(close), strict=True):
            _series_identical(got, want)
        s20, s50 = close.rolling(20).mean(), close.rolling(50).mean()
        labels = indicators.trend_labels(close, s20, s50)
        pd.testing.assert_series_equal(labels, ref.ref_trend_labels(close, s20, s50))


@pytest.fixture(params=["compiled", "public API"])
def kernels(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run with pandas' private window kernels, and again through the public fallback."""
    if request.param == "public API":
        monkeypatch.setattr(indicators, "_KERNELS", None)
    yield request.param


def test_window_kernels_match_pandas_api(kernels: str) -> None:
    rng = np.random.default_rng(3)
    for trial in range(40):
        x = pd.Series(np.cumsum(rng.normal(0, 1, int(rng.integers(0, 300)))))
        if trial % 3 == 1:
            x[rng.random(x.size) < 0.1] = np.nan
        elif trial % 3 == 2:
            x[rng.random(x.size) < 0.05] = np.inf
        arr = x.to_numpy()
        for window, minp in ((1, None), (5, None), (20, 10), (200, None)):
            want = x.rolling(window, min_periods=minp).mean()
            _series_identical(pd.Series(indicators.rolling_mean(arr, window, minp)), want)
        for window, ddof in ((3, 1), (20, 0), (20, 1)):
            want = x.rolling(window).std(ddof=ddof)
            _series_identical(pd.Series(indicators.rolling_std(arr, window, ddof)), want)
        for com in (0.0, 4.0, 5.5, 13.0):
            want = x.ewm(com=com, adjust=False).mean()
            _series_identical(pd.Series(indicators.ewm_mean(arr, com)), want)


def test_indicator_frame_identical_through_public_fallback(kernels: str) -> None:
    frame = demo_dataset().frame
    assert_frames_identical(indicators.compute_indicators(frame), ref.ref_compute_indicators(frame))


def _json_outputs(data: Dataset, days: list[pd.Timestamp]) -> list[str]:
    prepared = prepare(data)
    out = [state_at(prepared, day.date()).model_dump_json() for day in days]
    out.append(audit(prepared, seed=0, n_boot=2000).model_dump_json())
    return out


def _busy_days(data: Dataset) -> list[pd.Timestamp]:
    """The last day, the days with the most rules firing, and a few ordinary days."""
    fires = prepare(data).fires.sum(axis=1)
    index = fires.index
    picks = {index[-1], *fires[fires == fires.max()].index[-3:], *index[-800::200]}
    return sorted(picks)


def _reference_outputs(
    monkeypatch: pytest.MonkeyPatch, data: Dataset, days: list[pd.Timestamp]
) -> list[str]:
    with monkeypatch.context() as patch:
        patch.setattr(engine.prepared, "compute_indicators", ref.ref_compute_indicators)
        patch.setattr(stats, "block_bootstrap_ci", ref.ref_block_bootstrap_ci)
        patch.setattr(stats, "effective_sample_size", ref.ref_effective_sample_size)
        return _json_outputs(data, days)


def test_state_and_audit_json_byte_identical_on_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    data = demo_dataset()
    days = _busy_days(data)
    assert prepare(data).fires.loc[days].sum(axis=1).max() >= 3  # bootstraps several rules
    got = _json_outputs(data, days)
    assert got == _reference_outputs(monkeypatch, data, days)


def test_state_and_audit_json_byte_identical_on_real_files(
    raw_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sources.csv_import import load_dataset

    data = load_dataset(
        raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv",
        raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv",
        raw_data_dir / "squeezemetrics_dix" / "DIX.csv",
    )
    days = _busy_days(data)
    got = _json_outputs(data, days)
    assert got == _reference_outputs(monkeypatch, data, days)
