"""The indicators frame against TA-Lib, and against the previous pandas implementation.

Row of issue 15: ``compute_indicators`` on the real 26-year IWM history (as-traded
prices, CBOE VIX, DIX GEX), target at most 1.5x the time of the same frame built with
TA-Lib. The TA-Lib reference computes every indicator TA-Lib has with TA-Lib (RSI, SMA,
STDDEV, MACD, ATR, the 20-day log-return STDDEV rescaled to ddof=1) and the rest with the
same numpy lines, and joins the columns with the same helper, so the ratio compares the
kernels and their glue, not two ways of building a frame. Its values differ slightly
(TA-Lib seeds MACD differently and has no min_periods); only the time matters here.
Also RSI and ATR alone against ``talib.RSI``/``talib.ATR``, and the frame on 5, 10, 26
and 100 years of synthetic data. TA-Lib is a dev dependency; without it only the
comparison with the previous implementation is printed.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from bench._timing import RAW, measure_pair, row
from engine import indicators as ind
from engine.demo import demo_dataset

RUNS = 41


def talib_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The indicator frame with TA-Lib doing every indicator it has (speed reference)."""
    import talib

    close = frame["close"].to_numpy(np.float64)
    high, low = frame["high"].to_numpy(np.float64), frame["low"].to_numpy(np.float64)
    prev_close = ind._shift(close, 1)
    sma20 = talib.SMA(close, 20)
    sma50 = talib.SMA(close, 50)
    std20 = talib.STDDEV(close, 20, 1.0)
    slope = sma20 - ind._shift(sma20, ind.TREND_SLOPE_LOOKBACK)
    upper, lower = sma20 + 2.0 * std20, sma20 - 2.0 * std20
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        percent_b = np.where(width > 0, (close - lower) / width, np.nan)
        adj = frame["adj_close"].to_numpy(np.float64)
        log_ret = np.log(adj / ind._shift(adj, 1))
    line, signal, hist = talib.MACD(close, 12, 26, 9)
    atr14 = talib.ATR(high, low, close, 14)
    columns: dict[str, Any] = {
        "prev_close": prev_close,
        "change": close / prev_close - 1.0,
        "rsi14": talib.RSI(close, 14),
        "sma20": sma20,
        "sma50": sma50,
        "sma200": talib.SMA(close, 200),
        "sma20_slope5": slope,
        "bb_std20": std20,
        "bb_middle": sma20,
        "bb_upper": upper,
        "bb_lower": lower,
        "bb_percent_b": percent_b,
        "macd": line,
        "macd_signal": signal,
        "macd_hist": hist,
        "atr14": atr14,
        "atr14_pct": atr14 / close,
        "realized_vol_20": talib.STDDEV(log_ret, 20, 1.0) * np.sqrt(20 / 19) * np.sqrt(252),
        "vix_mean10": talib.SMA(frame["vix"].to_numpy(np.float64), 10),
        "gex_prev": ind._shift(frame["gex"].to_numpy(np.float64), 1),
        "dark_pool_mean20": talib.SMA(frame["dark_pool"].to_numpy(np.float64), 20),
    }
    trend = pd.Series(
        ind._trend(close, sma20, sma50, slope),
        index=frame.index,
        dtype=ind._TREND_DTYPE,
        name="trend",
    )
    return ind._with_columns(frame, columns, trend)


def _real_frame() -> tuple[pd.DataFrame, str] | None:
    prices = RAW / "kittycapital_etf-seasonality" / "IWM.csv"
    if not prices.is_file():
        return None
    from sources.csv_import import load_dataset

    data = load_dataset(
        prices,
        RAW / "noodles-rice_vix_dashboard" / "VIX_History.csv",
        RAW / "squeezemetrics_dix" / "DIX.csv",
    )
    return data.frame, f"real IWM 2000-2026 ({len(data.frame)} rows)"


def _rows(frame: pd.DataFrame, label: str, talib_ok: bool, runs: int) -> list[str]:
    from tests.engine.reference_kernels import ref_atr, ref_compute_indicators, ref_rsi

    lines = []
    ours = partial(ind.compute_indicators, frame)
    if talib_ok:
        got, ref = measure_pair(ours, partial(talib_frame, frame), runs)
        lines.append(row(f"{label}: indicators frame", got, "<= 1.5x TA-Lib", ref, "TA-Lib frame"))
    got, ref = measure_pair(ours, partial(ref_compute_indicators, frame), runs)
    lines.append(row(f"{label}: indicators frame", got, "-", ref, "previous pandas code"))
    if talib_ok and "real" in label:
        import talib

        close, high, low = (frame[c] for c in ("close", "high", "low"))
        c, h, lo = (s.to_numpy(np.float64) for s in (close, high, low))
        got, ref = measure_pair(partial(ind.rsi, close), partial(talib.RSI, c, 14), runs)
        _, old = measure_pair(partial(ind.rsi, close), partial(ref_rsi, close), runs)
        lines.append(
            row("  rsi(close)", got, "-", ref, "talib.RSI")
            + f"; previous {old.text()} ({old.median / got.median:.1f}x faster)"
        )
        got, ref = measure_pair(
            partial(ind.atr, high, low, close), partial(talib.ATR, h, lo, c, 14), runs
        )
        _, old = measure_pair(
            partial(ind.atr, high, low, close), partial(ref_atr, high, low, close), runs
        )
        lines.append(
            row("  atr(high, low, close)", got, "-", ref, "talib.ATR")
            + f"; previous {old.text()} ({old.median / got.median:.1f}x faster)"
        )
    return lines


def run() -> list[str]:
    try:
        import talib  # noqa: F401

        talib_ok = True
    except ImportError:
        talib_ok = False
    lines = [] if talib_ok else ["TA-Lib not installed ('pip install -e .[dev]'): no TA-Lib ratio"]
    real = _real_frame()
    if real is None:
        lines.append(f"real data folder {RAW} absent: the 26-year real row is skipped")
    else:
        lines += _rows(*real, talib_ok, RUNS)
    lines.append("scaling on synthetic data (demo generator, seed 42):")
    for years in (5, 10, 26, 100):
        frame = demo_dataset(years=years).frame
        lines += _rows(frame, f"  {years:>3} years ({len(frame)} rows)", talib_ok, 11)
    return lines
