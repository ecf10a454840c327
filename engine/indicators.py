"""Technical indicators on a canonical daily frame (see :mod:`engine.frame`).

Every indicator is causal: the value on day ``t`` uses rows up to ``t`` only, so
computing once over the full history and reading row ``t`` equals computing on the
history truncated at ``t``. Values are ``NaN`` during warm-up.

Price indicators use the as-traded ``close`` (what a chart shows and what the playbook's
thresholds refer to); forward returns for statistics use ``adj_close`` instead
(:mod:`engine.edge`).

Conventions, chosen to match TA-Lib where it has the indicator:

* RSI(14) and ATR(14): Wilder smoothing (alpha = 1/14), seeded with the simple mean of
  the first 14 values, as TA-Lib does.
* Bollinger(20, 2): SMA20 plus/minus two *population* standard deviations (ddof=0).
* MACD(12, 26, 9): EMA12 - EMA26 of close, signal = EMA9 of MACD, histogram = MACD -
  signal; EMAs are recursive (``adjust=False``) from the first close. They differ from
  TA-Lib's seeding only in the first ~100 rows, by less than 1e-6 after ~300.
* Realised volatility: sample stdev (ddof=1) of the last 20 daily log returns of
  ``adj_close``, times sqrt(252); a fraction (0.18 = 18%).
* Trend label (documented in :func:`trend_labels`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.frame import previous_in_series

RSI_PERIOD = 14
ATR_PERIOD = 14
BB_PERIOD = 20
BB_WIDTH = 2.0
TRADING_DAYS_PER_YEAR = 252
TREND_SLOPE_LOOKBACK = 5

#: Columns this module adds to the frame.
INDICATOR_COLUMNS = (
    "prev_close",
    "change",
    "rsi14",
    "sma20",
    "sma50",
    "sma200",
    "sma20_slope5",
    "bb_std20",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "bb_percent_b",
    "macd",
    "macd_signal",
    "macd_hist",
    "atr14",
    "atr14_pct",
    "realized_vol_20",
    "vix_mean10",
    "gex_prev",
    "dark_pool_mean20",
    "trend",
)

#: Indicator columns computed from an auxiliary series, by the series they need (a rule
#: using one cannot be judged on a day that series has no value).
AUX_DERIVED: dict[str, str] = {
    "vix_mean10": "vix",
    "gex_prev": "gex",
    "dark_pool_mean20": "dark_pool",
}


def wilder_smooth(values: pd.Series, period: int) -> pd.Series:
    """Wilder's moving average (alpha = 1/period) seeded with a simple mean.

    The first output sits at the ``period``-th non-NaN input and equals the mean of the
    first ``period`` inputs; later outputs are ``prev + (x - prev) / period``.
    """
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    valid = values.dropna()
    if len(valid) < period:
        return out
    seed_label = valid.index[period - 1]
    tail = valid.loc[seed_label:].copy()
    tail.iloc[0] = valid.iloc[:period].mean()
    smoothed = tail.ewm(alpha=1.0 / period, adjust=False).mean()
    out.loc[smoothed.index] = smoothed.to_numpy()
    return out


def rsi(close: pd.Series, period: int = RSI_PERIOD) -> pd.Series:
    """Wilder RSI, 0-100; NaN for the first ``period`` rows."""
    delta = close.diff()
    gain = wilder_smooth(delta.clip(lower=0.0), period)
    loss = wilder_smooth((-delta).clip(lower=0.0), period)
    with np.errstate(divide="ignore", invalid="ignore"):
        rs = gain / loss
    out = 100.0 - 100.0 / (1.0 + rs)
    # No losses at all in the window: RSI is 100 by definition (rs is +inf).
    return out.where(loss != 0.0, np.where(gain > 0.0, 100.0, 50.0)).where(gain.notna())


def true_range(high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """max(high-low, |high-prev close|, |low-prev close|); NaN on the first row."""
    prev = close.shift(1)
    ranges = pd.concat([high - low, (high - prev).abs(), (low - prev).abs()], axis=1)
    return ranges.max(axis=1, skipna=False)


def atr(high: pd.Series, low: pd.Series, close: pd.Series, period: int = ATR_PERIOD) -> pd.Series:
    """Wilder ATR in price units (USD)."""
    return wilder_smooth(true_range(high, low, close), period)


def macd(close: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """MACD(12, 26, 9): (macd line, signal line, histogram), USD.

    NaN for the first 33 rows, the warm-up TA-Lib also leaves empty.
    """
    line = close.ewm(span=12, adjust=False).mean() - close.ewm(span=26, adjust=False).mean()
    signal = line.ewm(span=9, adjust=False).mean()
    warm = np.arange(len(close)) < 33
    hist = (line - signal).mask(warm)
    return line.mask(warm), signal.mask(warm), hist


def sma20_slope(sma20: pd.Series) -> pd.Series:
    """SMA20 minus SMA20 five sessions earlier, USD: positive while the average rises."""
    return sma20 - sma20.shift(TREND_SLOPE_LOOKBACK)


def trend_labels(close: pd.Series, sma20: pd.Series, sma50: pd.Series) -> pd.Series:
    """Uptrend / Downtrend / Sideways per day.

    * **Uptrend**: close above SMA50, SMA20 above SMA50, and SMA20 higher than it was
      five sessions earlier (the short average is rising).
    * **Downtrend**: the mirror image (close below SMA50, SMA20 below SMA50, SMA20
      falling).
    * **Sideways**: anything else, including the warm-up before SMA50 exists.
    """
    slope = sma20_slope(sma20)
    up = (close > sma50) & (sma20 > sma50) & (slope > 0)
    down = (close < sma50) & (sma20 < sma50) & (slope < 0)
    return pd.Series(
        np.select([up.to_numpy(), down.to_numpy()], ["Uptrend", "Downtrend"], "Sideways"),
        index=close.index,
    )


def compute_indicators(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :data:`INDICATOR_COLUMNS` added.

    ``frame`` must follow :mod:`engine.frame`. Nothing in the input is modified.
    """
    out = frame.copy()
    close = out["close"]
    out["prev_close"] = close.shift(1)
    out["change"] = close / out["prev_close"] - 1.0
    out["rsi14"] = rsi(close)
    out["sma20"] = close.rolling(BB_PERIOD).mean()
    out["sma50"] = close.rolling(50).mean()
    out["sma200"] = close.rolling(200).mean()
    out["sma20_slope5"] = sma20_slope(out["sma20"])
    out["bb_std20"] = close.rolling(BB_PERIOD).std(ddof=0)
    out["bb_middle"] = out["sma20"]
    out["bb_upper"] = out["sma20"] + BB_WIDTH * out["bb_std20"]
    out["bb_lower"] = out["sma20"] - BB_WIDTH * out["bb_std20"]
    width = out["bb_upper"] - out["bb_lower"]
    out["bb_percent_b"] = ((close - out["bb_lower"]) / width).where(width > 0)
    out["macd"], out["macd_signal"], out["macd_hist"] = macd(close)
    out["atr14"] = atr(out["high"], out["low"], close)
    out["atr14_pct"] = out["atr14"] / close
    adj = out["adj_close"].to_numpy(dtype="float64")
    log_ret = pd.Series(np.log(adj / np.concatenate([[np.nan], adj[:-1]])), index=out.index)
    out["realized_vol_20"] = log_ret.rolling(20).std(ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR)
    out["vix_mean10"] = out["vix"].rolling(10).mean()
    # The day before within the same GEX series: NaN across a change of series.
    out["gex_prev"] = previous_in_series(out, "gex", "gex")
    out["dark_pool_mean20"] = out["dark_pool"].rolling(20, min_periods=10).mean()
    out["trend"] = trend_labels(close, out["sma20"], out["sma50"])
    return out
