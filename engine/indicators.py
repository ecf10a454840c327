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

How it is computed: on numpy arrays, one pass per indicator, and the new columns join
the frame in one step. Moving averages, moving standard deviations and the recursive
(Wilder, EMA) averages are pandas' own compiled window kernels, called directly on the
arrays (:func:`rolling_mean`, :func:`rolling_std`, :func:`ewm_mean`), so every value is
bit for bit what ``Series.rolling(...)`` and ``Series.ewm(..., adjust=False)`` give
(pandas' running sums are compensated and its recursion has its own rounding; a
different formula would differ in the last bits). If a pandas release moves those
private kernels, the same functions go through the public ``rolling``/``ewm`` API.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.frame import previous_in_series

FloatArray = npt.NDArray[np.float64]

RSI_PERIOD = 14
ATR_PERIOD = 14
BB_PERIOD = 20
BB_WIDTH = 2.0
TRADING_DAYS_PER_YEAR = 252
TREND_SLOPE_LOOKBACK = 5
MACD_WARMUP = 33

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


def _private_window_kernels() -> Any:
    """pandas' compiled rolling/ewm kernels (a private module), or None if it moved."""
    try:
        return importlib.import_module("pandas._libs.window.aggregations")
    except ImportError:
        return None


_KERNELS: Any = _private_window_kernels()


def _prepared(values: npt.ArrayLike) -> FloatArray:
    """float64 with +-inf read as NaN: exactly what pandas hands its window kernels."""
    x = np.asarray(values, dtype=np.float64)
    inf = np.isinf(x)
    if inf.any():
        x = np.where(inf, np.nan, x)
    return x


def _bounds(n: int, window: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Trailing window ``[start, end)`` of each row, as pandas' fixed-window indexer."""
    end = np.arange(1, n + 1, dtype=np.int64)
    start = end - window
    np.maximum(start, 0, out=start)  # never above n: end is at most n, window at least 1
    return start, end


def rolling_mean(values: npt.ArrayLike, window: int, min_periods: int | None = None) -> FloatArray:
    """Trailing mean over ``window`` rows; ``Series.rolling(window, min_periods).mean()``.

    NaN where fewer than ``min_periods`` (default ``window``) values are present.
    """
    x = _prepared(values)
    minp = window if min_periods is None else min_periods
    if x.size == 0:
        return x.copy()
    if _KERNELS is None:  # the public API: same kernels, more overhead
        return pd.Series(x).rolling(window, min_periods=minp).mean().to_numpy(np.float64, copy=True)
    start, end = _bounds(x.size, window)
    with np.errstate(all="ignore"):
        return np.asarray(_KERNELS.roll_mean(x, start, end, minp), dtype=np.float64)


def rolling_std(values: npt.ArrayLike, window: int, ddof: int) -> FloatArray:
    """Trailing standard deviation over ``window`` rows; ``Series.rolling(window).std(ddof)``.

    ``ddof=0`` is the population figure, ``ddof=1`` the sample one. A variance that
    rounding leaves slightly negative reads as 0, as in pandas.
    """
    x = _prepared(values)
    if x.size == 0:
        return x.copy()
    if _KERNELS is None:  # the public API: same kernels, more overhead
        return pd.Series(x).rolling(window).std(ddof=ddof).to_numpy(np.float64, copy=True)
    start, end = _bounds(x.size, window)
    with np.errstate(all="ignore"):
        var = np.asarray(_KERNELS.roll_var(x, start, end, window, ddof=ddof), dtype=np.float64)
        out = np.sqrt(var)
    out[var < 0] = 0.0
    return out


def ewm_mean(values: npt.ArrayLike, com: float) -> FloatArray:
    """Recursive exponential average, ``Series.ewm(com=com, adjust=False).mean()``.

    ``alpha = 1 / (1 + com)``; ``y[0] = x[0]``, ``y[t] = (1 - alpha) y[t-1] + alpha x[t]``
    with pandas' rounding. NaN inputs are skipped in the recursion but age the average
    (``ignore_na=False``); the output is NaN until the first value.
    """
    x = _prepared(values)
    if x.size == 0:
        return x.copy()
    if _KERNELS is None:  # the public API: same kernels, more overhead
        return pd.Series(x).ewm(com=com, adjust=False).mean().to_numpy(np.float64, copy=True)
    start, end = np.zeros(1, dtype=np.int64), np.full(1, x.size, dtype=np.int64)
    with np.errstate(all="ignore"):
        out = _KERNELS.ewm(
            x, start, end, 1, com=com, adjust=False, ignore_na=False, deltas=None, normalize=True
        )
    return np.asarray(out, dtype=np.float64)


def _com_of_alpha(alpha: float) -> float:
    """pandas' centre of mass for ``ewm(alpha=...)``, rounded as pandas rounds it."""
    return float((1 - alpha) / alpha)


def _com_of_span(span: int) -> float:
    """pandas' centre of mass for ``ewm(span=...)``."""
    return float((span - 1) / 2)


def _shift(x: FloatArray, periods: int) -> FloatArray:
    """``x`` moved down ``periods`` rows, NaN-filled at the top (``Series.shift``)."""
    out = np.full(x.size, np.nan)
    if periods < x.size:
        out[periods:] = x[: x.size - periods]
    return out


def _valid_positions(values: FloatArray) -> slice | npt.NDArray[np.intp]:
    """Positions of the non-NaN ``values``: a slice when they form one unbroken run (the
    usual case, NaN only in a warm-up), else an index array."""
    nan = np.isnan(values)
    first = int(nan.argmin()) if values.size else 0
    if values.size == 0 or nan[first]:
        return slice(0, 0)
    if not nan[first:].any():
        return slice(first, values.size)
    return np.flatnonzero(~nan)


def _wilder(
    values: FloatArray, period: int, valid: slice | npt.NDArray[np.intp] | None = None
) -> FloatArray:
    """:func:`wilder_smooth` on an array (see there); ``valid`` is
    :func:`_valid_positions` of ``values`` when the caller has it."""
    out = np.full(values.size, np.nan)
    if valid is None:
        valid = _valid_positions(values)
    com = _com_of_alpha(1.0 / period)
    if isinstance(valid, slice):  # one run: views instead of gathered copies
        start = valid.start
        if valid.stop - start < period:
            return out
        tail = values[start + period - 1 : valid.stop].copy()  # the seed replaces tail[0]
        # Series.mean over the first ``period`` values: numpy's sum divided by the count.
        tail[0] = values[start : start + period].sum() / np.float64(period)
        out[start + period - 1 : valid.stop] = ewm_mean(tail, com)
        return out
    if valid.size < period:
        return out
    tail = values[valid[period - 1 :]]  # a copy: the seed replaces its first value
    tail[0] = values[valid[:period]].sum() / np.float64(period)
    out[valid[period - 1 :]] = ewm_mean(tail, com)
    return out


def wilder_smooth(values: pd.Series, period: int) -> pd.Series:
    """Wilder's moving average (alpha = 1/period) seeded with a simple mean.

    The first output sits at the ``period``-th non-NaN input and equals the mean of the
    first ``period`` inputs; later outputs are ``prev + (x - prev) / period``, computed
    over the non-NaN inputs only. Same units as ``values``.
    """
    return pd.Series(_wilder(values.to_numpy(np.float64), period), index=values.index)


def _rsi(close: FloatArray, period: int) -> FloatArray:
    delta = np.empty_like(close)
    delta[:1] = np.nan
    np.subtract(close[1:], close[:-1], out=delta[1:])
    # Series.clip(lower=0) of delta and of -delta: negatives become 0, NaN and -0.0 stay.
    gain = delta.copy()
    gain[delta < 0.0] = 0.0
    loss = -delta
    loss[loss < 0.0] = 0.0
    valid = _valid_positions(delta)  # gain and loss are NaN where delta is
    avg_gain, avg_loss = _wilder(gain, period, valid), _wilder(loss, period, valid)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = avg_gain / avg_loss
        value += 1.0
        np.divide(100.0, value, out=value)
        np.subtract(100.0, value, out=value)  # 100 - 100 / (1 + gain / loss)
    # No losses at all in the window: RSI is 100 by definition (rs is +inf).
    no_loss = avg_loss == 0.0
    value[no_loss] = np.where(avg_gain[no_loss] > 0.0, 100.0, 50.0)
    value[np.isnan(avg_gain)] = np.nan
    return value


def rsi(close: pd.Series, period: int = RSI_PERIOD) -> pd.Series:
    """Wilder RSI, 0-100; NaN for the first ``period`` rows."""
    return pd.Series(_rsi(close.to_numpy(np.float64), period), index=close.index)


def _true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    prev = _shift(close, 1)
    # NaN wherever one of the three is NaN, as DataFrame.max(axis=1, skipna=False).
    out: FloatArray = np.maximum(np.maximum(high - low, np.abs(high - prev)), np.abs(low - prev))
    return out


def true_range(high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """max(high-low, |high-prev close|, |low-prev close|), USD; NaN on the first row."""
    values = _true_range(*(s.to_numpy(np.float64) for s in (high, low, close)))
    return pd.Series(values, index=close.index)


def atr(high: pd.Series, low: pd.Series, close: pd.Series, period: int = ATR_PERIOD) -> pd.Series:
    """Wilder ATR in price units (USD)."""
    values = _true_range(*(s.to_numpy(np.float64) for s in (high, low, close)))
    return pd.Series(_wilder(values, period), index=close.index)


def _macd(close: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    line = ewm_mean(close, _com_of_span(12)) - ewm_mean(close, _com_of_span(26))
    signal = ewm_mean(line, _com_of_span(9))
    hist = line - signal
    warm = slice(0, min(MACD_WARMUP, close.size))
    for arr in (line, signal, hist):
        arr[warm] = np.nan
    return line, signal, hist


def macd(close: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """MACD(12, 26, 9): (macd line, signal line, histogram), USD.

    NaN for the first 33 rows, the warm-up TA-Lib also leaves empty.
    """
    line, signal, hist = _macd(close.to_numpy(np.float64))
    idx = close.index
    return pd.Series(line, index=idx), pd.Series(signal, index=idx), pd.Series(hist, index=idx)


def sma20_slope(sma20: pd.Series) -> pd.Series:
    """SMA20 minus SMA20 five sessions earlier, USD: positive while the average rises."""
    return sma20 - sma20.shift(TREND_SLOPE_LOOKBACK)


#: Trend labels by code (0 Sideways, 1 Uptrend, 2 Downtrend), as shared str objects.
_TREND_NAMES = np.array(["Sideways", "Uptrend", "Downtrend"], dtype=object)
#: The dtype pandas gives a column of labels built from a numpy string array ("str" in
#: pandas 3, object before), kept even when the column is empty.
_TREND_DTYPE = pd.Series(_TREND_NAMES.astype(str)).dtype


def _trend(
    close: FloatArray, sma20: FloatArray, sma50: FloatArray, slope: FloatArray
) -> npt.NDArray[np.object_]:
    up = (close > sma50) & (sma20 > sma50) & (slope > 0)
    down = (close < sma50) & (sma20 < sma50) & (slope < 0)
    codes = up.view(np.int8) + 2 * (down & ~up).view(np.int8)
    labels: npt.NDArray[np.object_] = _TREND_NAMES[codes]
    return labels


def trend_labels(close: pd.Series, sma20: pd.Series, sma50: pd.Series) -> pd.Series:
    """Uptrend / Downtrend / Sideways per day.

    * **Uptrend**: close above SMA50, SMA20 above SMA50, and SMA20 higher than it was
      five sessions earlier (the short average is rising).
    * **Downtrend**: the mirror image (close below SMA50, SMA20 below SMA50, SMA20
      falling).
    * **Sideways**: anything else, including the warm-up before SMA50 exists.
    """
    s20 = sma20.to_numpy(np.float64)
    slope = s20 - _shift(s20, TREND_SLOPE_LOOKBACK)
    labels = _trend(close.to_numpy(np.float64), s20, sma50.to_numpy(np.float64), slope)
    return pd.Series(labels, index=close.index, dtype=_TREND_DTYPE)


def indicator_arrays(frame: pd.DataFrame) -> dict[str, npt.NDArray[Any]]:
    """Every indicator of :data:`INDICATOR_COLUMNS` as a numpy array, in insertion order.

    ``trend`` is an object array of the label strings; everything else float64 (units as
    documented above). ``frame`` follows :mod:`engine.frame`.
    """
    close = frame["close"].to_numpy(np.float64)
    prev_close = _shift(close, 1)
    sma20 = rolling_mean(close, BB_PERIOD)
    sma50 = rolling_mean(close, 50)
    std20 = rolling_std(close, BB_PERIOD, ddof=0)
    slope = sma20 - _shift(sma20, TREND_SLOPE_LOOKBACK)
    upper = sma20 + BB_WIDTH * std20
    lower = sma20 - BB_WIDTH * std20
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        percent_b = np.where(width > 0, (close - lower) / width, np.nan)
    line, signal, hist = _macd(close)
    atr14 = _wilder(
        _true_range(frame["high"].to_numpy(np.float64), frame["low"].to_numpy(np.float64), close),
        ATR_PERIOD,
    )
    adj = frame["adj_close"].to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ret = np.log(adj / _shift(adj, 1))
    return {
        "prev_close": prev_close,
        "change": close / prev_close - 1.0,
        "rsi14": _rsi(close, RSI_PERIOD),
        "sma20": sma20,
        "sma50": sma50,
        "sma200": rolling_mean(close, 200),
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
        "realized_vol_20": rolling_std(log_ret, 20, ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR),
        "vix_mean10": rolling_mean(frame["vix"].to_numpy(np.float64), 10),
        # the day before within the same GEX series: NaN across a change of series
        "gex_prev": previous_in_series(frame, "gex", "gex"),
        "dark_pool_mean20": rolling_mean(
            frame["dark_pool"].to_numpy(np.float64), 20, min_periods=10
        ),
        "trend": _trend(close, sma20, sma50, slope),
    }


def _with_columns(
    frame: pd.DataFrame, floats: Mapping[str, FloatArray], last: pd.Series
) -> pd.DataFrame:
    """A copy of ``frame`` with the ``floats`` columns and then ``last`` appended.

    What ``out = frame.copy(); out[name] = values ...`` gives, built in one step: when
    every column of ``frame`` is float64 (a canonical frame), old and new values go into
    one float block and ``last`` is inserted after them. A name already in ``frame`` is
    replaced where it stands, as assignment would.
    """
    names = [*floats, str(last.name)]
    if not frame.columns.is_unique or any(c in names for c in frame.columns):
        out = frame.copy()
        for name, values in floats.items():
            out[name] = values
        out[names[-1]] = last
        return out
    if all(dtype == np.float64 for dtype in frame.dtypes):
        width = frame.shape[1]
        block = np.empty((width + len(floats), len(frame)), dtype=np.float64)
        block[:width] = frame.to_numpy(np.float64).T
        for row, values in enumerate(floats.values(), start=width):
            block[row] = values
        columns = pd.Index(
            [*frame.columns, *floats], dtype=frame.columns.dtype, name=frame.columns.name
        )
        out = pd.DataFrame(block.T, index=frame.index, columns=columns, copy=False)
    else:
        out = pd.concat([frame, pd.DataFrame(dict(floats), index=frame.index)], axis=1)
    out.insert(out.shape[1], names[-1], last)
    return out


def compute_indicators(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :data:`INDICATOR_COLUMNS` added.

    ``frame`` must follow :mod:`engine.frame`. Nothing in the input is modified.
    """
    arrays = indicator_arrays(frame)
    trend = pd.Series(arrays.pop("trend"), index=frame.index, dtype=_TREND_DTYPE, name="trend")
    return _with_columns(frame, arrays, trend)
